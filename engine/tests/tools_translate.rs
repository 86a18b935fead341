//! `smd-translate` must name folders exactly as smd 1.3's did, since the
//! names end up in db-files and on disk. The tables below were worked out
//! from 1.3's code and checked by running 1.3's `smd-translate` on the
//! same lines: each row is an input line and the answer.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// Different roots on the two sides, written with quotes and a trailing
/// slash that the translator strips.
const SPLIT: &str = "split";
const SPLIT_CONFIG: &str = "\
# MAILBOX=not-this-one
SERVERNAME=server
MAILBOX_LOCAL=\"Mail/\"
MAILBOX_REMOTE='Maildir'
";

/// The same root on both sides.
const SHARED: &str = "shared";
const SHARED_CONFIG: &str = "MAILBOX=Mail\n";

/// Every input of the `SPLIT` tables: local names first, then remote ones.
const LOCAL_INPUTS: usize = 13;

fn translator() -> &'static str {
    env!("CARGO_BIN_EXE_smd-translate")
}

struct Sandbox {
    home: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let home = tempfile::tempdir().unwrap();
        let smd = home.path().join(".smd");
        std::fs::create_dir(&smd).unwrap();
        std::fs::write(smd.join(format!("config.{SPLIT}")), SPLIT_CONFIG).unwrap();
        std::fs::write(smd.join(format!("config.{SHARED}")), SHARED_CONFIG).unwrap();
        Sandbox { home }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn run(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(translator())
            .args(args)
            .env("HOME", self.home())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A translator that refuses its arguments exits without reading.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    }

    /// The answers to `lines`, one each.
    fn map(
        &self,
        endpoint: &str,
        mode: &str,
        direction: &str,
        lines: &[&str],
    ) -> Vec<String> {
        let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let output = self.run(&["-m", mode, "-d", direction, endpoint], &input);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `(input, answer)` rows of a table.
fn rows(table: &str) -> Vec<(&str, &str)> {
    table
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.split_whitespace();
            let row = (columns.next().unwrap(), columns.next().unwrap());
            assert!(columns.next().is_none(), "bad row {line:?}");
            row
        })
        .collect()
}

fn check(sandbox: &Sandbox, endpoint: &str, mode: &str, direction: &str, table: &str) {
    let rows = rows(table);
    let inputs: Vec<&str> = rows.iter().map(|row| row.0).collect();
    let answers = sandbox.map(endpoint, mode, direction, &inputs);
    assert_eq!(answers.len(), rows.len(), "{mode} {direction}: {answers:?}");
    for ((input, expected), answer) in rows.iter().zip(&answers) {
        assert_eq!(
            answer, expected,
            "{endpoint} {mode} {direction}: {input} gave {answer}, 1.3 gives {expected}"
        );
    }
}

#[test]
fn split_roots_map_like_smd_1_3() {
    let sandbox = Sandbox::new();
    for (mode, direction, table) in [
        ("oimap-dovecot", "LR", SPLIT_OIMAP_DOVECOT_LR),
        ("oimap-dovecot", "RL", SPLIT_OIMAP_DOVECOT_RL),
        ("nodots", "LR", SPLIT_NODOTS_LR),
        ("nodots", "RL", SPLIT_NODOTS_RL),
        ("nodots2", "LR", SPLIT_NODOTS2_LR),
        ("nodots2", "RL", SPLIT_NODOTS2_RL),
        ("move", "LR", SPLIT_MOVE_LR),
        ("move", "RL", SPLIT_MOVE_RL),
    ] {
        check(&sandbox, SPLIT, mode, direction, table);
    }
}

#[test]
fn shared_root_maps_like_smd_1_3() {
    let sandbox = Sandbox::new();
    for (mode, direction, table) in [
        ("oimap-dovecot", "LR", SHARED_OIMAP_DOVECOT_LR),
        ("oimap-dovecot", "RL", SHARED_OIMAP_DOVECOT_RL),
        ("nodots", "LR", SHARED_NODOTS_LR),
        ("nodots", "RL", SHARED_NODOTS_RL),
        ("nodots2", "LR", SHARED_NODOTS2_LR),
        ("nodots2", "RL", SHARED_NODOTS2_RL),
    ] {
        check(&sandbox, SHARED, mode, direction, table);
    }
}

#[test]
fn cat_answers_the_input_and_oimap_dovecot_is_the_default() {
    let sandbox = Sandbox::new();
    let inputs: Vec<&str> = rows(SPLIT_MOVE_LR).iter().map(|row| row.0).collect();
    for direction in ["LR", "RL"] {
        assert_eq!(sandbox.map(SPLIT, "cat", direction, &inputs), inputs);
    }

    let output = sandbox.run(&["-d", "LR", SPLIT], "Mail/a/cur\nMail/cur\n");
    assert_eq!(output.stdout, b"Maildir/.a/cur\nMaildir/cur\n");
}

/// Inputs whose round trip (LR then RL for local names, RL then LR for
/// remote ones) does not give them back in 1.3 either.
const BROKEN_ROUND_TRIPS: &[(&str, &[&str])] = &[
    (
        "oimap-dovecot",
        &["Maildir/foo/bar/cur", "Maildirx/.a/cur", "Maildir///x/cur"],
    ),
    (
        "nodots",
        &[
            "Mail/.foo/cur",
            "Mail/foo.bar/new",
            "Mail/..foo.bar/tmp",
            "Maildir/foo/bar/cur",
            "Maildir///x/cur",
        ],
    ),
    (
        "nodots2",
        &[
            "Mail/foo/cur",
            "Mail/.foo/cur",
            "Mail/foo.bar/new",
            "Mail/a/b/cur",
            "Mail/a/cur/b/new",
            "Mail//cur",
            "Maildir/.foo/cur",
            "Maildir/.foo.bar/new",
            "Maildir/..x/cur",
            "Maildir///x/cur",
        ],
    ),
    ("move", &[]),
    ("cat", &[]),
];

#[test]
fn round_trips_give_the_input_back_where_1_3_does() {
    let sandbox = Sandbox::new();
    let inputs: Vec<&str> = rows(SPLIT_MOVE_LR).iter().map(|row| row.0).collect();
    let (local, remote) = inputs.split_at(LOCAL_INPUTS);

    for (mode, broken) in BROKEN_ROUND_TRIPS {
        let there = sandbox.map(SPLIT, mode, "LR", local);
        let there: Vec<&str> = there.iter().map(String::as_str).collect();
        let local_back = sandbox.map(SPLIT, mode, "RL", &there);

        let there = sandbox.map(SPLIT, mode, "RL", remote);
        let there: Vec<&str> = there.iter().map(String::as_str).collect();
        let remote_back = sandbox.map(SPLIT, mode, "LR", &there);

        let back = local_back.iter().chain(&remote_back);
        for (input, back) in inputs.iter().zip(back) {
            assert_eq!(
                input == back,
                !broken.contains(input),
                "{mode}: {input} came back as {back}"
            );
        }
    }
}

#[test]
fn answers_each_line_before_the_next_arrives() {
    let sandbox = Sandbox::new();
    let mut child = Command::new(translator())
        .args(["-m", "nodots", "-d", "RL", SPLIT])
        .env("HOME", sandbox.home())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());

    for (folder, expected) in [
        ("Maildir/.a.b/cur", "Mail/a/b/cur\n"),
        ("Maildir/new", "Mail/new\n"),
    ] {
        writeln!(input, "{folder}").unwrap();
        input.flush().unwrap();
        let mut answer = String::new();
        output.read_line(&mut answer).unwrap();
        assert_eq!(answer, expected);
    }

    drop(input);
    assert!(child.wait().unwrap().success());
}

#[test]
fn errors_print_error_and_a_reason_on_stdout() {
    let sandbox = Sandbox::new();
    for (args, reason) in [
        (&["-d", "LR"][..], "no endpoint"),
        (&["-d", "LR", SPLIT, "extra"][..], "one endpoint only"),
        (&[SPLIT][..], "no direction"),
        (&["-d", "XX", SPLIT][..], "neither LR nor RL"),
        (
            &["-m", "bogus", "-d", "LR", SPLIT][..],
            "unknown mode 'bogus'",
        ),
        (&["-d", "LR", "missing"][..], "config.missing"),
        (&["--bogus", "-d", "LR", SPLIT][..], "unrecognized option"),
    ] {
        let output = sandbox.run(args, "Mail/cur\n");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}");
        assert!(
            stdout.starts_with("ERROR\nsmd-translate: "),
            "{args:?}: {stdout}"
        );
        assert!(stdout.contains(reason), "{args:?}: {stdout}");
    }
}

#[test]
fn a_config_without_roots_is_an_error_except_for_cat() {
    let sandbox = Sandbox::new();
    let config = sandbox.home().join(".smd/config.empty");
    std::fs::write(config, "SERVERNAME=server\n").unwrap();

    let output = sandbox.run(&["-d", "LR", "empty"], "Mail/cur\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("MAILBOX_LOCAL"));

    let output = sandbox.run(&["-m", "cat", "-d", "LR", "empty"], "Mail/cur\n");
    assert_eq!(output.stdout, b"Mail/cur\n");
}

/// `cat` maps nothing, so it needs no roots: no config, no endpoint, not
/// even HOME (1.3 demanded a config all the same).
#[test]
fn cat_needs_no_config_and_no_endpoint() {
    let empty_home = tempfile::tempdir().unwrap();
    let input = "Maildir/.a b/cur\nMaildir/cur\n";
    let run = |args: &[&str], home: Option<&Path>| {
        let mut command = Command::new(translator());
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match home {
            Some(home) => command.env("HOME", home),
            None => command.env_remove("HOME"),
        };
        let mut child = command.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    };

    for (args, home) in [
        (&["-m", "cat", "-d", "RL"][..], Some(empty_home.path())),
        (
            &["-m", "cat", "-d", "LR", "nowhere"][..],
            Some(empty_home.path()),
        ),
        (&["-d", "RL", "-m", "cat"][..], None),
    ] {
        let output = run(args, home);
        assert!(output.status.success(), "{args:?}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), input, "{args:?}");
    }

    // The modes that map roots still need them.
    let output = run(
        &["-m", "move", "-d", "LR", "nowhere"],
        Some(empty_home.path()),
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(
            "ERROR\nsmd-translate: no configuration for the endpoint 'nowhere'"
        ),
        "{stdout}"
    );
    let output = run(&["-m", "move", "-d", "LR"], Some(empty_home.path()));
    assert!(String::from_utf8_lossy(&output.stdout).contains("no endpoint given"));
    assert!(
        !empty_home.path().join(".smd").exists(),
        "it wrote a config"
    );
}

/// 1.3 crashed on `%20` in a root ("invalid capture index"); it is
/// decoded here, as elsewhere in the config.
#[test]
fn roots_with_spaces_are_written_with_percent_20() {
    let sandbox = Sandbox::new();
    let config = sandbox.home().join(".smd/config.spaces");
    std::fs::write(
        config,
        "MAILBOX_LOCAL=My%20Mail\nMAILBOX_REMOTE=Remote%20Mail\n",
    )
    .unwrap();
    let answers = sandbox.map("spaces", "nodots", "LR", &["My Mail/a/b/cur"]);
    assert_eq!(answers, ["Remote Mail/.a.b/cur"]);
}

// Tables: input, then 1.3's answer.

const SPLIT_OIMAP_DOVECOT_LR: &str = r"
Mail/cur              Maildir/cur
Mail/new              Maildir/new
Mail/tmp              Maildir/tmp
Mail/foo/cur          Maildir/.foo/cur
Mail/.foo/cur         Maildir/..foo/cur
Mail/foo.bar/new      Maildir/.foo.bar/new
Mail/..foo.bar/tmp    Maildir/...foo.bar/tmp
Mail/a/b/cur          Maildir/.a/b/cur
Mail/a/cur/b/new      Maildir/.a/cur/b/new
Mail//cur             Maildir/./cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Maildir/cur
Maildir/.foo/cur      Maildir/.foo/cur
Maildir/.foo.bar/new  Maildir/.foo.bar/new
Maildir/foo/bar/cur   Maildir/foo/bar/cur
Maildir/..x/cur       Maildir/..x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Maildir///x/cur
";

const SPLIT_OIMAP_DOVECOT_RL: &str = r"
Mail/cur              Mail/cur
Mail/new              Mail/new
Mail/tmp              Mail/tmp
Mail/foo/cur          Mail/foo/cur
Mail/.foo/cur         Mail/foo/cur
Mail/foo.bar/new      Mail/foo.bar/new
Mail/..foo.bar/tmp    Mail/.foo.bar/tmp
Mail/a/b/cur          Mail/a/b/cur
Mail/a/cur/b/new      Mail/a/cur/b/new
Mail//cur             Mail//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Mail/cur
Maildir/.foo/cur      Mail/foo/cur
Maildir/.foo.bar/new  Mail/foo.bar/new
Maildir/foo/bar/cur   Mail/foo/bar/cur
Maildir/..x/cur       Mail/.x/cur
Maildirx/.a/cur       Mailx/.a/cur
Maildir///x/cur       Mail///x/cur
";

const SPLIT_NODOTS_LR: &str = r"
Mail/cur              Maildir/cur
Mail/new              Maildir/new
Mail/tmp              Maildir/tmp
Mail/foo/cur          Maildir/.foo/cur
Mail/.foo/cur         Maildir/..foo/cur
Mail/foo.bar/new      Maildir/.foo.bar/new
Mail/..foo.bar/tmp    Maildir/...foo.bar/tmp
Mail/a/b/cur          Maildir/.a.b/cur
Mail/a/cur/b/new      Maildir/.a/cur/b/new
Mail//cur             Maildir/./cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Maildir/cur
Maildir/.foo/cur      Maildir/.foo/cur
Maildir/.foo.bar/new  Maildir/.foo.bar/new
Maildir/foo/bar/cur   Maildir/foo/bar/cur
Maildir/..x/cur       Maildir/..x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Maildir///x/cur
";

const SPLIT_NODOTS_RL: &str = r"
Mail/cur              Mail/cur
Mail/new              Mail/new
Mail/tmp              Mail/tmp
Mail/foo/cur          Mail/foo/cur
Mail/.foo/cur         Mail/.foo/cur
Mail/foo.bar/new      Mail/foo.bar/new
Mail/..foo.bar/tmp    Mail/..foo.bar/tmp
Mail/a/b/cur          Mail/a/b/cur
Mail/a/cur/b/new      Mail/a/cur/b/new
Mail//cur             Mail//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Mail/cur
Maildir/.foo/cur      Mail/foo/cur
Maildir/.foo.bar/new  Mail/foo/bar/new
Maildir/foo/bar/cur   Mail/foo/bar/cur
Maildir/..x/cur       Mail//x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Mail//x/cur
";

const SPLIT_NODOTS2_LR: &str = r"
Mail/cur              Maildir/cur
Mail/new              Maildir/new
Mail/tmp              Maildir/tmp
Mail/foo/cur          Maildir/foo/cur
Mail/.foo/cur         Maildir//foo/cur
Mail/foo.bar/new      Maildir/foo/bar/new
Mail/..foo.bar/tmp    Maildir/foo/bar/tmp
Mail/a/b/cur          Maildir/a/b/cur
Mail/a/cur/b/new      Maildir/a/cur/b/new
Mail//cur             Maildir//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Maildir/cur
Maildir/.foo/cur      Maildir/.foo/cur
Maildir/.foo.bar/new  Maildir/.foo.bar/new
Maildir/foo/bar/cur   Maildir/foo/bar/cur
Maildir/..x/cur       Maildir/..x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Maildir///x/cur
";

const SPLIT_NODOTS2_RL: &str = r"
Mail/cur              Mail/cur
Mail/new              Mail/new
Mail/tmp              Mail/tmp
Mail/foo/cur          Mail/foo/cur
Mail/.foo/cur         Mail/.foo/cur
Mail/foo.bar/new      Mail/foo.bar/new
Mail/..foo.bar/tmp    Mail/..foo.bar/tmp
Mail/a/b/cur          Mail/a/b/cur
Mail/a/cur/b/new      Mail/a/cur/b/new
Mail//cur             Mail//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Mail/cur
Maildir/.foo/cur      Mail/...foo/cur
Maildir/.foo.bar/new  Mail/...foo.bar/new
Maildir/foo/bar/cur   Mail/..foo.bar/cur
Maildir/..x/cur       Mail/....x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Mail/...x/cur
";

const SPLIT_MOVE_LR: &str = r"
Mail/cur              Maildir/cur
Mail/new              Maildir/new
Mail/tmp              Maildir/tmp
Mail/foo/cur          Maildir/foo/cur
Mail/.foo/cur         Maildir/.foo/cur
Mail/foo.bar/new      Maildir/foo.bar/new
Mail/..foo.bar/tmp    Maildir/..foo.bar/tmp
Mail/a/b/cur          Maildir/a/b/cur
Mail/a/cur/b/new      Maildir/a/cur/b/new
Mail//cur             Maildir//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Maildir/cur
Maildir/.foo/cur      Maildir/.foo/cur
Maildir/.foo.bar/new  Maildir/.foo.bar/new
Maildir/foo/bar/cur   Maildir/foo/bar/cur
Maildir/..x/cur       Maildir/..x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Maildir///x/cur
";

const SPLIT_MOVE_RL: &str = r"
Mail/cur              Mail/cur
Mail/new              Mail/new
Mail/tmp              Mail/tmp
Mail/foo/cur          Mail/foo/cur
Mail/.foo/cur         Mail/.foo/cur
Mail/foo.bar/new      Mail/foo.bar/new
Mail/..foo.bar/tmp    Mail/..foo.bar/tmp
Mail/a/b/cur          Mail/a/b/cur
Mail/a/cur/b/new      Mail/a/cur/b/new
Mail//cur             Mail//cur
Mailbox/cur           Mailbox/cur
Other/cur             Other/cur
Mail                  Mail
Maildir/cur           Mail/cur
Maildir/.foo/cur      Mail/.foo/cur
Maildir/.foo.bar/new  Mail/.foo.bar/new
Maildir/foo/bar/cur   Mail/foo/bar/cur
Maildir/..x/cur       Mail/..x/cur
Maildirx/.a/cur       Maildirx/.a/cur
Maildir///x/cur       Mail///x/cur
";

const SHARED_OIMAP_DOVECOT_LR: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/.foo/cur
Mail/.foo/cur       Mail/..foo/cur
Mail/foo.bar/new    Mail/.foo.bar/new
Mail/..foo.bar/tmp  Mail/...foo.bar/tmp
Mail/a/b/cur        Mail/.a/b/cur
Mail/a/cur/b/new    Mail/.a/cur/b/new
Mail//cur           Mail/./cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";

const SHARED_OIMAP_DOVECOT_RL: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/foo/cur
Mail/.foo/cur       Mail/foo/cur
Mail/foo.bar/new    Mail/foo.bar/new
Mail/..foo.bar/tmp  Mail/.foo.bar/tmp
Mail/a/b/cur        Mail/a/b/cur
Mail/a/cur/b/new    Mail/a/cur/b/new
Mail//cur           Mail//cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";

const SHARED_NODOTS_LR: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/.foo/cur
Mail/.foo/cur       Mail/..foo/cur
Mail/foo.bar/new    Mail/.foo.bar/new
Mail/..foo.bar/tmp  Mail/...foo.bar/tmp
Mail/a/b/cur        Mail/.a.b/cur
Mail/a/cur/b/new    Mail/..a.cur.b/new
Mail//cur           Mail/./cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";

const SHARED_NODOTS_RL: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/foo/cur
Mail/.foo/cur       Mail/foo/cur
Mail/foo.bar/new    Mail/foo/bar/new
Mail/..foo.bar/tmp  Mail//foo/bar/tmp
Mail/a/b/cur        Mail/a/b/cur
Mail/a/cur/b/new    Mail/a/cur/b/new
Mail//cur           Mail/cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";

const SHARED_NODOTS2_LR: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/foo/cur
Mail/.foo/cur       Mail//foo/cur
Mail/foo.bar/new    Mail/foo/bar/new
Mail/..foo.bar/tmp  Mail/foo/bar/tmp
Mail/a/b/cur        Mail/a/b/cur
Mail/a/cur/b/new    Mail/a/cur/b/new
Mail//cur           Mail//cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";

const SHARED_NODOTS2_RL: &str = r"
Mail/cur            Mail/cur
Mail/new            Mail/new
Mail/tmp            Mail/tmp
Mail/foo/cur        Mail/..foo/cur
Mail/.foo/cur       Mail/...foo/cur
Mail/foo.bar/new    Mail/..foo.bar/new
Mail/..foo.bar/tmp  Mail/....foo.bar/tmp
Mail/a/b/cur        Mail/..a.b/cur
Mail/a/cur/b/new    Mail/....a.cur.b/new
Mail//cur           Mail/../cur
Mailbox/cur         Mailbox/cur
Other/cur           Other/cur
Mail                Mail
";
