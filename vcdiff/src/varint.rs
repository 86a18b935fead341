//! RFC 3284 integers: big-endian base 128, the high bit of every byte but
//! the last one set.

/// Appends `value` in the RFC 3284 integer encoding.
pub(crate) fn write(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = value;

    // Fill from the least significant digit so the bytes come out big-endian.
    loop {
        start -= 1;
        digits[start] = (rest & 0x7f) as u8 | 0x80;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    digits[digits.len() - 1] &= 0x7f;

    out.extend_from_slice(&digits[start..]);
}

/// How many bytes [`write`] uses for `value`.
pub(crate) fn len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Why [`read`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The bytes ran out before the last digit.
    Truncated,
    /// The value does not fit in 64 bits.
    Overflow,
}

/// Reads one integer from the start of `bytes`, returning it with the number
/// of bytes it took.
pub(crate) fn read(bytes: &[u8]) -> Result<(u64, usize), ReadError> {
    let mut value: u64 = 0;

    for (index, &byte) in bytes.iter().enumerate() {
        if value > u64::MAX >> 7 {
            return Err(ReadError::Overflow);
        }
        value = (value << 7) | u64::from(byte & 0x7f);

        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }

    Err(ReadError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // RFC 3284 section 2 encodes 123456789 as these four bytes.
        let mut out = Vec::new();
        write(&mut out, 123_456_789);
        assert_eq!(out, [0xba, 0xef, 0x9a, 0x15]);
        assert_eq!(read(&out), Ok((123_456_789, 4)));
    }

    #[test]
    fn round_trip_and_length() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write(&mut out, value);
            assert_eq!(out.len(), len(value), "{value}");
            assert_eq!(read(&out), Ok((value, out.len())), "{value}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(read(&[]), Err(ReadError::Truncated));
        assert_eq!(read(&[0x81, 0x80]), Err(ReadError::Truncated));
        assert_eq!(read(&[0xff; 11]), Err(ReadError::Overflow));
    }
}
