//! The two checksums the formats need: Adler-32 over each target window
//! (xdelta3's `VCD_ADLER32` extension) and CRC-32 over xz headers.

/// Adler-32 (RFC 1950) of `bytes`.
pub(crate) fn adler32(bytes: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    // The most bytes that can be summed before `b` could overflow 32 bits.
    const CHUNK: usize = 5_552;

    let mut a: u32 = 1;
    let mut b: u32 = 0;
    for chunk in bytes.chunks(CHUNK) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MODULUS;
        b %= MODULUS;
    }

    (b << 16) | a
}

/// CRC-32 (the IEEE polynomial used by xz, zip and Ethernet) of `bytes`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc32_table();

    let mut crc = !0u32;
    for &byte in bytes {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }

    !crc
}

const fn crc32_table() -> [u32; 256] {
    const POLYNOMIAL: u32 = 0xedb8_8320;

    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut value = index as u32;
        let mut bit = 0;
        while bit < 8 {
            value = if value & 1 == 1 {
                (value >> 1) ^ POLYNOMIAL
            } else {
                value >> 1
            };
            bit += 1;
        }
        table[index] = value;
        index += 1;
    }

    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn adler32_long_input_does_not_overflow() {
        let bytes = vec![0xff; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &byte in &bytes {
            a = (a + u64::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&bytes), ((b << 16) | a) as u32);
    }
}
