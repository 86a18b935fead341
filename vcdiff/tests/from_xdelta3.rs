//! Deltas written by the real `xdelta3 -e -s` (default settings: LZMA
//! secondary compression, Adler-32, application header) decode to the exact
//! target.

mod common;

use common::{
    assert_same, db_lines, mutate_db, xdelta3_encode, xdelta3_encode_with, Rng,
};
use vcdiff::DecodeError;

const LIMIT: usize = 1 << 30;

/// Encodes with xdelta3, decodes with us, compares; returns the delta.
fn check(source: &[u8], target: &[u8], what: &str) -> Vec<u8> {
    let delta = xdelta3_encode(source, target);
    let decoded = vcdiff::decode(source, &delta, LIMIT).unwrap_or_else(|error| {
        panic!("{what}: decoding xdelta3's delta failed: {error}")
    });
    assert_same(&decoded, target, what);
    delta
}

/// Whether the file header announces LZMA secondary compression and a
/// section really carries an xz stream.
fn has_compressed_section(delta: &[u8]) -> bool {
    let xz_magic = [0xfd, b'7', b'z', b'X', b'Z', 0x00];
    delta[4] & 0x01 != 0 && delta.windows(6).any(|bytes| bytes == xz_magic)
}

#[test]
fn db_with_one_percent_of_lines_changed() {
    let mut rng = Rng::new(1);
    let old = db_lines(&mut rng, 20_000);
    let (new, _) = mutate_db(&mut rng, &old, 10);

    let delta = check(&old.concat(), &new.concat(), "db change");
    assert_eq!(
        delta[..5],
        [0xd6, 0xc3, 0xc4, 0x00, 0x05],
        "xdelta3 header changed"
    );
}

#[test]
fn first_sync_from_empty_source_has_compressed_sections() {
    let mut rng = Rng::new(2);
    let new = db_lines(&mut rng, 20_000).concat();

    let delta = check(b"", &new, "first sync");
    assert!(
        has_compressed_section(&delta),
        "xdelta3 did not compress: test proves nothing"
    );
}

#[test]
fn multi_window_target_with_mostly_new_data() {
    // About 12 MiB of target, so two windows; the source is half of it
    // reordered, so windows copy from different source segments and
    // compress their new lines.
    let mut rng = Rng::new(3);
    let lines = db_lines(&mut rng, 95_000);
    let old: Vec<u8> = lines[..40_000].iter().rev().flatten().copied().collect();
    let (new, _) = mutate_db(&mut rng, &lines, 10);
    let new = new.concat();
    assert!(new.len() > 8 << 20, "target too small for two windows");

    let delta = check(&old, &new, "multi-window");
    assert!(
        has_compressed_section(&delta),
        "xdelta3 did not compress: test proves nothing"
    );
}

#[test]
fn empty_target() {
    let mut rng = Rng::new(4);
    let old = db_lines(&mut rng, 100).concat();

    check(&old, b"", "empty target");
    check(b"", b"", "empty source and target");
}

#[test]
fn identical_files() {
    let mut rng = Rng::new(5);
    let old = db_lines(&mut rng, 30_000).concat();

    let delta = check(&old, &old, "identical files");
    assert!(
        delta.len() < 100,
        "identical files gave a {} byte delta",
        delta.len()
    );
}

#[test]
fn binary_data_with_moves_and_runs() {
    let mut rng = Rng::new(6);
    let old = rng.bytes(300_000);
    let mut new = old[150_000..].to_vec();
    new.extend_from_slice(&[0u8; 5_000]);
    new.extend_from_slice(&rng.bytes(10_000));
    new.extend_from_slice(&old[..100_000]);
    new.extend_from_within(1_000..40_000);

    check(&old, &new, "binary");
}

#[test]
fn small_files_of_every_kind() {
    let mut rng = Rng::new(7);
    for case in 0..30 {
        let old = rng.some_bytes(2_000);
        let mut new = old.clone();
        for _ in 0..rng.below(5) {
            let at = rng.below(new.len() + 1);
            let insert = rng.some_bytes(50);
            new.splice(at..at, insert);
        }
        if !new.is_empty() && case % 3 == 0 {
            let at = rng.below(new.len());
            new.truncate(at);
        }

        check(&old, &new, &format!("small case {case}"));
    }
}

#[test]
fn other_xdelta3_settings() {
    // Each setting with the header indicator it gives: no secondary
    // compression (-S none), no application header (-A), no checksum (-n),
    // strongest compression (-9).
    let cases: [(&[&str], u8); 5] = [
        (&["-S", "none"], 0x04),
        (&["-A"], 0x01),
        (&["-A", "-S", "none"], 0x00),
        (&["-n"], 0x05),
        (&["-9"], 0x05),
    ];

    let mut rng = Rng::new(8);
    let old = db_lines(&mut rng, 20_000);
    let (new, _) = mutate_db(&mut rng, &old, 100);
    let (old, new) = (old.concat(), new.concat());

    for (options, indicator) in cases {
        let delta = xdelta3_encode_with(options, &old, &new);
        assert_eq!(delta[4], indicator, "header indicator with {options:?}");

        let decoded = vcdiff::decode(&old, &delta, LIMIT)
            .unwrap_or_else(|error| panic!("xdelta3 {options:?}: {error}"));
        assert_same(&decoded, &new, &format!("xdelta3 {options:?}"));
    }
}

#[test]
fn other_secondary_compressors_are_refused_clearly() {
    let mut rng = Rng::new(9);
    let new = db_lines(&mut rng, 5_000).concat();

    let delta = xdelta3_encode_with(&["-S", "djw"], b"", &new);
    let error = vcdiff::decode(b"", &delta, LIMIT).unwrap_err();
    assert_eq!(error, DecodeError::UnsupportedCompressor(1));
    assert!(
        error.to_string().contains("secondary compressor"),
        "{error}"
    );
}
