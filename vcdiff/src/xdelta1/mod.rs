//! Patches in the format of xdelta 1.1.x (`xdelta delta OLD NEW PATCH`,
//! applied by `xdelta patch PATCH OLD NEW`).
//!
//! smd 1.3.0 sends the change of its db-file as such a patch, so a peer
//! running it sends and expects these rather than VCDIFF deltas.
//!
//! * [`decode`] reads what `xdelta delta` writes, gzip-compressed (its
//!   default) or not (`-0`), and checks the MD5s and lengths it records.
//! * [`encode`] writes a gzip-compressed patch that `xdelta patch` applies;
//!   lines the target shares with the source become copies.
//!
//! # The format
//!
//! A patch is, in order:
//!
//! 1. the magic `%XDZ004%`;
//! 2. six big-endian 32-bit words: flags (1: made without MD5s, 2: the
//!    source file was gzipped, 4: the result file was gzipped, 8: the two
//!    parts below are gzip-compressed), the lengths of the source and result
//!    file names (high and low 16 bits), and four reserved words;
//! 3. the two file names;
//! 4. the data part: the bytes of the result that are not copied from the
//!    source, one after the other (one gzip member when flag 8 is set);
//! 5. the control part (also one gzip member when flag 8 is set), described
//!    in the `control` module: the result's MD5 and length, the list of
//!    sources with their MD5s and lengths (the data part first if it is
//!    used, then the source file if it is used), and the instructions, each
//!    appending a range of one source to the result;
//! 6. the offset of the control part as a big-endian 32-bit word, and the
//!    magic again.
//!
//! Lengths are 32 bits, so files are limited to 4 GiB.
//!
//! ```
//! use vcdiff::xdelta1;
//!
//! let old = b"1111 aaaa 1.M1P1.host,S=10:2,S\n2222 bbbb 2.M2P2.host,S=20:2,\n";
//! let new = b"2222 bbbb 2.M2P2.host,S=20:2,S\n3333 cccc 3.M3P3.host,S=30:2,\n";
//!
//! let patch = xdelta1::encode(old, new);
//! assert!(xdelta1::is_xdelta1(&patch));
//! assert_eq!(xdelta1::decode(old, &patch, 1 << 20).unwrap(), new);
//! ```

mod control;
mod decode;
mod encode;
mod error;

pub use decode::decode;
pub use encode::encode;
pub use error::Xdelta1Error;

/// The magic of xdelta 1.1.x patches, at their start and their end.
const MAGIC: &[u8; 8] = b"%XDZ004%";

/// Older magics: 1.0.4 (`%XDZ003%`) and 1.0 (`%XDZ002%`) use another
/// control layout, and 0.20, 0.18 and 0.14 formats not even xdelta 1.1
/// reads. All are refused.
const OLD_MAGICS: [&[u8; 8]; 5] = [
    b"%XDZ003%",
    b"%XDZ002%",
    b"%XDZ001%",
    b"%XDZ000%",
    b"%XDELTA%",
];

// Header flags.
const FLAG_NO_VERIFY: u32 = 1;
const FLAG_FROM_COMPRESSED: u32 = 2;
const FLAG_TO_COMPRESSED: u32 = 4;
const FLAG_PATCH_COMPRESSED: u32 = 8;

/// Bytes of the header words after the magic.
const HEADER_LEN: usize = 24;

/// Control offset and closing magic.
const TRAILER_LEN: usize = 4 + MAGIC.len();

/// Whether `delta` is an xdelta 1.1.x patch (by its magic `%XDZ004%`).
///
/// Patches of older xdelta versions (magics `%XDZ003%`, `%XDZ002%`,
/// `%XDZ001%`, `%XDZ000%`, `%XDELTA%`) are not accepted: [`decode`] refuses
/// them as [`Xdelta1Error::UnsupportedVersion`].
pub fn is_xdelta1(delta: &[u8]) -> bool {
    delta.starts_with(MAGIC)
}

/// MD5 of `bytes`.
fn md5(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};

    Md5::digest(bytes).into()
}
