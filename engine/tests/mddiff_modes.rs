//! `mddiff`'s helper modes, which smd 1.3's scripts call: `--sha1sum`,
//! `--mkdir-p`, `--mkfifo`, `-l`, the lone-fifo hasher and `-s`, plus
//! `--help`, usage errors and `--max-mailno`.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;

const WAIT: Duration = Duration::from_secs(20);

fn msg(header: &str, body: &str) -> Vec<u8> {
    format!("{header}\n\n{body}").into_bytes()
}

/// Runs mddiff under `umask 0`, so that created modes are the asked ones.
fn with_umask_0(s: &Sandbox, args: &[&str]) -> Run {
    let output = Command::new("sh")
        .arg("-c")
        .arg("umask 0; exec \"$0\" \"$@\"")
        .arg(mddiff_path())
        .args(args)
        .current_dir(s.root())
        .stdin(Stdio::null())
        .output()
        .expect("spawn sh");
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        what: format!("umask 0; mddiff {}", args.join(" ")),
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn sha1sum_prints_like_sha1sum() {
    let s = Sandbox::new();
    s.write("a", b"Subject: a\n\nbody\n");
    s.write("with space", b"header only\n");
    s.write("empty", b"");

    let run = s.run(&["--sha1sum", "a", "with space", "empty"]);
    let ours = run.ok();
    let reference = Command::new("sha1sum")
        .args(["a", "with space", "empty"])
        .current_dir(s.root())
        .output()
        .expect("sha1sum is installed");
    assert_eq!(ours, lines_of(&reference.stdout), "{}", run.context());
    assert_eq!(ours[2], format!("{EMPTY_SHA}  empty").into_bytes());
}

#[test]
fn sha1sum_refuses_what_is_not_a_regular_file() {
    let s = Sandbox::new();
    s.write("a", b"x");
    s.mkdir("folder");

    let run = s.run(&["--sha1sum", "a", "folder"]);
    run.fails();
    assert_eq!(
        run.lines().len(),
        1,
        "nothing before the ERROR\n{}",
        run.context()
    );

    let run = s.run(&["--sha1sum", "missing"]);
    run.fails();
}

#[test]
fn mkdir_p_creates_every_level_with_mode_0770() {
    let s = Sandbox::new();
    let run = with_umask_0(&s, &["--mkdir-p", "x/y/z", "other"]);
    assert!(run.ok().is_empty(), "{}", run.context());
    for dir in ["x", "x/y", "x/y/z", "other"] {
        let path = s.at(dir);
        assert!(path.is_dir(), "{dir}");
        assert_eq!(mode(&path), 0o770, "{dir}");
    }

    // Already there: fine.
    with_umask_0(&s, &["--mkdir-p", "x/y/z"]).ok();

    // A file in the way: an error.
    s.write("file", b"x");
    s.run(&["--mkdir-p", "file/sub"]).fails();
}

#[test]
fn mkfifo_creates_fifos_with_mode_0600() {
    let s = Sandbox::new();
    let run = with_umask_0(&s, &["--mkfifo", "f1", "f 2"]);
    assert!(run.ok().is_empty(), "{}", run.context());
    for name in ["f1", "f 2"] {
        let path = s.at(name);
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    s.run(&["--mkfifo", "f1"]).fails();
}

#[test]
fn list_prints_decoded_cur_and_new_folders() {
    let s = Sandbox::new();
    for dir in [
        "My Mail/cur",
        "My Mail/new",
        "My Mail/tmp/cur",
        "My Mail/Sub/cur",
        "My Mail/Sub/new",
        "My Mail/Sub/tmp",
        "My Mail/cur/below/cur",
        "My Mail/new/below/new",
        "My Mail/Spam/cur",
        "My Mail/Spam2/cur",
        "My Mail/a/b/Junk/cur",
        "My Mail/Empty",
    ] {
        s.mkdir(dir);
    }
    s.write("My Mail/cur/m", &msg("Subject: m", "m\n"));

    let run = s.run(&[
        "-l",
        "My%20Mail",
        "--exclude",
        "My%20Mail/Spam",
        "--exclude",
        "*/Junk",
    ]);
    let mut listed = run.ok();
    listed.sort();
    let expected: Vec<Vec<u8>> = [
        "My Mail/Spam2/cur",
        "My Mail/Sub/cur",
        "My Mail/Sub/new",
        "My Mail/cur",
        "My Mail/new",
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect();
    assert_eq!(listed, expected, "{}", run.context());
    s.assert_no_new_files();

    s.run(&["--list", "Missing"]).fails();
}

/// Opens the fifo for writing once `child` has opened it for reading,
/// without hanging if the child died first.
fn open_writer(fifo: &Path, child: &mut Child) -> File {
    let deadline = Instant::now() + WAIT;
    loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(file) => return file,
            Err(error) if error.raw_os_error() == Some(libc::ENXIO) => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("mddiff exited before opening the fifo: {status}");
                }
                assert!(Instant::now() < deadline, "mddiff never opened the fifo");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("cannot open the fifo: {error}"),
        }
    }
}

fn next_line(lines: &Receiver<Vec<u8>>) -> String {
    let line = lines
        .recv_timeout(WAIT)
        .expect("an answer from mddiff (it must flush after every line)");
    String::from_utf8(line).unwrap()
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "mddiff did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_on_fifo(s: &Sandbox, args: &[&str]) -> (Child, Receiver<Vec<u8>>) {
    let mut child = s
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mddiff");
    let lines = read_lines_with_timeout(child.stdout.take().unwrap());
    (child, lines)
}

#[test]
fn a_lone_fifo_answers_digests_line_by_line() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "body\n\nmore\n");
    let header_only: &[u8] = b"Subject: no body\r\n";
    s.write("Mail/cur/a b", &a);
    s.write("Mail/cur/h", header_only);
    s.write("Mail/cur/empty", b"");
    s.run(&["--mkfifo", "names"]).ok();

    let (mut child, lines) = spawn_on_fifo(&s, &["names"]);
    let mut writer = open_writer(&s.at("names"), &mut child);

    writer.write_all(b"Mail/cur/a b\n").unwrap();
    assert_eq!(next_line(&lines), pair(&a));
    writer.write_all(b"Mail/cur/h\n").unwrap();
    assert_eq!(
        next_line(&lines),
        format!("{} {EMPTY_SHA}", sha1_hex(header_only))
    );
    writer.write_all(b"Mail/cur/empty\n").unwrap();
    assert_eq!(next_line(&lines), format!("{EMPTY_SHA} {EMPTY_SHA}"));

    drop(writer);
    assert_eq!(wait_exit(&mut child), Some(0));
    assert!(lines.recv_timeout(Duration::from_millis(100)).is_err());
}

#[test]
fn a_lone_fifo_stops_at_the_first_missing_file() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("a", &a);
    s.run(&["--mkfifo", "names"]).ok();

    let (mut child, lines) = spawn_on_fifo(&s, &["names"]);
    let mut writer = open_writer(&s.at("names"), &mut child);
    writer.write_all(b"a\nmissing\na\n").unwrap();

    assert_eq!(next_line(&lines), pair(&a));
    let error = next_line(&lines);
    assert!(error.starts_with("ERROR "), "{error}");
    assert_eq!(wait_exit(&mut child), Some(1));
    drop(writer);
}

#[test]
fn symlink_mode_makes_the_parent_and_the_link() {
    let s = Sandbox::new();
    s.run(&["--mkfifo", "pairs"]).ok();

    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 0; exec \"$0\" \"$@\"")
        .arg(mddiff_path())
        .args(["-s", "pairs"])
        .current_dir(s.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mddiff");
    let lines = read_lines_with_timeout(child.stdout.take().unwrap());
    let mut writer = open_writer(&s.at("pairs"), &mut child);

    writer
        .write_all(b"../../source/one\nout/deep er/link one\n")
        .unwrap();
    assert_eq!(next_line(&lines), "OK");
    writer.write_all(b"/absolute/target\nlink2\n").unwrap();
    assert_eq!(next_line(&lines), "OK");

    assert_eq!(
        fs::read_link(s.at("out/deep er/link one")).unwrap(),
        Path::new("../../source/one")
    );
    assert_eq!(
        fs::read_link(s.at("link2")).unwrap(),
        Path::new("/absolute/target")
    );
    assert_eq!(mode(&s.at("out")), 0o770);
    assert_eq!(mode(&s.at("out/deep er")), 0o770);

    // The link is already there.
    writer.write_all(b"elsewhere\nlink2\n").unwrap();
    let error = next_line(&lines);
    assert!(error.starts_with("ERROR "), "{error}");
    assert_eq!(wait_exit(&mut child), Some(1));
    assert_eq!(
        fs::read_link(s.at("link2")).unwrap(),
        Path::new("/absolute/target")
    );
}

#[test]
fn help_succeeds_and_usage_errors_fail() {
    let s = Sandbox::new();
    for flag in ["--help", "-h"] {
        let run = s.run(&[flag]);
        let out = run.ok();
        assert!(
            out.iter().any(|l| l.windows(5).any(|w| w == b"Usage")),
            "{}",
            run.context()
        );
    }
    s.mkdir("Mail/cur");
    for args in [
        &["--bogus", "Mail"][..],
        &["-x", "Mail"],
        &[],
        &["--db-file"],
    ] {
        let run = s.run(args);
        assert_eq!(run.code, Some(1), "{}", run.context());
    }
    s.assert_no_new_files();
}

#[test]
fn max_mailno_is_accepted_and_does_not_limit_anything() {
    for args in [
        &["--max-mailno", "5", "Mail"][..],
        &["--max-mailno=5", "Mail"],
    ] {
        let s = Sandbox::new();
        let mut expected = Vec::new();
        for i in 0..100 {
            let m = msg(&format!("Subject: {i}"), &format!("body {i}\n"));
            let name = format!("Mail/cur/{i:03}:2,S");
            s.write(&name, &m);
            expected.push(add(&name, &m));
        }
        s.run(args).diff_is(&expected);
        assert_eq!(s.new_db_sorted().len(), 100);
    }
}

#[test]
fn verbose_changes_nothing_on_stdout() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.run(&["-v", "-d", "Mail"])
        .diff_is(&[add("Mail/cur/a", &a)]);
    s.run(&["-vd", "Mail"]).diff_is(&[add("Mail/cur/a", &a)]);
    s.assert_no_new_files();
}
