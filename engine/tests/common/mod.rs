//! Helpers shared by the `mddiff` integration tests: a sandbox folder the
//! real binary runs in, digests computed independently of the engine, and
//! the expected diff lines built from message contents.
//!
//! Every name is bytes, as on disk.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

/// The SHA-1 of nothing: the body digest of a message without a body.
pub const EMPTY_SHA: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// The user id tests switch to when they need permissions to bite while
/// running as root.
pub const NOBODY: u32 = 65534;

pub fn mddiff_path() -> &'static str {
    env!("CARGO_BIN_EXE_mddiff")
}

pub fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Header: every byte through the first `\n\n`, or the whole message.
pub fn split(message: &[u8]) -> (&[u8], &[u8]) {
    let at = message
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .map_or(message.len(), |at| at + 2);
    message.split_at(at)
}

pub fn hsha(message: &[u8]) -> String {
    sha1_hex(split(message).0)
}

pub fn bsha(message: &[u8]) -> String {
    sha1_hex(split(message).1)
}

/// `HSHA BSHA` of a message.
pub fn pair(message: &[u8]) -> String {
    format!("{} {}", hsha(message), bsha(message))
}

/// The diff encoding: `%` and space only.
pub fn enc(name: impl AsRef<[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for &byte in name.as_ref() {
        match byte {
            b' ' => out.extend_from_slice(b"%20"),
            b'%' => out.extend_from_slice(b"%25"),
            _ => out.push(byte),
        }
    }
    out
}

/// Decodes `%XX` (two hex digits); other bytes stay.
pub fn dec(text: impl AsRef<[u8]>) -> Vec<u8> {
    let text = text.as_ref();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            let hex = std::str::from_utf8(&text[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub fn add(name: impl AsRef<[u8]>, message: &[u8]) -> Vec<u8> {
    cat(&[b"ADD ", &enc(name), b" ", pair(message).as_bytes()])
}

pub fn copy(from: impl AsRef<[u8]>, to: impl AsRef<[u8]>, message: &[u8]) -> Vec<u8> {
    cat(&[
        b"COPY ",
        &enc(from),
        b" ",
        pair(message).as_bytes(),
        b" TO ",
        &enc(to),
    ])
}

pub fn mv(from: impl AsRef<[u8]>, to: impl AsRef<[u8]>, message: &[u8]) -> Vec<u8> {
    cat(&[
        b"MOVE ",
        &enc(from),
        b" ",
        pair(message).as_bytes(),
        b" TO ",
        &enc(to),
    ])
}

/// `COPYBODY FROM BSHA TO NAME HSHA2`, `new` being the new message.
pub fn copybody(from: impl AsRef<[u8]>, to: impl AsRef<[u8]>, new: &[u8]) -> Vec<u8> {
    cat(&[
        b"COPYBODY ",
        &enc(from),
        b" ",
        bsha(new).as_bytes(),
        b" TO ",
        &enc(to),
        b" ",
        hsha(new).as_bytes(),
    ])
}

pub fn delete(name: impl AsRef<[u8]>, message: &[u8]) -> Vec<u8> {
    cat(&[b"DELETE ", &enc(name), b" ", pair(message).as_bytes()])
}

pub fn replaceheader(name: impl AsRef<[u8]>, old: &[u8], new: &[u8]) -> Vec<u8> {
    cat(&[
        b"REPLACEHEADER ",
        &enc(name),
        b" ",
        pair(old).as_bytes(),
        b" WITH ",
        hsha(new).as_bytes(),
    ])
}

pub fn replace(name: impl AsRef<[u8]>, old: &[u8], new: &[u8]) -> Vec<u8> {
    cat(&[
        b"REPLACE ",
        &enc(name),
        b" ",
        pair(old).as_bytes(),
        b" WITH ",
        pair(new).as_bytes(),
    ])
}

/// A db-file line, `\n` included; the name is raw.
pub fn dbline(name: impl AsRef<[u8]>, message: &[u8]) -> Vec<u8> {
    cat(&[pair(message).as_bytes(), b" ", name.as_ref(), b"\n"])
}

pub fn show(lines: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str("    ");
        out.push_str(&String::from_utf8_lossy(line).escape_debug().to_string());
        out.push('\n');
    }
    out
}

/// Whether this process is root, where permissions do not stop reads.
pub fn running_as_root() -> bool {
    let probe = tempfile::NamedTempFile::new().expect("temp file");
    probe.as_file().metadata().expect("stat").uid() == 0
}

/// What a run of mddiff did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub what: String,
}

impl Run {
    fn from_output(output: Output, what: String) -> Run {
        Run {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            what,
        }
    }

    pub fn lines(&self) -> Vec<Vec<u8>> {
        lines_of(&self.stdout)
    }

    pub fn context(&self) -> String {
        format!(
            "run: {}\nexit: {:?}\nstdout:\n{}stderr:\n{}",
            self.what,
            self.code,
            show(&self.lines()),
            self.stderr
        )
    }

    /// Asserts exit 0 and returns the output lines.
    pub fn ok(&self) -> Vec<Vec<u8>> {
        assert_eq!(self.code, Some(0), "expected success\n{}", self.context());
        self.lines()
    }

    /// Asserts exit 1 with an `ERROR` line last on stdout; returns that line.
    pub fn fails(&self) -> String {
        assert_eq!(self.code, Some(1), "expected failure\n{}", self.context());
        let lines = self.lines();
        let last = lines.last().unwrap_or_else(|| {
            panic!("no ERROR line on stdout\n{}", self.context());
        });
        assert!(
            last.starts_with(b"ERROR "),
            "last stdout line is not an ERROR line\n{}",
            self.context()
        );
        String::from_utf8_lossy(last).into_owned()
    }

    /// Asserts success and that the diff is exactly `expected`, in any
    /// order except that every DELETE comes after every other command.
    pub fn diff_is(&self, expected: &[Vec<u8>]) {
        let actual = self.ok();
        assert_same_diff(&actual, expected, &self.context());
    }
}

pub fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> =
        bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

pub fn assert_same_diff(actual: &[Vec<u8>], expected: &[Vec<u8>], context: &str) {
    let mut sorted_actual = actual.to_vec();
    sorted_actual.sort();
    let mut sorted_expected = expected.to_vec();
    sorted_expected.sort();
    assert!(
        sorted_actual == sorted_expected,
        "diff differs\nexpected (any order):\n{}actual:\n{}\n{context}",
        show(&sorted_expected),
        show(actual)
    );
    assert_deletes_last(actual, context);
}

pub fn assert_deletes_last(actual: &[Vec<u8>], context: &str) {
    if let Some(first_delete) = actual.iter().position(|l| l.starts_with(b"DELETE ")) {
        assert!(
            actual[first_delete..]
                .iter()
                .all(|l| l.starts_with(b"DELETE ")),
            "a command follows a DELETE\n{context}"
        );
    }
}

/// A temporary folder mddiff runs in, with relative mailbox paths.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn at(&self, relative: impl AsRef<[u8]>) -> PathBuf {
        self.root().join(path_of(relative.as_ref()))
    }

    pub fn mkdir(&self, relative: impl AsRef<[u8]>) {
        fs::create_dir_all(self.at(relative)).expect("mkdir");
    }

    /// Writes a file, creating its folders.
    pub fn write(&self, relative: impl AsRef<[u8]>, content: &[u8]) {
        let path = self.at(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir parent");
        }
        fs::write(&path, content).expect("write");
    }

    pub fn read(&self, relative: impl AsRef<[u8]>) -> Vec<u8> {
        fs::read(self.at(relative.as_ref())).unwrap_or_else(|error| {
            panic!(
                "cannot read {}: {error}",
                String::from_utf8_lossy(relative.as_ref())
            )
        })
    }

    pub fn exists(&self, relative: impl AsRef<[u8]>) -> bool {
        fs::symlink_metadata(self.at(relative)).is_ok()
    }

    pub fn remove(&self, relative: impl AsRef<[u8]>) {
        fs::remove_file(self.at(relative)).expect("remove");
    }

    pub fn rename(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) {
        fs::rename(self.at(from), self.at(to)).expect("rename");
    }

    pub fn symlink(&self, target: impl AsRef<[u8]>, link: impl AsRef<[u8]>) {
        std::os::unix::fs::symlink(path_of(target.as_ref()), self.at(link))
            .expect("symlink");
    }

    /// Sets a file's modification time, `seconds` from now.
    pub fn set_mtime(&self, relative: impl AsRef<[u8]>, seconds_from_now: i64) {
        let when = if seconds_from_now >= 0 {
            SystemTime::now() + Duration::from_secs(seconds_from_now as u64)
        } else {
            SystemTime::now() - Duration::from_secs(seconds_from_now.unsigned_abs())
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .open(self.at(relative))
            .expect("open for set_mtime");
        file.set_modified(when).expect("set mtime");
    }

    pub fn chmod(&self, relative: impl AsRef<[u8]>, mode: u32) {
        fs::set_permissions(self.at(relative), fs::Permissions::from_mode(mode))
            .expect("chmod");
    }

    /// A command for mddiff running in the sandbox.
    pub fn command<A: AsRef<OsStr>>(&self, args: &[A]) -> Command {
        let mut command = Command::new(mddiff_path());
        command
            .args(args)
            .current_dir(self.root())
            .stdin(Stdio::null());
        command
    }

    fn describe<A: AsRef<OsStr>>(args: &[A]) -> String {
        let words: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().escape_debug().to_string())
            .collect();
        format!("mddiff {}", words.join(" "))
    }

    /// Runs mddiff with `args` (raw bytes each) in the sandbox.
    pub fn mddiff<A: AsRef<OsStr>>(&self, args: &[A]) -> Run {
        let output = self.command(args).output().expect("spawn mddiff");
        Run::from_output(output, Sandbox::describe(args))
    }

    /// Runs mddiff as an unprivileged user when this test runs as root, so
    /// that permission bits bite. The sandbox is made writable for it.
    pub fn mddiff_unprivileged<A: AsRef<OsStr>>(&self, args: &[A]) -> Run {
        let mut command = self.command(args);
        if running_as_root() {
            self.chmod("", 0o777);
            command.uid(NOBODY).gid(NOBODY);
        }
        let output = command.output().expect("spawn mddiff");
        Run::from_output(output, Sandbox::describe(args))
    }

    /// Runs mddiff with string arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        self.mddiff(args)
    }

    /// Makes the last run's `.new` files the current db (what the client
    /// confirming a sync does), then sets the saved scan time.
    pub fn promote_db(&self, db: &str, last_scan: Option<i64>) {
        fs::rename(self.at(format!("{db}.new")), self.at(db)).expect("rename db.new");
        let mtime_new = self.at(format!("{db}.mtime.new"));
        let saved = fs::read(&mtime_new).expect("read mtime.new");
        fs::remove_file(&mtime_new).expect("remove mtime.new");
        let text = match last_scan {
            Some(time) => time.to_string().into_bytes(),
            None => saved,
        };
        fs::write(self.at(format!("{db}.mtime")), text).expect("write mtime");
    }

    /// `promote_db` for `db.txt` with no file trusted: everything is
    /// rehashed, so the diff depends on contents only.
    pub fn promote_untrusted(&self) {
        self.promote_db("db.txt", Some(1));
    }

    /// `promote_db` for `db.txt` with every existing file trusted.
    pub fn promote_trusted(&self) {
        self.promote_db("db.txt", Some(now() + 10));
    }

    pub fn new_db(&self) -> Vec<u8> {
        self.read("db.txt.new")
    }

    /// Lines of `db.txt.new`, `\n` included, sorted.
    pub fn new_db_sorted(&self) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = self
            .new_db()
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        lines.sort();
        lines
    }

    pub fn assert_new_db(&self, expected: &[Vec<u8>]) {
        let mut expected = expected.to_vec();
        expected.sort();
        let actual = self.new_db_sorted();
        assert!(
            actual == expected,
            "db.txt.new differs\nexpected (sorted):\n{}actual (sorted):\n{}",
            show(&expected),
            show(&actual)
        );
    }

    pub fn assert_no_new_files(&self) {
        for name in ["db.txt.new", "db.txt.mtime.new"] {
            assert!(!self.exists(name), "{name} was written");
        }
    }
}

/// Reads everything a child wrote on a pipe, in a thread, so that tests of
/// the fifo modes can wait with a timeout instead of hanging.
pub fn read_lines_with_timeout(
    mut pipe: impl Read + Send + 'static,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut pending = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = match pipe.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            pending.extend_from_slice(&buffer[..read]);
            while let Some(at) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=at).collect();
                if sender.send(line[..line.len() - 1].to_vec()).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = sender.send(pending);
        }
    });
    receiver
}
