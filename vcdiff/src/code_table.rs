//! The default instruction code table of RFC 3284 section 5.6, and the
//! reverse look-ups the encoder needs.
//!
//! Each of the 256 opcodes stands for one or two instructions. A size of 0
//! in the table means the size follows the opcode in the instruction section.

/// What an instruction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Noop,
    Add,
    Run,
    Copy,
}

/// One instruction of an opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instruction {
    pub(crate) kind: Kind,
    /// 0 when the size is written after the opcode.
    pub(crate) size: u8,
    /// Address mode, meaningful for COPY only.
    pub(crate) mode: u8,
}

/// The two instructions an opcode stands for; the second is often NOOP.
pub(crate) type Entry = [Instruction; 2];

/// Number of address modes of the default cache: SELF, HERE, 4 near, 3 same.
pub(crate) const MODES: u8 = 9;

const NOOP: Instruction = Instruction {
    kind: Kind::Noop,
    size: 0,
    mode: 0,
};

const fn single(kind: Kind, size: u8, mode: u8) -> Entry {
    [Instruction { kind, size, mode }, NOOP]
}

const fn pair(first: Instruction, second: Instruction) -> Entry {
    [first, second]
}

const fn add(size: u8) -> Instruction {
    Instruction {
        kind: Kind::Add,
        size,
        mode: 0,
    }
}

const fn copy(size: u8, mode: u8) -> Instruction {
    Instruction {
        kind: Kind::Copy,
        size,
        mode,
    }
}

/// The default code table, in the order of RFC 3284 section 5.6.
pub(crate) const DEFAULT: [Entry; 256] = build_default();

const fn build_default() -> [Entry; 256] {
    let mut table = [[NOOP, NOOP]; 256];
    let mut next = 0;

    table[next] = single(Kind::Run, 0, 0);
    next += 1;

    // ADD with explicit size, then sizes 1 to 17.
    let mut size = 0;
    while size <= 17 {
        table[next] = single(Kind::Add, size, 0);
        next += 1;
        size += 1;
    }

    // For every mode: COPY with explicit size, then sizes 4 to 18.
    let mut mode = 0;
    while mode < MODES {
        table[next] = single(Kind::Copy, 0, mode);
        next += 1;
        let mut size = 4;
        while size <= 18 {
            table[next] = single(Kind::Copy, size, mode);
            next += 1;
            size += 1;
        }
        mode += 1;
    }

    // ADD of 1 to 4 bytes followed by a COPY of 4 to 6 bytes, modes 0 to 5.
    let mut mode = 0;
    while mode <= 5 {
        let mut add_size = 1;
        while add_size <= 4 {
            let mut copy_size = 4;
            while copy_size <= 6 {
                table[next] = pair(add(add_size), copy(copy_size, mode));
                next += 1;
                copy_size += 1;
            }
            add_size += 1;
        }
        mode += 1;
    }

    // ADD of 1 to 4 bytes followed by a COPY of 4 bytes, modes 6 to 8.
    let mut mode = 6;
    while mode < MODES {
        let mut add_size = 1;
        while add_size <= 4 {
            table[next] = pair(add(add_size), copy(4, mode));
            next += 1;
            add_size += 1;
        }
        mode += 1;
    }

    // COPY of 4 bytes, any mode, followed by an ADD of 1 byte.
    let mut mode = 0;
    while mode < MODES {
        table[next] = pair(copy(4, mode), add(1));
        next += 1;
        mode += 1;
    }

    table
}

/// Opcodes of the default table, indexed the other way round: from the
/// instructions the encoder wants to write to the opcode that says them.
pub(crate) struct Opcodes {
    /// ADD by size; index 0 is the explicit-size opcode.
    add: [u8; 18],
    /// COPY by mode then size; size 0 is the explicit-size opcode.
    copy: [[Option<u8>; 19]; MODES as usize],
    /// ADD (size 1 to 4) followed by COPY (size 4 to 6), by mode.
    add_copy: [[[Option<u8>; 7]; 5]; MODES as usize],
    /// COPY of 4 bytes followed by ADD of 1 byte, by mode.
    copy_add: [Option<u8>; MODES as usize],
    /// RUN with explicit size.
    run: u8,
}

impl Opcodes {
    pub(crate) fn new() -> Opcodes {
        let mut opcodes = Opcodes {
            add: [0; 18],
            copy: [[None; 19]; MODES as usize],
            add_copy: [[[None; 7]; 5]; MODES as usize],
            copy_add: [None; MODES as usize],
            run: 0,
        };

        for (opcode, [first, second]) in (0u8..=255).zip(DEFAULT.iter()) {
            let size = usize::from(first.size);
            let mode = usize::from(first.mode);
            match (first.kind, second.kind) {
                (Kind::Run, Kind::Noop) => opcodes.run = opcode,
                (Kind::Add, Kind::Noop) => opcodes.add[size] = opcode,
                (Kind::Copy, Kind::Noop) => opcodes.copy[mode][size] = Some(opcode),
                (Kind::Add, Kind::Copy) => {
                    let copy_mode = usize::from(second.mode);
                    let copy_size = usize::from(second.size);
                    opcodes.add_copy[copy_mode][size][copy_size] = Some(opcode);
                }
                (Kind::Copy, Kind::Add) => opcodes.copy_add[mode] = Some(opcode),
                _ => {}
            }
        }

        opcodes
    }

    pub(crate) fn run(&self) -> u8 {
        self.run
    }

    /// The opcode for an ADD of `size` bytes, and whether the size must
    /// follow it.
    pub(crate) fn add(&self, size: usize) -> (u8, bool) {
        match self.add.get(size) {
            Some(&opcode) if size > 0 => (opcode, false),
            _ => (self.add[0], true),
        }
    }

    /// The opcode for a COPY of `size` bytes in `mode`, and whether the size
    /// must follow it.
    pub(crate) fn copy(&self, size: usize, mode: u8) -> (u8, bool) {
        let by_size = &self.copy[usize::from(mode)];
        match by_size.get(size).copied().flatten() {
            Some(opcode) if size > 0 => (opcode, false),
            _ => (by_size[0].unwrap_or_default(), true),
        }
    }

    /// The opcode for an ADD of `add_size` bytes then a COPY of `copy_size`
    /// bytes in `mode`, if the table has one.
    pub(crate) fn add_copy(
        &self,
        add_size: usize,
        copy_size: usize,
        mode: u8,
    ) -> Option<u8> {
        self.add_copy[usize::from(mode)]
            .get(add_size)?
            .get(copy_size)
            .copied()
            .flatten()
    }

    /// The opcode for a COPY of `copy_size` bytes in `mode` then an ADD of
    /// `add_size` bytes, if the table has one.
    pub(crate) fn copy_add(
        &self,
        copy_size: usize,
        mode: u8,
        add_size: usize,
    ) -> Option<u8> {
        if copy_size == 4 && add_size == 1 {
            self.copy_add[usize::from(mode)]
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_landmarks() {
        // Spot checks against the index column of RFC 3284 section 5.6.
        assert_eq!(DEFAULT[0], single(Kind::Run, 0, 0));
        assert_eq!(DEFAULT[1], single(Kind::Add, 0, 0));
        assert_eq!(DEFAULT[18], single(Kind::Add, 17, 0));
        assert_eq!(DEFAULT[19], single(Kind::Copy, 0, 0));
        assert_eq!(DEFAULT[34], single(Kind::Copy, 18, 0));
        assert_eq!(DEFAULT[35], single(Kind::Copy, 0, 1));
        assert_eq!(DEFAULT[162], single(Kind::Copy, 18, 8));
        assert_eq!(DEFAULT[163], pair(add(1), copy(4, 0)));
        assert_eq!(DEFAULT[174], pair(add(4), copy(6, 0)));
        assert_eq!(DEFAULT[234], pair(add(4), copy(6, 5)));
        assert_eq!(DEFAULT[235], pair(add(1), copy(4, 6)));
        assert_eq!(DEFAULT[246], pair(add(4), copy(4, 8)));
        assert_eq!(DEFAULT[247], pair(copy(4, 0), add(1)));
        assert_eq!(DEFAULT[255], pair(copy(4, 8), add(1)));
    }

    #[test]
    fn reverse_lookups_agree_with_the_table() {
        let opcodes = Opcodes::new();

        assert_eq!(DEFAULT[usize::from(opcodes.run())], single(Kind::Run, 0, 0));
        for size in 0..40 {
            let (opcode, explicit) = opcodes.add(size);
            let expected = if explicit { 0 } else { size as u8 };
            assert_eq!(DEFAULT[usize::from(opcode)], single(Kind::Add, expected, 0));

            for mode in 0..MODES {
                let (opcode, explicit) = opcodes.copy(size, mode);
                let expected = if explicit { 0 } else { size as u8 };
                assert_eq!(
                    DEFAULT[usize::from(opcode)],
                    single(Kind::Copy, expected, mode)
                );
            }
        }

        let mut pairs = 0;
        for mode in 0..MODES {
            for add_size in 0..8 {
                for copy_size in 0..8 {
                    if let Some(opcode) = opcodes.add_copy(add_size, copy_size, mode) {
                        let entry =
                            pair(add(add_size as u8), copy(copy_size as u8, mode));
                        assert_eq!(DEFAULT[usize::from(opcode)], entry);
                        pairs += 1;
                    }
                    if let Some(opcode) = opcodes.copy_add(copy_size, mode, add_size) {
                        let entry =
                            pair(copy(copy_size as u8, mode), add(add_size as u8));
                        assert_eq!(DEFAULT[usize::from(opcode)], entry);
                        pairs += 1;
                    }
                }
            }
        }
        assert_eq!(pairs, 256 - 163);
    }
}
