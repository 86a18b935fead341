//! Shared by the integration tests: db-like test data, a small
//! deterministic random generator, and the real `xdelta3` program.

#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// xorshift64*: deterministic, so a failure reproduces.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Random bytes, fewer than `bound` of them.
    pub fn some_bytes(&mut self, bound: usize) -> Vec<u8> {
        let len = self.below(bound);
        self.bytes(len)
    }
}

/// One line of an smd db-file: `HSHA BSHA NAME\n`.
pub fn db_line(rng: &mut Rng, serial: usize) -> Vec<u8> {
    let flags = ["", "S", "RS", "FS", "T"][rng.below(5)];
    format!(
        "{:016x}{:016x}{:08x} {:016x}{:016x}{:08x} cur/{}.M{}P{}.host.example.org,S={}:2,{}\n",
        rng.next(),
        rng.next(),
        rng.next() as u32,
        rng.next(),
        rng.next(),
        rng.next() as u32,
        1_600_000_000 + serial,
        rng.below(1_000_000),
        rng.below(100_000),
        1_000 + rng.below(200_000),
        flags,
    )
    .into_bytes()
}

pub fn db_lines(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|serial| db_line(rng, serial)).collect()
}

/// What [`mutate_db`] did, to compare delta sizes with.
pub struct Edits {
    pub removed: usize,
    pub changed: usize,
    pub appended: usize,
    /// Bytes of changed and appended lines in the new file.
    pub new_bytes: usize,
}

/// The usual life of a db-file between two syncs: of each 1000 lines,
/// `per_mille` are removed, as many get a new flag and as many new lines
/// are appended at the end.
pub fn mutate_db(
    rng: &mut Rng,
    lines: &[Vec<u8>],
    per_mille: usize,
) -> (Vec<Vec<u8>>, Edits) {
    let mut edits = Edits {
        removed: 0,
        changed: 0,
        appended: 0,
        new_bytes: 0,
    };
    let mut new = Vec::with_capacity(lines.len());

    for line in lines {
        let dice = rng.below(1000);
        if dice < per_mille {
            edits.removed += 1;
        } else if dice < 2 * per_mille {
            let mut changed = line.clone();
            changed.pop();
            changed.extend_from_slice(b"X\n");
            edits.changed += 1;
            edits.new_bytes += changed.len();
            new.push(changed);
        } else {
            new.push(line.clone());
        }
    }

    let appended = lines.len() * per_mille / 1000;
    for serial in 0..appended {
        let line = db_line(rng, lines.len() + serial);
        edits.new_bytes += line.len();
        new.push(line);
    }
    edits.appended = appended;

    (new, edits)
}

/// Panics with a clear message unless `xdelta3` can be run.
pub fn require_xdelta3() {
    let found = Command::new("xdelta3").arg("-V").output().is_ok();
    assert!(
        found,
        "the `xdelta3` program is needed by these tests but was not found on PATH; \
         install it (`apt-get install xdelta3`, as scripts/install-deps does)"
    );
}

fn run_xdelta3(args: &[&str], directory: &Path) -> Output {
    require_xdelta3();

    let output = Command::new("xdelta3")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("running xdelta3");
    assert!(
        output.status.success(),
        "xdelta3 {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `xdelta3 -e -s source target delta` with default settings.
pub fn xdelta3_encode(source: &[u8], target: &[u8]) -> Vec<u8> {
    xdelta3_encode_with(&[], source, target)
}

/// `xdelta3 -e` with extra `options` before `-s source target delta`.
pub fn xdelta3_encode_with(options: &[&str], source: &[u8], target: &[u8]) -> Vec<u8> {
    let directory = tempfile::tempdir().expect("temp dir");
    fs::write(directory.path().join("old"), source).expect("write source");
    fs::write(directory.path().join("new"), target).expect("write target");

    let mut args = vec!["-e"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["-s", "old", "new", "delta"]);
    run_xdelta3(&args, directory.path());

    fs::read(directory.path().join("delta")).expect("read delta")
}

/// `xdelta3 -d -s source delta target`.
pub fn xdelta3_decode(source: &[u8], delta: &[u8]) -> Vec<u8> {
    let directory = tempfile::tempdir().expect("temp dir");
    fs::write(directory.path().join("old"), source).expect("write source");
    fs::write(directory.path().join("delta"), delta).expect("write delta");

    run_xdelta3(&["-d", "-s", "old", "delta", "new"], directory.path());

    fs::read(directory.path().join("new")).expect("read target")
}

/// Fails with the first differing offset rather than two huge dumps.
pub fn assert_same(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first_difference = actual
        .iter()
        .zip(expected)
        .take_while(|(a, b)| a == b)
        .count();
    panic!(
        "{what}: got {} bytes, expected {}; first difference at byte {first_difference}",
        actual.len(),
        expected.len()
    );
}

/// Panics with a clear message unless xdelta 1's `xdelta` can be run.
pub fn require_xdelta1() {
    let found = Command::new("xdelta").arg("--version").output().is_ok();
    assert!(
        found,
        "the `xdelta` program (xdelta 1.1.3) is needed by these tests but was not \
         found on PATH; install it (`apt-get install xdelta`, as scripts/install-deps \
         does)"
    );
}

/// `xdelta delta [options] old new patch`: xdelta 1 exits with 1 when the
/// files differ, like diff, so 0 and 1 are both success.
pub fn xdelta1_encode_with(options: &[&str], source: &[u8], target: &[u8]) -> Vec<u8> {
    require_xdelta1();
    let directory = tempfile::tempdir().expect("temp dir");
    fs::write(directory.path().join("old"), source).expect("write source");
    fs::write(directory.path().join("new"), target).expect("write target");

    let mut args = vec!["delta"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["old", "new", "patch"]);
    let output = Command::new("xdelta")
        .args(&args)
        .current_dir(directory.path())
        .output()
        .expect("running xdelta");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "xdelta {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    fs::read(directory.path().join("patch")).expect("read patch")
}

/// `xdelta patch patch old new`, or its error message.
pub fn xdelta1_decode(source: &[u8], patch: &[u8]) -> Result<Vec<u8>, String> {
    require_xdelta1();
    let directory = tempfile::tempdir().expect("temp dir");
    fs::write(directory.path().join("old"), source).expect("write source");
    fs::write(directory.path().join("patch"), patch).expect("write patch");

    let output = Command::new("xdelta")
        .args(["patch", "patch", "old", "new"])
        .current_dir(directory.path())
        .output()
        .expect("running xdelta");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(fs::read(directory.path().join("new")).expect("read result"))
}
