//! Writing an xdelta 1.1 patch that `xdelta patch` applies.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::control::{self, Header, Instruction, SourceInfo};
use super::{md5, FLAG_PATCH_COMPRESSED, MAGIC};
use crate::matcher::{Piece, SourceIndex};

/// The names written in the header and the source list. `xdelta patch` only
/// uses them when it is given no file names, and smd always gives them.
const SOURCE_NAME: &[u8] = b"source";
const TARGET_NAME: &[u8] = b"target";
/// The name `xdelta delta` gives the data segment in the source list.
const DATA_NAME: &[u8] = b"(patch data)";

/// The zlib level `xdelta delta` uses by default.
const LEVEL: u32 = 6;

// Indices of the two sources while the instructions are built; the final
// ones depend on which sources are used.
const DATA: u32 = 0;
const FILE: u32 = 1;

/// Encodes `target` as an xdelta 1.1 patch (magic `%XDZ004%`) against
/// `source`.
///
/// `xdelta patch PATCH SOURCE TARGET` rebuilds `target` from it, as does
/// [`decode`](super::decode). Parts of the target found anywhere in the
/// source become copies (each grown to the exact ends of the common bytes),
/// the rest goes into the patch's data; data and control are
/// gzip-compressed, as `xdelta delta` does by default. A db-file with a few
/// lines changed, removed or appended gives a patch about the size of the
/// changed lines, compressed. Time and memory are linear in the sizes.
///
/// `xdelta patch` unpacks a source file that starts with the gzip magic
/// (`1f 8b`) before applying the patch, so such a source only works with
/// [`decode`](super::decode) (or `xdelta patch --pristine`).
///
/// # Panics
///
/// If `source` or `target` is 4 GiB or larger, which the format cannot
/// express.
pub fn encode(source: &[u8], target: &[u8]) -> Vec<u8> {
    assert!(
        u32::try_from(source.len()).is_ok() && u32::try_from(target.len()).is_ok(),
        "xdelta 1 patches are limited to files below 4 GiB"
    );

    // Nothing changed (a sync with no news): one copy, without indexing.
    let pieces = if source == target && !target.is_empty() {
        vec![Piece::Copy {
            start: 0,
            len: target.len(),
        }]
    } else {
        SourceIndex::new(source).pieces(target)
    };

    let (data, instructions) = instructions(&pieces, target);
    let (header, instructions) = finish_control(source, target, &data, instructions);
    let control = control::write(&header, &instructions);
    envelope(&gzip(&data), &gzip(&control))
}

/// Turns the pieces into instructions with the provisional indices `DATA`
/// and `FILE`, and collects the data they take from the patch.
fn instructions(pieces: &[Piece], target: &[u8]) -> (Vec<u8>, Vec<Instruction>) {
    let mut data = Vec::new();
    let mut instructions = Vec::with_capacity(pieces.len());
    let mut position = 0;

    for piece in pieces {
        let instruction = match *piece {
            Piece::Literal { len } => {
                let offset = data.len();
                data.extend_from_slice(&target[position..position + len]);
                Instruction {
                    index: DATA,
                    offset: offset as u32,
                    length: len as u32,
                }
            }
            Piece::Copy { start, len } => Instruction {
                index: FILE,
                offset: start as u32,
                length: len as u32,
            },
        };
        position += instruction.length as usize;
        instructions.push(instruction);
    }
    (data, instructions)
}

/// Lists the sources the instructions use, gives the instructions their
/// final indices and leaves out the offsets of sequential sources, as
/// `xdelta` does.
fn finish_control(
    source: &[u8],
    target: &[u8],
    data: &[u8],
    mut instructions: Vec<Instruction>,
) -> (Header, Vec<Instruction>) {
    let uses_file = instructions
        .iter()
        .any(|instruction| instruction.index == FILE);
    let mut sources = Vec::new();
    if !data.is_empty() {
        // Literals are taken from the data in order: always sequential.
        sources.push(SourceInfo {
            name: DATA_NAME.to_vec(),
            md5: md5(data),
            len: data.len() as u32,
            is_data: true,
            sequential: true,
        });
    }
    let file_index = sources.len() as u32;
    if uses_file {
        sources.push(SourceInfo {
            name: SOURCE_NAME.to_vec(),
            md5: md5(source),
            len: source.len() as u32,
            is_data: false,
            sequential: is_sequential(&instructions),
        });
    }

    for instruction in &mut instructions {
        let sequential = if instruction.index == FILE {
            instruction.index = file_index;
            sources[file_index as usize].sequential
        } else {
            true
        };
        if sequential {
            instruction.offset = 0;
        }
    }

    let header = Header {
        to_md5: md5(target),
        to_len: target.len() as u32,
        sources,
    };
    (header, instructions)
}

/// Whether the copies from the source file read it front to back, each
/// starting where the previous one ended.
fn is_sequential(instructions: &[Instruction]) -> bool {
    let mut position = 0;
    instructions
        .iter()
        .filter(|instruction| instruction.index == FILE)
        .all(|instruction| {
            let follows = instruction.offset == position;
            position = instruction.offset + instruction.length;
            follows
        })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(LEVEL));
    // Writing into a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Puts the compressed parts between the header and the trailer.
fn envelope(data: &[u8], control: &[u8]) -> Vec<u8> {
    let names_len = SOURCE_NAME.len() + TARGET_NAME.len();
    let mut patch = Vec::with_capacity(64 + names_len + data.len() + control.len());
    patch.extend_from_slice(MAGIC);

    let name_lengths = (SOURCE_NAME.len() as u32) << 16 | TARGET_NAME.len() as u32;
    for word in [FLAG_PATCH_COMPRESSED, name_lengths, 0, 0, 0, 0] {
        patch.extend_from_slice(&word.to_be_bytes());
    }
    patch.extend_from_slice(SOURCE_NAME);
    patch.extend_from_slice(TARGET_NAME);

    patch.extend_from_slice(data);
    let control_offset = u32::try_from(patch.len()).expect("patch below 4 GiB");
    patch.extend_from_slice(control);
    patch.extend_from_slice(&control_offset.to_be_bytes());
    patch.extend_from_slice(MAGIC);
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_copies() {
        let copy = |offset, length| Instruction {
            index: FILE,
            offset,
            length,
        };
        let insert = Instruction {
            index: DATA,
            offset: 0,
            length: 3,
        };
        assert!(is_sequential(&[copy(0, 10), insert, copy(10, 5)]));
        assert!(!is_sequential(&[copy(0, 10), copy(20, 5)]));
        assert!(!is_sequential(&[copy(5, 10)]));
    }
}
