//! Helpers shared by the `smd-pull`/`smd-push` end-to-end tests: a
//! sandbox with a laptop HOME and one or more server HOMEs, a way to run
//! the real binaries in it with a given PATH, mail builders, and ways to
//! compare mail trees and db-files.
//!
//! Nothing here touches anything outside the sandbox's temporary folder.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one tool may run before the test gives up on it.
pub const TIME_LIMIT: Duration = Duration::from_secs(40);

/// The folder holding the binaries under test.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_smd-pull"))
        .parent()
        .expect("the binaries live in a folder")
        .to_owned()
}

/// A message with the given subject and body.
pub fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: someone@example.org\nTo: me@example.org\nSubject: {subject}\n\
         Message-Id: <{subject}@example.org>\n\n{body}\n"
    )
    .into_bytes()
}

/// A message of about `size` bytes whose body is varied text.
pub fn big_mail(subject: &str, size: usize) -> Vec<u8> {
    let mut text = mail(subject, "");
    let mut state: u32 = 0x1234_5678 ^ subject.len() as u32;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    while text.len() < size {
        for _ in 0..76 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            text.push(alphabet[(state >> 16) as usize % alphabet.len()]);
        }
        text.push(b'\n');
    }
    text
}

/// Writes `bytes` at `home/rel`, creating the folders, and the `cur`,
/// `new`, `tmp` siblings when `rel` is a message in a maildir folder.
pub fn put(home: &Path, rel: &str, bytes: &[u8]) {
    let path = home.join(rel);
    let parent = path.parent().expect("a message has a folder");
    fs::create_dir_all(parent).unwrap();
    if let Some(folder) = parent.parent() {
        if matches!(
            parent.file_name().and_then(|n| n.to_str()),
            Some("cur" | "new")
        ) {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(folder.join(sub)).unwrap();
            }
        }
    }
    fs::write(path, bytes).unwrap();
}

/// Writes an executable script.
pub fn script(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every regular file below `root` (relative name -> content), skipping
/// `tmp` folders. Symlinks are followed for files only.
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                if name != "tmp" {
                    walk(&path, &rel, out);
                }
            } else if let Ok(bytes) = fs::read(&path) {
                out.insert(rel, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

/// Every file below `root`, tmp folders included, with its content: to
/// prove that nothing changed at all.
pub fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, skip: &[&str], out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if skip
                .iter()
                .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
            {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(&entry.path(), &rel, skip, out);
            } else if kind.is_symlink() {
                let target = fs::read_link(entry.path()).unwrap();
                out.insert(rel, target.to_string_lossy().into_owned().into_bytes());
            } else {
                out.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", skip, &mut out);
    out
}

/// Names only, for readable assertion messages.
pub fn names(tree: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    tree.keys().cloned().collect()
}

/// Asserts that two mail trees hold the same files with the same bytes.
#[track_caller]
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        names(&ta),
        names(&tb),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes) in &ta {
        assert!(
            tb[name] == *bytes,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// What one run of a tool did.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The report lines with a `TAGS:` part.
    pub fn tag_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.contains(": TAGS: "))
            .collect()
    }

    pub fn explain(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.explain());
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn assert_line(&self, line: &str) -> &Self {
        assert!(
            self.stdout.lines().any(|l| l == line),
            "no line {line:?} in the report\n{}",
            self.explain()
        );
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "no {text:?} in the report\n{}",
            self.explain()
        );
        self
    }
}

/// The stats of a `TAGS: stats::new-mails(N), del-mails(N), ...` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub new_mails: u64,
    pub del_mails: u64,
    pub bytes_received: u64,
}

pub fn parse_stats(line: &str) -> Option<Stats> {
    let at = line.find("stats::new-mails(")?;
    let text = &line[at..];
    let number = |key: &str| -> Option<u64> {
        let start = text.find(&format!("{key}("))? + key.len() + 1;
        let end = start + text[start..].find(')')?;
        text[start..end].parse().ok()
    };
    Some(Stats {
        new_mails: number("new-mails")?,
        del_mails: number("del-mails")?,
        bytes_received: number("bytes-received")?,
    })
}

/// The line smd 1.3's applet parses, as a check without regex support:
/// `^([^:]+): smd-(client|server|loop|push|pull|pushpull)@([^:]+): TAGS:(.*)$`.
pub fn applet_parses(line: &str) -> bool {
    let Some((endpoint, rest)) = line.split_once(": smd-") else {
        return false;
    };
    if endpoint.is_empty() || endpoint.contains(':') {
        return false;
    }
    let Some((program, rest)) = rest.split_once('@') else {
        return false;
    };
    if !["client", "server", "loop", "push", "pull", "pushpull"].contains(&program) {
        return false;
    }
    let Some((host, _)) = rest.split_once(": TAGS:") else {
        return false;
    };
    !host.is_empty() && !host.contains(':')
}

/// Runs `program` with `args`, HOME and PATH given, the rest of the
/// environment cleared but for `env`, stdin closed, and a time limit: on
/// timeout the whole process group (which the test created) is killed.
pub fn run_tool(
    program: &Path,
    args: &[&str],
    home: &Path,
    path: &OsString,
    env: &[(&str, &str)],
) -> Outcome {
    let out_dir = tempfile::tempdir().unwrap();
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", path)
        .env("LC_ALL", "C")
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .process_group(0);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let deadline = Instant::now() + TIME_LIMIT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            kill_group(child.id());
            let _ = child.wait();
            let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "{} {args:?} did not end within {TIME_LIMIT:?}\n--- stdout\n{stdout}\
                 --- stderr\n{stderr}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the tool left running in its group (a remote side that
    // lingers) goes too.
    kill_group(child.id());
    Outcome {
        code,
        stdout: String::from_utf8_lossy(&fs::read(&stdout_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&stderr_path).unwrap()).into_owned(),
    }
}

/// SIGKILL to a process group this test created.
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// A PATH made of `dirs`, in order.
pub fn path_of(dirs: &[&Path]) -> OsString {
    std::env::join_paths(dirs).unwrap()
}

/// A config file for endpoint `name` in `home`.
pub fn write_config(home: &Path, name: &str, text: &str) {
    fs::create_dir_all(home.join(".smd")).unwrap();
    fs::write(home.join(".smd").join(format!("config.{name}")), text).unwrap();
}

/// The db-file of an endpoint in `home`.
pub fn db_file(home: &Path, db_name: &str) -> PathBuf {
    home.join(".smd").join(db_name)
}

/// Asserts that both HOMEs hold the same db-file, byte for byte.
#[track_caller]
pub fn assert_same_db(a: &Path, b: &Path, db_name: &str) {
    let da = fs::read(db_file(a, db_name))
        .unwrap_or_else(|e| panic!("no db {db_name} in {}: {e}", a.display()));
    let db = fs::read(db_file(b, db_name))
        .unwrap_or_else(|e| panic!("no db {db_name} in {}: {e}", b.display()));
    assert!(
        da == db,
        "the db-files differ:\n--- {}\n{}--- {}\n{}",
        a.display(),
        String::from_utf8_lossy(&da),
        b.display(),
        String::from_utf8_lossy(&db)
    );
}

/// The names in a db-file, sorted.
pub fn db_names(home: &Path, db_name: &str) -> Vec<String> {
    let text = fs::read_to_string(db_file(home, db_name)).unwrap_or_default();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, ' ').nth(2).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Translators between a local `Mail/.Folder/cur` layout (Maildir++) and a
/// remote `Maildir/Folder/cur` one, as /bin/sh scripts that use only
/// builtins (so they run with any PATH) and never buffer.
pub const TRANSLATOR_LR: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Mail/cur|Mail/new|Mail/tmp) printf '%s\n' "Maildir/${line#Mail/}" ;;
    Mail/.*) printf '%s\n' "Maildir/${line#Mail/.}" ;;
    *) printf 'ERROR unexpected %s\n' "$line"; exit 1 ;;
  esac
done
"#;

pub const TRANSLATOR_RL: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Maildir/cur|Maildir/new|Maildir/tmp) printf '%s\n' "Mail/${line#Maildir/}" ;;
    Maildir/*) printf '%s\n' "Mail/.${line#Maildir/}" ;;
    *) printf 'ERROR unexpected %s\n' "$line"; exit 1 ;;
  esac
done
"#;

/// Maps a path of the local layout to the remote one, as the translators
/// above do (for comparing trees).
pub fn local_to_remote(rel: &str) -> String {
    let rest = rel.strip_prefix("Mail/").expect("a path below Mail/");
    match rest.strip_prefix('.') {
        Some(folder) => format!("Maildir/{folder}"),
        None => format!("Maildir/{rest}"),
    }
}
