//! xdelta 1 patches, both ways, against the real `xdelta` 1.1.3: we decode
//! what `xdelta delta` writes (compressed by default, and with `-0`), and
//! `xdelta patch` applies what we write, giving the same bytes.

mod common;

use common::{
    assert_same, db_lines, mutate_db, xdelta1_decode, xdelta1_encode_with, Rng,
};
use vcdiff::xdelta1;

const LIMIT: usize = 1 << 30;

/// Whether the header says the parts are gzip-compressed.
fn compressed(patch: &[u8]) -> bool {
    patch[11] & 8 != 0
}

/// Runs every check on one pair of files; returns our patch.
fn check(source: &[u8], target: &[u8], what: &str) -> Vec<u8> {
    from_xdelta1(source, target, what);
    to_xdelta1(source, target, what)
}

/// `xdelta delta`, default and `-0`, then our decoder.
fn from_xdelta1(source: &[u8], target: &[u8], what: &str) {
    for (options, gzip) in [(&[][..], true), (&["-0"][..], false)] {
        let patch = xdelta1_encode_with(options, source, target);
        assert!(xdelta1::is_xdelta1(&patch), "{what}: magic");
        assert_eq!(
            compressed(&patch),
            gzip,
            "{what} {options:?}: compression flag"
        );

        let decoded = xdelta1::decode(source, &patch, LIMIT).unwrap_or_else(|error| {
            panic!("{what} {options:?}: decoding xdelta's patch failed: {error}")
        });
        assert_same(&decoded, target, what);
    }
}

/// Our encoder, then `xdelta patch` and our decoder.
fn to_xdelta1(source: &[u8], target: &[u8], what: &str) -> Vec<u8> {
    let patch = xdelta1::encode(source, target);

    let applied = xdelta1_decode(source, &patch)
        .unwrap_or_else(|error| panic!("{what}: xdelta patch refused ours: {error}"));
    assert_same(&applied, target, what);
    let decoded = xdelta1::decode(source, &patch, target.len())
        .unwrap_or_else(|error| panic!("{what}: decoding our own patch failed: {error}"));
    assert_same(&decoded, target, what);
    patch
}

#[test]
fn db_with_lines_changed_removed_and_appended() {
    let mut rng = Rng::new(21);
    let old = db_lines(&mut rng, 3_000);
    let (new, edits) = mutate_db(&mut rng, &old, 20);

    let patch = check(&old.concat(), &new.concat(), "db change");
    assert!(
        patch.len() < edits.new_bytes,
        "patch of {} bytes for {} changed bytes",
        patch.len(),
        edits.new_bytes
    );
}

#[test]
fn a_few_megabytes_with_one_percent_changed() {
    let mut rng = Rng::new(22);
    let old = db_lines(&mut rng, 30_000);
    let (new, edits) = mutate_db(&mut rng, &old, 10);
    let (old, new) = (old.concat(), new.concat());
    assert!(new.len() > 4_000_000, "only {} bytes", new.len());

    let patch = check(&old, &new, "1% of a few MB");
    let theirs = xdelta1_encode_with(&[], &old, &new);
    assert!(
        patch.len() < edits.new_bytes && patch.len() < theirs.len() * 2,
        "patch of {} bytes for {} changed bytes (xdelta's: {})",
        patch.len(),
        edits.new_bytes,
        theirs.len()
    );
}

#[test]
fn reordered_lines() {
    let mut rng = Rng::new(23);
    let old = db_lines(&mut rng, 5_000);
    let mut new = old.clone();
    new.reverse();
    new.swap(10, 4_000);

    let patch = check(&old.concat(), &new.concat(), "reordered");
    assert!(
        patch.len() < old.concat().len() / 10,
        "{} bytes",
        patch.len()
    );
}

#[test]
fn empty_source_empty_target_identical() {
    let mut rng = Rng::new(24);
    let db = db_lines(&mut rng, 2_000).concat();

    check(b"", &db, "empty source");
    check(&db, b"", "empty target");
    check(b"", b"", "both empty");
    let patch = check(&db, &db, "identical");
    assert!(
        patch.len() < 200,
        "identical files gave {} bytes",
        patch.len()
    );
}

#[test]
fn one_line_files() {
    check(b"a\n", b"b\n", "one line changed");
    check(b"same line\n", b"same line\n", "one line kept");
    check(b"x", b"", "one byte to nothing");
}

#[test]
fn binary_bytes() {
    // A leading byte other than 0x1f: xdelta unpacks files that start with
    // the gzip magic.
    let mut rng = Rng::new(25);
    let mut old = vec![b'B'];
    old.extend(rng.bytes(200_000));
    let mut new = vec![b'B'];
    new.extend_from_slice(&old[100_000..150_000]);
    new.extend(rng.bytes(3_000));
    new.extend_from_slice(&[0; 4_000]);
    new.extend_from_slice(&old[1..90_000]);

    check(&old, &new, "binary");
}

#[test]
fn small_random_edits() {
    let mut rng = Rng::new(26);
    for case in 0..12 {
        let mut old = vec![b'S'];
        old.extend(rng.some_bytes(5_000));
        let mut new = old.clone();
        for _ in 0..rng.below(5) {
            let at = 1 + rng.below(new.len());
            let insert = rng.some_bytes(40);
            new.splice(at..at, insert);
        }
        if new.len() > 20 && case % 2 == 0 {
            let from = 1 + rng.below(new.len() - 10);
            new.drain(from..from + 8);
        }

        check(&old, &new, &format!("small case {case}"));
    }
}
