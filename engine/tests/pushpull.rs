//! End-to-end tests of `smd-pull`, `smd-push`, `smd-check-conf` and
//! `smd-uniform-names` with a fake `ssh`: a shell script first on PATH that
//! runs the remote command in the server's HOME (a folder of the sandbox),
//! where it finds our `smd-server`/`smd-client` on PATH.
//!
//! The fake ssh understands three variables, which pass to it through the
//! tool's environment:
//! - `FAKE_SSH_PATH`: the PATH of the remote side;
//! - `FAKE_SSH_CUT_S2C=N` / `FAKE_SSH_CUT_C2S=N`: the connection dies (every
//!   process of the "remote" session is SIGKILLed) once N bytes went from
//!   the server to the laptop, or the other way round;
//! - `FAKE_SSH_CUT_DELAY=S`: the cut happens S seconds after those bytes.

mod pushpull_common;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pushpull_common::*;

const FAKE_SSH: &str = r#"#!/bin/sh
# A stand-in for ssh: runs the command line in the HOME of the host,
# which is the folder (or link) @ROOT@/hosts/HOST.
root='@ROOT@'
if [ -n "$FAKE_SSH_CUT_S2C$FAKE_SSH_CUT_C2S" ] && [ -z "$FAKE_SSH_SESSION" ]; then
  # A session of our own, so that the whole "connection" can be killed.
  FAKE_SSH_SESSION=1; export FAKE_SSH_SESSION
  exec /usr/bin/setsid "$0" "$@"
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -o|-p|-F|-i|-l|-b|-c|-E|-e|-J|-L|-R|-D|-m|-O|-S|-W|-w) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
host=$1; shift
printf '%s\n' "$host $*" >> "$root/ssh.log"
if [ ! -d "$root/hosts/$host" ]; then
  echo "ssh: Could not resolve hostname $host: Name or service not known" >&2
  exit 255
fi
cd "$root/hosts/$host" || exit 255
HOME=$(pwd -P); export HOME
if [ -n "$FAKE_SSH_PATH" ]; then PATH=$FAKE_SSH_PATH; export PATH; fi
if [ -n "$FAKE_SSH_CUT_S2C" ]; then
  sh -c "$*" | {
    /usr/bin/stdbuf -o0 /usr/bin/head -c "$FAKE_SSH_CUT_S2C"
    if [ -n "$FAKE_SSH_CUT_DELAY" ]; then sleep "$FAKE_SSH_CUT_DELAY"; fi
    echo "Connection to $host closed by remote host." >&2
    kill -KILL 0
  }
  exit 255
fi
if [ -n "$FAKE_SSH_CUT_C2S" ]; then
  {
    /usr/bin/stdbuf -o0 /usr/bin/head -c "$FAKE_SSH_CUT_C2S"
    if [ -n "$FAKE_SSH_CUT_DELAY" ]; then sleep "$FAKE_SSH_CUT_DELAY"; fi
    echo "Connection to $host closed by remote host." >&2
    kill -KILL 0
  } | sh -c "$*"
  exit 255
fi
exec sh -c "$*"
"#;

/// A laptop HOME, a server HOME reachable as host `server`, and the fake
/// ssh.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lap: PathBuf,
    srv: PathBuf,
    fake_bin: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox::with_laptop_home("lap")
    }

    /// A sandbox whose laptop HOME is the folder `name`.
    fn with_laptop_home(name: &str) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (lap, srv, fake_bin) = (root.join(name), root.join("srv"), root.join("bin"));
        for folder in [&lap, &srv, &fake_bin, &root.join("hosts")] {
            fs::create_dir_all(folder).unwrap();
        }
        std::os::unix::fs::symlink(&srv, root.join("hosts/server")).unwrap();
        script(
            &fake_bin.join("ssh"),
            &FAKE_SSH.replace("@ROOT@", &root.display().to_string()),
        );
        Sandbox {
            _dir: dir,
            root,
            lap,
            srv,
            fake_bin,
        }
    }

    /// Fake ssh, then our binaries, then the system.
    fn path(&self) -> OsString {
        path_of(&[
            &self.fake_bin,
            &bin_dir(),
            Path::new("/usr/bin"),
            Path::new("/bin"),
        ])
    }

    fn run(&self, tool: &str, args: &[&str]) -> Outcome {
        self.run_env(tool, args, &[])
    }

    fn run_env(&self, tool: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        run_tool(&bin_dir().join(tool), args, &self.lap, &self.path(), env)
    }

    fn pull(&self, args: &[&str]) -> Outcome {
        self.run("smd-pull", args)
    }

    fn push(&self, args: &[&str]) -> Outcome {
        self.run("smd-push", args)
    }

    fn config(&self, name: &str, text: &str) {
        write_config(&self.lap, name, text);
    }

    /// The command lines the fake ssh ran, `HOST COMMAND`.
    fn ssh_calls(&self) -> Vec<String> {
        fs::read_to_string(self.root.join("ssh.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn log(&self, file: &str) -> String {
        fs::read_to_string(self.lap.join(".smd/log").join(file))
            .unwrap_or_else(|e| panic!("no log {file}: {e}"))
    }

    /// Both trees and both db-files agree.
    #[track_caller]
    fn assert_converged(&self, mailbox: &str, db_name: &str) {
        assert_same_tree(&self.lap.join(mailbox), &self.srv.join(mailbox));
        assert_same_db(&self.lap, &self.srv, db_name);
    }
}

/// The config of most tests: endpoint `default`, `Mail` on both sides.
const BASIC: &str = "SERVERNAME=server\nCLIENTNAME=lap-default\nMAILBOX=\"Mail/\"\n";
const BASIC_DB: &str = "lap-default__Mail.db.txt";

/// A server mailbox with a few folders, one with a space, one with `&`.
fn fill_server(srv: &Path) {
    put(srv, "Mail/cur/1001.a:2,S", &mail("inbox-1", "first"));
    put(srv, "Mail/cur/1002.b:2,", &mail("inbox-2", "second"));
    put(srv, "Mail/new/1003.c", &mail("inbox-3", "third"));
    put(srv, "Mail/.Sent/cur/2001.s:2,S", &mail("sent-1", "sent"));
    put(
        srv,
        "Mail/.My Folder/cur/3001.m:2,S",
        &mail("spaced", "space"),
    );
    put(srv, "Mail/.R&D/cur/4001.r:2,S", &mail("ampersand", "and"));
}

fn stats_of(outcome: &Outcome, who: &str) -> Stats {
    outcome
        .tag_lines()
        .iter()
        .find(|l| l.contains(who))
        .and_then(|l| parse_stats(l))
        .unwrap_or_else(|| panic!("no stats from {who}\n{}", outcome.explain()))
}

// ---------------------------------------------------------------------
// Config template, -t

#[test]
fn a_missing_config_writes_the_template() {
    let sb = Sandbox::new();
    let out = sb.pull(&[]);
    out.assert_code(1);
    let path = sb.lap.join(".smd/config.default");
    let text = fs::read_to_string(&path).expect("the template is written");
    assert!(
        out.stdout.contains(&path.display().to_string()),
        "{}",
        out.explain()
    );
    assert!(text.contains("SERVERNAME="), "{text}");
    assert!(text.contains("CLIENTNAME=`hostname`-default"), "{text}");
    assert!(text.contains("MAILBOX="), "{text}");
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 10,
        "{text}"
    );
    assert!(sb.ssh_calls().is_empty());

    // smd-push NAME and -t write it too; -t exits 0.
    sb.push(&["work"]).assert_code(1);
    assert!(sb.lap.join(".smd/config.work").is_file());
    let out = sb.pull(&["-t", "other"]);
    out.assert_ok();
    let other = fs::read_to_string(sb.lap.join(".smd/config.other")).unwrap();
    assert!(other.contains("CLIENTNAME=`hostname`-other"), "{other}");

    // -t with an existing config changes nothing.
    sb.config("default", BASIC);
    put(&sb.srv, "Mail/cur/1", &mail("x", "y"));
    let before = snapshot(&sb.lap, &[]);
    sb.pull(&["-t"]).assert_ok();
    sb.push(&["-t", "default"]).assert_ok();
    assert_eq!(snapshot(&sb.lap, &[]), before);
    assert!(sb.ssh_calls().is_empty(), "{:?}", sb.ssh_calls());
}

#[test]
fn an_old_config_file_becomes_config_default() {
    let sb = Sandbox::new();
    fs::create_dir_all(sb.lap.join(".smd")).unwrap();
    fs::write(sb.lap.join(".smd/config"), BASIC).unwrap();
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();
    assert!(!sb.lap.join(".smd/config").exists());
    assert_eq!(
        fs::read_to_string(sb.lap.join(".smd/config.default")).unwrap(),
        BASIC
    );
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn unknown_options_are_refused() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    let out = sb.pull(&["--bogus"]);
    out.assert_code(1);
    assert!(out.stdout.contains("Usage"), "{}", out.explain());
    assert!(sb.ssh_calls().is_empty());
}

// ---------------------------------------------------------------------
// Convergence

#[test]
fn pulls_and_pushes_converge() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);

    // First pull into an empty laptop.
    let out = sb.pull(&["-s"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@localhost").new_mails, 6);
    sb.assert_converged("Mail", BASIC_DB);
    assert_eq!(sb.ssh_calls(), vec!["server smd-server lap-default Mail"]);
    assert_eq!(
        db_names(&sb.lap, BASIC_DB),
        vec![
            "Mail/.My Folder/cur/3001.m:2,S",
            "Mail/.R&D/cur/4001.r:2,S",
            "Mail/.Sent/cur/2001.s:2,S",
            "Mail/cur/1001.a:2,S",
            "Mail/cur/1002.b:2,",
            "Mail/new/1003.c",
        ]
    );

    // Changes on both sides.
    let (lap, srv) = (&sb.lap, &sb.srv);
    put(
        srv,
        "Mail/new/1004.d",
        &mail("inbox-4", "new on the server"),
    );
    fs::rename(srv.join("Mail/new/1003.c"), srv.join("Mail/cur/1003.c:2,S")).unwrap();
    fs::remove_file(srv.join("Mail/.Sent/cur/2001.s:2,S")).unwrap();
    let mut changed = b"X-Label: work\n".to_vec();
    changed.extend(mail("inbox-2", "second"));
    fs::write(srv.join("Mail/cur/1002.b:2,"), &changed).unwrap();

    put(
        lap,
        "Mail/.Sent/cur/2002.t:2,S",
        &mail("sent-2", "written here"),
    );
    put(
        lap,
        "Mail/.New Here/cur/5001.n:2,S",
        &mail("folder", "new folder"),
    );
    fs::rename(
        lap.join("Mail/cur/1001.a:2,S"),
        lap.join("Mail/cur/1001.a:2,RS"),
    )
    .unwrap();
    fs::remove_file(lap.join("Mail/.R&D/cur/4001.r:2,S")).unwrap();

    let out = sb.pull(&["-s"]);
    out.assert_ok();
    let stats = stats_of(&out, "smd-client@localhost");
    assert_eq!(
        (stats.new_mails, stats.del_mails),
        (1, 1),
        "{}",
        out.explain()
    );
    let out = sb.push(&["-s"]);
    out.assert_ok();
    let stats = stats_of(&out, "smd-client@server");
    assert_eq!(
        (stats.new_mails, stats.del_mails),
        (2, 1),
        "{}",
        out.explain()
    );
    sb.assert_converged("Mail", BASIC_DB);
    assert_eq!(
        sb.ssh_calls().last().unwrap(),
        "server smd-client lap-default Mail"
    );

    // Nothing left to do either way.
    for out in [sb.pull(&["-s"]), sb.push(&["-s"])] {
        out.assert_ok();
        let stats = parse_stats(out.tag_lines()[0]).unwrap();
        assert_eq!(
            (stats.new_mails, stats.del_mails),
            (0, 0),
            "{}",
            out.explain()
        );
    }
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn a_named_endpoint_with_two_mailboxes() {
    let sb = Sandbox::new();
    sb.config(
        "work",
        "SERVERNAME=server\nCLIENTNAME=lap/top-work\nMAILBOX=\"Mail/ Other%20Box/\"\n",
    );
    put(&sb.srv, "Mail/cur/1", &mail("one", "1"));
    put(&sb.srv, "Other Box/cur/2", &mail("two", "2"));
    put(&sb.lap, "Other Box/.Sub/cur/3", &mail("three", "3"));
    sb.pull(&["work"]).assert_ok();
    sb.push(&["work"]).assert_ok();
    let db = "lap_top-work__Mail___Other_20Box.db.txt";
    sb.assert_converged("Mail", db);
    assert_same_tree(&sb.lap.join("Other Box"), &sb.srv.join("Other Box"));
    assert_eq!(
        sb.ssh_calls(),
        vec![
            "server smd-server lap/top-work Mail/ Other%20Box",
            "server smd-client lap/top-work Mail/ Other%20Box",
        ]
    );
    assert!(sb.lap.join(".smd/log/client.work.log").is_file());
}

// ---------------------------------------------------------------------
// The report

#[test]
fn the_report_shows_tags_only_when_asked() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);

    let quiet = sb.pull(&[]);
    quiet.assert_ok();
    assert_eq!(quiet.stdout, "", "{}", quiet.explain());

    put(&sb.srv, "Mail/cur/9", &mail("nine", "9"));
    let out = sb.pull(&["-s"]);
    out.assert_ok();
    let tags = out.tag_lines();
    assert_eq!(tags.len(), 1, "{}", out.explain());
    let size = mail("nine", "9").len();
    assert!(
        tags[0].starts_with(&format!(
            "default: smd-client@localhost: TAGS: stats::new-mails(1), del-mails(0), \
             bytes-received({size}), xdelta-received("
        )),
        "{}",
        out.explain()
    );
    assert!(applet_parses(tags[0]), "{}", tags[0]);

    // -v: also the INFO lines, and the tags.
    put(&sb.lap, "Mail/cur/10", &mail("ten", "10"));
    let out = sb.push(&["-v"]);
    out.assert_ok();
    let tags = out.tag_lines();
    assert_eq!(tags.len(), 1, "{}", out.explain());
    assert!(
        tags[0].starts_with("default: smd-client@server: TAGS: stats::new-mails(1), "),
        "{}",
        out.explain()
    );
    assert!(applet_parses(tags[0]));
    assert!(out.lines().len() > tags.len(), "{}", out.explain());
}

/// Mail a side leaves out of the sync is reported even by a quiet,
/// successful run: here a message that became a dangling symlink.
#[test]
fn mail_left_out_is_reported_without_being_asked() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    std::os::unix::fs::symlink("/nonexistent/message", sb.srv.join("Mail/cur/lost"))
        .unwrap();

    let out = sb.pull(&[]);
    out.assert_ok();
    assert_eq!(
        out.lines(),
        [
            "smd-server: WARNING: unable to read 'Mail/cur/lost': No such file or \
             directory (os error 2); ignoring it"
        ],
        "{}",
        out.explain()
    );
}

#[test]
fn failures_report_error_lines_of_both_sides() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    // The server has no mailbox at all.
    fs::create_dir_all(sb.srv.join("Other")).unwrap();
    let out = sb.pull(&["-s"]);
    out.assert_code(1);
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("smd-server: ERROR: ")),
        "{}",
        out.explain()
    );
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("smd-client: ERROR: ")),
        "{}",
        out.explain()
    );
    let tags = out.tag_lines();
    assert!(!tags.is_empty(), "{}", out.explain());
    assert!(tags.iter().all(|l| applet_parses(l)), "{}", out.explain());
    assert!(
        tags.iter().any(|l| l.contains("error::context(")),
        "{}",
        out.explain()
    );

    // A failure shows the ERROR lines even without -s, but no tags.
    let out = sb.pull(&[]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("smd-client: ERROR: "),
        "{}",
        out.explain()
    );
    assert!(out.tag_lines().is_empty(), "{}", out.explain());
}

/// smd 1.3 prints `NAME: smd-server@HOST: TAGS: error::context(ssh)
/// probable-cause(network) human-intervention(avoidable)
/// suggested-actions(retry)` when ssh cannot reach the server.
#[test]
fn an_unreachable_server_gives_the_ssh_tag() {
    let sb = Sandbox::new();
    sb.config(
        "default",
        "SERVERNAME=nowhere\nCLIENTNAME=lap-default\nMAILBOX=Mail\n",
    );
    put(&sb.lap, "Mail/cur/1", &mail("one", "1"));
    // The log and hook folders are made on every run, on purpose: they
    // show a new user where logs and hooks go.
    let before = snapshot(&sb.lap, &[".smd/log", ".smd/hooks"]);
    for (tool, remote) in [("smd-pull", "smd-server"), ("smd-push", "smd-client")] {
        let out = sb.run(tool, &["-s"]);
        out.assert_code(1);
        out.assert_line(&format!(
            "{remote}: ERROR: ssh: Could not resolve hostname nowhere: Name or service \
             not known"
        ));
        assert!(
            out.tag_lines().iter().any(|l| l.contains(
                "probable-cause(network) human-intervention(avoidable) \
                 suggested-actions(retry)"
            )),
            "{}",
            out.explain()
        );
        out.assert_line(&format!(
            "default: {remote}@nowhere: TAGS: error::context(ssh) \
             probable-cause(network) human-intervention(avoidable) \
             suggested-actions(retry)"
        ));
    }
    assert_eq!(snapshot(&sb.lap, &[".smd/log", ".smd/hooks"]), before);
}

/// When the server has no smd-server, the report must say so rather than
/// only blame a transient network problem (smd 1.3, finding no tags,
/// prints both logs with -s).
#[test]
fn a_missing_remote_program_is_named_in_the_report() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    for tool in ["smd-pull", "smd-push"] {
        let out = sb.run_env(tool, &["-s"], &[("FAKE_SSH_PATH", "/usr/bin:/bin")]);
        out.assert_code(1);
        assert!(
            out.stdout.contains("not found"),
            "the report hides why the server side failed\n{}",
            out.explain()
        );
    }
}

/// A small, full tmpfs mounted over a folder for the life of the value.
struct FullDisk(PathBuf);

impl FullDisk {
    fn mount_over(dir: &Path) -> FullDisk {
        fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        let full = FullDisk(dir.to_owned());
        let _ = fs::write(dir.join("filler"), vec![0u8; 128 * 1024]);
        full
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// On a full disk the local log cannot be written either: the report
/// still gives this side's own error and tags, not a guess at the network.
#[test]
fn a_failure_that_could_not_be_logged_is_still_reported() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    put(&sb.srv, "Mail/cur/1", &mail("one", "1"));
    sb.pull(&[]).assert_ok();
    fs::remove_file(sb.srv.join("Mail/cur/1")).unwrap();
    fs::write(sb.lap.join("Mail/cur/1"), mail("one", "edited here")).unwrap();
    let _full = FullDisk::mount_over(&sb.lap.join(".smd/log"));

    let out = sb.pull(&["-s"]);
    out.assert_code(1);
    let tags = out.tag_lines();
    assert!(
        tags.iter().any(|l| l.starts_with(
            "default: smd-client@localhost: TAGS: error::context(delete-message) \
             probable-cause(concurrent-mailbox-edit)"
        )),
        "{}",
        out.explain()
    );
    assert!(!out.stdout.contains("context(ssh)"), "{}", out.explain());
    assert!(
        out.stdout.contains("smd-client: ERROR: unable to delete"),
        "{}",
        out.explain()
    );
}

#[test]
fn conflicts_name_the_inverse_command() {
    let sb = Sandbox::new();
    sb.config(
        "mine",
        "SERVERNAME=server\nCLIENTNAME=lap-mine\nMAILBOX=Mail\n",
    );
    put(&sb.srv, "Mail/cur/1", &mail("one", "1"));
    put(&sb.srv, "Mail/cur/2", &mail("two", "2"));
    sb.pull(&["mine"]).assert_ok();

    // Deleted on the server, changed here: the pull cannot delete it.
    fs::remove_file(sb.srv.join("Mail/cur/1")).unwrap();
    fs::write(sb.lap.join("Mail/cur/1"), mail("one", "edited here")).unwrap();
    let out = sb.pull(&["-s", "mine"]);
    out.assert_code(1);
    assert!(!out.stdout.contains("@@"), "{}", out.explain());
    let tag = out
        .tag_lines()
        .into_iter()
        .find(|l| l.starts_with("mine: smd-client@localhost: TAGS: error::"))
        .unwrap_or_else(|| panic!("{}", out.explain()));
    assert!(tag.contains("run(smd-push mine)"), "{tag}");
    assert!(
        tag.contains(&format!(
            "display-mail(\"{}\")",
            sb.lap.join("Mail/cur/1").display()
        )),
        "{tag}"
    );
    assert!(sb.lap.join("Mail/cur/1").is_file());
    // The log keeps the placeholders; the report substitutes them.
    assert!(sb.log("client.mine.log").contains("@@INVERSECOMMAND@@"));

    // Following the advice converges.
    sb.push(&["mine"]).assert_ok();
    sb.assert_converged("Mail", "lap-mine__Mail.db.txt");

    // The other way: deleted here, changed on the server.
    fs::remove_file(sb.lap.join("Mail/cur/2")).unwrap();
    fs::write(sb.srv.join("Mail/cur/2"), mail("two", "edited there")).unwrap();
    let out = sb.push(&["-s", "mine"]);
    out.assert_code(1);
    assert!(!out.stdout.contains("@@"), "{}", out.explain());
    let tag = out
        .tag_lines()
        .into_iter()
        .find(|l| l.starts_with("mine: smd-client@server: TAGS: error::"))
        .unwrap_or_else(|| panic!("{}", out.explain()));
    assert!(tag.contains("run(smd-pull mine)"), "{tag}");
    sb.pull(&["mine"]).assert_ok();
    sb.assert_converged("Mail", "lap-mine__Mail.db.txt");
}

#[test]
fn a_db_mismatch_is_reported_by_both_sides_and_can_be_reset() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();
    let db = db_file(&sb.lap, BASIC_DB);
    let mut text = fs::read(&db).unwrap();
    text.extend_from_slice(b"0 0 Mail/cur/invented\n");
    fs::write(&db, text).unwrap();
    put(&sb.srv, "Mail/cur/new-one", &mail("new", "one"));

    for (tool, local, remote) in [
        ("smd-pull", "smd-client", "smd-server"),
        ("smd-push", "smd-server", "smd-client"),
    ] {
        let out = sb.run(tool, &["-s"]);
        out.assert_code(1);
        for side in [
            format!("default: {local}@localhost: TAGS: "),
            format!("default: {remote}@server: TAGS: "),
        ] {
            assert!(
                out.tag_lines()
                    .iter()
                    .any(|l| l.starts_with(&side)
                        && l.contains("probable-cause(db-mismatch)")),
                "{side}\n{}",
                out.explain()
            );
        }
    }
    assert!(!sb.lap.join("Mail/cur/new-one").exists());

    // As suggested: remove both db-files, and sync again.
    fs::remove_file(&db).unwrap();
    fs::remove_file(db_file(&sb.srv, BASIC_DB)).unwrap();
    let out = sb.pull(&["-s"]);
    out.assert_ok();
    assert_eq!(
        stats_of(&out, "smd-client").new_mails,
        1,
        "{}",
        out.explain()
    );
    sb.assert_converged("Mail", BASIC_DB);
}

// ---------------------------------------------------------------------
// Logs

#[test]
fn logs_hold_each_side_and_debug_adds_the_traffic() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();
    let client = sb.log("client.default.log");
    assert!(client.contains("TAGS: stats::new-mails(6)"), "{client}");
    assert!(!sb.lap.join(".smd/log/c2s.default.log").exists());
    assert!(!sb.lap.join(".smd/log/s2c.default.log").exists());

    // A push: the local side is the server, the remote the client.
    put(&sb.lap, "Mail/cur/77", &mail("seventy-seven", "77"));
    sb.push(&[]).assert_ok();
    assert!(
        sb.log("server.default.log")
            .contains("TAGS: stats::new-mails(1)"),
        "{}",
        sb.log("server.default.log")
    );
    assert!(!sb.log("client.default.log").contains("stats::"));

    sb.config("default", &format!("{BASIC}DEBUG=true\n"));
    put(&sb.srv, "Mail/cur/88", &mail("eighty-eight", "88"));
    sb.pull(&[]).assert_ok();
    let c2s = fs::read(sb.lap.join(".smd/log/c2s.default.log")).unwrap();
    let s2c = fs::read(sb.lap.join(".smd/log/s2c.default.log")).unwrap();
    let c2s = String::from_utf8_lossy(&c2s);
    let s2c = String::from_utf8_lossy(&s2c);
    assert!(c2s.starts_with("protocol 1.3\ndbfile "), "{c2s}");
    assert!(c2s.contains("GET Mail/cur/88\n"), "{c2s}");
    assert!(c2s.ends_with("COMMIT\nDONE\n"), "{c2s}");
    assert!(s2c.starts_with("protocol 1.3\ndbfile "), "{s2c}");
    assert!(s2c.contains("ADD Mail/cur/88 "), "{s2c}");
    assert!(s2c.contains("\nEND\n"), "{s2c}");
    // DEBUG makes the children verbose.
    assert_eq!(
        sb.ssh_calls().last().unwrap(),
        "server smd-server -v lap-default Mail"
    );
    sb.assert_converged("Mail", BASIC_DB);
}

// ---------------------------------------------------------------------
// Hooks

fn hook(home: &Path, dir: &str, name: &str, body: &str) {
    script(
        &home.join(".smd/hooks").join(dir).join(name),
        &format!("#!/bin/sh\n{body}\n"),
    );
}

#[test]
fn hooks_run_in_name_order_with_their_arguments() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    for dir in ["pre-pull.d", "post-pull.d", "pre-push.d", "post-push.d"] {
        hook(&sb.lap, dir, "20-second", "echo \"second $*\"");
        hook(
            &sb.lap,
            dir,
            "10-first",
            "echo \"first $*\"; echo \"stderr $1\" >&2",
        );
        // Not executable: not a hook.
        fs::write(
            sb.lap.join(".smd/hooks").join(dir).join("15-ignored"),
            "#!/bin/sh\necho ignored\n",
        )
        .unwrap();
    }
    sb.pull(&[]).assert_ok();
    let log = sb.log("client.default.log");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with("TAGS") && !l.starts_with("INFO"))
        .collect();
    assert_eq!(
        lines,
        vec![
            "first pre pull default 0",
            "stderr pre",
            "second pre pull default 0",
            "first post pull default 0",
            "stderr post",
            "second post pull default 0",
        ],
        "{log}"
    );
    let stats = log.find("TAGS: stats::").expect("the stats are logged");
    assert!(log.find("second pre pull").unwrap() < stats, "{log}");
    assert!(log.find("first post pull").unwrap() > stats, "{log}");

    put(&sb.lap, "Mail/cur/5", &mail("five", "5"));
    sb.push(&[]).assert_ok();
    let log = sb.log("client.default.log");
    assert!(log.starts_with("first pre push default 0\n"), "{log}");
    assert!(
        log.trim_end().ends_with("second post push default 0"),
        "{log}"
    );
    assert!(!log.contains("ignored"), "{log}");
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn a_failing_pre_hook_stops_the_sync_with_its_code() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    put(&sb.lap, "Mail/cur/local", &mail("local", "here"));
    hook(&sb.lap, "pre-pull.d", "10-fail", "echo refusing; exit 4");
    hook(&sb.lap, "pre-pull.d", "20-never", "echo never");
    hook(&sb.lap, "post-pull.d", "10-post", "echo \"post $*\"");
    hook(&sb.lap, "pre-push.d", "10-fail", "exit 3");
    hook(&sb.lap, "post-push.d", "10-post", "echo \"post $*\"");

    let out = sb.pull(&["-s"]);
    out.assert_code(4);
    assert!(sb.ssh_calls().is_empty(), "{:?}", sb.ssh_calls());
    assert_eq!(names(&tree(&sb.lap.join("Mail"))), vec!["cur/local"]);
    let log = sb.log("client.default.log");
    assert!(log.contains("refusing"), "{log}");
    assert!(!log.contains("never"), "{log}");
    assert!(log.contains("post post pull default 1"), "{log}");

    let out = sb.push(&[]);
    out.assert_code(3);
    assert!(sb.ssh_calls().is_empty());
    assert!(!sb.srv.join("Mail/cur/local").exists());
    assert!(sb
        .log("client.default.log")
        .contains("post post push default 1"));
}

#[test]
fn the_post_hook_sees_a_failed_sync() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    hook(&sb.lap, "post-pull.d", "10-post", "echo \"post $*\"");
    // No mailbox on the server: the sync fails.
    let out = sb.pull(&[]);
    out.assert_code(1);
    assert!(sb
        .log("client.default.log")
        .contains("post post pull default 1"));

    // A failing post hook: its code, no report.
    fill_server(&sb.srv);
    hook(&sb.lap, "post-pull.d", "20-fail", "exit 5");
    let out = sb.pull(&["-s"]);
    out.assert_code(5);
    assert!(out.tag_lines().is_empty(), "{}", out.explain());
    // The sync itself happened.
    sb.assert_converged("Mail", BASIC_DB);
}

// ---------------------------------------------------------------------
// The lock

#[test]
fn a_live_lock_holder_stops_every_tool() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = holder.id();
    let lock = sb.lap.join(".smd/lock");
    fs::write(&lock, pid.to_string()).unwrap();

    let out = sb.pull(&[]);
    let expected = format!(
        "any: smd-pushpull@localhost: TAGS: error::context(locking) \
         probable-cause(another-instance-is-running) human-intervention(necessary) \
         suggested-actions(run(kill {pid}) run(rm \"{}\"))",
        lock.display()
    );
    let ok = out.code == Some(1) && out.stdout.lines().any(|l| l == expected);
    let push = sb.push(&["-v"]);
    let check = sb.run("smd-check-conf", &[]);
    let uniform = sb.run("smd-uniform-names", &[]);
    let _ = holder.kill();
    let _ = holder.wait();

    assert!(ok, "expected exit 1 and {expected:?}\n{}", out.explain());
    push.assert_code(1);
    assert!(
        push.stdout.contains("another-instance-is-running"),
        "{}",
        push.explain()
    );
    check.assert_code(1);
    uniform.assert_code(1);
    assert!(sb.ssh_calls().is_empty(), "{:?}", sb.ssh_calls());
    assert!(!sb.lap.join("Mail").exists());
    assert_eq!(fs::read_to_string(&lock).unwrap(), pid.to_string());
}

#[test]
fn a_stale_lock_is_taken_over_and_released() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let lock = sb.lap.join(".smd/lock");
    fs::write(&lock, pid.to_string()).unwrap();
    sb.pull(&[]).assert_ok();
    assert!(!lock.exists(), "the lock is released");
    sb.assert_converged("Mail", BASIC_DB);
}

// ---------------------------------------------------------------------
// -d, -n

#[test]
fn dry_runs_change_nothing_on_either_side() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    put(&sb.lap, "Mail/cur/0001.l", &mail("local", "first"));

    // A first sync in dry-run does not even create the db-files.
    let before = (snapshot(&sb.lap, &[".smd"]), snapshot(&sb.srv, &[".smd"]));
    let out = sb.pull(&["-d"]);
    out.assert_ok();
    out.assert_contains("stats::mail-transferred(");
    let out = sb.push(&["-d"]);
    out.assert_ok();
    assert_eq!(
        (snapshot(&sb.lap, &[".smd"]), snapshot(&sb.srv, &[".smd"])),
        before
    );
    assert!(!db_file(&sb.lap, BASIC_DB).exists());
    assert!(!db_file(&sb.srv, BASIC_DB).exists());
    assert!(
        sb.ssh_calls().iter().all(|c| c.contains(" -d ")),
        "{:?}",
        sb.ssh_calls()
    );

    // After a real sync, changes on both sides, then dry runs.
    sb.pull(&[]).assert_ok();
    sb.push(&[]).assert_ok();
    fs::remove_file(sb.srv.join("Mail/cur/1001.a:2,S")).unwrap();
    put(&sb.srv, "Mail/cur/1010.x", &mail("ten", "10"));
    fs::rename(
        sb.lap.join("Mail/new/1003.c"),
        sb.lap.join("Mail/cur/1003.c:2,S"),
    )
    .unwrap();
    put(
        &sb.lap,
        "Mail/cur/0002.l",
        &mail("local-2", "a body of its own"),
    );
    let skip = [".smd/log", ".smd/hooks"];
    let before = (snapshot(&sb.lap, &skip), snapshot(&sb.srv, &[]));
    let out = sb.pull(&["-d"]);
    out.assert_ok();
    out.assert_contains("stats::mail-transferred(Mail/cur/1010.x)");
    let out = sb.push(&["-d"]);
    out.assert_ok();
    out.assert_contains("stats::mail-transferred(Mail/cur/0002.l)");
    assert_eq!((snapshot(&sb.lap, &skip), snapshot(&sb.srv, &[])), before);

    // And the real thing still works afterwards.
    sb.pull(&[]).assert_ok();
    sb.push(&[]).assert_ok();
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn no_delete_keeps_what_the_other_side_deleted() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();

    fs::remove_file(sb.srv.join("Mail/cur/1001.a:2,S")).unwrap();
    put(&sb.srv, "Mail/cur/1011.y", &mail("eleven", "11"));
    let out = sb.pull(&["-n", "-s"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@localhost").del_mails, 0);
    assert!(sb.lap.join("Mail/cur/1001.a:2,S").is_file());
    assert!(sb.lap.join("Mail/cur/1011.y").is_file());
    assert_eq!(
        sb.ssh_calls().last().unwrap(),
        "server smd-server -n lap-default Mail"
    );
    assert_same_db(&sb.lap, &sb.srv, BASIC_DB);

    fs::remove_file(sb.lap.join("Mail/cur/1002.b:2,")).unwrap();
    sb.push(&["-n"]).assert_ok();
    assert!(sb.srv.join("Mail/cur/1002.b:2,").is_file());
    assert_same_db(&sb.lap, &sb.srv, BASIC_DB);

    // SMDSERVEROPTS=-n does the same for every pull.
    sb.config("default", &format!("{BASIC}SMDSERVEROPTS=-n\n"));
    fs::remove_file(sb.srv.join("Mail/cur/1011.y")).unwrap();
    sb.pull(&[]).assert_ok();
    assert!(sb.lap.join("Mail/cur/1011.y").is_file());
}

/// What -n means in practice, as the manual pages say: the side that did
/// not delete keeps the message, the db forgets it, so the next run the
/// other way sees it as new and brings it back where it was deleted.
#[test]
fn with_no_delete_a_deleted_message_comes_back_at_the_next_run_the_other_way() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();

    // Deleted on the server, kept here by pull -n, back on the server
    // after the next push.
    fs::remove_file(sb.srv.join("Mail/cur/1001.a:2,S")).unwrap();
    sb.pull(&["-n"]).assert_ok();
    assert!(sb.lap.join("Mail/cur/1001.a:2,S").is_file());
    assert!(!db_names(&sb.lap, BASIC_DB).contains(&"Mail/cur/1001.a:2,S".to_owned()));
    let out = sb.push(&["-s"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@server").new_mails, 1);
    assert!(sb.srv.join("Mail/cur/1001.a:2,S").is_file());
    sb.assert_converged("Mail", BASIC_DB);

    // Deleted here, kept on the server by push -n, back here after the
    // next pull.
    fs::remove_file(sb.lap.join("Mail/cur/1002.b:2,")).unwrap();
    sb.push(&["-n"]).assert_ok();
    assert!(sb.srv.join("Mail/cur/1002.b:2,").is_file());
    let out = sb.pull(&["-s"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@localhost").new_mails, 1);
    assert!(sb.lap.join("Mail/cur/1002.b:2,").is_file());
    sb.assert_converged("Mail", BASIC_DB);
}

// ---------------------------------------------------------------------
// Translators

const TRANSLATED: &str = "SERVERNAME=server\nCLIENTNAME=lap-tr\nMAILBOX_LOCAL=Mail\n\
    MAILBOX_REMOTE=Maildir\nTRANSLATOR_LR=lr.sh\nTRANSLATOR_RL=bin/rl.sh\n";
const TRANSLATED_DB: &str = "lap-tr__Maildir.db.txt";

/// The laptop's tree, renamed into the server's layout.
#[track_caller]
fn assert_translated_converged(sb: &Sandbox) {
    let local: Vec<(String, Vec<u8>)> = tree(&sb.lap.join("Mail"))
        .into_iter()
        .map(|(name, bytes)| (local_to_remote(&format!("Mail/{name}")), bytes))
        .collect();
    let remote: Vec<(String, Vec<u8>)> = tree(&sb.srv.join("Maildir"))
        .into_iter()
        .map(|(name, bytes)| (format!("Maildir/{name}"), bytes))
        .collect();
    let mut local = local;
    local.sort();
    assert_eq!(
        local.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        remote.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(local == remote, "the contents differ");
    assert_same_db(&sb.lap, &sb.srv, TRANSLATED_DB);
}

fn translated_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    script(&sb.lap.join("lr.sh"), TRANSLATOR_LR);
    script(&sb.lap.join("bin/rl.sh"), TRANSLATOR_RL);
    sb.config("tr", TRANSLATED);
    put(&sb.srv, "Maildir/cur/1", &mail("one", "1"));
    put(&sb.srv, "Maildir/Foo/cur/2", &mail("two", "2"));
    put(&sb.srv, "Maildir/Foo Bar/new/3", &mail("three", "3"));
    put(&sb.srv, "Maildir/A&B/cur/4", &mail("four", "4"));
    sb
}

#[test]
fn translators_map_folders_both_ways() {
    let sb = translated_sandbox();
    sb.pull(&["tr"]).assert_ok();
    assert_eq!(
        names(&tree(&sb.lap.join("Mail"))),
        vec![".A&B/cur/4", ".Foo Bar/new/3", ".Foo/cur/2", "cur/1"]
    );
    assert_translated_converged(&sb);
    // The db speaks the server's names on both hosts.
    assert_eq!(
        db_names(&sb.lap, TRANSLATED_DB),
        vec![
            "Maildir/A&B/cur/4",
            "Maildir/Foo Bar/new/3",
            "Maildir/Foo/cur/2",
            "Maildir/cur/1"
        ]
    );
    assert_eq!(
        sb.ssh_calls(),
        vec!["server smd-server lap-tr Maildir"],
        "the remote side never translates"
    );

    put(&sb.lap, "Mail/.Foo/cur/5", &mail("five", "5"));
    put(&sb.lap, "Mail/.Fresh/cur/6", &mail("six", "6"));
    fs::rename(sb.lap.join("Mail/cur/1"), sb.lap.join("Mail/cur/1:2,S")).unwrap();
    fs::remove_file(sb.lap.join("Mail/.A&B/cur/4")).unwrap();
    let out = sb.push(&["-s", "tr"]);
    out.assert_ok();
    assert!(sb.srv.join("Maildir/Fresh/cur/6").is_file());
    assert!(sb.srv.join("Maildir/cur/1:2,S").is_file());
    assert!(!sb.srv.join("Maildir/A&B/cur/4").exists());
    assert_translated_converged(&sb);
    assert_eq!(sb.ssh_calls()[1], "server smd-client lap-tr Maildir");

    put(&sb.srv, "Maildir/Fresh/cur/7", &mail("seven", "7"));
    fs::remove_file(sb.srv.join("Maildir/Foo/cur/5")).unwrap();
    sb.pull(&["tr"]).assert_ok();
    assert!(sb.lap.join("Mail/.Fresh/cur/7").is_file());
    assert_translated_converged(&sb);
}

const FAILING_RL: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Maildir/Bad/*) echo "ERROR cannot translate $line"; exit 1 ;;
    Maildir/cur|Maildir/new|Maildir/tmp) printf '%s\n' "Mail/${line#Maildir/}" ;;
    Maildir/*) printf '%s\n' "Mail/.${line#Maildir/}" ;;
  esac
done
"#;

const FAILING_LR: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Mail/.Bad/*) echo "ERROR cannot translate $line"; exit 1 ;;
    Mail/cur|Mail/new|Mail/tmp) printf '%s\n' "Maildir/${line#Mail/}" ;;
    Mail/.*) printf '%s\n' "Maildir/${line#Mail/.}" ;;
  esac
done
"#;

#[test]
fn a_failing_translator_stops_a_pull() {
    let sb = translated_sandbox();
    script(&sb.lap.join("bin/rl.sh"), FAILING_RL);
    put(&sb.srv, "Maildir/Bad/cur/9", &mail("nine", "9"));
    let out = sb.pull(&["-s", "tr"]);
    out.assert_code(1);
    assert!(
        out.tag_lines()
            .iter()
            .any(|l| l.starts_with("tr: smd-client@localhost: TAGS: ")
                && l.contains("probable-cause(bad-translator)")),
        "{}",
        out.explain()
    );
    assert!(!sb.lap.join("Mail/.Bad").exists());
    // Nothing was committed: the server's db is still the empty first one.
    assert!(
        !sb.srv.join(".smd").join(TRANSLATED_DB).exists()
            || fs::read(sb.srv.join(".smd").join(TRANSLATED_DB))
                .unwrap()
                .is_empty()
    );
}

#[test]
fn a_failing_translator_stops_a_push() {
    let sb = translated_sandbox();
    sb.pull(&["tr"]).assert_ok();
    script(&sb.lap.join("lr.sh"), FAILING_LR);
    put(&sb.lap, "Mail/.Bad/cur/9", &mail("nine", "9"));
    put(&sb.lap, "Mail/cur/10", &mail("ten", "10"));
    let before = snapshot(&sb.srv, &[]);
    let out = sb.push(&["-s", "tr"]);
    out.assert_code(1);
    assert_eq!(snapshot(&sb.srv, &[]), before, "nothing reaches the server");
    assert!(
        out.tag_lines()
            .iter()
            .any(|l| l.starts_with("tr: smd-server@localhost: TAGS: ")
                && l.contains("probable-cause(bad-translator)")),
        "{}",
        out.explain()
    );
}

#[test]
fn a_stray_file_in_the_workarea_stops_a_push() {
    let sb = translated_sandbox();
    sb.pull(&["tr"]).assert_ok();
    put(&sb.lap, "Mail/cur/10", &mail("ten", "10"));
    put(&sb.lap, ".smd/workarea/notes.txt", b"mine");
    let out = sb.push(&["tr"]);
    out.assert_code(1);
    assert_eq!(
        fs::read(sb.lap.join(".smd/workarea/notes.txt")).unwrap(),
        b"mine"
    );
    assert!(!sb.srv.join("Maildir/cur/10").exists());
    fs::remove_file(sb.lap.join(".smd/workarea/notes.txt")).unwrap();
    sb.push(&["tr"]).assert_ok();
    assert_translated_converged(&sb);
}

#[test]
fn a_translator_escaping_the_mailbox_is_refused() {
    let sb = translated_sandbox();
    sb.pull(&["tr"]).assert_ok();
    script(
        &sb.lap.join("lr.sh"),
        "#!/bin/sh\nwhile IFS= read -r l; do echo \"../../outside/${l##*/}\"; done\n",
    );
    put(&sb.lap, "Mail/cur/10", &mail("ten", "10"));
    let before = snapshot(&sb.srv, &[]);
    sb.push(&["tr"]).assert_code(1);
    assert_eq!(snapshot(&sb.srv, &[]), before);
    assert!(!sb.root.join("outside").exists());

    // The same on a pull.
    script(
        &sb.lap.join("bin/rl.sh"),
        "#!/bin/sh\nwhile IFS= read -r l; do echo \"../../outside/${l##*/}\"; done\n",
    );
    put(&sb.srv, "Maildir/Foo/cur/11", &mail("eleven", "11"));
    let before = snapshot(&sb.lap, &[".smd"]);
    sb.pull(&["tr"]).assert_code(1);
    assert_eq!(snapshot(&sb.lap, &[".smd"]), before);
    assert!(!sb.root.join("outside").exists());
}

/// A translator that maps a folder outside MAILBOX_LOCAL would have the
/// pull write mail no push scans, and the next push delete it on the
/// server: the pull refuses it, and the server keeps everything.
#[test]
fn a_translator_answer_outside_the_local_mailbox_is_refused() {
    let sb = translated_sandbox();
    sb.pull(&["tr"]).assert_ok();
    script(
        &sb.lap.join("bin/rl.sh"),
        "#!/bin/sh\nwhile IFS= read -r l; do case $l in \
         Maildir/Spam/*) echo \"Junk/${l##*/}\" ;; \
         *) echo \"Mail${l#Maildir}\" ;; esac; done\n",
    );
    put(&sb.srv, "Maildir/Spam/cur/12", &mail("twelve", "12"));
    let before = snapshot(&sb.lap, &[".smd"]);

    let out = sb.pull(&["-v", "tr"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("outside the local mailboxes (Mail)"),
        "{}",
        out.explain()
    );
    assert_eq!(snapshot(&sb.lap, &[".smd"]), before);
    assert!(!sb.lap.join("Junk").exists());
    sb.push(&["tr"]).assert_ok();
    assert!(sb.srv.join("Maildir/Spam/cur/12").exists());
}

/// smd 1.3 looks a translator up in HOME first; HOME may contain a space.
#[test]
fn a_translator_in_a_home_with_a_space() {
    let sb = Sandbox::with_laptop_home("my laptop");
    script(&sb.lap.join("lr.sh"), TRANSLATOR_LR);
    script(&sb.lap.join("bin/rl.sh"), TRANSLATOR_RL);
    sb.config("tr", TRANSLATED);
    put(&sb.srv, "Maildir/Foo/cur/2", &mail("two", "2"));
    let out = sb.pull(&["-s", "tr"]);
    out.assert_ok();
    put(&sb.lap, "Mail/.Foo/cur/3", &mail("three", "3"));
    let out = sb.push(&["-s", "tr"]);
    out.assert_ok();
    assert_translated_converged(&sb);
    sb.run("smd-check-conf", &["tr"]).assert_ok();
}

// ---------------------------------------------------------------------
// Exclusions

#[test]
fn exclusions_with_spaces_and_ampersands() {
    let sb = Sandbox::new();
    sb.config(
        "default",
        "SERVERNAME=server\nCLIENTNAME=lap-default\nMAILBOX=Mail\n\
         EXCLUDE=\"Mail/.Junk%20Mail Mail/.R&D Mail/.Arch*\"\n",
    );
    put(&sb.srv, "Mail/cur/1", &mail("one", "1"));
    put(&sb.srv, "Mail/.Junk Mail/cur/2", &mail("junk", "2"));
    put(&sb.srv, "Mail/.R&D/cur/3", &mail("rnd", "3"));
    put(&sb.srv, "Mail/.Archive/2020/cur/4", &mail("archive", "4"));
    put(&sb.srv, "Mail/.R&E/cur/5", &mail("kept", "5"));
    sb.pull(&[]).assert_ok();
    assert_eq!(
        names(&tree(&sb.lap.join("Mail"))),
        vec![".R&E/cur/5", "cur/1"]
    );
    assert_eq!(
        sb.ssh_calls(),
        vec![
            "server smd-server --exclude Mail/.Junk%20Mail --exclude 'Mail/.R&D' \
             --exclude 'Mail/.Arch*' lap-default Mail"
        ]
    );

    put(&sb.lap, "Mail/.Junk Mail/cur/6", &mail("junk-here", "6"));
    put(&sb.lap, "Mail/.R&D/cur/7", &mail("rnd-here", "7"));
    put(&sb.lap, "Mail/.Archive/cur/8", &mail("archive-here", "8"));
    put(&sb.lap, "Mail/.R&E/cur/9", &mail("kept-here", "9"));
    sb.push(&[]).assert_ok();
    assert!(sb.srv.join("Mail/.R&E/cur/9").is_file());
    assert!(!sb.srv.join("Mail/.Junk Mail/cur/6").exists());
    assert!(!sb.srv.join("Mail/.R&D/cur/7").exists());
    assert!(!sb.srv.join("Mail/.Archive/cur/8").exists());
    assert_same_db(&sb.lap, &sb.srv, "lap-default__Mail.db.txt");
    assert_eq!(
        db_names(&sb.srv, "lap-default__Mail.db.txt"),
        vec!["Mail/.R&E/cur/5", "Mail/.R&E/cur/9", "Mail/cur/1"]
    );

    // EXCLUDE_REMOTE and EXCLUDE_LOCAL override EXCLUDE for their side.
    sb.config(
        "default",
        "SERVERNAME=server\nCLIENTNAME=lap-default\nMAILBOX=Mail\n\
         EXCLUDE=\"Mail/.R&E\"\nEXCLUDE_REMOTE=\"Mail/.R&D\"\n",
    );
    put(&sb.srv, "Mail/.R&E/cur/10", &mail("ten", "10"));
    sb.pull(&[]).assert_ok();
    assert!(sb.lap.join("Mail/.R&E/cur/10").is_file());
    assert!(sb.lap.join("Mail/.Junk Mail/cur/2").is_file());
    assert!(!sb.lap.join("Mail/.R&D/cur/3").exists());
}

// ---------------------------------------------------------------------
// Deletion guard

fn guarded_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    sb.pull(&[]).assert_ok();
    sb
}

#[track_caller]
fn assert_guard_message(out: &Outcome) {
    out.assert_code(1);
    out.assert_contains("--allow-mass-delete");
    out.assert_contains("DELETE_GUARD_PERCENT");
}

#[test]
fn the_deletion_guard_protects_a_pull() {
    let sb = guarded_sandbox();
    let laptop = tree(&sb.lap.join("Mail"));

    // The server's mailbox root vanished (renamed, unmounted).
    fs::rename(sb.srv.join("Mail"), sb.srv.join("Mail.away")).unwrap();
    sb.pull(&["-s"]).assert_code(1);
    assert_eq!(tree(&sb.lap.join("Mail")), laptop);

    // It is back, but empty.
    fs::create_dir_all(sb.srv.join("Mail/cur")).unwrap();
    let out = sb.pull(&["-s"]);
    assert_guard_message(&out);
    assert_eq!(tree(&sb.lap.join("Mail")), laptop);
    assert!(
        out.tag_lines().iter().all(|l| !l.contains("del-mails(6)")),
        "{}",
        out.explain()
    );

    // Deliberately.
    let out = sb.pull(&["-s", "--allow-mass-delete"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@localhost").del_mails, 6);
    assert!(tree(&sb.lap.join("Mail")).is_empty());
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn the_deletion_guard_protects_a_push() {
    let sb = guarded_sandbox();
    let server = tree(&sb.srv.join("Mail"));
    for name in tree(&sb.lap.join("Mail")).keys() {
        fs::remove_file(sb.lap.join("Mail").join(name)).unwrap();
    }
    let out = sb.push(&["-s"]);
    assert_guard_message(&out);
    assert_eq!(tree(&sb.srv.join("Mail")), server);

    let out = sb.push(&["-s", "--allow-mass-delete"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client@server").del_mails, 6);
    assert!(tree(&sb.srv.join("Mail")).is_empty());
    sb.assert_converged("Mail", BASIC_DB);
}

#[test]
fn a_vanished_local_mailbox_deletes_nothing_on_push() {
    let sb = guarded_sandbox();
    let server = tree(&sb.srv.join("Mail"));
    fs::rename(sb.lap.join("Mail"), sb.lap.join("Mail.away")).unwrap();
    let out = sb.push(&["-s"]);
    out.assert_code(1);
    assert_eq!(tree(&sb.srv.join("Mail")), server);
    assert!(!sb.lap.join("Mail").exists());
}

#[test]
fn the_deletion_guard_follows_its_setting() {
    let sb = guarded_sandbox();
    // Half of six is allowed at 50%: three deletions pass.
    for name in [
        "Mail/cur/1001.a:2,S",
        "Mail/cur/1002.b:2,",
        "Mail/new/1003.c",
    ] {
        fs::remove_file(sb.srv.join(name)).unwrap();
    }
    sb.pull(&[]).assert_ok();
    sb.assert_converged("Mail", BASIC_DB);

    // 100 turns it off.
    sb.config("default", &format!("{BASIC}DELETE_GUARD_PERCENT=100\n"));
    for name in tree(&sb.srv.join("Mail")).keys() {
        fs::remove_file(sb.srv.join("Mail").join(name)).unwrap();
    }
    sb.pull(&[]).assert_ok();
    assert!(tree(&sb.lap.join("Mail")).is_empty());

    sb.config("default", &format!("{BASIC}DELETE_GUARD_PERCENT=lots\n"));
    let out = sb.pull(&[]);
    out.assert_code(1);
    out.assert_contains("DELETE_GUARD_PERCENT");
}

// ---------------------------------------------------------------------
// A connection that dies

#[test]
fn a_connection_cut_during_a_pull_leaves_nothing_half_written() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    put(&sb.srv, "Mail/cur/0001.small", &mail("small", "1"));
    let big = big_mail("big", 3_000_000);
    put(&sb.srv, "Mail/cur/0002.big", &big);
    put(&sb.srv, "Mail/cur/0003.small", &mail("small-3", "3"));

    let out = sb.run_env("smd-pull", &["-s"], &[("FAKE_SSH_CUT_S2C", "1500000")]);
    out.assert_code(1);
    assert!(
        out.tag_lines()
            .iter()
            .any(|l| l.contains("suggested-actions(retry)")
                && l.contains("probable-cause(network)")),
        "{}",
        out.explain()
    );
    // No message is partly there: each is whole or absent.
    for (name, bytes) in tree(&sb.lap.join("Mail")) {
        assert_eq!(
            bytes,
            fs::read(sb.srv.join("Mail").join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(!sb.lap.join("Mail/cur/0002.big").exists());
    // The laptop's db did not move.
    let db = db_file(&sb.lap, BASIC_DB);
    assert!(!db.exists() || fs::read(&db).unwrap().is_empty());

    let out = sb.pull(&["-s"]);
    out.assert_ok();
    sb.assert_converged("Mail", BASIC_DB);
    let out = sb.pull(&["-s"]);
    assert_eq!(stats_of(&out, "smd-client").new_mails, 0);
}

#[test]
fn a_connection_cut_during_a_push_leaves_nothing_half_written() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    put(&sb.srv, "Mail/cur/0001.small", &mail("small", "1"));
    sb.pull(&[]).assert_ok();
    put(&sb.lap, "Mail/cur/0002.big", &big_mail("big", 3_000_000));
    put(&sb.lap, "Mail/cur/0003.small", &mail("small-3", "3"));
    let server_db = fs::read(db_file(&sb.srv, BASIC_DB)).unwrap();

    let out = sb.run_env("smd-push", &["-s"], &[("FAKE_SSH_CUT_C2S", "1500000")]);
    out.assert_code(1);
    assert!(
        out.tag_lines()
            .iter()
            .any(|l| l.contains("suggested-actions(retry)")),
        "{}",
        out.explain()
    );
    for (name, bytes) in tree(&sb.srv.join("Mail")) {
        assert_eq!(
            bytes,
            fs::read(sb.lap.join("Mail").join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(!sb.srv.join("Mail/cur/0002.big").exists());
    assert_eq!(fs::read(db_file(&sb.srv, BASIC_DB)).unwrap(), server_db);

    sb.push(&[]).assert_ok();
    sb.assert_converged("Mail", BASIC_DB);
    let out = sb.push(&["-s"]);
    assert_eq!(stats_of(&out, "smd-client").new_mails, 0);
}

/// The connection dies after the client committed its db but before the
/// server heard DONE: the next handshake must notice and catch up.
#[test]
fn a_connection_cut_before_done_is_recovered() {
    let setup = || {
        let sb = Sandbox::new();
        sb.config("default", &format!("{BASIC}DEBUG=true\n"));
        fill_server(&sb.srv);
        sb
    };
    // Measure what the laptop sends in a whole run.
    let probe = setup();
    probe.pull(&[]).assert_ok();
    let c2s = fs::read(probe.lap.join(".smd/log/c2s.default.log")).unwrap();
    assert!(c2s.ends_with(b"COMMIT\nDONE\n"));

    let sb = setup();
    let cut = (c2s.len() - "DONE\n".len()).to_string();
    let out = sb.run_env(
        "smd-pull",
        &["-s"],
        &[("FAKE_SSH_CUT_C2S", &cut), ("FAKE_SSH_CUT_DELAY", "1")],
    );
    out.assert_code(1);
    // Said as a network failure to retry, so that smd-loop goes on.
    assert!(
        out.tag_lines().iter().any(|l| l.contains(
            "error::context(network) probable-cause(network) \
             human-intervention(avoidable) suggested-actions(retry)"
        )),
        "{}",
        out.explain()
    );
    assert_same_tree(&sb.lap.join("Mail"), &sb.srv.join("Mail"));
    // The server still has its new db aside.
    assert!(sb.srv.join(".smd").join(format!("{BASIC_DB}.new")).exists());

    let out = sb.pull(&["-s"]);
    out.assert_ok();
    let stats = stats_of(&out, "smd-client");
    assert_eq!(
        (stats.new_mails, stats.bytes_received),
        (0, 0),
        "{}",
        out.explain()
    );
    sb.assert_converged("Mail", BASIC_DB);
    assert!(!sb.srv.join(".smd").join(format!("{BASIC_DB}.new")).exists());
}

// ---------------------------------------------------------------------
// Local sync

#[test]
fn a_local_sync_needs_no_ssh() {
    let sb = Sandbox::new();
    let translator = |from: &str, to: &str| {
        format!(
            "#!/bin/sh\nwhile IFS= read -r line; do\n  case \"$line\" in\n    \
             {from}/cur|{from}/new|{from}/tmp) printf '%s\\n' \"{to}/${{line#{from}/}}\" ;;\n    \
             {from}/*) printf '%s\\n' \"{to}/${{line#{from}/}}\" ;;\n    \
             *) echo ERROR; exit 1 ;;\n  esac\ndone\n"
        )
    };
    script(&sb.lap.join("lr.sh"), &translator("Mail", "Mail2"));
    script(&sb.lap.join("rl.sh"), &translator("Mail2", "Mail"));
    sb.config(
        "local",
        "SERVERNAME=localhost\nCLIENTNAME=here\nSMDCLIENTOPTS=-l\nMAILBOX_LOCAL=Mail\n\
         MAILBOX_REMOTE=Mail2\nTRANSLATOR_LR=lr.sh\nTRANSLATOR_RL=rl.sh\n",
    );
    put(&sb.lap, "Mail2/cur/1", &mail("one", "1"));
    put(&sb.lap, "Mail2/.Sub/cur/2", &mail("two", "2"));
    // Only our binaries on PATH: no ssh at all (not even /usr/bin).
    let path = path_of(&[&bin_dir()]);
    let run = |tool: &str, args: &[&str]| {
        run_tool(&bin_dir().join(tool), args, &sb.lap, &path, &[])
    };
    let out = run("smd-pull", &["-s", "local"]);
    out.assert_ok();
    assert!(
        out.tag_lines()[0]
            .starts_with("local: smd-client@localhost: TAGS: stats::new-mails(2)"),
        "{}",
        out.explain()
    );
    assert_same_tree(&sb.lap.join("Mail"), &sb.lap.join("Mail2"));

    put(&sb.lap, "Mail/.Sub/cur/3", &mail("three", "3"));
    fs::remove_file(sb.lap.join("Mail/cur/1")).unwrap();
    run("smd-push", &["local"]).assert_ok();
    assert_same_tree(&sb.lap.join("Mail"), &sb.lap.join("Mail2"));
    assert_eq!(
        db_names(&sb.lap, "here__Mail2.db.txt"),
        vec!["Mail2/.Sub/cur/2", "Mail2/.Sub/cur/3"]
    );
    let out = run("smd-pull", &["-s", "local"]);
    out.assert_ok();
    assert_eq!(stats_of(&out, "smd-client").new_mails, 0);
    assert!(sb.ssh_calls().is_empty());
    let check = run("smd-check-conf", &["local"]);
    check.assert_ok();
}

// ---------------------------------------------------------------------
// smd-check-conf

#[test]
fn check_conf_prints_the_round_trips() {
    let sb = translated_sandbox();
    put(&sb.lap, "Mail/.Local/cur/1", &mail("l", "1"));
    let out = sb.run("smd-check-conf", &["tr"]);
    out.assert_ok();
    for line in [
        "   Mail/.Local/cur -> Maildir/Local/cur -> Mail/.Local/cur",
        "   Mail/.Local/new -> Maildir/Local/new -> Mail/.Local/new",
        "   Maildir/Foo Bar/new -> Mail/.Foo Bar/new -> Maildir/Foo Bar/new",
        "   Maildir/A&B/cur -> Mail/.A&B/cur -> Maildir/A&B/cur",
        "   Maildir/cur -> Mail/cur -> Maildir/cur",
    ] {
        out.assert_line(line);
    }
    assert!(
        sb.ssh_calls().iter().any(|c| c.contains("-l Maildir")),
        "{:?}",
        sb.ssh_calls()
    );
    // It synchronizes nothing.
    assert!(!sb.lap.join("Mail/.Foo").exists());
    assert!(!db_file(&sb.lap, TRANSLATED_DB).exists());
}

#[test]
fn check_conf_fails_on_a_broken_round_trip() {
    let sb = translated_sandbox();
    // Remote folder names come back lower-cased.
    script(
        &sb.lap.join("bin/rl.sh"),
        r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Maildir/Foo/*) printf '%s\n' "Mail/.foo/${line##*/}" ;;
    Maildir/cur|Maildir/new|Maildir/tmp) printf '%s\n' "Mail/${line#Maildir/}" ;;
    Maildir/*) printf '%s\n' "Mail/.${line#Maildir/}" ;;
  esac
done
"#,
    );
    let out = sb.run("smd-check-conf", &["tr"]);
    out.assert_code(1);
    out.assert_contains("Maildir/Foo/cur -> Mail/.foo/cur -> Maildir/foo/cur");
    assert!(!out.stdout.contains("successfully"), "{}", out.explain());
}

#[test]
fn check_conf_fails_on_a_failing_translator() {
    let sb = translated_sandbox();
    script(&sb.lap.join("bin/rl.sh"), FAILING_RL);
    put(&sb.srv, "Maildir/Bad/cur/9", &mail("nine", "9"));
    let out = sb.run("smd-check-conf", &["tr"]);
    out.assert_code(1);
    assert!(!out.stdout.contains("successfully"), "{}", out.explain());
}

#[test]
fn check_conf_rejects_dotdot_and_a_missing_config() {
    let sb = Sandbox::new();
    sb.config(
        "bad",
        "SERVERNAME=server\nCLIENTNAME=c\nMAILBOX=\"Mail ../etc\"\n",
    );
    let out = sb.run("smd-check-conf", &["bad"]);
    out.assert_code(1);
    out.assert_contains("..");
    sb.run("smd-check-conf", &["absent"]).assert_code(1);
    sb.pull(&["bad"]).assert_code(1);
    assert!(sb.ssh_calls().is_empty());
}

// ---------------------------------------------------------------------
// smd-uniform-names

#[test]
fn uniform_names_writes_a_rename_script_before_the_first_sync() {
    let sb = Sandbox::new();
    sb.config("default", BASIC);
    fill_server(&sb.srv);
    // The same mail here, under offlineimap's names.
    for (server_name, local_name) in [
        ("Mail/cur/1001.a:2,S", "Mail/cur/1001_1.oimap,U=12:2,S"),
        (
            "Mail/.My Folder/cur/3001.m:2,S",
            "Mail/.My Folder/cur/77.x,U=3:2,S",
        ),
        ("Mail/.R&D/cur/4001.r:2,S", "Mail/.R&D/cur/it's,U=9:2,S"),
    ] {
        let bytes = fs::read(sb.srv.join(server_name)).unwrap();
        put(&sb.lap, local_name, &bytes);
    }
    put(&sb.lap, "Mail/cur/only-here", &mail("only here", "x"));

    let out = sb.run("smd-uniform-names", &["-v"]);
    out.assert_ok();
    let script_path = sb.lap.join("smd-rename.sh");
    let text = fs::read_to_string(&script_path).expect("the script is written");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("mv ")).count(),
        3,
        "{text}"
    );
    assert!(!text.contains("only-here"), "{text}");
    // It does not sync, and leaves no db behind.
    assert!(!db_file(&sb.lap, BASIC_DB).exists());
    assert!(!db_file(&sb.srv, BASIC_DB).exists());
    for home in [&sb.lap, &sb.srv] {
        let left: Vec<String> = fs::read_dir(home.join(".smd"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("rename-db"))
            .collect();
        assert!(left.is_empty(), "{} keeps {left:?}", home.display());
    }
    assert!(!sb.lap.join("Mail/cur/1002.b:2,").exists());

    let status = Command::new("/bin/sh").arg(&script_path).status().unwrap();
    assert!(status.success());
    assert!(sb.lap.join("Mail/cur/1001.a:2,S").is_file());
    assert!(sb.lap.join("Mail/.R&D/cur/4001.r:2,S").is_file());

    // The first pull now transfers only what was really missing.
    let out = sb.pull(&["-s"]);
    out.assert_ok();
    assert_eq!(
        stats_of(&out, "smd-client").new_mails,
        3,
        "{}",
        out.explain()
    );

    // Once synchronized, it refuses.
    fs::remove_file(&script_path).unwrap();
    let out = sb.run("smd-uniform-names", &[]);
    out.assert_code(1);
    out.assert_contains(BASIC_DB);
    assert!(!script_path.exists());
}

#[test]
fn uniform_names_with_translators() {
    let sb = translated_sandbox();
    let bytes = fs::read(sb.srv.join("Maildir/Foo/cur/2")).unwrap();
    put(&sb.lap, "Mail/.Foo/cur/2,U=44", &bytes);
    sb.run("smd-uniform-names", &["tr"]).assert_ok();
    let text = fs::read_to_string(sb.lap.join("smd-rename.sh")).unwrap();
    let expected = format!(
        "'{}' '{}'",
        sb.lap.join("Mail/.Foo/cur/2,U=44").display(),
        sb.lap.join("Mail/.Foo/cur/2").display()
    );
    assert!(text.contains(&expected), "{text}");
}

// ---------------------------------------------------------------------
// Config files

#[test]
fn a_config_is_a_shell_script() {
    let sb = Sandbox::new();
    sb.config(
        "sh",
        "# comment\nHOST='server'\nSERVERNAME=$HOST\nCLIENTNAME=`echo lap`-\"sh\"\n\
         MAILBOX=\"Mail\"' 'My%20Box\nif true; then EXCLUDE=\"Mail/.Skip\"; fi\n\
         echo this goes nowhere\n",
    );
    put(&sb.srv, "Mail/cur/1", &mail("one", "1"));
    put(&sb.srv, "Mail/.Skip/cur/2", &mail("two", "2"));
    put(&sb.srv, "My Box/cur/3", &mail("three", "3"));
    let out = sb.pull(&["sh"]);
    out.assert_ok();
    assert!(!out.stdout.contains("goes nowhere"), "{}", out.explain());
    assert!(sb.lap.join("Mail/cur/1").is_file());
    assert!(sb.lap.join("My Box/cur/3").is_file());
    assert!(!sb.lap.join("Mail/.Skip").exists());
    assert!(db_file(&sb.lap, "lap-sh__Mail__My_20Box.db.txt").is_file());
    assert_eq!(
        sb.ssh_calls(),
        vec!["server smd-server --exclude Mail/.Skip lap-sh Mail My%20Box"]
    );
}

#[test]
fn a_broken_config_is_reported_clearly() {
    let sb = Sandbox::new();
    sb.config(
        "broken",
        "SERVERNAME=\"server\nCLIENTNAME=lap\nMAILBOX=Mail\n",
    );
    let out = sb.pull(&["broken"]);
    out.assert_code(1);
    out.assert_contains(".smd/config.broken");
    assert!(
        out.stdout.contains("Unterminated") || out.stdout.contains("Syntax error"),
        "{}",
        out.explain()
    );
    sb.config("broken", "SERVERNAME=server\nif then\n");
    let out = sb.push(&["broken"]);
    out.assert_code(1);
    out.assert_contains("Syntax error");

    // Both kinds of mailbox settings, or neither.
    sb.config(
        "both",
        "SERVERNAME=server\nCLIENTNAME=c\nMAILBOX=Mail\nMAILBOX_LOCAL=Mail\n",
    );
    sb.pull(&["both"])
        .assert_code(1)
        .assert_contains("MAILBOX_LOCAL");
    sb.config("none", "SERVERNAME=server\nCLIENTNAME=c\n");
    sb.pull(&["none"]).assert_code(1).assert_contains("MAILBOX");
    sb.config("noserver", "CLIENTNAME=c\nMAILBOX=Mail\n");
    sb.pull(&["noserver"])
        .assert_code(1)
        .assert_contains("SERVERNAME");
    sb.config(
        "notr",
        "SERVERNAME=server\nCLIENTNAME=c\nMAILBOX_LOCAL=Mail\nMAILBOX_REMOTE=M\n\
         TRANSLATOR_LR=no-such-translator\nTRANSLATOR_RL=cat\n",
    );
    sb.pull(&["notr"])
        .assert_code(1)
        .assert_contains("no-such-translator");
    assert!(sb.ssh_calls().is_empty());
}

/// A config whose last command is false (`[ -n "$X" ] && EXCLUDE=...`) is
/// refused, as by smd 1.3; the message must say why.
#[test]
fn a_config_ending_in_a_failed_test_is_explained() {
    let sb = Sandbox::new();
    sb.config(
        "cond",
        "SERVERNAME=server\nCLIENTNAME=c\nMAILBOX=Mail\n[ -n \"$NOPE\" ] && EXCLUDE=x\n",
    );
    let out = sb.pull(&["cond"]);
    out.assert_code(1);
    let line = out
        .lines()
        .into_iter()
        .find(|l| l.contains("config.cond"))
        .unwrap_or_else(|| panic!("{}", out.explain()));
    let reason = line.rsplit_once("/bin/sh:").map_or(line, |(_, r)| r).trim();
    assert!(
        !reason.is_empty(),
        "the error gives no reason: {line:?}\n{}",
        out.explain()
    );
}
