//! `smd-loop` against fake `smd-pull` and `smd-push` scripts that record
//! their calls and fail on demand. Minutes are shortened with
//! SMD_LOOP_MINUTE_SECONDS; the checks are on the order of the calls, not
//! on timings, except where starting "at once" is the point.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Records `PROGRAM -s NAME` in `calls`, then behaves as the next line of
/// `plan.PROGRAM.NAME` says (`ok` once the plan is used up): `ok` prints
/// stats tags and succeeds; `retry` fails with tags asking for a retry;
/// `fail` fails with an error that needs a person.
const FAKE_SYNC: &str = r#"#!/bin/sh
dir=$(dirname "$0")
name=$(basename "$0")
echo "$name $*" >> "$dir/calls"
plan="$dir/plan.$name.$2"
outcome=ok
if [ -s "$plan" ]; then
    outcome=$(head -n 1 "$plan")
    sed -i '1d' "$plan"
fi
case $outcome in
ok)
    echo "$2: $name@localhost: TAGS: stats::new-mails(1), del-mails(0), bytes-received(9), xdelta-received(0)"
    ;;
retry)
    echo "$2: smd-server@host: TAGS: error::context(ssh) probable-cause(network) human-intervention(avoidable) suggested-actions(retry)" >&2
    exit 1
    ;;
fail)
    echo "smd-client: ERROR: the disk is full"
    echo "$2: smd-client@localhost: TAGS: error::context(copy-message) probable-cause(disk-full) human-intervention(necessary) " >&2
    exit 1
    ;;
esac
"#;

const RETRY_TAGS: &str = "human-intervention(avoidable) suggested-actions(retry)";

struct Sandbox {
    root: TempDir,
}

impl Sandbox {
    /// A HOME with `schedule` as `~/.smd/loop` (none if `None`), and the
    /// fake programs.
    fn new(schedule: Option<&str>) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let sandbox = Sandbox { root };
        fs::create_dir_all(sandbox.home().join(".smd")).unwrap();
        fs::create_dir(sandbox.bin()).unwrap();
        for program in ["smd-pull", "smd-push"] {
            let path = sandbox.bin().join(program);
            fs::write(&path, FAKE_SYNC).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        if let Some(schedule) = schedule {
            fs::write(sandbox.schedule(), schedule).unwrap();
        }
        sandbox
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    fn schedule(&self) -> PathBuf {
        self.home().join(".smd/loop")
    }

    fn lock(&self) -> PathBuf {
        self.home().join(".smd/loop.lock")
    }

    /// The outcomes of the next runs of `program` for `endpoint`.
    fn plan(&self, program: &str, endpoint: &str, outcomes: &[&str]) {
        let lines: String = outcomes.iter().map(|o| format!("{o}\n")).collect();
        fs::write(self.bin().join(format!("plan.{program}.{endpoint}")), lines).unwrap();
    }

    /// The calls so far, as `smd-pull -s NAME` lines.
    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.bin().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn start(&self, args: &[&str], minute_seconds: f64) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_smd-loop"))
            .args(args)
            .env("HOME", self.home())
            .env("SMD_BIN_DIR", self.bin())
            .env("SMD_LOOP_MINUTE_SECONDS", minute_seconds.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Running::new(child)
    }

    /// Waits until at least `count` calls were made, and returns them.
    fn wait_for_calls(&self, count: usize) -> Vec<String> {
        wait_until(&format!("{count} calls"), || self.calls().len() >= count);
        self.calls()
    }
}

/// A running smd-loop, its output collected as it comes.
struct Running {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Running {
    fn new(mut child: Child) -> Running {
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit (killing it after a generous limit).
    fn finish(mut self) -> Finished {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("smd-loop did not stop");
            }
            thread::sleep(Duration::from_millis(10));
        };
        Finished {
            status,
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
        }
    }

    /// Stops it as the applet does, and checks that it cleans up.
    fn stop(self) -> Finished {
        self.signal("TERM");
        self.finish()
    }
}

fn collect(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited in vain for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

fn pull(endpoint: &str) -> String {
    format!("smd-pull -s {endpoint}")
}

fn push(endpoint: &str) -> String {
    format!("smd-push -s {endpoint}")
}

#[test]
fn runs_each_line_when_the_minute_counter_is_a_multiple() {
    let sandbox = Sandbox::new(Some("# pull push endpoint\n2 3 a\n\n1 0 b\n0 0 never\n"));
    let running = sandbox.start(&[], 0.02);
    let calls = sandbox.wait_for_calls(12);
    let finished = running.stop();

    let expected = [
        pull("b"), // minute 1
        pull("a"), // minute 2
        pull("b"),
        push("a"), // minute 3
        pull("b"),
        pull("a"), // minute 4
        pull("b"),
        pull("b"), // minute 5
        pull("a"), // minute 6
        push("a"),
        pull("b"),
        pull("b"), // minute 7
    ];
    assert_eq!(calls[..12], expected);
    assert!(finished
        .stdout
        .contains("b: smd-pull@localhost: TAGS: stats::new-mails(1)"));
    assert!(!sandbox.lock().exists(), "the lock outlived smd-loop");
}

#[test]
fn the_first_runs_start_at_once() {
    // With minutes of a minute, a pull every 3 and a push every 10 would
    // wait for minutes without the rule that no time passes before the
    // first run.
    let sandbox = Sandbox::new(Some("3 10 default\n"));
    let start = Instant::now();
    let running = sandbox.start(&[], 60.0);
    let calls = sandbox.wait_for_calls(1);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(calls, [pull("default")]);
    running.stop();
}

#[test]
fn a_transient_failure_is_retried_at_the_next_turn() {
    let sandbox = Sandbox::new(Some("1 2 a\n"));
    sandbox.plan("smd-pull", "a", &["retry", "ok", "retry", "ok"]);
    let mut running = sandbox.start(&[], 0.02);
    let calls = sandbox.wait_for_calls(8);
    assert!(running.is_running(), "a retried failure stopped the loop");
    let finished = running.stop();

    assert_eq!(
        calls[..8],
        [
            pull("a"),
            pull("a"),
            push("a"),
            pull("a"),
            pull("a"),
            push("a"),
            pull("a"),
            pull("a")
        ]
    );
    // Only the runs that worked are shown.
    assert!(!finished.stdout.contains(RETRY_TAGS), "{}", finished.stdout);
    assert!(finished
        .stdout
        .contains("a: smd-pull@localhost: TAGS: stats::"));
}

#[test]
fn two_transient_failures_in_a_row_stop_with_the_output() {
    let sandbox = Sandbox::new(Some("1 0 a\n"));
    sandbox.plan("smd-pull", "a", &["retry", "retry"]);
    let finished = sandbox.start(&["-v"], 0.02).finish();

    assert_eq!(finished.status.code(), Some(1));
    assert_eq!(sandbox.calls(), [pull("a"), pull("a")]);
    assert!(finished.stdout.contains(RETRY_TAGS), "{}", finished.stdout);
    assert!(
        finished.stderr.contains("will be retried"),
        "{}",
        finished.stderr
    );
    assert!(!sandbox.lock().exists());

    let log = fs::read_to_string(sandbox.home().join(".smd/log/loop.log")).unwrap();
    assert!(log.contains("smd-pull -s a"), "{log}");
    assert!(log.contains("output: a: smd-server@host: TAGS:"), "{log}");
}

#[test]
fn another_failure_stops_at_once() {
    let sandbox = Sandbox::new(Some("1 1 a\n1 1 b\n"));
    sandbox.plan("smd-push", "a", &["fail"]);
    let finished = sandbox.start(&[], 0.02).finish();

    assert_eq!(finished.status.code(), Some(1));
    assert_eq!(sandbox.calls(), [pull("a"), push("a")]);
    assert!(finished
        .stdout
        .contains("smd-client: ERROR: the disk is full"));
    assert!(finished.stdout.contains("human-intervention(necessary)"));
}

#[test]
fn a_retry_then_another_failure_stops() {
    let sandbox = Sandbox::new(Some("1 0 a\n"));
    sandbox.plan("smd-pull", "a", &["retry", "fail"]);
    let finished = sandbox.start(&[], 0.02).finish();
    assert_eq!(finished.status.code(), Some(1));
    assert_eq!(sandbox.calls(), [pull("a"), pull("a")]);
    assert!(finished.stdout.contains("the disk is full"));
}

#[test]
fn sigusr1_synchronizes_now() {
    // The first runs happen at once, the next ones only in 1000 minutes.
    let sandbox = Sandbox::new(Some("1000 1000 a\n0 1000 b\n"));
    let running = sandbox.start(&[], 1.0);
    let first = sandbox.wait_for_calls(3);
    assert_eq!(first, [pull("a"), push("a"), push("b")]);

    running.signal("USR1");
    let calls = sandbox.wait_for_calls(6);
    assert_eq!(calls[3..], [pull("a"), push("a"), push("b")]);

    running.signal("USR1");
    sandbox.wait_for_calls(9);
    let finished = running.stop();
    assert_eq!(finished.status.code(), Some(0));
    assert!(!sandbox.lock().exists());
}

/// A fake command that takes its time, and says when SIGTERM stops it.
const SLOW_SYNC: &str = r#"#!/bin/sh
dir=$(dirname "$0")
echo "$(basename "$0") $*" >> "$dir/calls"
sleep 600 &
sleeper=$!
trap 'kill $sleeper; echo stopped >> "$dir/signals"; exit 1' TERM
wait $sleeper
"#;

#[test]
fn a_stop_asks_the_running_command_to_stop_and_exits_0() {
    for signal in ["TERM", "INT"] {
        let sandbox = Sandbox::new(Some("1 0 a\n"));
        let slow = sandbox.bin().join("smd-pull");
        fs::write(&slow, SLOW_SYNC).unwrap();
        let running = sandbox.start(&[], 60.0);
        sandbox.wait_for_calls(1);
        thread::sleep(Duration::from_millis(200));

        let start = Instant::now();
        running.signal(signal);
        let finished = running.finish();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{signal}: not at once"
        );
        assert_eq!(
            finished.status.code(),
            Some(0),
            "{signal}: {}",
            finished.stderr
        );
        let signals =
            fs::read_to_string(sandbox.bin().join("signals")).unwrap_or_default();
        assert_eq!(
            signals, "stopped\n",
            "{signal}: the command was not asked to stop"
        );
        assert!(!sandbox.lock().exists());
        let log = fs::read_to_string(sandbox.home().join(".smd/log/loop.log")).unwrap();
        assert!(log.contains(&format!("stopped by SIG{signal}")), "{log}");
        assert!(!log.contains("needs attention"), "{log}");
    }
}

#[test]
fn a_stop_between_runs_exits_0() {
    for signal in ["TERM", "INT", "HUP"] {
        let sandbox = Sandbox::new(Some("1000 0 a\n"));
        let running = sandbox.start(&[], 60.0);
        sandbox.wait_for_calls(1);
        running.signal(signal);
        let finished = running.finish();
        assert_eq!(finished.status.code(), Some(0), "{signal}");
        assert!(!sandbox.lock().exists());
    }
}

#[test]
fn one_loop_at_a_time() {
    let sandbox = Sandbox::new(Some("1 0 a\n"));
    let first = sandbox.start(&[], 60.0);
    sandbox.wait_for_calls(1);
    let holder = fs::read_to_string(sandbox.lock()).unwrap();
    assert_eq!(holder.trim(), first.pid().to_string());

    let second = sandbox.start(&[], 60.0).finish();
    assert_eq!(second.status.code(), Some(1));
    let expected = format!(
        "any: smd-loop@localhost: TAGS: error::context(locking) \
         probable-cause(another-instance-is-running) human-intervention(necessary) \
         suggested-actions(run(kill {}) run(rm \"{}\"))\n",
        first.pid(),
        sandbox.lock().display()
    );
    assert!(second.stdout.ends_with(&expected), "{}", second.stdout);
    assert_eq!(sandbox.calls().len(), 1, "the second loop ran something");

    first.stop();
    assert!(!sandbox.lock().exists());
}

#[test]
fn a_lock_left_by_a_dead_loop_is_taken_over() {
    let sandbox = Sandbox::new(Some("1 0 a\n"));
    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    fs::write(sandbox.lock(), dead.id().to_string()).unwrap();

    let running = sandbox.start(&[], 60.0);
    sandbox.wait_for_calls(1);
    let holder = fs::read_to_string(sandbox.lock()).unwrap();
    assert_eq!(holder.trim(), running.pid().to_string());
    running.stop();
}

#[test]
fn a_missing_schedule_gets_a_template_and_exit_1_even_with_t() {
    for args in [&[][..], &["-t"][..], &["-v", "-t"][..]] {
        let sandbox = Sandbox::new(None);
        let finished = sandbox.start(args, 0.02).finish();
        assert_eq!(finished.status.code(), Some(1), "{args:?}");
        assert!(finished.stdout.contains("template"), "{}", finished.stdout);

        let template = fs::read_to_string(sandbox.schedule()).unwrap();
        assert!(template
            .lines()
            .any(|l| l.split_whitespace().eq(["3", "10", "default"])));
        assert!(template.lines().filter(|l| !l.trim().is_empty()).all(|l| {
            l.starts_with('#') || l.trim() == "3            10           default"
        }));
        assert!(sandbox.calls().is_empty());
    }
}

#[test]
fn t_with_a_schedule_only_checks_it_is_there() {
    let sandbox = Sandbox::new(Some("1 1 a\n"));
    let finished = sandbox.start(&["-t"], 0.02).finish();
    assert!(finished.status.success());
    assert!(sandbox.calls().is_empty());
    assert!(!sandbox.lock().exists());
}

#[test]
fn a_bad_schedule_is_reported_with_its_line() {
    let sandbox = Sandbox::new(Some("# ok\n1 two a\n"));
    let finished = sandbox.start(&[], 0.02).finish();
    assert_eq!(finished.status.code(), Some(1));
    assert!(finished.stderr.contains("line 2"), "{}", finished.stderr);
    assert!(sandbox.calls().is_empty());
}

#[test]
fn help_documents_sync_now() {
    let sandbox = Sandbox::new(None);
    let finished = sandbox.start(&["--help"], 0.02).finish();
    assert!(finished.status.success());
    assert!(finished.stdout.contains("SIGUSR1"));
    assert!(!sandbox.schedule().exists());
}

#[test]
fn programs_are_found_next_to_smd_loop() {
    // A copy of smd-loop next to the fakes, without SMD_BIN_DIR and with a
    // PATH that has no smd-pull.
    let sandbox = Sandbox::new(Some("1 0 a\n"));
    let copy = sandbox.bin().join("smd-loop");
    fs::copy(env!("CARGO_BIN_EXE_smd-loop"), &copy).unwrap();
    let child = Command::new(&copy)
        .env("HOME", sandbox.home())
        .env("PATH", "/usr/bin:/bin")
        .env("SMD_LOOP_MINUTE_SECONDS", "60")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = Running::new(child);
    assert_eq!(sandbox.wait_for_calls(1), [pull("a")]);
    running.stop();
}
