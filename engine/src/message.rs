//! Splitting a mail message into header and body, and hashing both.
//!
//! The header is every byte up to and including the first `\n\n`; the body
//! is the rest. A file without `\n\n` (a header-only message, or one with
//! CRLF line ends) is all header with an empty body, so it still gets a
//! stable identity; for every file that has `\n\n` the digests are those
//! smd 1.3 computes.

use std::io::{self, Read};

use sha1::{Digest, Sha1};

use crate::sha::Sha;

/// The identity of a message: the digests of its header and its body.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MessageHash {
    pub header: Sha,
    pub body: Sha,
}

/// Returns the length of the header: up to and including the first
/// `\n\n`, or the whole buffer when there is none.
pub fn header_len(message: &[u8]) -> usize {
    message
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .map_or(message.len(), |at| at + 2)
}

/// Hashes a message held in memory.
pub fn hash_bytes(message: &[u8]) -> MessageHash {
    let split = header_len(message);
    MessageHash {
        header: Sha::of(&message[..split]),
        body: Sha::of(&message[split..]),
    }
}

/// What reading a whole message from a stream found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HashedMessage {
    pub hash: MessageHash,
    /// Total bytes read.
    pub len: u64,
}

/// Hashes a message fed in pieces of any size, finding the header/body
/// split across piece boundaries.
#[derive(Default)]
pub struct MessageHasher {
    header: Sha1,
    body: Sha1,
    in_body: bool,
    /// Whether the last byte given to the header hasher was `\n`, so that
    /// a `\n\n` split across two pieces is still found.
    after_newline: bool,
    len: u64,
}

impl MessageHasher {
    pub fn new() -> MessageHasher {
        MessageHasher::default()
    }

    pub fn update(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        self.len += piece.len() as u64;
        if self.in_body {
            self.body.update(piece);
            return;
        }

        let split = if self.after_newline && piece[0] == b'\n' {
            Some(1)
        } else {
            piece
                .windows(2)
                .position(|pair| pair == b"\n\n")
                .map(|at| at + 2)
        };
        match split {
            Some(split) => {
                self.header.update(&piece[..split]);
                self.body.update(&piece[split..]);
                self.in_body = true;
            }
            None => {
                self.header.update(piece);
                self.after_newline = piece[piece.len() - 1] == b'\n';
            }
        }
    }

    pub fn finish(self) -> HashedMessage {
        let hash = MessageHash {
            header: Sha::from_bytes(self.header.finalize().into()),
            body: Sha::from_bytes(self.body.finalize().into()),
        };
        HashedMessage {
            hash,
            len: self.len,
        }
    }
}

impl io::Write for MessageHasher {
    fn write(&mut self, piece: &[u8]) -> io::Result<usize> {
        self.update(piece);
        Ok(piece.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes a message read from `reader` in chunks, so that a large message
/// never sits in memory whole. `buffer` is reused between calls.
pub fn hash_stream(
    reader: &mut impl Read,
    buffer: &mut [u8],
) -> io::Result<HashedMessage> {
    let mut hasher = MessageHasher::new();
    loop {
        match reader.read(buffer) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(read) => hasher.update(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes a call, to put chunk
    /// boundaries everywhere.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn streamed(message: &[u8], step: usize) -> MessageHash {
        let mut reader = Trickle {
            data: message,
            step,
        };
        hash_stream(&mut reader, &mut [0u8; 7]).unwrap().hash
    }

    #[test]
    fn header_ends_after_first_blank_line() {
        assert_eq!(header_len(b"A: b\n\nbody\n\nmore"), 6);
        assert_eq!(header_len(b"\n\nbody"), 2);
        assert_eq!(header_len(b"\nX: y\n\nz"), 7);
    }

    #[test]
    fn message_without_blank_line_is_all_header() {
        let crlf = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(header_len(crlf), crlf.len());
        let hash = hash_bytes(crlf);
        assert_eq!(hash.header, Sha::of(crlf));
        assert_eq!(hash.body, Sha::EMPTY);
    }

    #[test]
    fn known_digests_of_a_simple_message() {
        let hash = hash_bytes(b"Subject: hi\n\nhello\n");
        assert_eq!(hash.header, Sha::of(b"Subject: hi\n\n"));
        assert_eq!(hash.body, Sha::of(b"hello\n"));
    }

    #[test]
    fn streaming_agrees_with_whole_buffer_at_every_chunk_size() {
        let samples: [&[u8]; 6] = [
            b"Subject: hi\n\nhello\n",
            b"\n\nstarts blank",
            b"header only\n",
            b"",
            b"a\n\n\n\nb",
            b"X: 1\nY: 2\n\nbody\n\nwith blank\n",
        ];
        for sample in samples {
            for step in 1..=9 {
                assert_eq!(streamed(sample, step), hash_bytes(sample), "step {step}");
            }
        }
    }
}
