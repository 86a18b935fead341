//! The byte level of protocol 1.3: `\n`-terminated command lines and
//! `chunk LEN\n` followed by exactly LEN bytes.
//!
//! Everything a peer sends is bounded: a line longer than the limit, a
//! chunk larger than the caller allows or a stream that ends early is an
//! error, never an allocation sized by the peer.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd};

/// Longest command line accepted. Names are at most a few KiB; a diff line
/// carries two names and three digests.
pub const MAX_LINE: usize = 64 * 1024;

/// Why reading from the peer failed.
#[derive(Debug)]
pub enum WireError {
    /// The stream ended: the peer is gone.
    Closed,
    /// The peer sent `ABORT` where data was expected: it gave up, and a
    /// later run may succeed.
    Aborted,
    Io(io::Error),
    LineTooLong,
    /// A line that is not what the protocol expects here.
    Unexpected(Vec<u8>),
    /// A chunk larger than what may be accepted here.
    ChunkTooLarge {
        announced: u64,
        limit: u64,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Closed => f.write_str("the other side closed the connection"),
            WireError::Aborted => f.write_str("the other side gave up (ABORT)"),
            WireError::Io(error) => write!(f, "connection error: {error}"),
            WireError::LineTooLong => {
                write!(f, "the other side sent a line longer than {MAX_LINE} bytes")
            }
            WireError::Unexpected(line) => write!(
                f,
                "the other side sent an unexpected line: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)]).escape_debug()
            ),
            WireError::ChunkTooLarge { announced, limit } => write!(
                f,
                "the other side announced {announced} bytes of data where at most \
                 {limit} are acceptable"
            ),
        }
    }
}

impl std::error::Error for WireError {}

impl From<io::Error> for WireError {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            WireError::Closed
        } else {
            WireError::Io(error)
        }
    }
}

/// Reads one line without its `\n`. `Ok(None)` at a clean end of stream.
pub fn read_line(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>, WireError> {
    let mut line = Vec::new();
    let read = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            WireError::LineTooLong
        } else {
            WireError::Closed
        });
    }
    line.pop();
    Ok(Some(line))
}

/// Reads a line that must be there.
pub fn expect_line(reader: &mut impl BufRead) -> Result<Vec<u8>, WireError> {
    read_line(reader)?.ok_or(WireError::Closed)
}

/// Reads `chunk LEN` and checks LEN against `limit`. An `ABORT` line is
/// returned as [`WireError::Unexpected`] for the caller to report.
pub fn read_chunk_header(
    reader: &mut impl BufRead,
    limit: u64,
) -> Result<u64, WireError> {
    let line = expect_line(reader)?;
    if line == b"ABORT" {
        return Err(WireError::Aborted);
    }
    let len = line
        .strip_prefix(b"chunk ")
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse::<u64>().ok())
        .ok_or_else(|| WireError::Unexpected(line.clone()))?;
    if len > limit {
        return Err(WireError::ChunkTooLarge {
            announced: len,
            limit,
        });
    }
    Ok(len)
}

/// Copies exactly `len` bytes of a chunk body to `out`.
pub fn copy_chunk(
    reader: &mut impl BufRead,
    len: u64,
    out: &mut impl Write,
) -> Result<(), WireError> {
    let copied = io::copy(&mut reader.take(len), out)?;
    if copied < len {
        return Err(WireError::Closed);
    }
    Ok(())
}

/// Reads a whole chunk into memory; only for chunks bounded by `limit`.
pub fn read_chunk(reader: &mut impl BufRead, limit: u64) -> Result<Vec<u8>, WireError> {
    let len = read_chunk_header(reader, limit)?;
    let mut data = Vec::new();
    copy_chunk(reader, len, &mut data)?;
    Ok(data)
}

/// Asks for a 1 MiB buffer on a pipe carrying the protocol (the kernel's
/// default is 64 KiB): fewer, larger reads and writes, and fewer waits
/// for the other side. Anything that is not a pipe, or a refusal (a lower
/// `/proc/sys/fs/pipe-max-size`), leaves it as it is.
#[allow(unsafe_code)]
pub fn widen_pipe(pipe: &impl AsFd) {
    const SIZE: libc::c_int = 1 << 20;
    // SAFETY: fcntl on a descriptor kept open by the borrow; F_SETPIPE_SZ
    // only changes the pipe's capacity and fails harmlessly on non-pipes.
    unsafe {
        libc::fcntl(pipe.as_fd().as_raw_fd(), libc::F_SETPIPE_SZ, SIZE);
    }
}

/// Writes `chunk LEN\n`; exactly LEN bytes must follow.
pub fn write_chunk_header(out: &mut impl Write, len: u64) -> io::Result<()> {
    writeln!(out, "chunk {len}")
}

/// Writes `chunk LEN\n` and the data.
pub fn write_chunk(out: &mut impl Write, data: &[u8]) -> io::Result<()> {
    write_chunk_header(out, data.len() as u64)?;
    out.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_chunks_round_trip() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"GET Mail/cur/a b\n");
        write_chunk(&mut stream, b"hello\n\nworld").unwrap();
        let mut reader = &stream[..];
        assert_eq!(expect_line(&mut reader).unwrap(), b"GET Mail/cur/a b");
        assert_eq!(read_chunk(&mut reader, 100).unwrap(), b"hello\n\nworld");
        assert!(read_line(&mut reader).unwrap().is_none());
    }

    #[test]
    fn hostile_input_is_refused() {
        let mut huge = &b"chunk 99999999999\n"[..];
        assert!(matches!(
            read_chunk_header(&mut huge, 1 << 20),
            Err(WireError::ChunkTooLarge { .. })
        ));

        let mut short = &b"chunk 10\nabc"[..];
        assert!(matches!(
            read_chunk(&mut short, 100),
            Err(WireError::Closed)
        ));

        let mut junk = &b"chunk -1\n"[..];
        assert!(matches!(
            read_chunk_header(&mut junk, 100),
            Err(WireError::Unexpected(_))
        ));

        let long = vec![b'x'; MAX_LINE + 10];
        assert!(matches!(
            read_line(&mut &long[..]),
            Err(WireError::LineTooLong)
        ));

        let mut cut = &b"partial line"[..];
        assert!(matches!(read_line(&mut cut), Err(WireError::Closed)));
    }
}
