//! `smd-pull`/`smd-push` over a real OpenSSH connection on 127.0.0.1.
//!
//! Each test starts its own `sshd` (`/usr/sbin/sshd -D -e -f CONFIG`) on a
//! free loopback port, with a throwaway host key and a throwaway user key.
//! The key's `command=` in `authorized_keys` runs a wrapper that moves to
//! the test's server HOME, sets HOME and PATH (so that our
//! `smd-server`/`smd-client` are found) and runs `$SSH_ORIGINAL_COMMAND`;
//! no system user and nothing in /root is touched. The laptop side finds,
//! first on PATH, an `ssh` that runs `/usr/bin/ssh -F TEMP/ssh_config`,
//! where the host alias `server` points at that sshd.
//!
//! sshd needs `/run/sshd` (its privilege separation folder, normally made
//! by the package's init script): it is created when missing. Tests FAIL,
//! with the reason, when sshd cannot be run here.

mod pushpull_common;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pushpull_common::*;

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

/// A laptop HOME, a server HOME behind our own sshd, and the ssh wrapper.
struct Loopback {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lap: PathBuf,
    srv: PathBuf,
    wrapper_bin: PathBuf,
    sshd: Option<Sshd>,
    port: u16,
}

/// The running sshd; stopped, with every session it started, when dropped
/// (also when a test panics).
struct Sshd {
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        kill_pids(&descendants(self.child.id()));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pids of every process below `pid`, read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and ')'.
        let Some(after) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            continue;
        };
        if let Some(parent) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok())
        {
            children.entry(parent).or_default().push(child);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for &child in children.get(&next).map(Vec::as_slice).unwrap_or(&[]) {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

#[track_caller]
fn require(path: &str) {
    assert!(
        Path::new(path).is_file(),
        "{path} is missing: these tests need OpenSSH (apt-get install openssh-server \
         openssh-client, as scripts/install-deps does)"
    );
}

fn keygen(path: &Path) {
    let status = Command::new(SSH_KEYGEN)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "smd-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

impl Loopback {
    fn start() -> Loopback {
        for program in [SSHD, SSH, SSH_KEYGEN] {
            require(program);
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(
            !root.to_string_lossy().contains([' ', '\'', '"', '\\']),
            "the temporary folder {} needs quoting",
            root.display()
        );
        let (lap, srv, wrapper_bin) =
            (root.join("lap"), root.join("srv"), root.join("bin"));
        for folder in [&lap, &srv, &wrapper_bin] {
            fs::create_dir_all(folder).unwrap();
        }
        keygen(&root.join("host_key"));
        keygen(&root.join("user_key"));

        // The remote side: HOME and PATH for our programs, and a way to
        // stall the transfer so that the test can kill the connection.
        script(
            &root.join("remote.sh"),
            &format!(
                r#"#!/bin/sh
cd '{srv}' || exit 1
HOME='{srv}'; PATH='{bin}:/usr/bin:/bin'; export HOME PATH
if [ -e '{root}/stall' ]; then
  /bin/sh -c "$SSH_ORIGINAL_COMMAND" | {{
    /usr/bin/stdbuf -o0 /usr/bin/head -c "$(cat '{root}/stall')"
    : > '{root}/stalled'
    sleep 60
    cat
  }}
  exit 1
fi
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"#,
                srv = srv.display(),
                bin = bin_dir().display(),
                root = root.display(),
            ),
        );
        let user_key = fs::read_to_string(root.join("user_key.pub")).unwrap();
        fs::write(
            root.join("authorized_keys"),
            format!(
                "restrict,command=\"{}/remote.sh\" {}",
                root.display(),
                user_key.trim()
            ),
        )
        .unwrap();

        // The laptop side.
        script(
            &wrapper_bin.join("ssh"),
            &format!(
                "#!/bin/sh\nexec {SSH} -F '{}/ssh_config' \"$@\"\n",
                root.display()
            ),
        );

        if !Path::new("/run/sshd").is_dir() {
            fs::create_dir_all("/run/sshd").unwrap_or_else(|e| {
                panic!("sshd needs /run/sshd, which cannot be created: {e}")
            });
        }

        let mut lb = Loopback {
            _dir: dir,
            root,
            lap,
            srv,
            wrapper_bin,
            sshd: None,
            port: 0,
        };
        lb.start_sshd();
        lb
    }

    /// Starts sshd on a free port, retrying when another process took the
    /// port in between.
    fn start_sshd(&mut self) {
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            self.write_configs(port);
            let log = self.root.join("sshd.log");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(self.root.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}"));
            let mut sshd = Sshd { child };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(status) = sshd.child.try_wait().unwrap() {
                    last_log = fs::read_to_string(&log).unwrap_or_default();
                    if last_log.contains("Address already in use") {
                        break;
                    }
                    panic!("sshd could not start here ({status}):\n{last_log}");
                }
                if banner_ok(port) {
                    self.port = port;
                    self.sshd = Some(sshd);
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "sshd did not answer on 127.0.0.1:{port} within 10 s:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("sshd found no free port:\n{last_log}");
    }

    fn write_configs(&self, port: u16) {
        let root = self.root.display();
        fs::write(
            self.root.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n\
                 AuthorizedKeysFile {root}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PidFile {root}/sshd.pid\nPermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUseDNS no\nPermitUserEnvironment no\n\
                 X11Forwarding no\nAllowTcpForwarding no\nLogLevel VERBOSE\n"
            ),
        )
        .unwrap();
        fs::write(
            self.root.join("ssh_config"),
            format!(
                "Host server\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {root}/user_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {root}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking accept-new\n  BatchMode yes\n  ConnectTimeout 10\n  \
                 LogLevel ERROR\n"
            ),
        )
        .unwrap();
    }

    /// Stops sshd and every connection it serves.
    fn stop_sshd(&mut self) {
        self.sshd = None;
    }

    /// Kills the processes serving the open connections (not the
    /// listener): the TCP connections drop as if the network had.
    fn kill_sessions(&self) {
        let sshd = self.sshd.as_ref().expect("sshd runs");
        kill_pids(&descendants(sshd.child.id()));
    }

    fn run(&self, tool: &str, args: &[&str]) -> Outcome {
        let path = path_of(&[
            &self.wrapper_bin,
            &bin_dir(),
            Path::new("/usr/bin"),
            Path::new("/bin"),
        ]);
        run_tool(&bin_dir().join(tool), args, &self.lap, &path, &[])
    }

    fn sshd_log(&self) -> String {
        fs::read_to_string(self.root.join("sshd.log")).unwrap_or_default()
    }

    #[track_caller]
    fn assert_converged(&self) {
        assert_same_tree(&self.lap.join("Mail"), &self.srv.join("Mail"));
        assert_same_db(&self.lap, &self.srv, DB);
    }
}

/// Whether something answers an SSH banner on the port.
fn banner_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

const CONFIG: &str = "SERVERNAME=server\nCLIENTNAME=lap-default\nMAILBOX=Mail\n";
const DB: &str = "lap-default__Mail.db.txt";

fn stats(out: &Outcome) -> Stats {
    out.tag_lines()
        .iter()
        .find_map(|l| parse_stats(l))
        .unwrap_or_else(|| panic!("no stats\n{}", out.explain()))
}

#[test]
fn pull_and_push_converge_over_openssh() {
    let lb = Loopback::start();
    write_config(&lb.lap, "default", CONFIG);
    put(&lb.srv, "Mail/cur/1:2,S", &mail("one", "1"));
    put(&lb.srv, "Mail/new/2", &mail("two", "2"));
    put(&lb.srv, "Mail/.With Space/cur/3:2,S", &mail("three", "3"));
    put(&lb.srv, "Mail/.R&D/cur/4:2,S", &mail("four", "4"));

    let out = lb.run("smd-pull", &["-s"]);
    out.assert_ok();
    assert_eq!(stats(&out).new_mails, 4);
    assert!(
        out.tag_lines()[0].starts_with("default: smd-client@localhost: TAGS: stats::"),
        "{}",
        out.explain()
    );
    lb.assert_converged();
    assert!(
        lb.sshd_log().contains("Accepted publickey for root"),
        "{}",
        lb.sshd_log()
    );

    put(&lb.lap, "Mail/cur/5:2,S", &mail("five", "5"));
    put(&lb.lap, "Mail/.New Folder/cur/6", &mail("six", "6"));
    fs::rename(lb.lap.join("Mail/new/2"), lb.lap.join("Mail/cur/2:2,S")).unwrap();
    fs::remove_file(lb.lap.join("Mail/cur/1:2,S")).unwrap();
    let out = lb.run("smd-push", &["-s"]);
    out.assert_ok();
    let s = stats(&out);
    assert_eq!((s.new_mails, s.del_mails), (2, 1), "{}", out.explain());
    assert!(
        out.tag_lines()[0].starts_with("default: smd-client@server: TAGS: stats::"),
        "{}",
        out.explain()
    );
    lb.assert_converged();

    put(&lb.srv, "Mail/cur/7", &mail("seven", "7"));
    lb.run("smd-pull", &[]).assert_ok();
    lb.assert_converged();
    let out = lb.run("smd-push", &["-s"]);
    out.assert_ok();
    assert_eq!(stats(&out).new_mails, 0);
}

#[test]
fn an_unreachable_sshd_gives_the_ssh_retry_tag() {
    let mut lb = Loopback::start();
    write_config(&lb.lap, "default", CONFIG);
    put(&lb.srv, "Mail/cur/1", &mail("one", "1"));
    lb.run("smd-pull", &[]).assert_ok();
    lb.stop_sshd();
    put(&lb.srv, "Mail/cur/2", &mail("two", "2"));
    let before = snapshot(&lb.lap, &[".smd/log"]);

    let out = lb.run("smd-pull", &["-s"]);
    out.assert_code(1);
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("smd-server: ERROR: ssh: connect to host 127.0.0.1")),
        "{}",
        out.explain()
    );
    assert_eq!(snapshot(&lb.lap, &[".smd/log"]), before);
    // Whatever else is said, the run must be marked as one to retry...
    assert!(
        out.tag_lines().iter().any(|l| l.contains(
            "probable-cause(network) human-intervention(avoidable) suggested-actions(retry)"
        )),
        "{}",
        out.explain()
    );
    // ...and, as smd 1.3 does, blame ssh on the server's side.
    out.assert_line(
        "default: smd-server@server: TAGS: error::context(ssh) probable-cause(network) \
         human-intervention(avoidable) suggested-actions(retry)",
    );
}

#[test]
fn a_connection_killed_mid_run_then_converges() {
    let lb = Loopback::start();
    write_config(&lb.lap, "default", CONFIG);
    put(&lb.srv, "Mail/cur/1", &mail("one", "1"));
    let big = big_mail("big", 4_000_000);
    put(&lb.srv, "Mail/cur/2.big", &big);
    put(&lb.srv, "Mail/cur/3", &mail("three", "3"));

    // The server's output stalls after 1 MB; the test then kills the
    // connection.
    fs::write(lb.root.join("stall"), "1000000").unwrap();
    let out = std::thread::scope(|scope| {
        let pull = scope.spawn(|| lb.run("smd-pull", &["-s"]));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lb.root.join("stalled").exists() {
            assert!(
                Instant::now() < deadline && !pull.is_finished(),
                "the transfer never stalled\n{}",
                lb.sshd_log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        lb.kill_sessions();
        pull.join().unwrap()
    });
    out.assert_code(1);
    assert!(
        out.tag_lines()
            .iter()
            .any(|l| l.contains("probable-cause(network)") && l.contains("retry")),
        "{}",
        out.explain()
    );
    for (name, bytes) in tree(&lb.lap.join("Mail")) {
        assert_eq!(
            bytes,
            fs::read(lb.srv.join("Mail").join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(!lb.lap.join("Mail/cur/2.big").exists());

    fs::remove_file(lb.root.join("stall")).unwrap();
    let out = lb.run("smd-pull", &["-s"]);
    out.assert_ok();
    lb.assert_converged();
    assert_eq!(fs::read(lb.lap.join("Mail/cur/2.big")).unwrap(), big);
    let out = lb.run("smd-pull", &["-s"]);
    assert_eq!(stats(&out).new_mails, 0, "{}", out.explain());
}
