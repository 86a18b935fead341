//! `decode(source, encode(source, target))` gives back `target`, and the
//! delta of a typical db-file change stays small and fast to compute.

mod common;

use common::{assert_same, db_lines, mutate_db, Rng};

fn round_trip(source: &[u8], target: &[u8], what: &str) -> Vec<u8> {
    let delta = vcdiff::encode(source, target);
    let decoded = vcdiff::decode(source, &delta, target.len())
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert_same(&decoded, target, what);
    delta
}

#[test]
fn db_changes_of_several_sizes() {
    let mut rng = Rng::new(21);
    for (lines, per_mille) in [(1, 0), (10, 500), (1_000, 100), (10_000, 1), (50_000, 30)]
    {
        let old = db_lines(&mut rng, lines);
        let (new, _) = mutate_db(&mut rng, &old, per_mille);
        round_trip(&old.concat(), &new.concat(), &format!("{lines} lines"));
    }
}

#[test]
fn successive_syncs() {
    // Each sync's new file is the next sync's old one.
    let mut rng = Rng::new(22);
    let mut db = db_lines(&mut rng, 5_000);
    for sync in 0..10 {
        let (next, _) = mutate_db(&mut rng, &db, 20);
        round_trip(&db.concat(), &next.concat(), &format!("sync {sync}"));
        db = next;
    }
}

#[test]
fn random_edits_of_random_bytes() {
    let mut rng = Rng::new(23);
    for case in 0..200 {
        let old = rng.some_bytes(5_000);
        let mut new = old.clone();
        for _ in 0..rng.below(8) {
            let at = rng.below(new.len() + 1);
            match rng.below(4) {
                0 => {
                    let insert = rng.some_bytes(100);
                    new.splice(at..at, insert);
                }
                1 => {
                    let end = (at + rng.below(200)).min(new.len());
                    new.drain(at..end);
                }
                2 => {
                    let run = vec![rng.next() as u8; rng.below(100)];
                    new.splice(at..at, run);
                }
                _ => {
                    let from = rng.below(old.len() + 1);
                    let end = (from + rng.below(500)).min(old.len());
                    new.splice(at..at, old[from..end].iter().copied());
                }
            }
        }
        round_trip(&old, &new, &format!("random case {case}"));
    }
}

#[test]
fn repetitive_data() {
    let old = b"abc".repeat(10_000);
    let mut new = b"abc".repeat(5_000);
    new.extend_from_slice(b"xyz");
    new.extend(std::iter::repeat_n(0u8, 100_000));
    new.extend_from_slice(&b"abcd".repeat(3_000));

    round_trip(&old, &new, "repetitive");
    round_trip(&new, &old, "repetitive, reversed");
}

#[test]
fn one_percent_change_of_a_large_db_gives_a_small_delta() {
    // 200,000 lines, about 28 MB: 1% of the lines removed, 1% changed and
    // 1% more appended.
    let mut rng = Rng::new(24);
    let old = db_lines(&mut rng, 200_000);
    let (new, edits) = mutate_db(&mut rng, &old, 10);
    let (old, new) = (old.concat(), new.concat());

    let delta = round_trip(&old, &new, "large db");

    // Each change costs its new line plus a few bytes of instructions; each
    // removal only an instruction or two.
    let edit_count = edits.removed + edits.changed + edits.appended;
    let bound = edits.new_bytes + 16 * edit_count;
    eprintln!(
        "db of {} bytes, {} edits, {} new bytes: delta {} bytes (bound {bound})",
        new.len(),
        edit_count,
        edits.new_bytes,
        delta.len(),
    );
    assert!(
        delta.len() < bound,
        "delta of {} bytes exceeds {bound}",
        delta.len()
    );
    assert!(
        delta.len() < new.len() / 50,
        "delta is not much smaller than the file"
    );
}
