//! Encoding a target as a plain RFC 3284 delta against a source.

use crate::address::{AddressCache, Encoded};
use crate::checksum::adler32;
use crate::code_table::Opcodes;
use crate::matcher::{Piece, SourceIndex};
use crate::varint;

/// Target bytes per window, as xdelta3 uses by default.
pub(crate) const WINDOW_SIZE: usize = 8 << 20;

/// Shortest run of one repeated byte inside new data that is worth a RUN
/// (opcode, size, byte) instead of being added byte by byte.
const MIN_RUN: usize = 8;

// File header: magic, version 0, Hdr_Indicator with nothing optional.
const FILE_HEADER: [u8; 5] = [0xd6, 0xc3, 0xc4, 0x00, 0x00];

// Win_Indicator bits we write.
const VCD_SOURCE: u8 = 0x01;
const VCD_ADLER32: u8 = 0x04;

/// Encodes `target` as a VCDIFF delta against `source`.
///
/// The delta is plain RFC 3284 with the default code table and no
/// secondary compression, cut into windows of at most 8 MiB of target. Each
/// window carries xdelta3's Adler-32 extension, so `xdelta3 -d -s source`
/// and [`decode`](crate::decode) both verify what they rebuild.
///
/// Parts of the target found anywhere in the source become COPY
/// instructions (stretches of a few hundred bytes or more practically always
/// are, and each match is grown to the exact ends of the common bytes), the
/// rest ADD, and long runs of one byte RUN. Time and memory are linear in
/// the sizes of source and target: a 100 MB db-file takes under a second in
/// a release build.
pub fn encode(source: &[u8], target: &[u8]) -> Vec<u8> {
    let opcodes = Opcodes::new();
    let mut delta = FILE_HEADER.to_vec();

    // Nothing changed (a sync with no news): each window is one copy of
    // the same bytes of the source, without indexing it.
    if source == target && !target.is_empty() {
        for (at, window) in target.chunks(WINDOW_SIZE).enumerate() {
            let copy = Piece::Copy {
                start: at * WINDOW_SIZE,
                len: window.len(),
            };
            write_window(&mut delta, &opcodes, window, &[copy]);
        }
        return delta;
    }

    let index = SourceIndex::new(source);

    // An empty target still gets one empty window, as xdelta3 writes it.
    let mut windows = target.chunks(WINDOW_SIZE).peekable();
    if windows.peek().is_none() {
        write_window(&mut delta, &opcodes, &[], &[]);
    }
    for window in windows {
        write_window(&mut delta, &opcodes, window, &index.pieces(window));
    }

    delta
}

/// Appends one window that rebuilds `target` from `pieces`.
fn write_window(delta: &mut Vec<u8>, opcodes: &Opcodes, target: &[u8], pieces: &[Piece]) {
    // The window's segment is the smallest stretch of source that holds all
    // its copies: addresses are counted from its start.
    let copies = pieces.iter().filter_map(|piece| match *piece {
        Piece::Copy { start, len } => Some((start, start + len)),
        Piece::Literal { .. } => None,
    });
    let segment =
        copies.reduce(|(low, high), (start, end)| (low.min(start), high.max(end)));
    let (segment_start, segment_len) =
        segment.map_or((0, 0), |(low, high)| (low, high - low));

    let mut sections = Sections::new(opcodes, segment_len);
    let mut position = 0;
    for piece in pieces {
        match *piece {
            Piece::Literal { len } => {
                sections.literal(&target[position..position + len]);
                position += len;
            }
            Piece::Copy { start, len } => {
                sections.copy(start - segment_start, len, position);
                position += len;
            }
        }
    }
    sections.flush();

    let mut indicator = VCD_ADLER32;
    if segment.is_some() {
        indicator |= VCD_SOURCE;
    }
    delta.push(indicator);
    if segment.is_some() {
        varint::write(delta, segment_len as u64);
        varint::write(delta, segment_start as u64);
    }

    let mut encoding = Vec::new();
    varint::write(&mut encoding, target.len() as u64);
    encoding.push(0); // Delta_Indicator: nothing compressed
    varint::write(&mut encoding, sections.data.len() as u64);
    varint::write(&mut encoding, sections.instructions.len() as u64);
    varint::write(&mut encoding, sections.addresses.len() as u64);
    encoding.extend_from_slice(&adler32(target).to_be_bytes());
    encoding.extend_from_slice(&sections.data);
    encoding.extend_from_slice(&sections.instructions);
    encoding.extend_from_slice(&sections.addresses);

    varint::write(delta, encoding.len() as u64);
    delta.extend_from_slice(&encoding);
}

/// An instruction written to the sections but whose opcode is held back,
/// in case the next instruction can share it.
#[derive(Clone, Copy)]
enum Pending {
    Add { size: usize },
    Copy { size: usize, mode: u8 },
}

/// The three sections of a window being built.
struct Sections<'a> {
    opcodes: &'a Opcodes,
    cache: AddressCache,
    segment_len: usize,
    pending: Option<Pending>,
    data: Vec<u8>,
    instructions: Vec<u8>,
    addresses: Vec<u8>,
}

impl<'a> Sections<'a> {
    fn new(opcodes: &'a Opcodes, segment_len: usize) -> Sections<'a> {
        Sections {
            opcodes,
            cache: AddressCache::new(),
            segment_len,
            pending: None,
            data: Vec::new(),
            instructions: Vec::new(),
            addresses: Vec::new(),
        }
    }

    /// New bytes: ADD, with RUN for long stretches of one byte.
    fn literal(&mut self, bytes: &[u8]) {
        let mut add_start = 0;
        let mut position = 0;

        while position < bytes.len() {
            let byte = bytes[position];
            let run = bytes[position..]
                .iter()
                .take_while(|&&other| other == byte)
                .count();

            if run >= MIN_RUN {
                if position > add_start {
                    self.add(&bytes[add_start..position]);
                }
                self.run(byte, run);
                add_start = position + run;
            }
            position += run;
        }

        if bytes.len() > add_start {
            self.add(&bytes[add_start..]);
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        let size = bytes.len();
        self.data.extend_from_slice(bytes);

        // A 4-byte COPY followed by a 1-byte ADD share an opcode.
        if let Some(Pending::Copy {
            size: copy_size,
            mode,
        }) = self.pending
        {
            if let Some(opcode) = self.opcodes.copy_add(copy_size, mode, size) {
                self.instructions.push(opcode);
                self.pending = None;
                return;
            }
        }

        self.flush();
        self.pending = Some(Pending::Add { size });
    }

    fn run(&mut self, byte: u8, size: usize) {
        self.flush();
        self.instructions.push(self.opcodes.run());
        varint::write(&mut self.instructions, size as u64);
        self.data.push(byte);
    }

    /// A COPY of `size` bytes from `address` in the segment, written at
    /// `position` in the target window.
    fn copy(&mut self, address: usize, size: usize, position: usize) {
        let here = (self.segment_len + position) as u64;
        let (mode, encoded) = self.cache.encode(address as u64, here);
        match encoded {
            Encoded::Integer(value) => varint::write(&mut self.addresses, value),
            Encoded::Byte(byte) => self.addresses.push(byte),
        }

        // A short ADD followed by a short COPY share an opcode.
        if let Some(Pending::Add { size: add_size }) = self.pending {
            if let Some(opcode) = self.opcodes.add_copy(add_size, size, mode) {
                self.instructions.push(opcode);
                self.pending = None;
                return;
            }
        }

        self.flush();
        self.pending = Some(Pending::Copy { size, mode });
    }

    /// Writes the held-back instruction with an opcode of its own.
    fn flush(&mut self) {
        let (opcode, explicit, size) = match self.pending.take() {
            None => return,
            Some(Pending::Add { size }) => {
                let (opcode, explicit) = self.opcodes.add(size);
                (opcode, explicit, size)
            }
            Some(Pending::Copy { size, mode }) => {
                let (opcode, explicit) = self.opcodes.copy(size, mode);
                (opcode, explicit, size)
            }
        };

        self.instructions.push(opcode);
        if explicit {
            varint::write(&mut self.instructions, size as u64);
        }
    }
}
