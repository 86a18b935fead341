//! The control of an xdelta 1.1 patch: what the result is and which
//! instructions build it.
//!
//! xdelta 1 serializes it with its own small library (libedsio): a 32-bit
//! type code and a 32-bit allocation hint, then the fields in order.
//! Variable integers are unsigned 32-bit values in groups of 7 bits, lowest
//! group first, each byte but the last with its top bit set (the reverse
//! order of RFC 3284's integers). Booleans are one byte, non-zero for true.
//! Strings and arrays are a variable integer count then their items; MD5s
//! are 16 bytes without a count.

use std::io::BufRead;

use super::error::Xdelta1Error;

/// Type code of an `XdeltaControl`: type number 7 of libedsio module 3.
pub(crate) const CONTROL_TYPE: u32 = (1 << (7 + 8)) + 3;

/// Type code of the control of xdelta 1.0 (`%XDZ002%` and `%XDZ003%`).
const VERSION_0_CONTROL_TYPE: u32 = (1 << (5 + 8)) + 3;

/// The longest variable integer: 32 bits in groups of 7.
const MAX_UINT_BYTES: usize = 5;

/// One source of bytes of the result: the patch's own data segment, or the
/// file the patch was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceInfo {
    /// Shown by `xdelta info` only: written, but skipped when reading.
    pub(crate) name: Vec<u8>,
    pub(crate) md5: [u8; 16],
    pub(crate) len: u32,
    pub(crate) is_data: bool,
    /// Each instruction from this source starts where the previous one
    /// ended, so the offsets are left out (stored as 0).
    pub(crate) sequential: bool,
}

/// Append `length` bytes at `offset` of source `index` to the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instruction {
    pub(crate) index: u32,
    pub(crate) offset: u32,
    pub(crate) length: u32,
}

/// What comes before the instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) to_md5: [u8; 16],
    pub(crate) to_len: u32,
    pub(crate) sources: Vec<SourceInfo>,
}

// Writing.

pub(crate) fn write_uint(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_uint(out, len_u32(bytes.len()));
    out.extend_from_slice(bytes);
}

/// Lengths in the format are 32 bits; callers check sizes before writing.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("xdelta 1 lengths are below 4 GiB")
}

/// Serializes a whole control.
pub(crate) fn write(header: &Header, instructions: &[Instruction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + instructions.len() * 8);
    out.extend_from_slice(&CONTROL_TYPE.to_be_bytes());
    out.extend_from_slice(&allocation_hint(header, instructions.len()).to_be_bytes());
    out.extend_from_slice(&header.to_md5);
    write_uint(&mut out, header.to_len);
    let has_data = header.sources.iter().any(|source| source.is_data);
    out.push(u8::from(has_data));

    write_uint(&mut out, len_u32(header.sources.len()));
    for source in &header.sources {
        write_bytes(&mut out, &source.name);
        out.extend_from_slice(&source.md5);
        write_uint(&mut out, source.len);
        out.push(u8::from(source.is_data));
        out.push(u8::from(source.sequential));
    }

    write_uint(&mut out, len_u32(instructions.len()));
    for instruction in instructions {
        write_uint(&mut out, instruction.index);
        write_uint(&mut out, instruction.offset);
        write_uint(&mut out, instruction.length);
    }
    out
}

/// The memory the reader needs for the control, as xdelta computes it on a
/// 64-bit machine. xdelta 1.1.3 reads the whole control into one block of
/// this size and fails if it is too small (later versions ignore it); the
/// 64-bit structures are the largest, so the value suits any reader.
fn allocation_hint(header: &Header, instructions: usize) -> u32 {
    const CONTROL: u64 = 72;
    const SOURCE_INFO: u64 = 56;
    const POINTER: u64 = 8;
    const INSTRUCTION: u64 = 16;

    let sources: u64 = header
        .sources
        .iter()
        .map(|source| {
            (SOURCE_INFO + source.name.len() as u64 + 1).next_multiple_of(8) + POINTER
        })
        .sum();
    let total = CONTROL + sources + INSTRUCTION * instructions as u64;
    u32::try_from(total).unwrap_or(u32::MAX)
}

// Reading.

/// Reads a control front to back from a decompressed or plain part.
pub(crate) struct Reader<R> {
    inner: R,
    position: usize,
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(inner: R) -> Reader<R> {
        Reader { inner, position: 0 }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// Fills `buffer` from the control.
    fn fill(
        &mut self,
        buffer: &mut [u8],
        what: &'static str,
    ) -> Result<(), Xdelta1Error> {
        let mut filled = 0;
        while filled < buffer.len() {
            let available = self.available()?;
            if available.is_empty() {
                return Err(self.truncated(what, filled));
            }
            let count = available.len().min(buffer.len() - filled);
            buffer[filled..filled + count].copy_from_slice(&available[..count]);
            self.inner.consume(count);
            filled += count;
        }
        self.position += filled;
        Ok(())
    }

    /// Skips `len` bytes without keeping them.
    fn skip(&mut self, mut len: usize, what: &'static str) -> Result<(), Xdelta1Error> {
        while len > 0 {
            let available = self.available()?.len();
            if available == 0 {
                return Err(self.truncated(what, 0));
            }
            let count = available.min(len);
            self.inner.consume(count);
            self.position += count;
            len -= count;
        }
        Ok(())
    }

    fn available(&mut self) -> Result<&[u8], Xdelta1Error> {
        self.inner
            .fill_buf()
            .map_err(|error| Xdelta1Error::Compression {
                part: "control",
                reason: error.to_string(),
            })
    }

    fn truncated(&self, what: &'static str, extra: usize) -> Xdelta1Error {
        Xdelta1Error::Truncated {
            what,
            part: "control",
            offset: self.position + extra,
        }
    }

    /// Whether the control has no more bytes (reading to its end also makes
    /// gzip check its CRC).
    pub(crate) fn at_end(&mut self) -> Result<bool, Xdelta1Error> {
        Ok(self.available()?.is_empty())
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, Xdelta1Error> {
        let mut buffer = [0];
        self.fill(&mut buffer, what)?;
        Ok(buffer[0])
    }

    fn bool(&mut self, what: &'static str) -> Result<bool, Xdelta1Error> {
        Ok(self.byte(what)? != 0)
    }

    fn u32_be(&mut self, what: &'static str) -> Result<u32, Xdelta1Error> {
        let mut buffer = [0; 4];
        self.fill(&mut buffer, what)?;
        Ok(u32::from_be_bytes(buffer))
    }

    fn md5(&mut self, what: &'static str) -> Result<[u8; 16], Xdelta1Error> {
        let mut buffer = [0; 16];
        self.fill(&mut buffer, what)?;
        Ok(buffer)
    }

    pub(crate) fn uint(&mut self, what: &'static str) -> Result<u32, Xdelta1Error> {
        let offset = self.position;
        let mut value: u64 = 0;
        for group in 0..MAX_UINT_BYTES {
            let byte = self.byte(what)?;
            value |= u64::from(byte & 0x7f) << (7 * group);
            if byte & 0x80 == 0 {
                return u32::try_from(value)
                    .map_err(|_| Xdelta1Error::IntegerOverflow { what, offset });
            }
        }
        Err(Xdelta1Error::IntegerOverflow { what, offset })
    }

    /// Reads everything before the instructions.
    pub(crate) fn header(&mut self) -> Result<Header, Xdelta1Error> {
        match self.u32_be("control type")? {
            CONTROL_TYPE => {}
            VERSION_0_CONTROL_TYPE => {
                return Err(Xdelta1Error::UnsupportedVersion {
                    magic: "1.0 control".to_owned(),
                })
            }
            found => return Err(Xdelta1Error::WrongControlType { found }),
        }
        // Only a hint for C readers' memory allocation.
        self.u32_be("control allocation size")?;

        let to_md5 = self.md5("result MD5")?;
        let to_len = self.uint("result length")?;
        // Whether the data segment is used: the source list says it too.
        self.bool("data flag")?;

        let count = self.uint("source count")?;
        if count > 2 {
            return Err(Xdelta1Error::BadSources {
                reason: "more than two sources",
            });
        }
        let sources = (0..count)
            .map(|_| self.source_info())
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Header {
            to_md5,
            to_len,
            sources,
        })
    }

    fn source_info(&mut self) -> Result<SourceInfo, Xdelta1Error> {
        let name_len = self.uint("source name length")?;
        // The name is only shown by `xdelta info`: skip it, whatever its
        // announced length, without allocating for it.
        self.skip(name_len as usize, "source name")?;
        Ok(SourceInfo {
            name: Vec::new(),
            md5: self.md5("source MD5")?,
            len: self.uint("source length")?,
            is_data: self.bool("source data flag")?,
            sequential: self.bool("source sequential flag")?,
        })
    }

    pub(crate) fn instruction(&mut self) -> Result<Instruction, Xdelta1Error> {
        Ok(Instruction {
            index: self.uint("instruction source index")?,
            offset: self.uint("instruction offset")?,
            length: self.uint("instruction length")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_round_trip() {
        for value in [0, 1, 0x7f, 0x80, 172, 0x3fff, 0x4000, u32::MAX] {
            let mut bytes = Vec::new();
            write_uint(&mut bytes, value);
            let mut reader = Reader::new(&bytes[..]);
            assert_eq!(reader.uint("test").unwrap(), value);
            assert!(reader.at_end().unwrap());
        }
        let mut bytes = Vec::new();
        write_uint(&mut bytes, 172);
        assert_eq!(bytes, [0xac, 0x01]);
    }

    #[test]
    fn uint_too_long_or_too_large() {
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x10][..]);
        assert!(matches!(
            reader.uint("test"),
            Err(Xdelta1Error::IntegerOverflow { .. })
        ));
        let mut reader = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01][..]);
        assert!(matches!(
            reader.uint("test"),
            Err(Xdelta1Error::IntegerOverflow { .. })
        ));
    }

    #[test]
    fn allocation_hint_matches_xdelta() {
        // xdelta 1.1.3 on amd64 writes 0x130 for a control with the data
        // segment "(patch data)", a source "old" and 5 instructions, and
        // 0x48 for an empty one.
        let source = |name: &[u8]| SourceInfo {
            name: name.to_vec(),
            md5: [0; 16],
            len: 0,
            is_data: false,
            sequential: false,
        };
        let header = Header {
            to_md5: [0; 16],
            to_len: 0,
            sources: vec![source(b"(patch data)"), source(b"old")],
        };
        assert_eq!(allocation_hint(&header, 5), 0x130);
        let empty = Header {
            sources: Vec::new(),
            ..header
        };
        assert_eq!(allocation_hint(&empty, 0), 0x48);
    }

    #[test]
    fn write_then_read() {
        let header = Header {
            to_md5: [7; 16],
            to_len: 300,
            sources: vec![SourceInfo {
                name: Vec::new(),
                md5: [9; 16],
                len: 1000,
                is_data: false,
                sequential: true,
            }],
        };
        let instructions = [Instruction {
            index: 0,
            offset: 0,
            length: 300,
        }];
        let bytes = write(&header, &instructions);
        let mut reader = Reader::new(&bytes[..]);
        assert_eq!(reader.header().unwrap(), header);
        assert_eq!(reader.uint("count").unwrap(), 1);
        assert_eq!(reader.instruction().unwrap(), instructions[0]);
        assert!(reader.at_end().unwrap());
    }
}
