//! `smd-restricted-shell` runs what the policy allows, the copy installed
//! next to it, and nothing at all when it refuses.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

fn shell() -> &'static str {
    env!("CARGO_BIN_EXE_smd-restricted-shell")
}

/// A HOME with a small mailbox, and a folder outside it for files that no
/// run may create.
struct Sandbox {
    root: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        for folder in ["home/Mail", "home/Mail/sub"] {
            for leaf in ["cur", "new", "tmp"] {
                fs::create_dir_all(root.path().join(folder).join(leaf)).unwrap();
            }
        }
        fs::create_dir(root.path().join("outside")).unwrap();
        Sandbox { root }
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn outside(&self, name: &str) -> PathBuf {
        self.root.path().join("outside").join(name)
    }

    /// A restricted shell as sshd starts it: in HOME, with the client's
    /// command in SSH_ORIGINAL_COMMAND.
    fn command(&self, original: &str) -> Command {
        let mut command = Command::new(shell());
        command
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", "/usr/bin:/bin")
            .env("SSH_ORIGINAL_COMMAND", original)
            .current_dir(self.home());
        command
    }

    fn run(&self, original: &str, input: &[u8]) -> Output {
        let mut child = self
            .command(original)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refused command exits without reading its input.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    /// Runs `original`, which must be refused, and returns the reason.
    fn refused(&self, original: &str) -> String {
        let output = self.run(original, b"data for --dump-stdin\n");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{original}: {stderr}");
        assert!(output.stdout.is_empty(), "{original}: something ran");
        assert!(
            stderr.starts_with("smd-restricted-shell: refused"),
            "{stderr}"
        );
        stderr
    }
}

#[test]
fn an_allowed_command_runs_the_program_next_to_the_shell() {
    let sandbox = Sandbox::new();

    let output = sandbox.run("/usr/bin/smd-server --get-mddiff-cmdline laptop Mail", b"");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("--db-file"), "{stdout}");
    assert!(stdout.ends_with(" Mail\n"), "{stdout}");

    let output = sandbox.run("mddiff -l Mail", b"");
    let mut folders: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    folders.sort_unstable();
    assert_eq!(
        folders,
        ["Mail/cur", "Mail/new", "Mail/sub/cur", "Mail/sub/new"]
    );
}

#[test]
fn path_cannot_substitute_another_program() {
    let sandbox = Sandbox::new();
    let bin = sandbox.root.path().join("evil-bin");
    fs::create_dir(&bin).unwrap();
    let marker = sandbox.outside("evil-ran");
    let fake = bin.join("smd-server");
    fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();

    let output = sandbox
        .command("smd-server --get-mddiff-cmdline laptop Mail")
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("--db-file"));
    assert!(!marker.exists(), "the smd-server found on PATH ran");
}

#[test]
fn files_outside_dot_smd_are_never_written() {
    let sandbox = Sandbox::new();
    let target = sandbox.outside("dumped");
    let command = format!("smd-server --dump-stdin {} laptop Mail", target.display());
    let reason = sandbox.refused(&command);
    assert!(
        reason.contains("--dump-stdin") && reason.contains("outside"),
        "{reason}"
    );
    assert!(!target.exists());

    let reason = sandbox.refused("smd-server --dump-stdin ~/.smd/../escaped laptop Mail");
    assert!(reason.contains("outside"), "{reason}");
    assert!(!sandbox.home().join("escaped").exists());

    // Inside ~/.smd/ it is what smd-uniform-names needs.
    let output = sandbox.run(
        "smd-server --dump-stdin ~/.smd/rename-db laptop Mail",
        b"db lines\n",
    );
    assert!(output.status.success(), "{output:?}");
    let dumped = fs::read(sandbox.home().join(".smd/rename-db")).unwrap();
    assert_eq!(dumped, b"db lines\n");
}

#[test]
fn shell_syntax_runs_nothing() {
    let sandbox = Sandbox::new();
    let marker = sandbox.outside("marker");
    let touch = format!("touch {}", marker.display());
    for command in [
        format!("smd-server laptop Mail; {touch}"),
        format!("smd-server laptop Mail && {touch}"),
        format!("smd-server laptop Mail | {touch}"),
        format!("smd-server laptop $({touch})"),
        format!("smd-server laptop `{touch}`"),
        format!("smd-server laptop Mail > {}", marker.display()),
    ] {
        let reason = sandbox.refused(&command);
        assert!(reason.contains("not run by a shell"), "{reason}");
        assert!(!marker.exists(), "{command} ran something");
    }
}

#[test]
fn other_commands_and_dangerous_arguments_are_refused() {
    let sandbox = Sandbox::new();
    for (command, reason) in [
        ("", "no command given"),
        ("sh -c id", "'sh' is not allowed"),
        ("/tmp/smd-server-evil laptop Mail", "is not allowed"),
        ("smd-server laptop /etc", "mailboxes must be relative"),
        ("smd-server laptop Mail/../..", "'..'"),
        ("smd-client -t /bin/sh laptop Mail", "translator"),
        ("smd-client --rename-only laptop Mail", "smd-rename.sh"),
        ("smd-client --override-db /tmp/db laptop Mail", "outside"),
        ("mddiff --mkdir-p Mail/x", "may only list"),
        ("mddiff -l ../other", "'..'"),
    ] {
        let stderr = sandbox.refused(command);
        assert!(stderr.contains(reason), "{command}: {stderr}");
    }
}

/// A whole pull through the restricted shell: the server side runs under
/// it, the client side as smd-pull would run it.
#[test]
fn a_real_sync_goes_through() {
    let sandbox = Sandbox::new();
    let message = b"Subject: hello\nFrom: a@example.org\n\nA body.\n";
    let name = "Mail/sub/cur/1700000000.1.server:2,S";
    fs::write(sandbox.home().join(name), message).unwrap();
    let client_home = sandbox.root.path().join("client");
    fs::create_dir(&client_home).unwrap();

    let mut server = sandbox
        .command("smd-server laptop 'Mail'")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = Command::new(env!("CARGO_BIN_EXE_smd-client"))
        .args(["laptop", "Mail"])
        .env_clear()
        .env("HOME", &client_home)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&client_home)
        .stdin(server.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let relay = relay(client.stdout.take().unwrap(), server.stdin.take().unwrap());

    let server_ok = finished(&mut server, Duration::from_secs(60));
    let client_ok = finished(&mut client, Duration::from_secs(60));
    relay.join().unwrap();
    assert!(server_ok && client_ok, "server: {}", stderr_of(&mut server));
    assert_eq!(fs::read(client_home.join(name)).unwrap(), message);
}

fn relay(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
    })
}

/// Whether `child` exits successfully within `limit` (it is killed after).
fn finished(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    false
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}
