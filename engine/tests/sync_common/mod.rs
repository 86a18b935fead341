//! Helpers shared by the `smd-server`/`smd-client` integration tests: two
//! HOMEs in a sandbox, a runner that connects the real binaries (recording
//! what each side says), a fake peer that speaks the protocol by hand, and
//! ways to look at mail trees, db-files and stderr lines.
//!
//! Names are bytes, as on disk. Digests are computed here with `sha1`,
//! independently of the engine.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

pub const SERVER: &str = env!("CARGO_BIN_EXE_smd-server");
pub const CLIENT: &str = env!("CARGO_BIN_EXE_smd-client");

/// SHA-1 of nothing.
pub const EMPTY_SHA: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// How long any process of a test may run before it is killed.
pub const TIME_LIMIT: Duration = Duration::from_secs(90);

pub fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

pub fn bytes_of(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
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

/// `HSHA BSHA`.
pub fn pair(message: &[u8]) -> String {
    format!("{} {}", hsha(message), bsha(message))
}

/// The diff's name encoding: `%` and space only.
pub fn enc(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &byte in name {
        match byte {
            b' ' => out.extend_from_slice(b"%20"),
            b'%' => out.extend_from_slice(b"%25"),
            _ => out.push(byte),
        }
    }
    out
}

/// A plain message.
pub fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: someone@example.org\nTo: me@example.org\nSubject: {subject}\n\
         Message-Id: <{subject}@example.org>\n\n{body}\n"
    )
    .into_bytes()
}

/// Marks the point after a sync where a test starts changing mailboxes.
///
/// It does not sleep. The scan cache trusts a file only when its mtime and
/// ctime are strictly older than the start of the last scan, in whole
/// seconds; a change made after a sync ended is at or after that start, so
/// it is always seen. Not sleeping keeps the suite fast and also checks
/// that strictness: a cache trusting files of the same second (`<=`)
/// would miss changes here and fail the tests.
pub fn settle() {}

/// Two HOMEs, a folder outside both, and a place for logs, all in one
/// temporary folder:
///
/// ```text
/// root/a/srv        the server's HOME
/// root/b/cli        the client's HOME
/// root/outside/     files no run may touch
/// ```
pub struct Sandbox {
    pub root: tempfile::TempDir,
    pub server: PathBuf,
    pub client: PathBuf,
    pub logs: tempfile::TempDir,
    runs: std::cell::Cell<usize>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("smd-proto.")
            .tempdir()
            .expect("temp dir");
        let server = root.path().join("a/srv");
        let client = root.path().join("b/cli");
        fs::create_dir_all(&server).unwrap();
        fs::create_dir_all(&client).unwrap();
        fs::create_dir_all(root.path().join("outside")).unwrap();
        fs::write(root.path().join("outside/secret"), b"outside secret\n").unwrap();
        fs::write(
            root.path().join("a/secret"),
            b"secret next to the server HOME\n",
        )
        .unwrap();
        fs::write(
            root.path().join("b/secret"),
            b"secret next to the client HOME\n",
        )
        .unwrap();
        let logs = tempfile::Builder::new()
            .prefix("smd-proto-logs.")
            .tempdir()
            .expect("temp dir");
        Sandbox {
            root,
            server,
            client,
            logs,
            runs: std::cell::Cell::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Runs `smd-server SERVER_ARGS` in the server HOME against
    /// `smd-client CLIENT_ARGS` in the client HOME.
    pub fn sync(&self, server_args: &[&str], client_args: &[&str]) -> SyncRun {
        self.sync_os(&os_args(server_args), &os_args(client_args))
    }

    pub fn sync_os(&self, server_args: &[Vec<u8>], client_args: &[Vec<u8>]) -> SyncRun {
        let n = self.runs.get();
        self.runs.set(n + 1);
        run_pair(
            &self.server,
            server_args,
            &self.client,
            client_args,
            self.logs.path(),
            n,
            None,
        )
    }

    /// The other direction: `smd-server ARGS` in the client HOME against
    /// `smd-client ARGS` in the server HOME (a push, after a pull).
    pub fn sync_back(&self, args: &[&str]) -> SyncRun {
        let n = self.runs.get();
        self.runs.set(n + 1);
        run_pair(
            &self.client,
            &os_args(args),
            &self.server,
            &os_args(args),
            self.logs.path(),
            n,
            None,
        )
    }

    /// Like [`Sandbox::sync`], running `hook` once the server's output
    /// holds its `after` bytes, before the client sees them.
    pub fn sync_hooked(
        &self,
        server_args: &[&str],
        client_args: &[&str],
        hook: Hook,
    ) -> SyncRun {
        let n = self.runs.get();
        self.runs.set(n + 1);
        run_pair(
            &self.server,
            &os_args(server_args),
            &self.client,
            &os_args(client_args),
            self.logs.path(),
            n,
            Some(hook),
        )
    }

    /// `ENDPOINT MAILBOX...` on both sides, with the given options.
    pub fn sync_with(
        &self,
        server_opts: &[&str],
        client_opts: &[&str],
        endpoint_and_mailboxes: &[&str],
    ) -> SyncRun {
        let server: Vec<&str> = server_opts
            .iter()
            .chain(endpoint_and_mailboxes)
            .copied()
            .collect();
        let client: Vec<&str> = client_opts
            .iter()
            .chain(endpoint_and_mailboxes)
            .copied()
            .collect();
        self.sync(&server, &client)
    }
}

pub fn os_args(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// A process's exit and stderr.
#[derive(Debug, Clone)]
pub struct Exit {
    /// `None` when killed by a signal (or by the time limit).
    pub code: Option<i32>,
    pub stderr: String,
}

impl Exit {
    pub fn tags(&self) -> Vec<&str> {
        tag_lines(&self.stderr)
    }

    pub fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("ERROR: "))
            .collect()
    }

    /// The numbers of the `TAGS: stats::new-mails(..)...` line.
    pub fn stats(&self) -> Option<Stats> {
        stats_of(&self.stderr)
    }
}

/// The four counters of a stats line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub new_mails: u64,
    pub del_mails: u64,
    pub bytes_received: u64,
    pub xdelta_received: u64,
}

pub fn tag_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("TAGS: "))
        .collect()
}

pub fn stats_of(stderr: &str) -> Option<Stats> {
    let line = tag_lines(stderr)
        .into_iter()
        .find(|l| l.starts_with("stats::new-mails("))?;
    let numbers: Vec<u64> = line
        .split('(')
        .skip(1)
        .map(|part| part.split(')').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 4, "malformed stats line: {line}");
    let expected = format!(
        "stats::new-mails({}), del-mails({}), bytes-received({}), xdelta-received({})",
        numbers[0], numbers[1], numbers[2], numbers[3]
    );
    assert_eq!(line, expected, "stats line not in smd's shape");
    Some(Stats {
        new_mails: numbers[0],
        del_mails: numbers[1],
        bytes_received: numbers[2],
        xdelta_received: numbers[3],
    })
}

/// A server/client session and what went over the wire.
#[derive(Debug)]
pub struct SyncRun {
    pub server: Exit,
    pub client: Exit,
    /// Everything the server wrote.
    pub s2c: Vec<u8>,
    /// Everything the client wrote.
    pub c2s: Vec<u8>,
    pub elapsed: Duration,
}

impl SyncRun {
    /// The diff lines the server sent (between the handshake and `END`).
    pub fn diff(&self) -> Vec<Vec<u8>> {
        diff_of(&self.s2c)
    }

    pub fn diff_text(&self) -> Vec<String> {
        self.diff()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// The command words of the diff, e.g. `["ADD", "MOVE"]`.
    pub fn verbs(&self) -> Vec<String> {
        self.diff_text()
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }

    /// The lines the client sent after its handshake (requests, COMMIT...).
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.c2s
            .split(|&b| b == b'\n')
            .skip(2)
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    pub fn request_text(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    pub fn count_requests(&self, verb: &str) -> usize {
        let prefix = format!("{verb} ");
        self.request_text()
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .count()
    }

    /// Panics with both logs unless both sides exited 0.
    pub fn assert_ok(&self) {
        assert!(
            self.server.code == Some(0) && self.client.code == Some(0),
            "sync failed: server {:?}, client {:?}\n{}",
            self.server.code,
            self.client.code,
            self.explain()
        );
    }

    pub fn assert_codes(&self, server: i32, client: i32) {
        assert!(
            self.server.code == Some(server) && self.client.code == Some(client),
            "expected server {server} and client {client}, got server {:?} and client \
             {:?}\n{}",
            self.server.code,
            self.client.code,
            self.explain()
        );
    }

    pub fn explain(&self) -> String {
        format!(
            "--- server stderr:\n{}--- client stderr:\n{}--- diff:\n{}\n--- client \
             requests:\n{}\n",
            self.server.stderr,
            self.client.stderr,
            self.diff_text().join("\n"),
            self.request_text()
                .iter()
                .map(|l| l.chars().take(200).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

/// The lines between the two handshake lines and `END`.
pub fn diff_of(s2c: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for line in s2c.split(|&b| b == b'\n').skip(2) {
        if line == b"END" {
            return lines;
        }
        lines.push(line.to_vec());
    }
    lines
}

fn spawn(
    program: &str,
    home: &Path,
    args: &[Vec<u8>],
    stderr: &Path,
) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command
        .args(args.iter().map(|a| OsStr::from_bytes(a)))
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        // The programs must work relative to HOME, not to where they start.
        .current_dir(home.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(fs::File::create(stderr)?));
    command.spawn()
}

/// Something to do once a stream has carried `after` (before the bytes
/// that completed it are passed on).
pub struct Hook {
    pub after: Vec<u8>,
    pub action: Box<dyn FnOnce() + Send>,
}

/// Copies `from` to `to`, recording it; stops (closing both) on EOF or on a
/// failed write, as a broken pipe would.
fn relay(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
    mut hook: Option<Hook>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            seen.extend_from_slice(&buffer[..read]);
            if hook
                .as_ref()
                .is_some_and(|h| seen.windows(h.after.len()).any(|w| w == h.after))
            {
                (hook.take().unwrap().action)();
            }
            if to
                .write_all(&buffer[..read])
                .and_then(|()| to.flush())
                .is_err()
            {
                break;
            }
        }
        seen
    })
}

/// Waits for `children`, killing them all once `limit` has passed.
fn wait_all(children: &mut [&mut Child], limit: Duration) -> Vec<Option<i32>> {
    let start = Instant::now();
    let mut codes: Vec<Option<Option<i32>>> = vec![None; children.len()];
    loop {
        for (child, code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                if let Some(status) = child.try_wait().expect("wait") {
                    *code = Some(status.code());
                }
            }
        }
        if codes.iter().all(Option::is_some) {
            return codes.into_iter().map(Option::unwrap).collect();
        }
        if start.elapsed() > limit {
            for (child, code) in children.iter_mut().zip(codes.iter()) {
                if code.is_none() {
                    let _ = child.kill();
                }
            }
        }
        thread::sleep(Duration::from_millis(2));
    }
}

pub fn run_pair(
    server_home: &Path,
    server_args: &[Vec<u8>],
    client_home: &Path,
    client_args: &[Vec<u8>],
    logs: &Path,
    n: usize,
    hook: Option<Hook>,
) -> SyncRun {
    let server_err = logs.join(format!("server.{n}.err"));
    let client_err = logs.join(format!("client.{n}.err"));
    let start = Instant::now();
    let mut server =
        spawn(SERVER, server_home, server_args, &server_err).expect("smd-server");
    let mut client =
        spawn(CLIENT, client_home, client_args, &client_err).expect("smd-client");

    let s2c = relay(
        server.stdout.take().unwrap(),
        client.stdin.take().unwrap(),
        hook,
    );
    let c2s = relay(
        client.stdout.take().unwrap(),
        server.stdin.take().unwrap(),
        None,
    );
    let codes = wait_all(&mut [&mut server, &mut client], TIME_LIMIT);
    let elapsed = start.elapsed();
    SyncRun {
        server: Exit {
            code: codes[0],
            stderr: fs::read_to_string(&server_err).unwrap_or_default(),
        },
        client: Exit {
            code: codes[1],
            stderr: fs::read_to_string(&client_err).unwrap_or_default(),
        },
        s2c: s2c.join().unwrap(),
        c2s: c2s.join().unwrap(),
        elapsed,
    }
}

/// One real program talking to the test, which plays the other side.
pub struct Peer {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
    stderr: PathBuf,
    cancel_watchdog: mpsc::Sender<()>,
}

impl Peer {
    pub fn spawn(program: &str, home: &Path, args: &[Vec<u8>], logs: &Path) -> Peer {
        Peer::spawn_limited(program, home, args, logs, TIME_LIMIT)
    }

    /// Like [`Peer::spawn`], killing the program after `limit`.
    pub fn spawn_limited(
        program: &str,
        home: &Path,
        args: &[Vec<u8>],
        logs: &Path,
        limit: Duration,
    ) -> Peer {
        let stderr = logs.join(format!("peer.{}.err", next_number()));
        let mut child = spawn(program, home, args, &stderr).expect("spawn");
        let (cancel_watchdog, cancelled) = mpsc::channel::<()>();
        let pid = child.id();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        });
        Peer {
            input: child.stdin.take(),
            output: BufReader::new(child.stdout.take().unwrap()),
            child,
            stderr,
            cancel_watchdog,
        }
    }

    /// Sends bytes; a peer that stopped reading is not an error here.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Some(input) = &mut self.input {
            if input.write_all(bytes).and_then(|()| input.flush()).is_err() {
                self.input = None;
            }
        }
    }

    pub fn send_line(&mut self, line: &[u8]) {
        self.send(&cat(&[line, b"\n"]));
    }

    /// The next line without `\n`, or `None` at the end of the stream.
    pub fn line(&mut self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        match self.output.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(line)
            }
        }
    }

    pub fn line_text(&mut self) -> Option<String> {
        self.line()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    }

    /// Reads exactly `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        self.output.read_exact(&mut data).expect("chunk data");
        data
    }

    /// Reads `chunk LEN` and its data.
    pub fn chunk(&mut self) -> Vec<u8> {
        let line = self.line_text().expect("a chunk header");
        let len: usize = line
            .strip_prefix("chunk ")
            .unwrap_or_else(|| panic!("expected a chunk, got {line:?}"))
            .parse()
            .unwrap();
        self.bytes(len)
    }

    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Closes stdin, reads what is left of stdout, waits for the exit.
    pub fn finish(mut self) -> (Exit, Vec<u8>) {
        self.input = None;
        let mut rest = Vec::new();
        let _ = self.output.read_to_end(&mut rest);
        let status = self.child.wait().expect("wait");
        let _ = self.cancel_watchdog.send(());
        let exit = Exit {
            code: status.code(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
        };
        (exit, rest)
    }
}

fn next_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------- files

/// Creates a Maildir folder (`cur`, `new`, `tmp`) below `home`.
pub fn maildir(home: &Path, folder: &[u8]) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(home.join(path_of(folder)).join(sub)).unwrap();
    }
}

/// Writes a file below `home`, creating its folder (and, for a message
/// folder, the Maildir triplet).
pub fn put(home: &Path, name: &[u8], content: &[u8]) {
    let path = home.join(path_of(name));
    let parent = path.parent().unwrap();
    if let Some(maildir_root) = parent.parent() {
        if matches!(
            parent.file_name().map(OsStr::as_bytes),
            Some(b"cur" | b"new")
        ) {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(maildir_root.join(sub)).unwrap();
            }
        }
    }
    fs::create_dir_all(parent).unwrap();
    fs::write(&path, content).unwrap();
}

pub fn read(home: &Path, name: &[u8]) -> Vec<u8> {
    fs::read(home.join(path_of(name)))
        .unwrap_or_else(|e| panic!("read {}: {e}", String::from_utf8_lossy(name)))
}

pub fn exists(home: &Path, name: &[u8]) -> bool {
    home.join(path_of(name)).symlink_metadata().is_ok()
}

pub fn rename(home: &Path, from: &[u8], to: &[u8]) {
    fs::rename(home.join(path_of(from)), home.join(path_of(to))).unwrap();
}

pub fn remove(home: &Path, name: &[u8]) {
    fs::remove_file(home.join(path_of(name))).unwrap();
}

/// Every message below `home/root` (files directly in `cur` or `new`,
/// never below `tmp`), by name relative to `home`.
pub fn mail_tree(home: &Path, roots: &[&[u8]]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut tree = BTreeMap::new();
    for root in roots {
        collect_mail(home, root, &mut tree);
    }
    tree
}

fn collect_mail(home: &Path, folder: &[u8], tree: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    let Ok(entries) = fs::read_dir(home.join(path_of(folder))) else {
        return;
    };
    let base = folder.rsplit(|&b| b == b'/').next().unwrap();
    let holds_mail = base == b"cur" || base == b"new";
    for entry in entries {
        let entry = entry.unwrap();
        let name = cat(&[folder, b"/", entry.file_name().as_bytes()]);
        let kind = entry.file_type().unwrap();
        if kind.is_file() && holds_mail {
            tree.insert(name, fs::read(entry.path()).unwrap());
        } else if kind.is_dir() && entry.file_name().as_bytes() != b"tmp" {
            collect_mail(home, &name, tree);
        }
    }
}

/// What a path holds, for comparing whole trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(Vec<u8>),
    Other,
}

/// Every entry below `dir` (relative names), with contents and modes.
pub fn snapshot(dir: &Path) -> BTreeMap<Vec<u8>, Node> {
    let mut nodes = BTreeMap::new();
    snapshot_into(dir, b"", &mut nodes);
    nodes
}

fn snapshot_into(dir: &Path, prefix: &[u8], nodes: &mut BTreeMap<Vec<u8>, Node>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = if prefix.is_empty() {
            entry.file_name().as_bytes().to_vec()
        } else {
            cat(&[prefix, b"/", entry.file_name().as_bytes()])
        };
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode();
        let kind = meta.file_type();
        if kind.is_dir() {
            nodes.insert(name.clone(), Node::Dir(mode));
            snapshot_into(&entry.path(), &name, nodes);
        } else if kind.is_file() {
            nodes.insert(name, Node::File(mode, fs::read(entry.path()).unwrap()));
        } else if kind.is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            nodes.insert(name, Node::Link(bytes_of(&target).to_vec()));
        } else {
            nodes.insert(name, Node::Other);
        }
    }
}

/// The differences between two snapshots, for a readable assertion.
pub fn snapshot_changes(
    before: &BTreeMap<Vec<u8>, Node>,
    after: &BTreeMap<Vec<u8>, Node>,
) -> Vec<String> {
    let mut changes = Vec::new();
    for (name, node) in after {
        match before.get(name) {
            None => changes.push(format!("new: {}", String::from_utf8_lossy(name))),
            Some(old) if old != node => {
                changes.push(format!("changed: {}", String::from_utf8_lossy(name)))
            }
            _ => {}
        }
    }
    for name in before.keys() {
        if !after.contains_key(name) {
            changes.push(format!("gone: {}", String::from_utf8_lossy(name)));
        }
    }
    changes
}

/// Drops the entries below `prefix` (e.g. a `.smd` folder) from a snapshot.
pub fn without(
    mut nodes: BTreeMap<Vec<u8>, Node>,
    prefixes: &[&[u8]],
) -> BTreeMap<Vec<u8>, Node> {
    nodes.retain(|name, _| {
        !prefixes.iter().any(|p| {
            name.as_slice() == *p
                || (name.starts_with(p) && name.get(p.len()) == Some(&b'/'))
        })
    });
    nodes
}

pub fn show_names<'a>(names: impl IntoIterator<Item = &'a Vec<u8>>) -> String {
    names
        .into_iter()
        .map(|n| format!("  {}\n", String::from_utf8_lossy(n).escape_debug()))
        .collect()
}

/// Asserts two mail trees are equal, naming the differing messages.
pub fn assert_same_mail(
    left: &BTreeMap<Vec<u8>, Vec<u8>>,
    right: &BTreeMap<Vec<u8>, Vec<u8>>,
    what: &str,
) {
    if left == right {
        return;
    }
    let only_left: Vec<&Vec<u8>> =
        left.keys().filter(|k| !right.contains_key(*k)).collect();
    let only_right: Vec<&Vec<u8>> =
        right.keys().filter(|k| !left.contains_key(*k)).collect();
    let differ: Vec<&Vec<u8>> = left
        .iter()
        .filter(|(k, v)| right.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    panic!(
        "{what}: mail trees differ\nonly on the left:\n{}only on the right:\n{}\
         different content:\n{}",
        show_names(only_left),
        show_names(only_right),
        show_names(differ)
    );
}

/// The db-file of `endpoint` and `mailboxes` in `home`, as SPEC §2 names it.
pub fn db_path(home: &Path, file_name: &str) -> PathBuf {
    home.join(".smd").join(file_name)
}

/// The db lines smd would write for these messages, sorted.
pub fn expected_db(tree: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = tree
        .iter()
        .map(|(name, content)| cat(&[pair(content).as_bytes(), b" ", name]))
        .collect();
    lines.sort();
    lines
}

pub fn sorted_lines(text: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    lines.sort();
    lines
}

/// Writes an executable shell script.
pub fn script(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The files left in every `tmp` folder below `dir`.
pub fn tmp_leftovers(dir: &Path) -> Vec<Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter(|(name, node)| {
            matches!(node, Node::File(..))
                && name
                    .split(|&b| b == b'/')
                    .rev()
                    .nth(1)
                    .is_some_and(|folder| folder == b"tmp")
        })
        .map(|(name, _)| name)
        .collect()
}

// ---------------------------------------------------------------- VCDIFF

fn varint(mut value: u64, out: &mut Vec<u8>) {
    let mut bytes = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        bytes.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    bytes.reverse();
    out.extend_from_slice(&bytes);
}

/// A plain RFC 3284 delta that ignores the source and ADDs `target` whole
/// (one window, default code table: instruction 1 is ADD with its size
/// following).
pub fn vcdiff_add_only(target: &[u8]) -> Vec<u8> {
    let mut out = vec![0xd6, 0xc3, 0xc4, 0x00, 0x00];
    if target.is_empty() {
        return out;
    }
    let mut instructions = vec![1u8];
    varint(target.len() as u64, &mut instructions);
    let mut encoding = Vec::new();
    varint(target.len() as u64, &mut encoding);
    encoding.push(0); // Delta_Indicator
    varint(target.len() as u64, &mut encoding);
    varint(instructions.len() as u64, &mut encoding);
    varint(0, &mut encoding);
    encoding.extend_from_slice(target);
    encoding.extend_from_slice(&instructions);
    out.push(0); // Win_Indicator: no source
    varint(encoding.len() as u64, &mut out);
    out.extend_from_slice(&encoding);
    out
}
