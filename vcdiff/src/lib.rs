//! VCDIFF (RFC 3284) delta encoding and decoding, compatible with xdelta3.
//!
//! The smd protocol sends the change of a text db-file as a VCDIFF delta,
//! the way `xdelta3 -e -s old new delta` writes it; the peer rebuilds the
//! new file with `xdelta3 -d -s old delta new`. This crate does both in
//! process:
//!
//! * [`decode`] reads what xdelta3 writes by default: the application
//!   header, LZMA secondary compression of the sections and per-window
//!   Adler-32 checksums, as well as plain RFC 3284 deltas.
//! * [`encode`] writes plain RFC 3284 deltas (default code table, no
//!   secondary compression, with Adler-32 checksums) that xdelta3 accepts.
//!   It finds the parts of the target that exist anywhere in the source, so
//!   a db-file with a few lines changed, removed or appended gives a delta
//!   about the size of the changed lines.
//!
//! ```
//! let old = b"1111 aaaa 1.M1P1.host,S=10:2,S\n2222 bbbb 2.M2P2.host,S=20:2,\n";
//! let new = b"2222 bbbb 2.M2P2.host,S=20:2,S\n3333 cccc 3.M3P3.host,S=30:2,\n";
//!
//! let delta = vcdiff::encode(old, new);
//! let rebuilt = vcdiff::decode(old, &delta, 1 << 20).unwrap();
//! assert_eq!(rebuilt, new);
//! ```
//!
//! Both work on whole buffers.
//!
//! The [`xdelta1`] module reads and writes the older patch format of
//! xdelta 1.1.x, which smd 1.3.0 uses for the same purpose.

mod address;
mod checksum;
mod code_table;
mod decode;
mod encode;
mod error;
mod execute;
mod input;
mod lzma;
mod matcher;
mod varint;
pub mod xdelta1;

pub use decode::decode;
pub use encode::encode;
pub use error::DecodeError;
