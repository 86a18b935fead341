//! Stopping a sync on request, with real processes and signals: smd-pull
//! (and smd-loop running it) in the middle of a transfer whose connection
//! has stalled, told to stop with SIGTERM or SIGINT. Each must stop at
//! once, keep the mail received whole, release its lock, and leave things
//! so that the next run completes the work.
//!
//! The stand-in for ssh runs the remote command in the server's HOME; with
//! `STALL_AFTER=N` the server's output stops after N bytes, while a process
//! that inherited the connection keeps it open, as an ssh connection
//! master would: only a stop that stops waiting gets out of that.

mod pushpull_common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pushpull_common::*;

const FAKE_SSH: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -o) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift
cd '@ROOT@/srv' || exit 255
HOME=$(pwd -P); export HOME
if [ -n "$STALL_AFTER" ]; then
  sh -c "$*" | { /usr/bin/stdbuf -o0 /usr/bin/head -c "$STALL_AFTER"; : > '@ROOT@/stalled'; exec sleep 600; }
  exit 255
fi
exec sh -c "$*"
"#;

const CONFIG: &str = "SERVERNAME=server\nCLIENTNAME=lap\nMAILBOX=Mail\n";
const DB: &str = "lap__Mail.db.txt";

/// How many messages the server has, and their size: enough that a
/// stall after `STALL_AFTER` bytes is well within the transfer.
const MESSAGES: usize = 200;
const MESSAGE_SIZE: usize = 20_000;
const STALL_AFTER: &str = "1000000";

/// How soon a stop must take effect.
const PROMPT: Duration = Duration::from_secs(10);

struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        script(
            &root.join("bin/ssh"),
            &FAKE_SSH.replace("@ROOT@", &root.display().to_string()),
        );
        for n in 0..MESSAGES {
            let name = format!("Mail/cur/{n:04}.m:2,S");
            put(
                &root.join("srv"),
                &name,
                &big_mail(&format!("m{n}"), MESSAGE_SIZE),
            );
        }
        let sandbox = Sandbox { _dir: dir, root };
        fs::create_dir_all(sandbox.lap()).unwrap();
        write_config(&sandbox.lap(), "default", CONFIG);
        sandbox
    }

    fn lap(&self) -> PathBuf {
        self.root.join("lap")
    }

    fn srv(&self) -> PathBuf {
        self.root.join("srv")
    }

    /// Starts `program` (our smd-pull or smd-loop) in a process group of
    /// its own, with the stalling ssh when `stall` is set.
    fn start(&self, program: &str, args: &[&str], stall: bool) -> Running {
        let path = path_of(&[
            &self.root.join("bin"),
            &bin_dir(),
            Path::new("/usr/bin"),
            Path::new("/bin"),
        ]);
        let out = self.root.join(format!("{program}.out"));
        let mut command = Command::new(bin_dir().join(program));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.lap())
            .env("PATH", path)
            .env("SMD_BIN_DIR", bin_dir())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&out).unwrap())
            .process_group(0);
        if stall {
            command.env("STALL_AFTER", STALL_AFTER);
        }
        Running {
            child: command.spawn().unwrap(),
            out,
            finished: false,
        }
    }

    /// Waits until the connection has stalled and the laptop has read
    /// all that came before.
    fn wait_for_the_stall(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.root.join("stalled").exists() {
            assert!(Instant::now() < deadline, "the transfer never stalled");
            thread::sleep(Duration::from_millis(10));
        }
        thread::sleep(Duration::from_millis(500));
    }

    /// Every message here is whole (the server's bytes), and there is at
    /// least one: what was received before the stop is kept.
    #[track_caller]
    fn assert_only_whole_messages_arrived(&self) {
        let here = tree(&self.lap().join("Mail"));
        let there = tree(&self.srv().join("Mail"));
        assert!(!here.is_empty(), "nothing received was kept");
        assert!(here.len() < there.len(), "the stall came too late");
        for (name, bytes) in &here {
            assert!(there.get(name) == Some(bytes), "{name} is not whole");
        }
    }

    #[track_caller]
    fn assert_unlocked(&self) {
        assert!(!self.lap().join(".smd/lock").exists(), "the lock is left");
        assert!(
            !self.lap().join(".smd/loop.lock").exists(),
            "the loop lock is left"
        );
    }

    /// A run without stall finishes the work.
    #[track_caller]
    fn assert_next_pull_completes(&self) {
        let path = path_of(&[
            &self.root.join("bin"),
            &bin_dir(),
            Path::new("/usr/bin"),
            Path::new("/bin"),
        ]);
        let out = run_tool(&bin_dir().join("smd-pull"), &[], &self.lap(), &path, &[]);
        out.assert_ok();
        assert_same_tree(&self.lap().join("Mail"), &self.srv().join("Mail"));
        assert_same_db(&self.lap(), &self.srv(), DB);
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.lap().join(".smd/log").join(name)).unwrap_or_default()
    }
}

/// A program under test, in its own process group, which goes with it
/// if the test fails half-way.
struct Running {
    child: Child,
    out: PathBuf,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            kill_group(self.child.id());
            let _ = self.child.wait();
        }
    }
}

impl Running {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A signal to the whole group, as a terminal sends Ctrl-C.
    fn signal_group(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), "--", &format!("-{}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit, within `limit`; returns the exit code, the
    /// time it took and the output. What is left of the group (the
    /// stalled connection) goes.
    fn finish(mut self, limit: Duration) -> (Option<i32>, Duration, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                panic!(
                    "it did not stop within {limit:?}:\n{}",
                    fs::read_to_string(&self.out).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        self.finished = true;
        kill_group(self.child.id());
        let output = fs::read_to_string(&self.out).unwrap_or_default();
        (status.code(), took, output)
    }
}

#[test]
fn smd_pull_stops_at_once_on_sigterm_and_keeps_what_it_received() {
    let sb = Sandbox::new();
    let running = sb.start("smd-pull", &["-s"], true);
    sb.wait_for_the_stall();

    running.signal("TERM");
    let (code, took, output) = running.finish(PROMPT);
    assert_eq!(code, Some(1), "{output}");
    assert!(took < PROMPT, "{took:?}");
    assert!(
        output.contains("smd-client: ERROR: stopped by SIGTERM, as asked"),
        "{output}"
    );
    assert!(
        output.contains(
            "default: smd-client@localhost: TAGS: error::context(main) \
             probable-cause(interrupted) human-intervention(avoidable) \
             suggested-actions(retry)"
        ),
        "{output}"
    );
    assert!(sb.log("client.default.log").contains("stopped by SIGTERM"));
    sb.assert_unlocked();
    sb.assert_only_whole_messages_arrived();
    // Nothing was committed: the laptop's db is still the empty first one.
    let db = fs::read(sb.lap().join(".smd").join(DB)).unwrap_or_default();
    assert!(db.is_empty(), "the db changed");

    sb.assert_next_pull_completes();
}

#[test]
fn smd_pull_stops_at_once_on_ctrl_c() {
    let sb = Sandbox::new();
    let running = sb.start("smd-pull", &[], true);
    sb.wait_for_the_stall();

    // Only smd-pull: the stalled connection does not go away by itself.
    running.signal("INT");
    let (code, took, output) = running.finish(PROMPT);
    assert_eq!(code, Some(1), "{output}");
    assert!(took < PROMPT, "{took:?}");
    assert!(output.contains("stopped by SIGINT"), "{output}");
    sb.assert_unlocked();
    sb.assert_only_whole_messages_arrived();
    sb.assert_next_pull_completes();
}

#[test]
fn smd_loop_stops_the_running_pull_cleanly_and_exits_0_on_sigterm() {
    let sb = Sandbox::new();
    fs::write(sb.lap().join(".smd/loop"), "1 0 default\n").unwrap();
    let running = sb.start("smd-loop", &[], true);
    sb.wait_for_the_stall();

    running.signal("TERM");
    let (code, took, output) = running.finish(PROMPT);
    assert_eq!(code, Some(0), "{output}");
    assert!(took < PROMPT, "{took:?}");
    // smd-pull was told, and stopped in its own clean way.
    assert!(sb.log("client.default.log").contains("stopped by SIGTERM"));
    let loop_log = sb.log("loop.log");
    assert!(loop_log.contains("stopped by SIGTERM"), "{loop_log}");
    assert!(
        !loop_log.contains("failure that needs attention"),
        "{loop_log}"
    );
    sb.assert_unlocked();
    sb.assert_only_whole_messages_arrived();
    sb.assert_next_pull_completes();
}

#[test]
fn smd_loop_stops_on_ctrl_c_in_its_terminal() {
    let sb = Sandbox::new();
    fs::write(sb.lap().join(".smd/loop"), "1 0 default\n").unwrap();
    let running = sb.start("smd-loop", &[], true);
    sb.wait_for_the_stall();

    // The terminal sends SIGINT to every process of the foreground group:
    // smd-loop, smd-pull and the connection.
    running.signal_group("INT");
    let (code, took, output) = running.finish(PROMPT);
    assert_eq!(code, Some(0), "{output}");
    assert!(took < PROMPT, "{took:?}");
    assert!(sb.log("loop.log").contains("stopped by SIGINT"));
    // smd-pull got the terminal's SIGINT and smd-loop's SIGTERM: either
    // may be first.
    let client_log = sb.log("client.default.log");
    assert!(client_log.contains("ERROR: stopped by SIG"), "{client_log}");
    sb.assert_unlocked();
    sb.assert_only_whole_messages_arrived();
    sb.assert_next_pull_completes();
}

/// For a person who cannot wait: here a post hook takes its time after
/// the first Ctrl-C, and the second one ends smd-pull at once.
#[test]
fn a_second_ctrl_c_ends_smd_pull_at_once() {
    let sb = Sandbox::new();
    script(
        &sb.lap().join(".smd/hooks/post-pull.d/slow"),
        "#!/bin/sh\n: > \"$HOME/../hook-started\"\nexec sleep 600\n",
    );
    let running = sb.start("smd-pull", &[], true);
    sb.wait_for_the_stall();

    running.signal("INT");
    let deadline = Instant::now() + PROMPT;
    while !sb.root.join("hook-started").exists() {
        assert!(Instant::now() < deadline, "the post hook never ran");
        thread::sleep(Duration::from_millis(10));
    }
    running.signal("INT");
    let (code, took, output) = running.finish(PROMPT);
    assert_eq!(code, None, "it was not ended by the signal: {output}");
    assert!(took < PROMPT, "{took:?}");
    sb.assert_only_whole_messages_arrived();

    // The lock of the program that is gone does not stand in the way.
    fs::remove_file(sb.lap().join(".smd/hooks/post-pull.d/slow")).unwrap();
    sb.assert_next_pull_completes();
}
