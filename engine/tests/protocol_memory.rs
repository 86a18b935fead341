//! Memory stays flat as messages grow: a message of hundreds of megabytes
//! is streamed by `smd-server` and `smd-client`, never held whole, both
//! when it is fetched and when its header is replaced around its body.
//!
//! The two programs are connected by plain pipes (the test records
//! nothing, so it holds none of the data either), and each one's peak
//! memory is read from the kernel when it is reaped.

mod sync_common;

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sync_common::*;

/// The big message's size: far above what either side may hold.
const BIG: u64 = 200 << 20;

/// The most memory either side may use, whatever the size of a message.
const PEAK_LIMIT_KIB: i64 = 32 * 1024;

const NAME: &[u8] = b"Mail/cur/big:2,S";

#[test]
fn a_message_of_hundreds_of_megabytes_is_streamed_both_ways() {
    let sb = Sandbox::new();
    maildir(&sb.client, b"Mail");
    write_big_message(&sb.server.join(path_of(NAME)), "the first subject");

    let first = sync_measuring_memory(&sb);
    first.assert_ok_and_flat("fetching the whole message");
    assert!(first.client_stats().bytes_received > BIG);
    assert_same_file(
        &sb.server.join(path_of(NAME)),
        &sb.client.join(path_of(NAME)),
    );

    // A new header on the same body: the client asks for the header only
    // and splices it onto the body it already has.
    write_big_message(&sb.server.join(path_of(NAME)), "a second subject");
    let second = sync_measuring_memory(&sb);
    second.assert_ok_and_flat("replacing the header");
    let header_only = second.client_stats().bytes_received;
    assert!(
        header_only < 1024,
        "{header_only} bytes received for a new header"
    );
    assert_same_file(
        &sb.server.join(path_of(NAME)),
        &sb.client.join(path_of(NAME)),
    );
}

/// Writes a message of about [`BIG`] bytes, streaming it to disk.
fn write_big_message(path: &Path, subject: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut out = BufWriter::new(File::create(path).unwrap());
    write!(out, "From: big@example.org\nSubject: {subject}\n\n").unwrap();
    let mut written = 0u64;
    let mut number = 0u64;
    while written < BIG {
        let line = format!("line {number:>12} of a very long message body\n");
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        number += 1;
    }
    out.flush().unwrap();
}

struct Side {
    name: &'static str,
    code: Option<i32>,
    peak_kib: i64,
    stderr: String,
}

struct MeasuredRun([Side; 2]);

impl MeasuredRun {
    fn client_stats(&self) -> Stats {
        let client = &self.0[1];
        stats_of(&client.stderr)
            .unwrap_or_else(|| panic!("no stats line in:\n{}", client.stderr))
    }

    fn assert_ok_and_flat(&self, what: &str) {
        for side in &self.0 {
            assert_eq!(
                side.code,
                Some(0),
                "{what}: {} failed:\n{}",
                side.name,
                side.stderr
            );
            assert!(
                side.peak_kib < PEAK_LIMIT_KIB,
                "{what}: {} peaked at {} KiB for a {} MiB message",
                side.name,
                side.peak_kib,
                BIG >> 20
            );
        }
    }
}

/// One sync of `lap Mail` from the sandbox's server HOME to its client
/// HOME, each side's exit code and peak memory.
fn sync_measuring_memory(sb: &Sandbox) -> MeasuredRun {
    let (from_client, to_server) = pipe();
    let logs = sb.logs.path();

    let mut server = start(
        SERVER,
        &sb.server,
        Stdio::from(from_client),
        Stdio::piped(),
        &logs.join("server.err"),
    );
    let server_output = server.stdout.take().unwrap();
    let client = start(
        CLIENT,
        &sb.client,
        Stdio::from(server_output),
        Stdio::from(to_server),
        &logs.join("client.err"),
    );

    let server_peak = reap(server);
    let client_peak = reap(client);
    let stderr = |file: &str| fs::read_to_string(logs.join(file)).unwrap_or_default();
    MeasuredRun([
        Side {
            name: "smd-server",
            code: server_peak.0,
            peak_kib: server_peak.1,
            stderr: stderr("server.err"),
        },
        Side {
            name: "smd-client",
            code: client_peak.0,
            peak_kib: client_peak.1,
            stderr: stderr("client.err"),
        },
    ])
}

fn start(
    program: &str,
    home: &Path,
    input: Stdio,
    output: Stdio,
    stderr: &Path,
) -> Child {
    Command::new(program)
        .args(["lap", "Mail"])
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(home)
        .stdin(input)
        .stdout(output)
        .stderr(File::create(stderr).unwrap())
        .spawn()
        .unwrap_or_else(|error| panic!("unable to start {program}: {error}"))
}

/// A pipe's reading and writing ends (std's own is newer than the
/// engine's minimum Rust version).
#[allow(unsafe_code)]
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just opened, and nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Waits for `child` and returns its exit code and peak resident memory
/// (KiB), as the kernel accounted it.
#[allow(unsafe_code)]
fn reap(child: Child) -> (Option<i32>, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid plain data for wait4 to fill; the
    // pid is our unreaped child's, so it names no other process.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, usage.ru_maxrss)
}

/// Compares two files without reading either whole.
fn assert_same_file(expected: &Path, actual: &Path) {
    let (mut a, mut b) = (File::open(expected).unwrap(), File::open(actual).unwrap());
    let (mut chunk_a, mut chunk_b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let read = a.read(&mut chunk_a).unwrap();
        b.read_exact(&mut chunk_b[..read])
            .unwrap_or_else(|e| panic!("{} is shorter: {e}", actual.display()));
        assert!(
            chunk_a[..read] == chunk_b[..read],
            "{} differs from {} within bytes {offset}..{}",
            actual.display(),
            expected.display(),
            offset + read as u64
        );
        if read == 0 {
            assert_eq!(
                b.read(&mut chunk_b).unwrap(),
                0,
                "{} is longer",
                actual.display()
            );
            return;
        }
        offset += read as u64;
    }
}
