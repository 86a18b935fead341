//! A translator that refuses a folder says why: on the lines after its
//! `ERROR`, or on stderr. That reason must reach the person, in the
//! report of `smd-pull`, `smd-push` and `smd-check-conf`, in the client
//! log, and in the typed failure the applet reads.
//!
//! Everything runs as a local synchronization (`SERVERNAME=localhost`,
//! `SMDCLIENTOPTS=-l`): the "server" mailbox `Maildir` is in the same
//! HOME, and no ssh is involved.

mod pushpull_common;

use std::fs;
use std::path::{Path, PathBuf};

use pushpull_common::*;

/// Maps `Maildir/X` to `Mail/.X` and back, like the translators of the
/// other tests, but refuses the folder `Bad` the way `smd-translate` does:
/// `ERROR`, then the reason on the next line, and a hint on stderr.
const REFUSING_RL: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Maildir/Bad/*)
      echo ERROR
      echo "no local name for $line"
      echo "rl.sh: add a rule for Bad" >&2
      exit 1 ;;
    Maildir/cur|Maildir/new|Maildir/tmp) printf '%s\n' "Mail/${line#Maildir/}" ;;
    Maildir/*) printf '%s\n' "Mail/.${line#Maildir/}" ;;
  esac
done
"#;

const REFUSING_LR: &str = r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    Mail/.Bad/*)
      echo "ERROR: no remote name for $line"
      echo "lr.sh: add a rule for .Bad" >&2
      exit 1 ;;
    Mail/cur|Mail/new|Mail/tmp) printf '%s\n' "Maildir/${line#Mail/}" ;;
    Mail/.*) printf '%s\n' "Maildir/${line#Mail/.}" ;;
  esac
done
"#;

const CONFIG: &str = "SERVERNAME=localhost\nCLIENTNAME=here\nSMDCLIENTOPTS=-l\n\
    MAILBOX_LOCAL=Mail\nMAILBOX_REMOTE=Maildir\nTRANSLATOR_LR=lr.sh\nTRANSLATOR_RL=bin/rl.sh\n";

/// A HOME with the refusing translators and endpoint `tr`.
struct Home {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        script(&path.join("lr.sh"), REFUSING_LR);
        script(&path.join("bin/rl.sh"), REFUSING_RL);
        write_config(&path, "tr", CONFIG);
        put(&path, "Maildir/cur/1", &mail("one", "1"));
        put(&path, "Mail/cur/2", &mail("two", "2"));
        Home { _dir: dir, path }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Outcome {
        // Our programs and the shell's tools only: no ssh.
        let path = path_of(&[&bin_dir(), Path::new("/usr/bin"), Path::new("/bin")]);
        run_tool(&bin_dir().join(tool), args, &self.path, &path, &[])
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.path.join(".smd/log").join(name)).unwrap()
    }
}

/// The folder of the line `{start}refused the folder 'F', saying:`, one of
/// the folders of `Mail/.Bad`.
#[track_caller]
fn refused_folder(out: &Outcome, start: &str) -> String {
    let prefix = format!("{start}refused the folder '");
    let folder = out
        .lines()
        .iter()
        .find_map(|line| line.strip_prefix(&prefix)?.strip_suffix("', saying:"))
        .unwrap_or_else(|| panic!("no refusal\n{}", out.explain()))
        .to_owned();
    assert!(
        ["Mail/.Bad/cur", "Mail/.Bad/new"].contains(&folder.as_str()),
        "{folder}"
    );
    folder
}

#[test]
fn a_pull_reports_what_the_translator_said() {
    let home = Home::new();
    put(&home.path, "Maildir/Bad/cur/9", &mail("nine", "9"));

    let out = home.run("smd-pull", &["-s", "tr"]);
    out.assert_code(1);
    out.assert_line(
        "smd-client: ERROR: the translator 'bin/rl.sh' refused the folder \
         'Maildir/Bad/cur', saying:",
    );
    out.assert_line("smd-client: ERROR:   no local name for Maildir/Bad/cur");
    out.assert_line("smd-client: ERROR:   rl.sh: add a rule for Bad");
    out.assert_contains("smd-client: ERROR: fix the translator");
    out.assert_contains(
        "tr: smd-client@localhost: TAGS: error::context(translate) \
         probable-cause(bad-translator) human-intervention(necessary)",
    );

    let log = home.log("client.tr.log");
    assert!(
        log.contains("ERROR:   no local name for Maildir/Bad/cur"),
        "{log}"
    );
    assert!(!home.path.join("Mail/.Bad").exists());
}

#[test]
fn a_push_reports_what_the_translator_said() {
    let home = Home::new();
    put(&home.path, "Mail/.Bad/cur/9", &mail("nine", "9"));

    let out = home.run("smd-push", &["-s", "tr"]);
    out.assert_code(1);
    // The folders of .Bad go to the translator in the order they are met.
    let refused = refused_folder(&out, "smd-server: ERROR: the translator 'lr.sh' ");
    out.assert_line(&format!(
        "smd-server: ERROR:   no remote name for {refused}"
    ));
    out.assert_line("smd-server: ERROR:   lr.sh: add a rule for .Bad");
    out.assert_contains("probable-cause(bad-translator)");
    assert!(!home.path.join("Maildir/Bad").exists());
    assert!(!home.path.join("Maildir/cur/2").exists());
}

#[test]
fn check_conf_reports_what_the_translator_said() {
    let home = Home::new();
    put(&home.path, "Mail/.Bad/cur/9", &mail("nine", "9"));

    let out = home.run("smd-check-conf", &["tr"]);
    out.assert_code(1);
    let refused = refused_folder(&out, "ERROR: the translator 'lr.sh' ");
    out.assert_line(&format!("ERROR:   no remote name for {refused}"));
    out.assert_line("ERROR:   lr.sh: add a rule for .Bad");
}

/// `smd-translate` refuses before reading anything when its endpoint has
/// no config; its `ERROR` and reason must not be lost in the broken pipe.
#[test]
fn a_translator_that_refuses_at_once_is_heard() {
    let home = Home::new();
    write_config(
        &home.path,
        "tr",
        &CONFIG.replace("bin/rl.sh", "\"smd-translate -d RL nosuch\""),
    );

    let out = home.run("smd-pull", &["tr"]);
    out.assert_code(1);
    out.assert_contains("refused the folder 'Maildir/cur', saying:");
    out.assert_contains(&format!(
        "smd-client: ERROR:   smd-translate: no configuration for the endpoint \
         'nosuch': unable to read {}",
        home.path.join(".smd/config.nosuch").display()
    ));
}

/// The applet gets the failure as a value: the reason is in it.
#[test]
fn the_typed_failure_carries_the_reason() {
    let home = Home::new();
    put(&home.path, "Mail/.Bad/cur/9", &mail("nine", "9"));

    let config = smd::config::Config::load(&home.path, "tr").unwrap();
    let outcome = smd::sync::run_sync(
        &home.path,
        &config,
        smd::sync::Direction::Push,
        &smd::sync::SyncOptions::default(),
        &mut |_| {},
    );
    assert_eq!(outcome.exit_code, 1);
    let failure = outcome.failure.expect("a failure");
    assert_eq!(failure.tags.cause, "bad-translator");
    assert_eq!(failure.tags.context, "workarea");
    assert!(
        failure
            .message
            .contains("\n  no remote name for Mail/.Bad/"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("lr.sh: add a rule for .Bad"),
        "{}",
        failure.message
    );
}
