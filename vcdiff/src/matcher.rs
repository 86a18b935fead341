//! Finding the parts of a target that already exist in the source.
//!
//! The source is cut into fixed blocks whose hashes go into a table. The
//! target is scanned with a rolling hash of the same width: when the hash at
//! some position names a source block with the same bytes, the match is
//! grown forward as far as the bytes agree and backward over the bytes not
//! yet covered. A common stretch is found as soon as it covers a whole
//! source block that the table kept (about four in five: a block whose
//! bucket is taken is dropped), so stretches of a few blocks practically
//! always are. The backward growth makes a match start exactly where the
//! difference ends, so a changed line costs little more than its changed
//! bytes.
//!
//! Building the table reads the source once; the scan visits each target
//! byte a bounded number of times. Both are linear.

/// Width of the hashed blocks. Smaller finds shorter matches but makes the
/// table larger; db-file lines are about 100 bytes long, and two blocks fit
/// in the part of a line (its two hashes) that a flag change leaves alone.
const BLOCK: usize = 32;

/// Multiplier of the polynomial rolling hash (odd, with mixed bits).
const BASE: u64 = 0x9e37_79b9_7f4a_7c15;

/// A piece of the target: either new bytes or a copy from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The next `len` target bytes are not in the source.
    Literal { len: usize },
    /// The next `len` target bytes are `source[start..start + len]`.
    Copy { start: usize, len: usize },
}

/// The hashed blocks of a source.
pub(crate) struct SourceIndex<'a> {
    source: &'a [u8],
    /// Block number + 1 of the first block with a given bucket; 0 is empty.
    buckets: Vec<u32>,
    bucket_bits: u32,
    /// `BASE` to the power `BLOCK - 1`, to take the oldest byte out of the
    /// rolling hash.
    oldest_factor: u64,
}

impl<'a> SourceIndex<'a> {
    pub(crate) fn new(source: &'a [u8]) -> SourceIndex<'a> {
        // Block numbers are stored as u32; a source too big for that keeps
        // only its first blocks in the table, which costs delta size, not
        // correctness.
        let blocks = (source.len() / BLOCK).min(u32::MAX as usize - 1);
        let bucket_bits = (blocks * 2).next_power_of_two().max(1024).trailing_zeros();
        let mut index = SourceIndex {
            source,
            buckets: vec![0; 1 << bucket_bits],
            bucket_bits,
            oldest_factor: (1..BLOCK).fold(1u64, |factor, _| factor.wrapping_mul(BASE)),
        };

        for block in 0..blocks {
            let start = block * BLOCK;
            let bucket = index.bucket(hash(&source[start..start + BLOCK]));
            // Keep the first block with a given bucket: it is as good as any.
            if index.buckets[bucket] == 0 {
                index.buckets[bucket] = block as u32 + 1;
            }
        }

        index
    }

    fn bucket(&self, hash: u64) -> usize {
        // The polynomial hash's low bits only depend on the bytes' low bits;
        // multiplying and keeping the top bits mixes them all in.
        (hash.wrapping_mul(0xff51_afd7_ed55_8ccd) >> (64 - self.bucket_bits)) as usize
    }

    /// The start of a source block whose bytes are `block`, if the table
    /// has one.
    fn find(&self, hash: u64, block: &[u8]) -> Option<usize> {
        let entry = self.buckets[self.bucket(hash)];
        let start = (entry as usize).checked_sub(1)? * BLOCK;

        (&self.source[start..start + BLOCK] == block).then_some(start)
    }

    fn roll(&self, hash: u64, oldest: u8, newest: u8) -> u64 {
        hash.wrapping_sub(u64::from(oldest).wrapping_mul(self.oldest_factor))
            .wrapping_mul(BASE)
            .wrapping_add(u64::from(newest))
    }

    /// Splits `target` into literals and copies from the source, in order.
    pub(crate) fn pieces(&self, target: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut literal_start = 0;
        let mut position = 0;
        let mut rolling: Option<u64> = None;

        while position + BLOCK <= target.len() {
            let block = &target[position..position + BLOCK];
            let block_hash = rolling.unwrap_or_else(|| hash(block));

            let Some(source_start) = self.find(block_hash, block) else {
                rolling = target
                    .get(position + BLOCK)
                    .map(|&newest| self.roll(block_hash, target[position], newest));
                position += 1;
                continue;
            };

            let before = common_suffix_len(
                &target[literal_start..position],
                &self.source[..source_start],
            );
            let after = common_prefix_len(
                &target[position + BLOCK..],
                &self.source[source_start + BLOCK..],
            );

            let copy_start = position - before;
            if copy_start > literal_start {
                pieces.push(Piece::Literal {
                    len: copy_start - literal_start,
                });
            }
            let len = before + BLOCK + after;
            pieces.push(Piece::Copy {
                start: source_start - before,
                len,
            });

            position = copy_start + len;
            literal_start = position;
            rolling = None;
        }

        if target.len() > literal_start {
            pieces.push(Piece::Literal {
                len: target.len() - literal_start,
            });
        }
        pieces
    }
}

/// The polynomial hash the rolling hash keeps up to date.
fn hash(block: &[u8]) -> u64 {
    block.iter().fold(0u64, |hash, &byte| {
        hash.wrapping_mul(BASE).wrapping_add(u64::from(byte))
    })
}

/// How many bytes `a` and `b` share at their start.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    const WORD: usize = 8;

    // Compare a word at a time; the first differing byte of the first
    // differing word is found from the XOR's trailing zeros (little-endian).
    let mut len = 0;
    for (word_a, word_b) in a.chunks_exact(WORD).zip(b.chunks_exact(WORD)) {
        let word_a = u64::from_le_bytes(word_a.try_into().unwrap_or_default());
        let word_b = u64::from_le_bytes(word_b.try_into().unwrap_or_default());
        let difference = word_a ^ word_b;
        if difference != 0 {
            return len + (difference.trailing_zeros() / 8) as usize;
        }
        len += WORD;
    }

    len + a[len..]
        .iter()
        .zip(&b[len..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes `a` and `b` share at their end.
fn common_suffix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebuild(
        source: &[u8],
        target_len: usize,
        pieces: &[Piece],
        target: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            match *piece {
                Piece::Literal { len } => {
                    let at = out.len();
                    out.extend_from_slice(&target[at..at + len]);
                }
                Piece::Copy { start, len } => {
                    out.extend_from_slice(&source[start..start + len])
                }
            }
        }
        assert_eq!(out.len(), target_len);
        out
    }

    #[test]
    fn prefix_and_suffix() {
        assert_eq!(
            common_prefix_len(b"abcdefghijklmnop", b"abcdefghijklmnoq"),
            15
        );
        assert_eq!(common_prefix_len(b"abcdefghij", b"abcdefghij"), 10);
        assert_eq!(common_prefix_len(b"abc", b"xbc"), 0);
        assert_eq!(common_prefix_len(b"abcdefgh", b"abcdefgX"), 7);
        assert_eq!(common_suffix_len(b"xyzabc", b"qabc"), 3);
    }

    #[test]
    fn rolling_hash_matches_direct_hash() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let index = SourceIndex::new(&[]);
        let mut rolling = hash(&bytes[..BLOCK]);
        for start in 1..bytes.len() - BLOCK {
            rolling = index.roll(rolling, bytes[start - 1], bytes[start + BLOCK - 1]);
            assert_eq!(rolling, hash(&bytes[start..start + BLOCK]));
        }
    }

    #[test]
    fn finds_moved_and_changed_parts() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let source: Vec<u8> = (0..10_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            })
            .collect();
        let mut target = source[5_000..7_000].to_vec();
        target.extend_from_slice(b"brand new bytes");
        target.extend_from_slice(&source[100..3_000]);
        target[1_000] ^= 0xff;

        let index = SourceIndex::new(&source);
        let pieces = index.pieces(&target);
        assert_eq!(rebuild(&source, target.len(), &pieces, &target), target);

        let literal: usize = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal { len } => *len,
                Piece::Copy { .. } => 0,
            })
            .sum();
        assert!(literal <= 16 + 1, "{pieces:?}");
    }
}
