//! The ways an xdelta 1 patch can fail to apply.

use std::fmt;

/// Why [`decode`](super::decode) refused an xdelta 1 patch.
///
/// Offsets in the patch file are byte offsets from its start. Offsets in the
/// control are counted in the control as stored after decompression, since
/// that is what the gzip member expands to. Instructions are counted from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Xdelta1Error {
    /// The patch does not start with any xdelta magic.
    BadMagic,
    /// The patch comes from an xdelta older than 1.1 (its magic is given),
    /// whose control layout this decoder does not read.
    UnsupportedVersion {
        /// The 8-byte magic, as text.
        magic: String,
    },
    /// The patch ended in the middle of something.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it was being read: `"patch"` or `"control"`.
        part: &'static str,
        /// Byte offset in that part where the bytes ran out.
        offset: usize,
    },
    /// The magic at the end of the patch is not the one at its start.
    BadTrailer,
    /// The header has flags this decoder does not handle: gzipped source or
    /// result files (which `xdelta` unpacks and packs around the delta), or
    /// unknown bits.
    UnsupportedFlags {
        /// The header's flag word.
        flags: u32,
    },
    /// The control offset of the trailer does not lie between the end of the
    /// header and the trailer.
    BadControlOffset {
        /// The offset the trailer gives.
        offset: u32,
        /// Where the header ends.
        header_end: usize,
        /// Where the trailer starts.
        trailer_start: usize,
    },
    /// A gzip-compressed part is corrupt.
    Compression {
        /// `"data"` or `"control"`.
        part: &'static str,
        /// What the gzip decoder reported.
        reason: String,
    },
    /// A part holds more bytes than the control announces for it.
    PartTooLarge {
        /// `"data"` or `"control"`.
        part: &'static str,
        /// The most it may hold.
        bound: u64,
    },
    /// Bytes are left after the end of a part's content.
    TrailingBytes {
        /// `"data"` or `"control"`.
        part: &'static str,
    },
    /// An integer of the control is longer than 32 bits.
    IntegerOverflow {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the control.
        offset: usize,
    },
    /// The control is not an xdelta 1.1 `XdeltaControl` (it has another
    /// serialized type code).
    WrongControlType {
        /// The type code found.
        found: u32,
    },
    /// The control lists sources that `xdelta patch` would not accept
    /// either: more than one data segment or source file, or a data segment
    /// after the source file.
    BadSources {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The result would be larger than the caller's limit.
    TargetTooLarge {
        /// The length the control announces.
        length: u32,
        /// The caller's limit in bytes.
        limit: usize,
    },
    /// The source given is not as long as the one the patch was made from.
    SourceLengthMismatch {
        /// The length the patch expects.
        expected: u32,
        /// The length of the source given.
        actual: usize,
    },
    /// The patch's data segment is not as long as its control says.
    DataLengthMismatch {
        /// The length the control announces.
        expected: u32,
        /// The length found.
        actual: usize,
    },
    /// An instruction names a source the control does not list.
    SourceIndexOutOfRange {
        /// The instruction.
        instruction: u32,
        /// The index it names.
        index: u32,
    },
    /// An instruction of length 0, which `xdelta delta` never writes.
    ZeroLengthInstruction {
        /// The instruction.
        instruction: u32,
    },
    /// An instruction copies bytes that its source does not have.
    CopyOutOfRange {
        /// The instruction.
        instruction: u32,
        /// `"source"` or `"data"`.
        from: &'static str,
        /// First byte copied.
        offset: u32,
        /// Number of bytes copied.
        length: u32,
        /// Length of what it copies from.
        available: usize,
    },
    /// The instructions do not add up to the announced result length.
    LengthMismatch {
        /// The length the control announces.
        declared: u32,
        /// The length the instructions produce (at least; counting stops
        /// once it is too large).
        actual: u64,
    },
    /// The source's MD5 is not the one of the file the patch was made from.
    SourceChecksumMismatch {
        /// The MD5 the patch expects, in hex.
        expected: String,
        /// The MD5 of the source given, in hex.
        actual: String,
    },
    /// The data segment's MD5 is not the one the control announces.
    DataChecksumMismatch {
        /// The MD5 the control announces, in hex.
        expected: String,
        /// The MD5 of the data segment, in hex.
        actual: String,
    },
    /// The rebuilt result's MD5 is not the one the control announces, though
    /// the source and the data segment are the announced ones.
    TargetChecksumMismatch {
        /// The MD5 the control announces, in hex.
        expected: String,
        /// The MD5 of what was rebuilt, in hex.
        actual: String,
    },
}

impl fmt::Display for Xdelta1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Xdelta1Error::*;

        match self {
            BadMagic => write!(f, "not an xdelta 1 patch: bad magic bytes"),
            UnsupportedVersion { magic } => write!(
                f,
                "xdelta patch format {magic:?} is too old (only %XDZ004%, xdelta 1.1, \
                 is supported)"
            ),
            Truncated { what, part, offset } => write!(
                f,
                "xdelta 1 patch truncated: the {part} ends at byte {offset} inside the {what}"
            ),
            BadTrailer => write!(
                f,
                "xdelta 1 patch corrupt or truncated: the magic at its end is missing"
            ),
            UnsupportedFlags { flags } => write!(
                f,
                "xdelta 1 patch has unsupported header flags 0x{flags:x} (gzipped source \
                 or result files, or unknown bits)"
            ),
            BadControlOffset { offset, header_end, trailer_start } => write!(
                f,
                "xdelta 1 patch corrupt: control offset {offset} is outside the body \
                 (bytes {header_end} to {trailer_start})"
            ),
            Compression { part, reason } => {
                write!(f, "xdelta 1 patch: corrupt gzip-compressed {part} part: {reason}")
            }
            PartTooLarge { part, bound } => write!(
                f,
                "xdelta 1 patch: the {part} part holds more than the {bound} bytes it may"
            ),
            TrailingBytes { part } => {
                write!(f, "xdelta 1 patch: bytes left after the end of the {part} part")
            }
            IntegerOverflow { what, offset } => write!(
                f,
                "xdelta 1 patch: integer too large in the {what} at byte {offset} of \
                 the control"
            ),
            WrongControlType { found } => write!(
                f,
                "xdelta 1 patch: control has type code 0x{found:x}, not an xdelta 1.1 \
                 control (0x8003)"
            ),
            BadSources { reason } => write!(f, "xdelta 1 patch: bad source list: {reason}"),
            TargetTooLarge { length, limit } => write!(
                f,
                "xdelta 1 patch: result of {length} bytes would exceed the limit of \
                 {limit} bytes"
            ),
            SourceLengthMismatch { expected, actual } => write!(
                f,
                "xdelta 1 patch: wrong source: the patch needs one of {expected} bytes, \
                 the source has {actual}"
            ),
            DataLengthMismatch { expected, actual } => write!(
                f,
                "xdelta 1 patch: data part is announced as {expected} bytes but holds \
                 {actual}"
            ),
            SourceIndexOutOfRange { instruction, index } => write!(
                f,
                "xdelta 1 patch: instruction {instruction} names source {index}, which \
                 the control does not list"
            ),
            ZeroLengthInstruction { instruction } => {
                write!(f, "xdelta 1 patch: instruction {instruction} has length 0")
            }
            CopyOutOfRange { instruction, from, offset, length, available } => write!(
                f,
                "xdelta 1 patch: instruction {instruction} copies {length} bytes at \
                 {offset} of the {from}, which has only {available}"
            ),
            LengthMismatch { declared, actual } => write!(
                f,
                "xdelta 1 patch: result is announced as {declared} bytes but the \
                 instructions produce {actual}"
            ),
            SourceChecksumMismatch { expected, actual } => write!(
                f,
                "xdelta 1 patch: wrong source: MD5 {actual}, the patch was made from \
                 {expected}"
            ),
            DataChecksumMismatch { expected, actual } => write!(
                f,
                "xdelta 1 patch: data part has MD5 {actual}, the control says {expected}"
            ),
            TargetChecksumMismatch { expected, actual } => write!(
                f,
                "xdelta 1 patch: rebuilt result has MD5 {actual}, the control says \
                 {expected}"
            ),
        }
    }
}

impl std::error::Error for Xdelta1Error {}
