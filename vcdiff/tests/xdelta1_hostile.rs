//! Malformed, truncated, tampered and hostile xdelta 1 patches give typed
//! errors, never panics, wrong results or allocations out of proportion to
//! the limit and the patch.

mod common;

use std::io::Write;

use common::{db_lines, mutate_db, xdelta1_decode, xdelta1_encode_with, Rng};
use flate2::write::GzEncoder;
use flate2::Compression;
use md5::{Digest, Md5};
use vcdiff::xdelta1::{self, Xdelta1Error};

const MAGIC: &[u8] = b"%XDZ004%";
const FLAG_PATCH_COMPRESSED: u32 = 8;
const CONTROL_TYPE: u32 = 0x8003;

const SOURCE: &[u8] = b"hello world\n";
const TARGET: &[u8] = b"hello there\n";

fn md5(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// xdelta 1's variable integer: 7 bits a byte, lowest first.
fn uint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// One entry of the control's source list.
#[derive(Clone)]
struct Source {
    is_data: bool,
    sequential: bool,
    len: u32,
    md5: [u8; 16],
}

/// A control, hand-made.
#[derive(Clone)]
struct Control {
    type_code: u32,
    to_md5: [u8; 16],
    to_len: u32,
    sources: Vec<Source>,
    /// (source index, offset, length)
    instructions: Vec<(u32, u32, u32)>,
    /// Appended after the instructions.
    extra: Vec<u8>,
}

impl Control {
    /// "hello " and "\n" from the source, "there" from the data.
    fn valid() -> Control {
        Control {
            type_code: CONTROL_TYPE,
            to_md5: md5(TARGET),
            to_len: TARGET.len() as u32,
            sources: vec![
                Source {
                    is_data: true,
                    sequential: true,
                    len: 5,
                    md5: md5(b"there"),
                },
                Source {
                    is_data: false,
                    sequential: false,
                    len: SOURCE.len() as u32,
                    md5: md5(SOURCE),
                },
            ],
            instructions: vec![(1, 0, 6), (0, 0, 5), (1, 11, 1)],
            extra: Vec::new(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.type_code.to_be_bytes().to_vec();
        out.extend_from_slice(&1000u32.to_be_bytes()); // allocation hint
        out.extend_from_slice(&self.to_md5);
        uint(&mut out, self.to_len);
        out.push(1);
        uint(&mut out, self.sources.len() as u32);
        for source in &self.sources {
            uint(&mut out, 1);
            out.push(b'x');
            out.extend_from_slice(&source.md5);
            uint(&mut out, source.len);
            out.push(u8::from(source.is_data));
            out.push(u8::from(source.sequential));
        }
        uint(&mut out, self.instructions.len() as u32);
        for &(index, offset, length) in &self.instructions {
            uint(&mut out, index);
            uint(&mut out, offset);
            uint(&mut out, length);
        }
        out.extend_from_slice(&self.extra);
        out
    }
}

/// A whole patch around `data` and `control`, compressing both when the
/// flags say so.
fn patch(flags: u32, data: &[u8], control: &[u8]) -> Vec<u8> {
    let (data, control) = if flags & FLAG_PATCH_COMPRESSED != 0 {
        (gzip(data), gzip(control))
    } else {
        (data.to_vec(), control.to_vec())
    };
    let mut out = MAGIC.to_vec();
    for word in [flags, 1 << 16 | 1, 0, 0, 0, 0] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(b"on");
    out.extend_from_slice(&data);
    let control_offset = out.len() as u32;
    out.extend_from_slice(&control);
    out.extend_from_slice(&control_offset.to_be_bytes());
    out.extend_from_slice(MAGIC);
    out
}

fn decode(patch: &[u8]) -> Result<Vec<u8>, Xdelta1Error> {
    xdelta1::decode(SOURCE, patch, 1 << 20)
}

fn error_of(control: &Control) -> Xdelta1Error {
    decode(&patch(0, b"there", &control.bytes())).unwrap_err()
}

#[test]
fn hand_made_patch_is_valid_for_both() {
    // Proves the builder right, so the broken variants below test what
    // they mean to.
    for flags in [0, FLAG_PATCH_COMPRESSED] {
        let patch = patch(flags, b"there", &Control::valid().bytes());
        assert_eq!(decode(&patch).unwrap(), TARGET);
        assert_eq!(xdelta1_decode(SOURCE, &patch).unwrap(), TARGET);
    }
}

#[test]
fn every_truncation_is_an_error() {
    let mut rng = Rng::new(31);
    let old = db_lines(&mut rng, 200).concat();
    let (new, _) = mutate_db(&mut rng, &db_lines(&mut Rng::new(35), 200), 50);
    let new = new.concat();

    for options in [&[][..], &["-0"][..]] {
        let patch = xdelta1_encode_with(options, &old, &new);
        for len in 0..patch.len() {
            let result = xdelta1::decode(&old, &patch[..len], 1 << 20);
            assert!(
                result.is_err(),
                "{options:?}: prefix of {len} bytes accepted"
            );
        }
    }
    let ours = xdelta1::encode(&old, &new);
    for len in 0..ours.len() {
        assert!(
            xdelta1::decode(&old, &ours[..len], 1 << 20).is_err(),
            "{len}"
        );
    }
}

#[test]
fn flipped_bytes_never_give_a_wrong_result() {
    let mut rng = Rng::new(32);
    let old = db_lines(&mut rng, 100);
    let (new, _) = mutate_db(&mut rng, &old, 100);
    let (old, new) = (old.concat(), new.concat());

    let patches = [
        xdelta1_encode_with(&[], &old, &new),
        xdelta1_encode_with(&["-0"], &old, &new),
        xdelta1::encode(&old, &new),
    ];
    for patch in patches {
        for at in 0..patch.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = patch.clone();
                bad[at] ^= flip;
                // Names, reserved words and the allocation hint may change
                // unnoticed; anything else must be caught.
                if let Ok(result) = xdelta1::decode(&old, &bad, 1 << 20) {
                    assert!(result == new, "byte {at} ^ {flip:#x}: wrong result");
                }
            }
        }
    }
}

#[test]
fn result_larger_than_the_limit() {
    let mut rng = Rng::new(33);
    let old = db_lines(&mut rng, 100).concat();
    let patch = xdelta1_encode_with(&[], &old, &old);
    assert_eq!(
        xdelta1::decode(&old, &patch, old.len() - 1),
        Err(Xdelta1Error::TargetTooLarge {
            length: old.len() as u32,
            limit: old.len() - 1
        })
    );
    assert_eq!(xdelta1::decode(&old, &patch, old.len()).unwrap(), old);
}

#[test]
fn huge_announced_lengths_allocate_nothing() {
    // A 4 GiB result with a limit that allows it (on 64 bits): the few
    // bytes the instructions produce are all that is allocated before the
    // lengths disagree.
    let mut control = Control::valid();
    control.to_len = u32::MAX;
    let huge = patch(0, b"there", &control.bytes());
    assert_eq!(
        xdelta1::decode(SOURCE, &huge, usize::MAX),
        Err(Xdelta1Error::LengthMismatch {
            declared: u32::MAX,
            actual: 12
        })
    );
    assert!(matches!(
        decode(&huge),
        Err(Xdelta1Error::TargetTooLarge {
            length: u32::MAX,
            ..
        })
    ));

    // A data part that claims more than the result.
    let mut control = Control::valid();
    control.sources[0].len = 1 << 30;
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::PartTooLarge { part: "data", .. }
    ));

    // An instruction count of 4 billion in a few bytes.
    let mut bytes = Control::valid().bytes();
    let count_at = bytes.len() - 10; // instruction count, then 9 bytes
    bytes.truncate(count_at);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        decode(&patch(0, b"there", &bytes)),
        Err(Xdelta1Error::Truncated {
            part: "control",
            ..
        })
    ));
}

#[test]
fn gzip_bomb_in_the_data_part() {
    let bomb = gzip(&vec![0; 50 << 20]);
    let mut patch = MAGIC.to_vec();
    for word in [FLAG_PATCH_COMPRESSED, 1 << 16 | 1, 0, 0, 0, 0] {
        patch.extend_from_slice(&word.to_be_bytes());
    }
    patch.extend_from_slice(b"on");
    patch.extend_from_slice(&bomb);
    let control_offset = patch.len() as u32;
    patch.extend_from_slice(&gzip(&Control::valid().bytes()));
    patch.extend_from_slice(&control_offset.to_be_bytes());
    patch.extend_from_slice(MAGIC);

    assert_eq!(
        decode(&patch),
        Err(Xdelta1Error::PartTooLarge {
            part: "data",
            bound: 5
        })
    );
}

#[test]
fn wrong_source() {
    let mut rng = Rng::new(34);
    let old = db_lines(&mut rng, 300);
    let (new, _) = mutate_db(&mut rng, &old, 10);
    let (old, new) = (old.concat(), new.concat());

    let mut other = old.clone();
    other[100] ^= 1;
    for patch in [
        xdelta1_encode_with(&[], &old, &new),
        xdelta1::encode(&old, &new),
    ] {
        assert!(matches!(
            xdelta1::decode(&other, &patch, 1 << 20),
            Err(Xdelta1Error::SourceChecksumMismatch { .. })
        ));
        assert!(matches!(
            xdelta1::decode(&old[1..], &patch, 1 << 20),
            Err(Xdelta1Error::SourceLengthMismatch { .. })
        ));
    }
}

#[test]
fn tampered_data_is_blamed() {
    let patch = patch(0, b"thEre", &Control::valid().bytes());
    assert!(matches!(
        decode(&patch),
        Err(Xdelta1Error::DataChecksumMismatch { .. })
    ));

    let mut control = Control::valid();
    control.to_md5[0] ^= 1;
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::TargetChecksumMismatch { .. }
    ));
}

#[test]
fn bad_instructions() {
    let with = |instructions: Vec<(u32, u32, u32)>| {
        let mut control = Control::valid();
        control.instructions = instructions;
        error_of(&control)
    };

    assert_eq!(
        with(vec![(1, 0, 6), (2, 0, 5), (1, 11, 1)]),
        Xdelta1Error::SourceIndexOutOfRange {
            instruction: 1,
            index: 2
        }
    );
    assert_eq!(
        with(vec![(1, 0, 6), (0, 0, 5), (1, 11, 2)]),
        Xdelta1Error::CopyOutOfRange {
            instruction: 2,
            from: "source",
            offset: 11,
            length: 2,
            available: 12,
        }
    );
    assert_eq!(
        with(vec![(1, u32::MAX, u32::MAX)]),
        Xdelta1Error::CopyOutOfRange {
            instruction: 0,
            from: "source",
            offset: u32::MAX,
            length: u32::MAX,
            available: 12,
        }
    );
    assert!(matches!(
        with(vec![(1, 0, 6), (0, 0, 6)]),
        Xdelta1Error::CopyOutOfRange { from: "data", .. }
    ));
    assert_eq!(
        with(vec![(1, 0, 0)]),
        Xdelta1Error::ZeroLengthInstruction { instruction: 0 }
    );
    assert_eq!(
        with(vec![(1, 0, 6), (0, 0, 5), (1, 0, 12)]),
        Xdelta1Error::LengthMismatch {
            declared: 12,
            actual: 23
        }
    );
    assert_eq!(
        with(vec![(1, 0, 6), (0, 0, 5)]),
        Xdelta1Error::LengthMismatch {
            declared: 12,
            actual: 11
        }
    );
}

#[test]
fn bad_control() {
    let mut control = Control::valid();
    control.type_code = 0x2003;
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::UnsupportedVersion { .. }
    ));
    control.type_code = 0x1234;
    assert_eq!(
        error_of(&control),
        Xdelta1Error::WrongControlType { found: 0x1234 }
    );

    let mut control = Control::valid();
    control.extra = vec![0];
    assert_eq!(
        error_of(&control),
        Xdelta1Error::TrailingBytes { part: "control" }
    );

    let mut control = Control::valid();
    control.sources.push(control.sources[1].clone());
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::BadSources { .. }
    ));
    let mut control = Control::valid();
    control.sources.swap(0, 1);
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::BadSources { .. }
    ));
    let mut control = Control::valid();
    control.sources[1].is_data = true;
    assert!(matches!(
        error_of(&control),
        Xdelta1Error::BadSources { .. }
    ));

    let mut bytes = Control::valid().bytes();
    bytes.truncate(24);
    bytes.extend_from_slice(&[0xff; 6]); // result length
    assert!(matches!(
        decode(&patch(0, b"there", &bytes)),
        Err(Xdelta1Error::IntegerOverflow {
            what: "result length",
            ..
        })
    ));
}

#[test]
fn bad_framing() {
    let good = patch(0, b"there", &Control::valid().bytes());

    assert_eq!(decode(b""), Err(Xdelta1Error::BadMagic));
    assert_eq!(
        decode(b"%XDZ0"),
        Err(Xdelta1Error::Truncated {
            what: "magic",
            part: "patch",
            offset: 5
        })
    );
    assert_eq!(
        decode(b"\xd6\xc3\xc4\x00\x05 not this"),
        Err(Xdelta1Error::BadMagic)
    );
    for old in ["%XDZ003%", "%XDZ002%", "%XDZ001%", "%XDZ000%", "%XDELTA%"] {
        let mut patch = good.clone();
        patch[..8].copy_from_slice(old.as_bytes());
        assert!(!xdelta1::is_xdelta1(&patch));
        assert_eq!(
            decode(&patch),
            Err(Xdelta1Error::UnsupportedVersion {
                magic: old.to_owned()
            })
        );
    }

    let mut patch = good.clone();
    let last = patch.len() - 1;
    patch[last] = b'!';
    assert_eq!(decode(&patch), Err(Xdelta1Error::BadTrailer));

    let mut patch = good.clone();
    let offset_at = patch.len() - 12;
    patch[offset_at..offset_at + 4].copy_from_slice(&10u32.to_be_bytes());
    assert!(matches!(
        decode(&patch),
        Err(Xdelta1Error::BadControlOffset { .. })
    ));
    patch[offset_at..offset_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode(&patch),
        Err(Xdelta1Error::BadControlOffset { .. })
    ));

    for flags in [2, 4, 16, 0x8000_0000] {
        let patch = patch_with_flags(&good, flags);
        assert_eq!(
            decode(&patch),
            Err(Xdelta1Error::UnsupportedFlags { flags })
        );
    }

    // Names longer than the patch.
    let mut patch = good.clone();
    patch[12..16].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
    assert!(matches!(
        decode(&patch),
        Err(Xdelta1Error::Truncated {
            what: "file names",
            ..
        })
    ));
}

fn patch_with_flags(patch: &[u8], flags: u32) -> Vec<u8> {
    let mut patch = patch.to_vec();
    patch[8..12].copy_from_slice(&flags.to_be_bytes());
    patch
}

#[test]
fn compression_flag_without_gzip() {
    // Flag 8 on plain parts: the control, read first, is not gzip.
    let plain = patch(0, b"there", &Control::valid().bytes());
    assert!(matches!(
        decode(&patch_with_flags(&plain, FLAG_PATCH_COMPRESSED)),
        Err(Xdelta1Error::Compression {
            part: "control",
            ..
        })
    ));
    // And gzip parts without the flag.
    let gzipped = patch(FLAG_PATCH_COMPRESSED, b"there", &Control::valid().bytes());
    assert!(decode(&patch_with_flags(&gzipped, 0)).is_err());
}

#[test]
fn every_error_has_a_message() {
    let error = error_of(&{
        let mut control = Control::valid();
        control.instructions = vec![(1, 0, 6), (0, 0, 5), (1, 11, 2)];
        control
    });
    assert_eq!(
        error.to_string(),
        "xdelta 1 patch: instruction 2 copies 2 bytes at 11 of the source, which has \
         only 12"
    );
}
