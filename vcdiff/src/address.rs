//! The COPY address cache of RFC 3284 section 5.1, with the default sizes
//! (4 "near" slots, 3 × 256 "same" slots).
//!
//! Encoder and decoder keep identical caches, updated after every COPY, so
//! that an address close to a recent one costs a small number and an address
//! used before may cost a single byte.

use crate::varint;

const NEAR_SLOTS: usize = 4;
const SAME_SLOTS: usize = 3 * 256;

/// Mode numbers, in the order of RFC 3284.
const MODE_SELF: u8 = 0;
const MODE_HERE: u8 = 1;
const MODE_FIRST_NEAR: u8 = 2;
const MODE_FIRST_SAME: u8 = MODE_FIRST_NEAR + NEAR_SLOTS as u8;

/// How a mode asks the decoder to read the rest of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoded {
    /// An RFC 3284 integer follows in the address section.
    Integer(u64),
    /// A single byte follows in the address section.
    Byte(u8),
}

/// What a decoded address turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    Address(u64),
    /// The sum or difference does not fit in 64 bits or is negative.
    Overflow,
    /// The mode is not one of the cache's modes.
    BadMode,
}

pub(crate) struct AddressCache {
    near: [u64; NEAR_SLOTS],
    next_near: usize,
    same: [u64; SAME_SLOTS],
}

impl AddressCache {
    /// A cache as it is at the start of every window.
    pub(crate) fn new() -> AddressCache {
        AddressCache {
            near: [0; NEAR_SLOTS],
            next_near: 0,
            same: [0; SAME_SLOTS],
        }
    }

    fn remember(&mut self, address: u64) {
        self.near[self.next_near] = address;
        self.next_near = (self.next_near + 1) % NEAR_SLOTS;
        self.same[(address % SAME_SLOTS as u64) as usize] = address;
    }

    /// Whether `mode` reads a single byte rather than an integer.
    pub(crate) fn reads_byte(mode: u8) -> bool {
        mode >= MODE_FIRST_SAME
    }

    /// Turns what `mode` read from the address section into an address, and
    /// remembers it. `here` is the position being written.
    pub(crate) fn decode(&mut self, mode: u8, value: u64, here: u64) -> Decoded {
        let address = match mode {
            MODE_SELF => Some(value),
            MODE_HERE => here.checked_sub(value),
            _ if mode < MODE_FIRST_SAME => {
                self.near[usize::from(mode - MODE_FIRST_NEAR)].checked_add(value)
            }
            _ => {
                let group = usize::from(mode - MODE_FIRST_SAME);
                let Ok(byte) = u8::try_from(value) else {
                    return Decoded::BadMode;
                };
                let Some(&address) = self.same.get(group * 256 + usize::from(byte))
                else {
                    return Decoded::BadMode;
                };
                Some(address)
            }
        };

        match address {
            Some(address) => {
                self.remember(address);
                Decoded::Address(address)
            }
            None => Decoded::Overflow,
        }
    }

    /// Picks the mode that writes `address` in the fewest bytes, and
    /// remembers it. `here` is the position being written.
    pub(crate) fn encode(&mut self, address: u64, here: u64) -> (u8, Encoded) {
        let slot = (address % SAME_SLOTS as u64) as usize;
        let best = if self.same[slot] == address {
            // One byte: nothing can beat it.
            (
                MODE_FIRST_SAME + (slot / 256) as u8,
                Encoded::Byte((slot % 256) as u8),
            )
        } else {
            let mut best = (MODE_SELF, address);
            let mut consider = |mode: u8, value: u64| {
                if varint::len(value) < varint::len(best.1) {
                    best = (mode, value);
                }
            };

            consider(MODE_HERE, here - address);
            for (index, &near) in self.near.iter().enumerate() {
                if let Some(offset) = address.checked_sub(near) {
                    consider(MODE_FIRST_NEAR + index as u8, offset);
                }
            }
            (best.0, Encoded::Integer(best.1))
        };

        self.remember(address);
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_follows_encoder() {
        let mut encoder = AddressCache::new();
        let mut decoder = AddressCache::new();
        let addresses = [
            5u64, 1000, 1004, 5, 70_000, 69_990, 1000, 3, 200_000, 200_100,
        ];

        for (index, &address) in addresses.iter().enumerate() {
            let here = 300_000 + index as u64 * 10;
            let (mode, encoded) = encoder.encode(address, here);
            let value = match encoded {
                Encoded::Integer(value) => value,
                Encoded::Byte(byte) => u64::from(byte),
            };
            assert_eq!(
                AddressCache::reads_byte(mode),
                matches!(encoded, Encoded::Byte(_))
            );
            assert_eq!(decoder.decode(mode, value, here), Decoded::Address(address));
        }
    }

    #[test]
    fn repeated_address_costs_one_byte() {
        let mut cache = AddressCache::new();
        cache.encode(123_456, 1_000_000);
        assert_eq!(
            cache.encode(123_456, 1_000_100).1,
            Encoded::Byte((123_456 % 768 % 256) as u8)
        );
    }

    #[test]
    fn hostile_values_do_not_wrap() {
        let mut cache = AddressCache::new();
        assert_eq!(cache.decode(MODE_HERE, 11, 10), Decoded::Overflow);
        cache.decode(MODE_SELF, u64::MAX, 10);
        assert_eq!(cache.decode(MODE_FIRST_NEAR, 1, 10), Decoded::Overflow);
        assert_eq!(cache.decode(MODE_FIRST_SAME + 3, 0, 10), Decoded::BadMode);
    }
}
