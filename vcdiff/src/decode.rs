//! Decoding a whole VCDIFF delta, as RFC 3284 defines it and as xdelta3
//! writes it (application header, LZMA secondary compression, Adler-32).

use std::borrow::Cow;

use crate::checksum::adler32;
use crate::error::DecodeError;
use crate::execute::{self, Sections};
use crate::input::Input;
use crate::lzma::{Decompressor, SectionError};
use crate::varint;

const MAGIC: [u8; 3] = [0xd6, 0xc3, 0xc4];

// Hdr_Indicator bits.
const VCD_DECOMPRESS: u8 = 0x01;
const VCD_CODETABLE: u8 = 0x02;
const VCD_APPHEADER: u8 = 0x04; // xdelta3 extension

// Win_Indicator bits.
const VCD_SOURCE: u8 = 0x01;
const VCD_TARGET: u8 = 0x02;
const VCD_ADLER32: u8 = 0x04; // xdelta3 extension

// Delta_Indicator bits: which sections went through the secondary compressor.
const VCD_DATACOMP: u8 = 0x01;
const VCD_INSTCOMP: u8 = 0x02;
const VCD_ADDRCOMP: u8 = 0x04;

const LZMA_COMPRESSOR_ID: u8 = 2;

/// Decodes a whole VCDIFF delta against `source` and returns the target.
///
/// Reads RFC 3284 deltas that use the default code table, plus the xdelta3
/// extensions: the application header (skipped), LZMA secondary compression
/// and per-window Adler-32 checksums (verified). Windows may copy from the
/// source (`VCD_SOURCE`) or from earlier target windows (`VCD_TARGET`).
///
/// The target may not grow past `limit` bytes. Nothing is allocated on the
/// strength of a size the delta announces alone: memory use stays within a
/// small multiple of `limit` and of what the delta really produces.
///
/// # Errors
///
/// Any malformed, truncated or unsupported input gives a [`DecodeError`]
/// saying what is wrong; decoding never panics.
pub fn decode(source: &[u8], delta: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut input = Input::new(delta);
    let compressed = read_file_header(&mut input)?;
    if input.is_empty() {
        return Err(DecodeError::NoWindow);
    }

    let mut decoder = Decoder {
        source,
        limit,
        secondary: compressed.then(Secondary::new),
        target: Vec::new(),
    };
    let mut window = 0;
    while !input.is_empty() {
        decoder.decode_window(window, &mut input)?;
        window += 1;
    }

    Ok(decoder.target)
}

/// Reads the file header; returns whether sections may be LZMA-compressed.
fn read_file_header(input: &mut Input) -> Result<bool, DecodeError> {
    if input.take(3, "file header")? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = input.byte("file header")?;
    if version != 0 {
        return Err(DecodeError::UnsupportedVersion(version));
    }

    let indicator = input.byte("file header")?;
    if indicator & !(VCD_DECOMPRESS | VCD_CODETABLE | VCD_APPHEADER) != 0 {
        return Err(DecodeError::InvalidIndicator {
            what: "header indicator",
            value: indicator,
        });
    }

    let compressed = indicator & VCD_DECOMPRESS != 0;
    if compressed {
        let id = input.byte("secondary compressor id")?;
        if id != LZMA_COMPRESSOR_ID {
            return Err(DecodeError::UnsupportedCompressor(id));
        }
    }
    if indicator & VCD_CODETABLE != 0 {
        return Err(DecodeError::CustomCodeTable);
    }
    if indicator & VCD_APPHEADER != 0 {
        // xdelta3 stores "target//source/" names here: nothing we need.
        let len = input.size("application header length")?;
        input.take(len, "application header")?;
    }

    Ok(compressed)
}

/// What lasts from one window to the next.
struct Decoder<'a> {
    source: &'a [u8],
    limit: usize,
    /// Present when the file header names the LZMA compressor.
    secondary: Option<Secondary<'a>>,
    /// Everything decoded so far.
    target: Vec<u8>,
}

impl<'a> Decoder<'a> {
    /// Reads one window and appends its target.
    fn decode_window(
        &mut self,
        window: u64,
        input: &mut Input<'a>,
    ) -> Result<(), DecodeError> {
        let header = WindowHeader::read(window, input)?;
        if header.target_len > self.limit - self.target.len() {
            return Err(DecodeError::TargetTooLarge {
                window,
                limit: self.limit,
            });
        }
        let raw = header.read_sections(window, input)?;

        let segment = match &header.segment {
            None => &[][..],
            Some(segment) if segment.from_target => {
                segment.bytes_in(window, &self.target)?
            }
            Some(segment) => segment.bytes_in(window, self.source)?,
        };

        let sections = match &mut self.secondary {
            Some(secondary) => {
                secondary.decompress(window, &header, segment.len(), raw)?
            }
            None if header.compressed != 0 => {
                return Err(DecodeError::MissingCompressor { window })
            }
            None => Sections {
                data: Cow::Borrowed(raw.data),
                instructions: Cow::Borrowed(raw.instructions),
                addresses: Cow::Borrowed(raw.addresses),
            },
        };

        let window_target = execute::run(window, segment, &sections, header.target_len)?;

        if let Some(expected) = header.checksum {
            let actual = adler32(&window_target);
            if actual != expected {
                return Err(DecodeError::ChecksumMismatch {
                    window,
                    expected,
                    actual,
                });
            }
        }

        self.target.extend_from_slice(&window_target);
        Ok(())
    }
}

/// Where a window's COPY instructions start counting addresses.
struct Segment {
    /// `VCD_TARGET`: the segment is in the target decoded so far.
    from_target: bool,
    position: usize,
    length: usize,
}

impl Segment {
    /// The segment's bytes, if `bytes` has them.
    fn bytes_in<'b>(
        &self,
        window: u64,
        bytes: &'b [u8],
    ) -> Result<&'b [u8], DecodeError> {
        let out_of_range = || DecodeError::SegmentOutOfRange {
            window,
            position: self.position as u64,
            length: self.length as u64,
            available: bytes.len() as u64,
        };

        let end = self
            .position
            .checked_add(self.length)
            .ok_or_else(out_of_range)?;
        bytes.get(self.position..end).ok_or_else(out_of_range)
    }
}

/// Everything of a window before its sections.
struct WindowHeader {
    segment: Option<Segment>,
    target_len: usize,
    /// Delta_Indicator: which sections are compressed.
    compressed: u8,
    data_len: usize,
    instructions_len: usize,
    addresses_len: usize,
    checksum: Option<u32>,
    /// Where the delta encoding, which the header announces the length of,
    /// must end in the file.
    end: Option<usize>,
}

impl WindowHeader {
    fn read(window: u64, input: &mut Input) -> Result<WindowHeader, DecodeError> {
        let indicator = input.byte("window indicator")?;
        if indicator & !(VCD_SOURCE | VCD_TARGET | VCD_ADLER32) != 0 {
            return Err(DecodeError::InvalidIndicator {
                what: "window indicator",
                value: indicator,
            });
        }
        if indicator & VCD_SOURCE != 0 && indicator & VCD_TARGET != 0 {
            return Err(DecodeError::ConflictingSegments { window });
        }

        let segment = if indicator & (VCD_SOURCE | VCD_TARGET) != 0 {
            let length = input.size("source segment length")?;
            let position = input.size("source segment position")?;
            Some(Segment {
                from_target: indicator & VCD_TARGET != 0,
                position,
                length,
            })
        } else {
            None
        };

        let delta_len = input.size("delta encoding length")?;
        let end = input.position().checked_add(delta_len);

        let target_len = input.size("target window length")?;
        let compressed = input.byte("delta indicator")?;
        if compressed & !(VCD_DATACOMP | VCD_INSTCOMP | VCD_ADDRCOMP) != 0 {
            return Err(DecodeError::InvalidIndicator {
                what: "delta indicator",
                value: compressed,
            });
        }

        let data_len = input.size("data section length")?;
        let instructions_len = input.size("instructions section length")?;
        let addresses_len = input.size("addresses section length")?;
        let checksum = if indicator & VCD_ADLER32 != 0 {
            Some(input.u32_be("Adler-32 checksum")?)
        } else {
            None
        };

        Ok(WindowHeader {
            segment,
            target_len,
            compressed,
            data_len,
            instructions_len,
            addresses_len,
            checksum,
            end,
        })
    }

    /// Reads the three sections as they are in the file, and checks they
    /// end where the header said the window ends.
    fn read_sections<'a>(
        &self,
        window: u64,
        input: &mut Input<'a>,
    ) -> Result<RawSections<'a>, DecodeError> {
        let start = input.position();
        let sections = RawSections {
            data: input.take(self.data_len, "data section")?,
            instructions: input.take(self.instructions_len, "instructions section")?,
            addresses: input.take(self.addresses_len, "addresses section")?,
        };

        if self.end != Some(input.position()) {
            let header_len = self.end.unwrap_or(usize::MAX).saturating_sub(start);
            return Err(DecodeError::LengthMismatch {
                window,
                what: "sections (from the delta encoding length)",
                declared: header_len as u64,
                actual: (input.position() - start) as u64,
            });
        }

        Ok(sections)
    }
}

/// A window's sections as they are in the file.
struct RawSections<'a> {
    data: &'a [u8],
    instructions: &'a [u8],
    addresses: &'a [u8],
}

/// One LZMA stream per kind of section, each continued by the next window.
struct Secondary<'a> {
    data: Decompressor<'a>,
    instructions: Decompressor<'a>,
    addresses: Decompressor<'a>,
}

impl<'a> Secondary<'a> {
    fn new() -> Secondary<'a> {
        Secondary {
            data: Decompressor::new(),
            instructions: Decompressor::new(),
            addresses: Decompressor::new(),
        }
    }

    /// Decompresses the sections the window header marks as compressed.
    fn decompress(
        &mut self,
        window: u64,
        header: &WindowHeader,
        segment_len: usize,
        raw: RawSections<'a>,
    ) -> Result<Sections<'a>, DecodeError> {
        let bounds = SectionBounds::new(header.target_len, segment_len);
        let compressed = |bit: u8| header.compressed & bit != 0;

        Ok(Sections {
            data: decompress_section(
                window,
                "data",
                &mut self.data,
                compressed(VCD_DATACOMP).then_some(bounds.data),
                raw.data,
            )?,
            instructions: decompress_section(
                window,
                "instructions",
                &mut self.instructions,
                compressed(VCD_INSTCOMP).then_some(bounds.instructions),
                raw.instructions,
            )?,
            addresses: decompress_section(
                window,
                "addresses",
                &mut self.addresses,
                compressed(VCD_ADDRCOMP).then_some(bounds.addresses),
                raw.addresses,
            )?,
        })
    }
}

/// Returns a section as it is, or decompressed to at most `bound` bytes
/// when there is a bound.
fn decompress_section<'a>(
    window: u64,
    name: &'static str,
    decompressor: &mut Decompressor<'a>,
    bound: Option<u64>,
    section: &'a [u8],
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let Some(bound) = bound else {
        return Ok(Cow::Borrowed(section));
    };

    match decompressor.decompress(section, bound) {
        Ok(bytes) => Ok(Cow::Owned(bytes)),
        Err(SectionError::TooLarge { declared }) => Err(DecodeError::SectionTooLarge {
            window,
            section: name,
            declared,
            bound,
        }),
        Err(SectionError::Corrupt(reason)) => Err(DecodeError::Compression {
            window,
            section: name,
            reason,
        }),
    }
}

/// The most each section can hold in a window that is well formed, used to
/// refuse compressed sections that would expand beyond any use.
///
/// Every instruction writes at least one target byte (size 0 is refused),
/// so a window of `n` bytes has at most `n` instructions. Each takes an
/// opcode plus, in the default table, at most one explicit size; each COPY
/// takes at most one address no larger than the segment plus the window.
struct SectionBounds {
    data: u64,
    instructions: u64,
    addresses: u64,
}

impl SectionBounds {
    fn new(target_len: usize, segment_len: usize) -> SectionBounds {
        let target_len = target_len as u64;
        let largest_address = (segment_len as u64).saturating_add(target_len);

        SectionBounds {
            data: target_len,
            instructions: target_len.saturating_mul(1 + varint::len(target_len) as u64),
            addresses: target_len.saturating_mul(varint::len(largest_address) as u64),
        }
    }
}
