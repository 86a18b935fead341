//! Running a window's instructions against its segment.

use std::borrow::Cow;

use crate::address::{AddressCache, Decoded};
use crate::code_table::{self, Kind};
use crate::error::DecodeError;
use crate::varint;

/// Reserve at most this much for a window's target before it is written.
const MAX_RESERVE: usize = 16 << 20;

/// A window's three sections, decompressed.
pub(crate) struct Sections<'a> {
    pub(crate) data: Cow<'a, [u8]>,
    pub(crate) instructions: Cow<'a, [u8]>,
    pub(crate) addresses: Cow<'a, [u8]>,
}

/// Reads one section front to back on behalf of the instructions.
struct SectionReader<'a> {
    window: u64,
    name: &'static str,
    bytes: &'a [u8],
}

impl<'a> SectionReader<'a> {
    fn new(window: u64, name: &'static str, bytes: &'a [u8]) -> SectionReader<'a> {
        SectionReader {
            window,
            name,
            bytes,
        }
    }

    fn exhausted(&self) -> DecodeError {
        DecodeError::SectionExhausted {
            window: self.window,
            section: self.name,
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.bytes.split_first().ok_or_else(|| self.exhausted())?;
        self.bytes = rest;
        Ok(first)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(self.exhausted());
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    /// Reads an RFC 3284 integer. One too large for 64 bits comes out as
    /// `u64::MAX`, which the size and address checks that follow refuse.
    fn integer(&mut self) -> Result<u64, DecodeError> {
        match varint::read(self.bytes) {
            Ok((value, len)) => {
                self.bytes = &self.bytes[len..];
                Ok(value)
            }
            Err(varint::ReadError::Truncated) => Err(self.exhausted()),
            Err(varint::ReadError::Overflow) => Ok(u64::MAX),
        }
    }

    /// Fails unless every byte was used.
    fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingSectionData {
                window: self.window,
                section: self.name,
                left: self.bytes.len(),
            })
        }
    }
}

/// Executes a window's instructions, which must write exactly `target_len`
/// bytes; returns them.
///
/// COPY addresses count from the start of `segment` and go on into the
/// window being written.
pub(crate) fn run(
    window: u64,
    segment: &[u8],
    sections: &Sections,
    target_len: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut data = SectionReader::new(window, "data", &sections.data);
    let mut instructions =
        SectionReader::new(window, "instructions", &sections.instructions);
    let mut addresses = SectionReader::new(window, "addresses", &sections.addresses);
    let mut cache = AddressCache::new();

    // Reserving what the window announces would let a hostile window make
    // us allocate far more than it holds; past this, let the vector grow.
    let mut target = Vec::with_capacity(target_len.min(MAX_RESERVE));

    while !instructions.bytes.is_empty() {
        let opcode = instructions.byte()?;

        for instruction in code_table::DEFAULT[usize::from(opcode)] {
            if instruction.kind == Kind::Noop {
                continue;
            }

            let size = match instruction.size {
                0 => instructions.integer()?,
                size => u64::from(size),
            };
            if size == 0 {
                return Err(DecodeError::ZeroSizeInstruction { window });
            }
            if size > (target_len - target.len()) as u64 {
                return Err(DecodeError::WindowOverflow {
                    window,
                    length: target_len as u64,
                });
            }
            let size = size as usize;

            match instruction.kind {
                Kind::Add => target.extend_from_slice(data.take(size)?),
                Kind::Run => {
                    let byte = data.byte()?;
                    target.resize(target.len() + size, byte);
                }
                Kind::Copy => {
                    let here = segment.len() + target.len();
                    let address = read_address(
                        window,
                        &mut cache,
                        &mut addresses,
                        instruction.mode,
                        here,
                    )?;
                    copy(segment, address, size, &mut target);
                }
                Kind::Noop => {}
            }
        }
    }

    if target.len() != target_len {
        return Err(DecodeError::LengthMismatch {
            window,
            what: "target window",
            declared: target_len as u64,
            actual: target.len() as u64,
        });
    }
    data.finish()?;
    addresses.finish()?;

    Ok(target)
}

/// Reads a COPY address in `mode` and checks it points before `here`.
fn read_address(
    window: u64,
    cache: &mut AddressCache,
    addresses: &mut SectionReader,
    mode: u8,
    here: usize,
) -> Result<usize, DecodeError> {
    let value = if AddressCache::reads_byte(mode) {
        u64::from(addresses.byte()?)
    } else {
        addresses.integer()?
    };

    let here = here as u64;
    match cache.decode(mode, value, here) {
        Decoded::Address(address) if address < here => Ok(address as usize),
        Decoded::Address(address) => Err(DecodeError::AddressOutOfRange {
            window,
            address: Some(address),
            here,
        }),
        Decoded::Overflow | Decoded::BadMode => Err(DecodeError::AddressOutOfRange {
            window,
            address: None,
            here,
        }),
    }
}

/// Appends `size` bytes that start at `address` in the concatenation of
/// the segment and the target window. The caller checked that `address` is
/// before the current position.
fn copy(segment: &[u8], address: usize, size: usize, target: &mut Vec<u8>) {
    let mut left = size;
    let mut address = address;

    if address < segment.len() {
        let len = left.min(segment.len() - address);
        target.extend_from_slice(&segment[address..address + len]);
        address += len;
        left -= len;
    }
    if left == 0 {
        return;
    }

    // The rest comes from the window being written and may overlap the bytes
    // it produces, which repeats the bytes between `start` and the end with
    // that period. Copying from a fixed `start` a whole number of periods at a
    // time keeps the pattern and doubles the chunk on every pass.
    let start = address - segment.len();
    while left > 0 {
        let len = left.min(target.len() - start);
        target.extend_from_within(start..start + len);
        left -= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3284's definition: one byte at a time from the concatenation of
    /// segment and target.
    fn copy_byte_by_byte(
        segment: &[u8],
        address: usize,
        size: usize,
        target: &mut Vec<u8>,
    ) {
        for offset in 0..size {
            let at = address + offset;
            let byte = match at.checked_sub(segment.len()) {
                None => segment[at],
                Some(in_target) => target[in_target],
            };
            target.push(byte);
        }
    }

    #[test]
    fn copy_matches_the_definition() {
        let segment = b"0123456789";
        let window = b"abcdefg";

        for address in 0..segment.len() + window.len() {
            for size in 1..40 {
                let mut fast = window.to_vec();
                let mut slow = window.to_vec();
                copy(segment, address, size, &mut fast);
                copy_byte_by_byte(segment, address, size, &mut slow);
                assert_eq!(fast, slow, "address {address}, size {size}");
            }
        }
    }
}
