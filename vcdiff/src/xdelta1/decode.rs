//! Applying an xdelta 1.1 patch to a source.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;

use super::control::{Header, Instruction, Reader, SourceInfo};
use super::error::Xdelta1Error;
use super::{
    md5, FLAG_FROM_COMPRESSED, FLAG_NO_VERIFY, FLAG_PATCH_COMPRESSED, FLAG_TO_COMPRESSED,
    HEADER_LEN, MAGIC, OLD_MAGICS, TRAILER_LEN,
};

/// Deflate never expands data more than about 1032 times; a gzip member
/// cannot justify a larger buffer than that.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Applies an xdelta 1.1 patch (magic `%XDZ004%`) to `source` and returns
/// the result.
///
/// Reads patches written by `xdelta delta` with or without compression
/// (`-0`). Like `xdelta patch`, it checks that the source has the length the
/// patch was made from and that the result has the announced length and
/// MD5; when the MD5 is wrong it tells whether the source or the patch data
/// is to blame. Patches made from or to gzipped files (which `xdelta`
/// unpacks around the delta) are refused.
///
/// The result may not be longer than `limit` bytes. Memory use stays within
/// the result, the patch's data part and what the patch's compressed bytes
/// can expand to, whatever lengths the patch announces.
///
/// # Errors
///
/// Any malformed, truncated, unsupported or mismatched input gives an
/// [`Xdelta1Error`] saying what is wrong and where; decoding never panics.
pub fn decode(
    source: &[u8],
    patch: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Xdelta1Error> {
    let envelope = Envelope::parse(patch)?;

    if !envelope.compressed {
        let mut reader = Reader::new(envelope.control);
        return apply(&mut reader, source, &envelope, limit);
    }

    let mut reader = Reader::new(BufReader::new(GzDecoder::new(envelope.control)));
    let result = apply(&mut reader, source, &envelope, limit)?;
    // The gzip member must end where the trailer starts.
    if !reader.into_inner().into_inner().into_inner().is_empty() {
        return Err(Xdelta1Error::TrailingBytes { part: "control" });
    }
    Ok(result)
}

/// The framing of a patch around its two parts.
struct Envelope<'a> {
    flags: u32,
    compressed: bool,
    data: &'a [u8],
    control: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(patch: &'a [u8]) -> Result<Envelope<'a>, Xdelta1Error> {
        check_magic(patch)?;
        let header = take(patch, MAGIC.len(), HEADER_LEN, "header")?;
        let word = |index: usize| {
            let bytes = &header[index * 4..index * 4 + 4];
            u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
        };

        let flags = word(0);
        let known = FLAG_NO_VERIFY
            | FLAG_FROM_COMPRESSED
            | FLAG_TO_COMPRESSED
            | FLAG_PATCH_COMPRESSED;
        // For gzipped files, `xdelta` unpacks the source and packs the result
        // around the delta; callers of ours hand over and want plain bytes.
        let gzipped_files = FLAG_FROM_COMPRESSED | FLAG_TO_COMPRESSED;
        if flags & !known != 0 || flags & gzipped_files != 0 {
            return Err(Xdelta1Error::UnsupportedFlags { flags });
        }

        // The file names are only a default for `xdelta patch`: skip them.
        let names_len = (word(1) >> 16) as usize + (word(1) & 0xffff) as usize;
        let header_end = MAGIC.len() + HEADER_LEN;
        take(patch, header_end, names_len, "file names")?;
        let body_start = header_end + names_len;

        let trailer_start = patch.len().saturating_sub(TRAILER_LEN);
        let trailer = take(patch, body_start.max(trailer_start), TRAILER_LEN, "trailer")?;
        if &trailer[4..] != MAGIC {
            return Err(Xdelta1Error::BadTrailer);
        }
        let offset = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let control_start = offset as usize;
        if control_start < body_start || control_start > trailer_start {
            return Err(Xdelta1Error::BadControlOffset {
                offset,
                header_end: body_start,
                trailer_start,
            });
        }

        Ok(Envelope {
            flags,
            compressed: flags & FLAG_PATCH_COMPRESSED != 0,
            data: &patch[body_start..control_start],
            control: &patch[control_start..trailer_start],
        })
    }
}

fn check_magic(patch: &[u8]) -> Result<(), Xdelta1Error> {
    let Some(magic) = patch.get(..MAGIC.len()) else {
        return Err(if MAGIC.starts_with(patch) && !patch.is_empty() {
            truncated_patch("magic", patch.len())
        } else {
            Xdelta1Error::BadMagic
        });
    };
    if magic == MAGIC {
        Ok(())
    } else if OLD_MAGICS.iter().any(|old| magic == *old) {
        Err(Xdelta1Error::UnsupportedVersion {
            magic: String::from_utf8_lossy(magic).into_owned(),
        })
    } else {
        Err(Xdelta1Error::BadMagic)
    }
}

/// `patch[start..start + len]`, or the error that the patch ends inside
/// `what`.
fn take<'a>(
    patch: &'a [u8],
    start: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Xdelta1Error> {
    patch
        .get(start..start.saturating_add(len))
        .ok_or(truncated_patch(what, patch.len()))
}

fn truncated_patch(what: &'static str, offset: usize) -> Xdelta1Error {
    Xdelta1Error::Truncated {
        what,
        part: "patch",
        offset,
    }
}

/// Where the bytes of each source listed in the control come from.
struct Sources<'a> {
    /// In the order of the control's list, which instructions index.
    bytes: Vec<&'a [u8]>,
    /// Per source: `"source"` or `"data"`, for messages.
    names: Vec<&'static str>,
}

impl<'a> Sources<'a> {
    fn new(list: &[SourceInfo], data: &'a [u8], source: &'a [u8]) -> Sources<'a> {
        let (bytes, names) = list
            .iter()
            .map(|info| {
                if info.is_data {
                    (data, "data")
                } else {
                    (source, "source")
                }
            })
            .unzip();
        Sources { bytes, names }
    }

    /// The bytes instruction `number` appends, once its source is known to
    /// exist and its offset is resolved.
    fn piece(
        &self,
        number: u32,
        instruction: &Instruction,
    ) -> Result<&'a [u8], Xdelta1Error> {
        if instruction.length == 0 {
            return Err(Xdelta1Error::ZeroLengthInstruction {
                instruction: number,
            });
        }
        let index = instruction.index as usize;
        let bytes = self.bytes[index];
        let start = instruction.offset as usize;
        let end = u64::from(instruction.offset) + u64::from(instruction.length);
        let piece = usize::try_from(end)
            .ok()
            .and_then(|end| bytes.get(start..end));

        piece.ok_or(Xdelta1Error::CopyOutOfRange {
            instruction: number,
            from: self.names[index],
            offset: instruction.offset,
            length: instruction.length,
            available: bytes.len(),
        })
    }
}

/// Reads the control, checks it against `source` and builds the result.
fn apply<R: BufRead>(
    reader: &mut Reader<R>,
    source: &[u8],
    envelope: &Envelope,
    limit: usize,
) -> Result<Vec<u8>, Xdelta1Error> {
    let header = reader.header()?;
    let (data_info, source_info) = roles(&header.sources)?;
    check_lengths(&header, data_info, source_info, source, limit)?;
    let data = read_data(envelope, data_info.map_or(0, |info| info.len))?;

    let sources = Sources::new(&header.sources, &data, source);
    let result = run_instructions(reader, &header, &sources)?;
    if !reader.at_end()? {
        return Err(Xdelta1Error::TrailingBytes { part: "control" });
    }

    if envelope.flags & FLAG_NO_VERIFY == 0 {
        verify(
            &header,
            &result,
            source_info.map(|info| (info, source)),
            data_info,
            &data,
        )?;
    }
    Ok(result)
}

/// Checks the announced lengths before anything is read or allocated on
/// their strength.
fn check_lengths(
    header: &Header,
    data_info: Option<&SourceInfo>,
    source_info: Option<&SourceInfo>,
    source: &[u8],
    limit: usize,
) -> Result<(), Xdelta1Error> {
    if header.to_len as usize > limit {
        return Err(Xdelta1Error::TargetTooLarge {
            length: header.to_len,
            limit,
        });
    }
    if let Some(info) = source_info {
        if info.len as usize != source.len() {
            return Err(Xdelta1Error::SourceLengthMismatch {
                expected: info.len,
                actual: source.len(),
            });
        }
    }
    // The data part only holds bytes of the result.
    if data_info.is_some_and(|info| info.len > header.to_len) {
        return Err(Xdelta1Error::PartTooLarge {
            part: "data",
            bound: u64::from(header.to_len),
        });
    }
    Ok(())
}

/// Finds the data segment and the source file in the list, in the only
/// orders `xdelta patch` accepts: data, source, or data then source.
fn roles(
    sources: &[SourceInfo],
) -> Result<(Option<&SourceInfo>, Option<&SourceInfo>), Xdelta1Error> {
    match sources {
        [] => Ok((None, None)),
        [only] if only.is_data => Ok((Some(only), None)),
        [only] => Ok((None, Some(only))),
        [data, file] if data.is_data && !file.is_data => Ok((Some(data), Some(file))),
        [data, _] if data.is_data => Err(Xdelta1Error::BadSources {
            reason: "two data segments",
        }),
        _ => Err(Xdelta1Error::BadSources {
            reason: "the source file is listed before another source",
        }),
    }
}

/// The data part, uncompressed, which must be exactly `expected` bytes.
fn read_data<'a>(
    envelope: &Envelope<'a>,
    expected: u32,
) -> Result<Cow<'a, [u8]>, Xdelta1Error> {
    let raw = envelope.data;
    let data = if !envelope.compressed || (raw.is_empty() && expected == 0) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(gunzip_data(raw, expected)?)
    };

    if data.len() != expected as usize {
        return Err(Xdelta1Error::DataLengthMismatch {
            expected,
            actual: data.len(),
        });
    }
    Ok(data)
}

/// Decompresses the data part's gzip member, refusing it if it expands past
/// `expected` bytes or does not end where the control starts.
fn gunzip_data(raw: &[u8], expected: u32) -> Result<Vec<u8>, Xdelta1Error> {
    let compression = |error: std::io::Error| Xdelta1Error::Compression {
        part: "data",
        reason: error.to_string(),
    };

    let bound = expected as usize;
    let mut data =
        Vec::with_capacity(bound.min(raw.len().saturating_mul(MAX_DEFLATE_RATIO)));
    let mut decoder = GzDecoder::new(raw);
    decoder
        .by_ref()
        .take(bound as u64 + 1)
        .read_to_end(&mut data)
        .map_err(compression)?;
    if data.len() > bound {
        return Err(Xdelta1Error::PartTooLarge {
            part: "data",
            bound: bound as u64,
        });
    }

    // Read on to the member's end, which checks its CRC.
    let mut rest = [0; 1];
    if decoder.read(&mut rest).map_err(compression)? != 0 {
        return Err(Xdelta1Error::PartTooLarge {
            part: "data",
            bound: bound as u64,
        });
    }
    if !decoder.into_inner().is_empty() {
        return Err(Xdelta1Error::TrailingBytes { part: "data" });
    }
    Ok(data)
}

/// Reads the instructions and appends what each names to the result.
fn run_instructions<R: BufRead>(
    reader: &mut Reader<R>,
    header: &Header,
    sources: &Sources,
) -> Result<Vec<u8>, Xdelta1Error> {
    let to_len = header.to_len as usize;
    // The announced length is only a claim: reserve no more than the bytes
    // that exist to copy from, and grow if copies repeat them.
    let available: usize = sources.bytes.iter().map(|bytes| bytes.len()).sum();
    let mut result = Vec::with_capacity(to_len.min(available));
    // Where the next instruction from each sequential source starts.
    let mut positions = vec![0u32; header.sources.len()];

    let count = reader.uint("instruction count")?;
    for number in 0..count {
        let mut instruction = reader.instruction()?;
        let index = instruction.index as usize;
        let Some(info) = header.sources.get(index) else {
            return Err(Xdelta1Error::SourceIndexOutOfRange {
                instruction: number,
                index: instruction.index,
            });
        };
        if info.sequential {
            instruction.offset = positions[index];
        }

        let piece = sources.piece(number, &instruction)?;
        if result.len() + piece.len() > to_len {
            return Err(Xdelta1Error::LengthMismatch {
                declared: header.to_len,
                actual: (result.len() + piece.len()) as u64,
            });
        }
        result.extend_from_slice(piece);
        // The piece lies within a source, so its end is below 4 GiB.
        positions[index] = instruction.offset + instruction.length;
    }

    if result.len() != to_len {
        return Err(Xdelta1Error::LengthMismatch {
            declared: header.to_len,
            actual: result.len() as u64,
        });
    }
    Ok(result)
}

/// Checks the result's MD5; when it is wrong, finds out whether the source
/// or the data part is not the one the patch was made with.
fn verify(
    header: &Header,
    result: &[u8],
    source: Option<(&SourceInfo, &[u8])>,
    data_info: Option<&SourceInfo>,
    data: &[u8],
) -> Result<(), Xdelta1Error> {
    let actual = md5(result);
    if actual == header.to_md5 {
        return Ok(());
    }

    if let Some((info, bytes)) = source {
        let actual = md5(bytes);
        if actual != info.md5 {
            return Err(Xdelta1Error::SourceChecksumMismatch {
                expected: hex(&info.md5),
                actual: hex(&actual),
            });
        }
    }
    if let Some(info) = data_info {
        let actual = md5(data);
        if actual != info.md5 {
            return Err(Xdelta1Error::DataChecksumMismatch {
                expected: hex(&info.md5),
                actual: hex(&actual),
            });
        }
    }
    Err(Xdelta1Error::TargetChecksumMismatch {
        expected: hex(&header.to_md5),
        actual: hex(&actual),
    })
}

fn hex(md5: &[u8; 16]) -> String {
    md5.iter().map(|byte| format!("{byte:02x}")).collect()
}
