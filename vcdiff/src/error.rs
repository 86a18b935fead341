//! The ways a delta can fail to decode.

use std::fmt;

/// Why [`decode`](crate::decode) refused a delta.
///
/// Every variant names the part of the file that is wrong, so that a log line
/// is enough to tell a truncated transfer from a hostile or buggy peer.
/// Windows are counted from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The delta ended in the middle of something.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the delta where it was being read.
        offset: usize,
    },
    /// The delta does not start with the VCDIFF magic bytes `D6 C3 C4`.
    BadMagic,
    /// The VCDIFF version byte is not 0.
    UnsupportedVersion(u8),
    /// The delta ends after its header, without any window. Encoders write
    /// at least one window, even for an empty target, so this is a
    /// truncated delta.
    NoWindow,
    /// An integer does not fit in this machine's `usize`.
    IntegerOverflow {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the delta where it was being read.
        offset: usize,
    },
    /// An indicator byte has bits set that no known encoder writes.
    InvalidIndicator {
        /// Which indicator.
        what: &'static str,
        /// Its value.
        value: u8,
    },
    /// The delta brings its own code table (`VCD_CODETABLE`), which this
    /// decoder does not implement.
    CustomCodeTable,
    /// The delta uses a secondary compressor other than LZMA (id 2).
    UnsupportedCompressor(u8),
    /// A window says a section is compressed but the file header names no
    /// secondary compressor.
    MissingCompressor {
        /// The window.
        window: u64,
    },
    /// A compressed section is not a valid LZMA/xz stream.
    Compression {
        /// The window.
        window: u64,
        /// `"data"`, `"instructions"` or `"addresses"`.
        section: &'static str,
        /// What the LZMA decoder reported.
        reason: String,
    },
    /// A compressed section claims to expand to more bytes than its window
    /// could possibly use.
    SectionTooLarge {
        /// The window.
        window: u64,
        /// `"data"`, `"instructions"` or `"addresses"`.
        section: &'static str,
        /// The size it announced.
        declared: u64,
        /// The most this window can need.
        bound: u64,
    },
    /// A window sets both `VCD_SOURCE` and `VCD_TARGET`.
    ConflictingSegments {
        /// The window.
        window: u64,
    },
    /// A window's source segment lies outside the source (or, for
    /// `VCD_TARGET`, outside the target decoded so far).
    SegmentOutOfRange {
        /// The window.
        window: u64,
        /// Start of the segment.
        position: u64,
        /// Length of the segment.
        length: u64,
        /// How many bytes there are to take it from.
        available: u64,
    },
    /// The target would grow past the caller's limit.
    TargetTooLarge {
        /// The window that would cross it.
        window: u64,
        /// The caller's limit in bytes.
        limit: usize,
    },
    /// A length announced in a window does not match what it contains.
    LengthMismatch {
        /// The window.
        window: u64,
        /// What the length is about.
        what: &'static str,
        /// The length the window announced.
        declared: u64,
        /// The length actually found.
        actual: u64,
    },
    /// An instruction needs more bytes than its section holds.
    SectionExhausted {
        /// The window.
        window: u64,
        /// `"data"`, `"instructions"` or `"addresses"`.
        section: &'static str,
    },
    /// Bytes are left in a section after the last instruction.
    TrailingSectionData {
        /// The window.
        window: u64,
        /// `"data"` or `"addresses"`.
        section: &'static str,
        /// How many bytes were left.
        left: usize,
    },
    /// An instruction of size 0, which no encoder has reason to write.
    ZeroSizeInstruction {
        /// The window.
        window: u64,
    },
    /// The instructions write past the window's announced target length.
    WindowOverflow {
        /// The window.
        window: u64,
        /// The window's announced target length.
        length: u64,
    },
    /// A COPY points at or past the position it is writing to.
    AddressOutOfRange {
        /// The window.
        window: u64,
        /// The decoded address (`None` when it does not even fit in 64 bits).
        address: Option<u64>,
        /// The position being written, counted like addresses.
        here: u64,
    },
    /// The Adler-32 checksum of a decoded window is not the announced one.
    ChecksumMismatch {
        /// The window.
        window: u64,
        /// The checksum the delta announced.
        expected: u32,
        /// The checksum of what was decoded.
        actual: u32,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeError::*;

        match self {
            Truncated { what, offset } => {
                write!(f, "delta truncated: it ends at byte {offset} inside the {what}")
            }
            BadMagic => write!(f, "not a VCDIFF delta: bad magic bytes"),
            NoWindow => write!(f, "delta truncated: it has a header but no window"),
            UnsupportedVersion(version) => {
                write!(f, "unsupported VCDIFF version {version} (only 0 is known)")
            }
            IntegerOverflow { what, offset } => {
                write!(f, "integer too large in the {what} at byte {offset}")
            }
            InvalidIndicator { what, value } => {
                write!(f, "invalid {what} 0x{value:02x}: unknown bits set")
            }
            CustomCodeTable => {
                write!(f, "unsupported VCDIFF feature: application-defined code table")
            }
            UnsupportedCompressor(id) => write!(
                f,
                "unsupported secondary compressor id {id} (only LZMA, id 2, is supported)"
            ),
            MissingCompressor { window } => write!(
                f,
                "window {window}: compressed section but the header names no compressor"
            ),
            Compression { window, section, reason } => write!(
                f,
                "window {window}: corrupt LZMA-compressed {section} section: {reason}"
            ),
            SectionTooLarge { window, section, declared, bound } => write!(
                f,
                "window {window}: compressed {section} section announces {declared} bytes, \
                 more than the {bound} the window can use"
            ),
            ConflictingSegments { window } => {
                write!(f, "window {window}: both VCD_SOURCE and VCD_TARGET are set")
            }
            SegmentOutOfRange { window, position, length, available } => write!(
                f,
                "window {window}: segment of {length} bytes at {position} lies outside \
                 the {available} bytes available"
            ),
            TargetTooLarge { window, limit } => write!(
                f,
                "window {window}: target would exceed the limit of {limit} bytes"
            ),
            LengthMismatch { window, what, declared, actual } => write!(
                f,
                "window {window}: {what} is announced as {declared} bytes but is {actual}"
            ),
            SectionExhausted { window, section } => write!(
                f,
                "window {window}: instructions read past the end of the {section} section"
            ),
            TrailingSectionData { window, section, left } => write!(
                f,
                "window {window}: {left} bytes left unused in the {section} section"
            ),
            ZeroSizeInstruction { window } => {
                write!(f, "window {window}: instruction of size 0")
            }
            WindowOverflow { window, length } => write!(
                f,
                "window {window}: instructions write past the target length of {length} bytes"
            ),
            AddressOutOfRange { window, address: Some(address), here } => write!(
                f,
                "window {window}: COPY address {address} is not before the current \
                 position {here}"
            ),
            AddressOutOfRange { window, address: None, here } => write!(
                f,
                "window {window}: COPY address overflows (current position {here})"
            ),
            ChecksumMismatch { window, expected, actual } => write!(
                f,
                "window {window}: Adler-32 checksum mismatch: delta says {expected:08x}, \
                 decoded data has {actual:08x}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}
