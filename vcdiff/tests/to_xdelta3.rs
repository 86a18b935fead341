//! Deltas written by `encode` are rebuilt exactly by the real
//! `xdelta3 -d -s`, and by `decode`.

mod common;

use common::{assert_same, db_lines, mutate_db, xdelta3_decode, Rng};

/// Encodes with us, decodes with xdelta3 and with us, compares.
fn check(source: &[u8], target: &[u8], what: &str) -> Vec<u8> {
    let delta = vcdiff::encode(source, target);

    assert_same(&xdelta3_decode(source, &delta), target, what);
    let decoded = vcdiff::decode(source, &delta, target.len())
        .unwrap_or_else(|error| panic!("{what}: decoding our own delta failed: {error}"));
    assert_same(&decoded, target, what);

    delta
}

#[test]
fn db_with_one_percent_of_lines_changed() {
    let mut rng = Rng::new(11);
    let old = db_lines(&mut rng, 20_000);
    let (new, edits) = mutate_db(&mut rng, &old, 10);

    let delta = check(&old.concat(), &new.concat(), "db change");
    assert!(
        delta.len() < edits.new_bytes * 2,
        "delta of {} bytes for {} changed bytes",
        delta.len(),
        edits.new_bytes
    );
}

#[test]
fn multi_window_target() {
    // About 12 MiB: two windows, each with its own source segment.
    let mut rng = Rng::new(12);
    let old = db_lines(&mut rng, 90_000);
    let (new, _) = mutate_db(&mut rng, &old, 10);
    let new = new.concat();
    assert!(new.len() > 8 << 20, "target too small for two windows");

    check(&old.concat(), &new, "multi-window");
}

#[test]
fn window_copying_from_far_apart_source_parts() {
    // Reversed line order: every window's segment spans the whole source.
    let mut rng = Rng::new(13);
    let old = db_lines(&mut rng, 80_000);
    let new: Vec<u8> = old.iter().rev().flatten().copied().collect();

    let delta = check(&old.concat(), &new, "reversed lines");
    assert!(
        delta.len() < new.len() / 10,
        "reversed lines gave {} bytes",
        delta.len()
    );
}

#[test]
fn empty_source_empty_target_identical() {
    let mut rng = Rng::new(14);
    let db = db_lines(&mut rng, 5_000).concat();

    check(b"", &db, "empty source");
    check(&db, b"", "empty target");
    check(b"", b"", "empty source and target");

    let delta = check(&db, &db, "identical files");
    assert!(
        delta.len() < 40,
        "identical files gave {} bytes",
        delta.len()
    );
}

#[test]
fn binary_data_with_moves_and_runs() {
    let mut rng = Rng::new(15);
    let old = rng.bytes(300_000);
    let mut new = old[150_000..].to_vec();
    new.extend_from_slice(&[0u8; 5_000]);
    new.extend_from_slice(&rng.bytes(10_000));
    new.extend_from_slice(&[7u8; 9]);
    new.extend_from_slice(&old[..100_000]);
    new.extend_from_slice(&[1, 2, 3]);

    check(&old, &new, "binary");
}

#[test]
fn small_files_of_every_kind() {
    // Short and edge-sized inputs exercise every instruction shape: lone
    // ADDs, short COPYs, combined opcodes, RUNs.
    let mut rng = Rng::new(16);
    for case in 0..40 {
        let old = rng.some_bytes(3_000);
        let mut new = old.clone();
        for _ in 0..rng.below(6) {
            let at = rng.below(new.len() + 1);
            let insert = if rng.below(2) == 0 {
                rng.some_bytes(20)
            } else {
                vec![b'='; rng.below(30)]
            };
            new.splice(at..at, insert);
        }
        if new.len() > 10 && case % 3 == 0 {
            let from = rng.below(new.len() - 5);
            new.drain(from..from + 5);
        }

        check(&old, &new, &format!("small case {case}"));
    }
}
