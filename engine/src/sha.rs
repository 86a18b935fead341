//! SHA-1 digests as the db-file and the protocol spell them.

use std::fmt;

use sha1::{Digest, Sha1};

/// A SHA-1 digest, printed as 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sha([u8; 20]);

impl Sha {
    /// The digest of zero bytes: the body hash of a message with no body.
    pub const EMPTY: Sha = Sha([
        0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95,
        0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09,
    ]);

    /// Hashes a whole buffer at once.
    pub fn of(bytes: &[u8]) -> Sha {
        Sha(Sha1::digest(bytes).into())
    }

    /// Parses 40 hex digits, either case. Returns `None` for anything else.
    pub fn from_hex(text: &[u8]) -> Option<Sha> {
        if text.len() != 40 {
            return None;
        }
        let mut digest = [0u8; 20];
        for (byte, pair) in digest.iter_mut().zip(text.chunks_exact(2)) {
            *byte = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
        }
        Some(Sha(digest))
    }

    /// Writes the 40 lowercase hex digits into `out`.
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 40];
        for (pair, byte) in text.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        out.extend_from_slice(&text);
    }

    pub fn to_hex(&self) -> String {
        let mut out = Vec::with_capacity(40);
        self.write_hex(&mut out);
        String::from_utf8(out).expect("hex digits are ASCII")
    }

    pub fn from_bytes(digest: [u8; 20]) -> Sha {
        Sha(digest)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Hashes a whole file, reading it in chunks.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Sha> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha1::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(Sha(hasher.finalize().into()))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    // A table: parsing a db-file decodes 80 digits a message.
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let value = TABLE[usize::from(digit)];
    (value != INVALID).then_some(value)
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_digest_matches_sha1_of_nothing() {
        assert_eq!(Sha::of(b""), Sha::EMPTY);
        assert_eq!(
            Sha::EMPTY.to_hex(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let sha = Sha::of(b"hello");
        assert_eq!(Sha::from_hex(sha.to_hex().as_bytes()), Some(sha));
        let upper = sha.to_hex().to_uppercase();
        assert_eq!(Sha::from_hex(upper.as_bytes()), Some(sha));
        assert_eq!(Sha::from_hex(b"xyz"), None);
        assert_eq!(Sha::from_hex(&[b'g'; 40]), None);
    }
}
