//! xdelta3's LZMA secondary compression (compressor id 2).
//!
//! xdelta3 runs one LZMA2 encoder per kind of section (data, instructions,
//! addresses) for the whole delta. Each compressed section is an RFC 3284
//! integer, the section's uncompressed length, followed by what that encoder
//! wrote for it, flushed but not finished. The first section of a kind
//! starts with an xz stream header and a block header; the later ones carry
//! just more LZMA2 chunks that continue the same dictionary and state. The
//! stream is never finished: no end-of-stream chunk, block padding, index or
//! footer. We therefore read the two headers ourselves and pull exactly the
//! announced number of bytes out of one raw LZMA2 decoder per kind.

use std::io::Read;

use lzma_rust2::Lzma2Reader;

use crate::checksum::crc32;
use crate::varint;

/// Why a section could not be decompressed.
#[derive(Debug)]
pub(crate) enum SectionError {
    /// The section announces more bytes than the caller allows.
    TooLarge { declared: u64 },
    /// Anything else, in words.
    Corrupt(String),
}

fn corrupt(reason: impl Into<String>) -> SectionError {
    SectionError::Corrupt(reason.into())
}

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];
const XZ_STREAM_HEADER_LEN: usize = 12;
const LZMA2_FILTER_ID: u64 = 0x21;

/// The LZMA2 stream of one kind of section, carried from window to window.
pub(crate) struct Decompressor<'a> {
    /// Created by the first compressed section of this kind.
    decoder: Option<Lzma2Reader<&'a [u8]>>,
}

impl<'a> Decompressor<'a> {
    pub(crate) fn new() -> Decompressor<'a> {
        Decompressor { decoder: None }
    }

    /// Decompresses the next section of this kind, which may expand to at
    /// most `bound` bytes.
    pub(crate) fn decompress(
        &mut self,
        section: &'a [u8],
        bound: u64,
    ) -> Result<Vec<u8>, SectionError> {
        let (declared, len) = varint::read(section)
            .map_err(|_| corrupt("bad or missing uncompressed length"))?;
        if declared > bound {
            return Err(SectionError::TooLarge { declared });
        }
        if declared == 0 {
            return Err(corrupt("compressed section announces 0 bytes"));
        }
        let chunks = &section[len..];

        let decoder = match &mut self.decoder {
            Some(decoder) => {
                *decoder.inner_mut() = chunks;
                decoder
            }
            None => {
                let block = check_stream_header(chunks)?;
                let (dictionary_size, chunks) = parse_block_header(block)?;
                // The dictionary size comes from the peer, but lzma-rust2
                // only allocates the dictionary as output fills it.
                self.decoder
                    .insert(Lzma2Reader::new(chunks, dictionary_size, None))
            }
        };

        // Grow the output as bytes really come out rather than trusting the
        // announced length with an allocation up front.
        let mut output = Vec::new();
        decoder
            .take(declared)
            .read_to_end(&mut output)
            .map_err(|error| corrupt(format!("LZMA2 data: {error}")))?;

        if (output.len() as u64) < declared {
            return Err(corrupt(format!(
                "LZMA2 data ends after {} of the {declared} announced bytes",
                output.len()
            )));
        }
        if !decoder.inner().is_empty() {
            return Err(corrupt(format!(
                "{} bytes left after the announced {declared} bytes",
                decoder.inner().len()
            )));
        }

        Ok(output)
    }
}

/// Checks the xz stream header and returns what follows it.
fn check_stream_header(stream: &[u8]) -> Result<&[u8], SectionError> {
    let Some(header) = stream.get(..XZ_STREAM_HEADER_LEN) else {
        return Err(corrupt("xz stream header truncated"));
    };
    if header[..6] != XZ_MAGIC {
        return Err(corrupt("no xz magic bytes"));
    }

    // Byte 6 is reserved; byte 7 holds the check type in its low nibble. The
    // check itself would come after the block, which xdelta3 never writes.
    let flags = &header[6..8];
    if flags[0] != 0 || flags[1] & 0xf0 != 0 {
        return Err(corrupt("unsupported xz stream flags"));
    }
    if crc32(flags).to_le_bytes() != header[8..12] {
        return Err(corrupt("xz stream header CRC mismatch"));
    }

    Ok(&stream[XZ_STREAM_HEADER_LEN..])
}

/// Parses an xz block header that must announce a single LZMA2 filter;
/// returns the dictionary size and the bytes after the header.
fn parse_block_header(block: &[u8]) -> Result<(u32, &[u8]), SectionError> {
    let size_byte = *block
        .first()
        .ok_or_else(|| corrupt("xz block header truncated"))?;
    if size_byte == 0 {
        return Err(corrupt("xz stream has no block"));
    }
    let header_len = (usize::from(size_byte) + 1) * 4;
    let Some(header) = block.get(..header_len) else {
        return Err(corrupt("xz block header truncated"));
    };

    let (fields, stored_crc) = header.split_at(header_len - 4);
    if crc32(fields).to_le_bytes() != stored_crc {
        return Err(corrupt("xz block header CRC mismatch"));
    }

    let flags = fields[1];
    if flags & 0x3f != 0 {
        return Err(corrupt("xz block must have exactly one filter, LZMA2"));
    }
    let mut rest = &fields[2..];
    if flags & 0x40 != 0 {
        read_xz_integer(&mut rest)?; // compressed size: not needed
    }
    if flags & 0x80 != 0 {
        read_xz_integer(&mut rest)?; // uncompressed size: the section has it
    }

    let filter_id = read_xz_integer(&mut rest)?;
    let properties_len = read_xz_integer(&mut rest)?;
    if filter_id != LZMA2_FILTER_ID || properties_len != 1 || rest.is_empty() {
        return Err(corrupt("xz block filter is not LZMA2"));
    }
    let dictionary_size = lzma2_dictionary_size(rest[0])?;
    if rest[1..].iter().any(|&padding| padding != 0) {
        return Err(corrupt("xz block header padding is not zero"));
    }

    Ok((dictionary_size, &block[header_len..]))
}

/// The dictionary size encoded in the LZMA2 filter's property byte.
fn lzma2_dictionary_size(property: u8) -> Result<u32, SectionError> {
    match property {
        0..=39 => {
            let mantissa = 2 | u32::from(property & 1);
            Ok(mantissa << (property / 2 + 11))
        }
        40 => Ok(u32::MAX),
        _ => Err(corrupt("bad LZMA2 dictionary size")),
    }
}

/// Reads an xz variable-length integer: little-endian base 128, at most
/// nine bytes.
fn read_xz_integer(bytes: &mut &[u8]) -> Result<u64, SectionError> {
    let mut value = 0u64;

    for (index, &byte) in bytes.iter().enumerate().take(9) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *bytes = &bytes[index + 1..];
            return Ok(value);
        }
    }

    Err(corrupt("bad integer in xz block header"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_sizes() {
        assert_eq!(lzma2_dictionary_size(0).unwrap(), 4 << 10);
        assert_eq!(lzma2_dictionary_size(1).unwrap(), 6 << 10);
        assert_eq!(lzma2_dictionary_size(12).unwrap(), 256 << 10);
        assert_eq!(lzma2_dictionary_size(40).unwrap(), u32::MAX);
        assert!(lzma2_dictionary_size(41).is_err());
    }

    #[test]
    fn stored_chunk_without_end_marker() {
        // An xz stream as xdelta3 leaves it: headers, then one uncompressed
        // LZMA2 chunk, and nothing after.
        let mut section = Vec::new();
        varint::write(&mut section, 5);
        section.extend_from_slice(&XZ_MAGIC);
        section.extend_from_slice(&[0, 0]);
        section.extend_from_slice(&crc32(&[0, 0]).to_le_bytes());
        let block_fields = [0x02, 0x00, 0x21, 0x01, 0x00, 0x00, 0x00, 0x00];
        section.extend_from_slice(&block_fields);
        section.extend_from_slice(&crc32(&block_fields).to_le_bytes());
        section.extend_from_slice(&[0x01, 0x00, 0x04]);
        section.extend_from_slice(b"hello");

        assert_eq!(
            Decompressor::new().decompress(&section, 5).unwrap(),
            b"hello"
        );
        assert!(matches!(
            Decompressor::new().decompress(&section, 4),
            Err(SectionError::TooLarge { declared: 5 })
        ));
        assert!(matches!(
            Decompressor::new().decompress(&section[..section.len() - 1], 5),
            Err(SectionError::Corrupt(_))
        ));

        // The next section of the same kind continues the stream with a
        // chunk that keeps the dictionary.
        let mut decompressor = Decompressor::new();
        decompressor.decompress(&section, 5).unwrap();
        let next = [0x03, 0x02, 0x00, 0x02, b'a', b'b', b'c'];
        assert_eq!(decompressor.decompress(&next, 3).unwrap(), b"abc");
    }
}
