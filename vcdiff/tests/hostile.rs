//! Malformed, truncated and hostile deltas give errors, never panics or
//! allocations out of proportion to the limit and the input.

mod common;

use common::{db_lines, mutate_db, xdelta3_encode, Rng};
use vcdiff::DecodeError;

const HEADER: [u8; 5] = [0xd6, 0xc3, 0xc4, 0x00, 0x00];
const VCD_SOURCE: u8 = 0x01;
const VCD_TARGET: u8 = 0x02;
const VCD_ADLER32: u8 = 0x04;

// Opcodes of the default code table used below.
const RUN: u8 = 0;
const fn add(size: u8) -> u8 {
    1 + size // sizes 1 to 17
}
const COPY_SELF_EXPLICIT_SIZE: u8 = 19;
const fn copy_self(size: u8) -> u8 {
    19 + size - 3 // sizes 4 to 18
}

fn integer(out: &mut Vec<u8>, value: u64) {
    let mut digits = vec![(value & 0x7f) as u8];
    let mut rest = value >> 7;
    while rest > 0 {
        digits.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.extend(digits.iter().rev());
}

/// A window, hand-made; the lengths are computed unless overridden.
#[derive(Default, Clone)]
struct Window {
    indicator: u8,
    segment: Option<(u64, u64)>,
    target_len: u64,
    data: Vec<u8>,
    instructions: Vec<u8>,
    addresses: Vec<u8>,
    adler32: Option<u32>,
}

impl Window {
    fn write(&self, out: &mut Vec<u8>) {
        let mut indicator = self.indicator;
        if self.adler32.is_some() {
            indicator |= VCD_ADLER32;
        }
        out.push(indicator);
        if let Some((length, position)) = self.segment {
            integer(out, length);
            integer(out, position);
        }

        let mut body = Vec::new();
        integer(&mut body, self.target_len);
        body.push(0);
        integer(&mut body, self.data.len() as u64);
        integer(&mut body, self.instructions.len() as u64);
        integer(&mut body, self.addresses.len() as u64);
        if let Some(checksum) = self.adler32 {
            body.extend_from_slice(&checksum.to_be_bytes());
        }
        body.extend_from_slice(&self.data);
        body.extend_from_slice(&self.instructions);
        body.extend_from_slice(&self.addresses);

        integer(out, body.len() as u64);
        out.extend_from_slice(&body);
    }
}

fn delta(windows: &[Window]) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    for window in windows {
        window.write(&mut out);
    }
    out
}

/// A window that ADDs `bytes`.
fn add_window(bytes: &[u8]) -> Window {
    Window {
        target_len: bytes.len() as u64,
        data: bytes.to_vec(),
        instructions: vec![add(0), bytes.len() as u8],
        ..Window::default()
    }
}

#[test]
fn hand_made_deltas_decode() {
    // ADD, then a COPY that overlaps what it writes, then a RUN.
    let window = Window {
        target_len: 2 + 10 + 3,
        data: b"ab-".to_vec(),
        instructions: vec![add(2), copy_self(10), RUN, 3],
        addresses: vec![0],
        ..Window::default()
    };
    assert_eq!(
        vcdiff::decode(b"", &delta(&[window]), 100).unwrap(),
        b"abababababab---"
    );

    // A second window copying from the first one's output (VCD_TARGET).
    let copy_back = Window {
        indicator: VCD_TARGET,
        segment: Some((5, 6)),
        target_len: 5,
        instructions: vec![copy_self(5)],
        addresses: vec![0],
        ..Window::default()
    };
    let windows = [add_window(b"hello world"), copy_back];
    assert_eq!(
        vcdiff::decode(b"", &delta(&windows), 100).unwrap(),
        b"hello worldworld"
    );
}

#[test]
fn bad_headers() {
    let error = |bytes: &[u8]| vcdiff::decode(b"", bytes, 100).unwrap_err();

    assert_eq!(
        error(b""),
        DecodeError::Truncated {
            what: "file header",
            offset: 0
        }
    );
    assert_eq!(error(b"PK\x03\x04\x00"), DecodeError::BadMagic);
    assert_eq!(
        error(&[0xd6, 0xc3, 0xc4, 0x01, 0x00]),
        DecodeError::UnsupportedVersion(1)
    );
    assert_eq!(error(&HEADER), DecodeError::NoWindow);
    assert!(matches!(
        error(&[0xd6, 0xc3, 0xc4, 0x00, 0x08]),
        DecodeError::InvalidIndicator { value: 0x08, .. }
    ));
    assert_eq!(
        error(&[0xd6, 0xc3, 0xc4, 0x00, 0x02, 0x00]),
        DecodeError::CustomCodeTable
    );
    assert_eq!(
        error(&[0xd6, 0xc3, 0xc4, 0x00, 0x01, 0x01]),
        DecodeError::UnsupportedCompressor(1)
    );

    // Application header longer than the file.
    assert!(matches!(
        error(&[0xd6, 0xc3, 0xc4, 0x00, 0x04, 0x7f, b'a']),
        DecodeError::Truncated {
            what: "application header",
            ..
        }
    ));
}

#[test]
fn huge_announced_sizes_are_refused_before_allocating() {
    let huge = 1u64 << 60;

    // Target far past the limit.
    let window = Window {
        target_len: huge,
        instructions: vec![RUN, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00],
        data: vec![0],
        ..Window::default()
    };
    let error = vcdiff::decode(b"", &delta(&[window]), 1 << 20).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::TargetTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{error}"
    );

    // A RUN beyond the window.
    let window = Window {
        target_len: 10,
        instructions: vec![RUN, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00],
        data: vec![0],
        ..Window::default()
    };
    let error = vcdiff::decode(b"", &delta(&[window]), 1 << 40).unwrap_err();
    assert!(
        matches!(error, DecodeError::WindowOverflow { length: 10, .. }),
        "{error}"
    );

    // Section lengths far beyond the delta.
    let mut bytes = HEADER.to_vec();
    bytes.extend_from_slice(&[0x00, 0x08, 0x05, 0x00]);
    integer(&mut bytes, huge);
    bytes.extend_from_slice(&[0x00, 0x00]);
    let error = vcdiff::decode(b"", &bytes, 100).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::Truncated {
                what: "data section",
                ..
            }
        ),
        "{error}"
    );

    // Source segment beyond the source.
    let window = Window {
        indicator: VCD_SOURCE,
        segment: Some((huge, huge)),
        target_len: 4,
        instructions: vec![copy_self(4)],
        addresses: vec![0],
        ..Window::default()
    };
    let error = vcdiff::decode(b"source", &delta(&[window]), 100).unwrap_err();
    assert!(
        matches!(error, DecodeError::SegmentOutOfRange { .. }),
        "{error}"
    );

    // An integer of more than 64 bits.
    let mut bytes = HEADER.to_vec();
    bytes.push(0x00);
    bytes.extend_from_slice(&[0xff; 12]);
    let error = vcdiff::decode(b"", &bytes, 100).unwrap_err();
    assert!(
        matches!(error, DecodeError::IntegerOverflow { .. }),
        "{error}"
    );
}

#[test]
fn compressed_section_announcing_too_much_is_refused() {
    // Header naming LZMA, then a window whose data section is "compressed"
    // and announces 2^40 bytes for a 4-byte window.
    let mut bytes = vec![0xd6, 0xc3, 0xc4, 0x00, 0x01, 0x02];
    let mut section = Vec::new();
    integer(&mut section, 1 << 40);
    section.extend_from_slice(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]);

    let mut body = vec![0x04, 0x01];
    integer(&mut body, section.len() as u64);
    body.extend_from_slice(&[0x02, 0x00]);
    body.extend_from_slice(&section);
    body.extend_from_slice(&[add(4), 0]);
    bytes.push(0x00);
    integer(&mut bytes, body.len() as u64);
    bytes.extend_from_slice(&body);

    let error = vcdiff::decode(b"", &bytes, 1 << 50).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::SectionTooLarge {
                declared: 1_099_511_627_776,
                ..
            }
        ),
        "{error}"
    );

    // The same window in a delta whose header names no compressor.
    bytes.drain(4..6);
    bytes.insert(4, 0x00);
    let error = vcdiff::decode(b"", &bytes, 1 << 50).unwrap_err();
    assert!(
        matches!(error, DecodeError::MissingCompressor { .. }),
        "{error}"
    );
}

#[test]
fn bad_addresses() {
    // COPY from address 5 while writing position 2 of a window without a
    // segment.
    let window = Window {
        target_len: 6,
        data: b"ab".to_vec(),
        instructions: vec![add(2), copy_self(4)],
        addresses: vec![5],
        ..Window::default()
    };
    let error = vcdiff::decode(b"", &delta(&[window]), 100).unwrap_err();
    assert_eq!(
        error,
        DecodeError::AddressOutOfRange {
            window: 0,
            address: Some(5),
            here: 2
        }
    );

    // HERE mode (1) going back past the start.
    let window = Window {
        target_len: 6,
        data: b"ab".to_vec(),
        instructions: vec![add(2), copy_self(4) + 16],
        addresses: vec![3],
        ..Window::default()
    };
    let error = vcdiff::decode(b"", &delta(&[window]), 100).unwrap_err();
    assert!(
        matches!(error, DecodeError::AddressOutOfRange { address: None, .. }),
        "{error}"
    );

    // Explicit COPY size of zero.
    let window = Window {
        target_len: 1,
        instructions: vec![COPY_SELF_EXPLICIT_SIZE, 0],
        addresses: vec![0],
        ..Window::default()
    };
    let error = vcdiff::decode(b"", &delta(&[window]), 100).unwrap_err();
    assert!(
        matches!(error, DecodeError::ZeroSizeInstruction { .. }),
        "{error}"
    );
}

#[test]
fn inconsistent_windows() {
    let error = |window: Window| vcdiff::decode(b"", &delta(&[window]), 100).unwrap_err();

    let mut short = add_window(b"abcd");
    short.target_len = 5;
    assert!(matches!(
        error(short),
        DecodeError::LengthMismatch {
            what: "target window",
            declared: 5,
            actual: 4,
            ..
        }
    ));

    let mut leftover = add_window(b"abcd");
    leftover.data.push(b'e');
    assert!(matches!(
        error(leftover),
        DecodeError::TrailingSectionData {
            section: "data",
            left: 1,
            ..
        }
    ));

    let mut starved = add_window(b"abcd");
    starved.data.pop();
    assert!(matches!(
        error(starved),
        DecodeError::SectionExhausted {
            section: "data",
            ..
        }
    ));

    let mut both = add_window(b"abcd");
    both.indicator = VCD_SOURCE | VCD_TARGET;
    both.segment = Some((0, 0));
    assert!(matches!(
        error(both),
        DecodeError::ConflictingSegments { .. }
    ));
}

#[test]
fn checksum_mismatch() {
    let mut window = add_window(b"checked");
    window.adler32 = Some(0x0b20_02c8);
    assert_eq!(
        vcdiff::decode(b"", &delta(&[window.clone()]), 100).unwrap(),
        b"checked"
    );

    window.adler32 = Some(0x0b20_02c9);
    let error = vcdiff::decode(b"", &delta(&[window]), 100).unwrap_err();
    assert_eq!(
        error,
        DecodeError::ChecksumMismatch {
            window: 0,
            expected: 0x0b20_02c9,
            actual: 0x0b20_02c8
        }
    );
    assert!(error.to_string().contains("checksum"), "{error}");
}

#[test]
fn limit_is_exact() {
    let bytes = vcdiff::encode(b"", b"0123456789");
    assert!(vcdiff::decode(b"", &bytes, 10).is_ok());
    assert!(matches!(
        vcdiff::decode(b"", &bytes, 9),
        Err(DecodeError::TargetTooLarge { limit: 9, .. })
    ));
}

/// Valid deltas to damage: ours and xdelta3's, with and without LZMA.
fn sample_deltas() -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(31);
    let old = db_lines(&mut rng, 300);
    let (new, _) = mutate_db(&mut rng, &old, 50);
    let (old, new) = (old.concat(), new.concat());
    let fresh = db_lines(&mut rng, 200).concat();

    vec![
        (old.clone(), new.clone(), vcdiff::encode(&old, &new)),
        (old.clone(), new.clone(), xdelta3_encode(&old, &new)),
        (Vec::new(), fresh.clone(), xdelta3_encode(b"", &fresh)),
        (old.clone(), old.clone(), xdelta3_encode(&old, &old)),
    ]
}

#[test]
fn every_truncation_fails() {
    for (source, target, bytes) in sample_deltas() {
        // These deltas have one window, so no shorter prefix is a valid
        // delta.
        for len in 0..bytes.len() {
            let result = vcdiff::decode(&source, &bytes[..len], target.len());
            assert!(
                result.is_err(),
                "prefix of {len} bytes of {} decoded",
                bytes.len()
            );
        }
        assert_eq!(
            vcdiff::decode(&source, &bytes, target.len()).unwrap(),
            target
        );
    }
}

/// Rounds of the fuzz test; set `VCDIFF_FUZZ_ROUNDS` for a longer run.
fn fuzz_rounds() -> usize {
    std::env::var("VCDIFF_FUZZ_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(4_000)
}

#[test]
fn fuzzed_deltas_never_panic() {
    let mut rng = Rng::new(32);
    let samples = sample_deltas();
    let rounds = fuzz_rounds();
    let mut failures = 0;

    for round in 0..rounds {
        let (source, target, original) = &samples[round % samples.len()];
        let mut bytes = original.clone();

        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(5) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = rng.next() as u8,
                2 => bytes[at] = [0x00, 0x7f, 0x80, 0xff][rng.below(4)],
                3 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, rng.next() as u8),
            }
        }

        let limit = target.len() * 2 + 100;
        match vcdiff::decode(source, &bytes, limit) {
            Ok(decoded) => assert!(decoded.len() <= limit),
            Err(error) => {
                assert!(!error.to_string().is_empty());
                failures += 1;
            }
        }
    }

    // Nearly every damaged delta must be caught, by a check or a checksum.
    assert!(
        failures > rounds * 97 / 100,
        "only {failures} of {rounds} damaged deltas were refused"
    );
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng::new(33);
    for _ in 0..2_000 {
        let mut bytes = HEADER.to_vec();
        bytes[4] = [0x00, 0x01, 0x04, 0x05][rng.below(4)];
        if bytes[4] & 0x01 != 0 {
            bytes.push(0x02);
        }
        bytes.extend(rng.some_bytes(300));
        let _ = vcdiff::decode(b"some source bytes", &bytes, 10_000);
    }
}
