//! `mddiff` computing diffs: the real binary on real trees in temporary
//! folders, with relative mailbox paths, checking every output line and
//! the db-files it writes.
//!
//! To get a "previous state" a test runs mddiff once and then promotes
//! `db.txt.new` to `db.txt`, choosing the saved scan time: `1` makes every
//! file be read again (the diff then depends on contents only), now + 10
//! makes every existing file trusted by the cache.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use common::*;

fn msg(header: &str, body: &str) -> Vec<u8> {
    format!("{header}\n\n{body}").into_bytes()
}

fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

// ---------------------------------------------------------------------------
// One scenario per command
// ---------------------------------------------------------------------------

#[test]
fn first_scan_adds_every_message_and_saves_the_db() {
    let s = Sandbox::new();
    let a = msg("From: a@example.org\nSubject: a", "body a\n");
    let b = msg("Subject: b", "body b\n");
    let c = msg("Subject: c", "body c\n");
    s.write("Mail/cur/1.a:2,S", &a);
    s.write("Mail/new/2.b", &b);
    s.write("Mail/Sub/cur/3.c:2,", &c);
    s.mkdir("Mail/tmp");

    let before = now();
    let run = s.run(&["Mail"]);
    let after = now();

    run.diff_is(&[
        add("Mail/cur/1.a:2,S", &a),
        add("Mail/new/2.b", &b),
        add("Mail/Sub/cur/3.c:2,", &c),
    ]);
    s.assert_new_db(&[
        dbline("Mail/cur/1.a:2,S", &a),
        dbline("Mail/new/2.b", &b),
        dbline("Mail/Sub/cur/3.c:2,", &c),
    ]);

    // A first scan saves the messages in the order it met them, the
    // order of the diff.
    let diff_names: Vec<Vec<u8>> = run
        .lines()
        .iter()
        .map(|line| dec(line.split(|&b| b == b' ').nth(1).unwrap()))
        .collect();
    let db_names: Vec<Vec<u8>> = lines_of(&s.new_db())
        .iter()
        .map(|line| line[82..].to_vec())
        .collect();
    assert_eq!(diff_names, db_names);

    let mtime = s.read("db.txt.mtime.new");
    assert!(
        !mtime.is_empty() && mtime.iter().all(u8::is_ascii_digit),
        "db.txt.mtime.new must be decimal digits with no newline: {mtime:?}"
    );
    let started: i64 = String::from_utf8(mtime).unwrap().parse().unwrap();
    // The scan time is kept a second early, to cover the kernel's coarse
    // clock for file times.
    assert!(
        before - 1 <= started && started <= after,
        "scan time {started} outside [{before}, {after}]"
    );
    assert!(
        !s.exists("db.txt"),
        "the old db is only replaced on confirmation"
    );
}

#[test]
fn a_copy_whose_original_stays_is_a_copy() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "body a\n");
    let other = msg("Subject: other", "other body\n");
    s.write("Mail/cur/a:2,S", &a);
    s.write("Mail/cur/other:2,S", &other);
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    s.write("Mail/Archive/cur/a-copy:2,S", &a);

    s.run(&["Mail"]).diff_is(&[copy(
        "Mail/cur/a:2,S",
        "Mail/Archive/cur/a-copy:2,S",
        &a,
    )]);
    s.assert_new_db(&[
        dbline("Mail/cur/a:2,S", &a),
        dbline("Mail/cur/other:2,S", &other),
        dbline("Mail/Archive/cur/a-copy:2,S", &a),
    ]);
}

#[test]
fn touch_then_copy_is_a_copy_never_a_move() {
    // 1.3 says MOVE here because the touched original is "not old", and
    // the client renames the original away.
    for trusted in [false, true] {
        let s = Sandbox::new();
        let a = msg("Subject: a", "body a\n");
        s.write("Mail/cur/a", &a);
        s.run(&["Mail"]).ok();
        if trusted {
            s.promote_trusted();
        } else {
            s.promote_db("db.txt", Some(now() - 100));
        }

        // touch a: newer than the last scan; then cp a b.
        s.set_mtime("Mail/cur/a", 3600);
        fs::copy(s.at("Mail/cur/a"), s.at("Mail/cur/b")).unwrap();

        s.run(&["Mail"])
            .diff_is(&[copy("Mail/cur/a", "Mail/cur/b", &a)]);
        s.assert_new_db(&[dbline("Mail/cur/a", &a), dbline("Mail/cur/b", &a)]);
    }
}

#[test]
fn a_flag_change_is_a_move() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "body a\n");
    let b = msg("Subject: b", "body b\n");
    s.write("Mail/new/1.host", &a);
    s.write("Mail/cur/2.host:2,", &b);
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    s.rename("Mail/new/1.host", "Mail/cur/1.host:2,S");
    s.rename("Mail/cur/2.host:2,", "Mail/cur/2.host:2,RS");

    s.run(&["Mail"]).diff_is(&[
        mv("Mail/new/1.host", "Mail/cur/1.host:2,S", &a),
        mv("Mail/cur/2.host:2,", "Mail/cur/2.host:2,RS", &b),
    ]);
    s.assert_new_db(&[
        dbline("Mail/cur/1.host:2,S", &a),
        dbline("Mail/cur/2.host:2,RS", &b),
    ]);
}

#[test]
fn same_body_with_another_header_is_copybody() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a long shared body\n");
    s.write("Mail/cur/a", &a);
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    let forwarded = msg("Subject: Fwd: a\nX-Tag: 1", "a long shared body\n");
    s.write("Mail/cur/b", &forwarded);

    s.run(&["Mail"])
        .diff_is(&[copybody("Mail/cur/a", "Mail/cur/b", &forwarded)]);
    assert_eq!(bsha(&a), bsha(&forwarded));
    s.assert_new_db(&[dbline("Mail/cur/a", &a), dbline("Mail/cur/b", &forwarded)]);
}

#[test]
fn a_removed_message_is_deleted() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "body a\n");
    let b = msg("Subject: b", "body b\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/cur/b", &b);
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    s.remove("Mail/cur/a");

    s.run(&["Mail"]).diff_is(&[delete("Mail/cur/a", &a)]);
    s.assert_new_db(&[dbline("Mail/cur/b", &b)]);
}

#[test]
fn a_new_header_is_replaceheader_with_an_encoded_name() {
    let s = Sandbox::new();
    let names: [&[u8]; 4] = [
        b"Mail/cur/plain:2,S",
        b"Mail/cur/with space:2,S",
        b"Mail/cur/100% sure:2,S",
        b"Mail/cur/looks%20encoded",
    ];
    let old: Vec<Vec<u8>> = (0..names.len())
        .map(|i| msg(&format!("Subject: {i}"), &format!("body {i}\n")))
        .collect();
    for (name, content) in names.iter().zip(&old) {
        s.write(name, content);
    }
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    let new: Vec<Vec<u8>> = (0..names.len())
        .map(|i| {
            msg(
                &format!("Subject: {i}\nX-Label: seen"),
                &format!("body {i}\n"),
            )
        })
        .collect();
    for (name, content) in names.iter().zip(&new) {
        s.write(name, content);
    }

    let run = s.run(&["Mail"]);
    let expected: Vec<Vec<u8>> = (0..names.len())
        .map(|i| replaceheader(names[i], &old[i], &new[i]))
        .collect();
    run.diff_is(&expected);
    for line in run.lines() {
        let name = line.split(|&b| b == b' ').nth(1).unwrap();
        assert!(
            !name.contains(&b' ') && names.contains(&dec(name).as_slice()),
            "REPLACEHEADER name must be one encoded word: {}",
            String::from_utf8_lossy(&line)
        );
    }
    assert!(run
        .lines()
        .iter()
        .any(|l| l.starts_with(b"REPLACEHEADER Mail/cur/with%20space:2,S ")));
    assert!(run
        .lines()
        .iter()
        .any(|l| l.starts_with(b"REPLACEHEADER Mail/cur/100%25%20sure:2,S ")));
    assert!(run
        .lines()
        .iter()
        .any(|l| l.starts_with(b"REPLACEHEADER Mail/cur/looks%2520encoded ")));
    let db: Vec<Vec<u8>> = names.iter().zip(&new).map(|(n, c)| dbline(n, c)).collect();
    s.assert_new_db(&db);
}

#[test]
fn a_new_body_is_replace() {
    let s = Sandbox::new();
    let old = msg("Subject: a", "old body\n");
    let old_both = msg("Subject: b", "b body\n");
    s.write("Mail/cur/a b", &old);
    s.write("Mail/cur/b", &old_both);
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    let new = msg("Subject: a", "new body, same header\n");
    let new_both = msg("Subject: b changed", "b body changed\n");
    s.write("Mail/cur/a b", &new);
    s.write("Mail/cur/b", &new_both);

    s.run(&["Mail"]).diff_is(&[
        replace("Mail/cur/a b", &old, &new),
        replace("Mail/cur/b", &old_both, &new_both),
    ]);
    s.assert_new_db(&[
        dbline("Mail/cur/a b", &new),
        dbline("Mail/cur/b", &new_both),
    ]);
}

#[test]
fn copied_twice_then_removed_is_move_then_copy() {
    let s = Sandbox::new();
    let x = msg("Subject: x", "body x\n");
    s.write("Mail/cur/x", &x);
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    fs::copy(s.at("Mail/cur/x"), s.at("Mail/cur/y")).unwrap();
    fs::copy(s.at("Mail/cur/x"), s.at("Mail/cur/z")).unwrap();
    s.remove("Mail/cur/x");

    let run = s.run(&["Mail"]);
    let lines = run.ok();
    // Which of y and z comes first depends on the folder's order.
    let (first, second) = if lines.first() == Some(&mv("Mail/cur/x", "Mail/cur/y", &x)) {
        ("Mail/cur/y", "Mail/cur/z")
    } else {
        ("Mail/cur/z", "Mail/cur/y")
    };
    assert_eq!(
        lines,
        vec![mv("Mail/cur/x", first, &x), copy(first, second, &x)],
        "\n{}",
        run.context()
    );
    s.assert_new_db(&[dbline("Mail/cur/y", &x), dbline("Mail/cur/z", &x)]);
}

#[test]
fn a_duplicate_in_the_first_scan_is_a_copy_of_the_first() {
    let s = Sandbox::new();
    let x = msg("Subject: dup", "same\n");
    s.write("Mail/cur/one", &x);
    s.write("Mail/Other/new/two", &x);

    let run = s.run(&["Mail"]);
    let lines = run.ok();
    let (first, second) = if lines.first() == Some(&add("Mail/cur/one", &x)) {
        ("Mail/cur/one", "Mail/Other/new/two")
    } else {
        ("Mail/Other/new/two", "Mail/cur/one")
    };
    assert_eq!(
        lines,
        vec![add(first, &x), copy(first, second, &x)],
        "\n{}",
        run.context()
    );
    s.assert_new_db(&[dbline("Mail/cur/one", &x), dbline("Mail/Other/new/two", &x)]);
}

/// a is moved to a2 (a flag change) and c is removed.
fn moved_and_removed() -> (Sandbox, Vec<u8>, Vec<u8>, Vec<u8>) {
    let s = Sandbox::new();
    let a = msg("Subject: a", "body a\n");
    let b = msg("Subject: b", "body b\n");
    let c = msg("Subject: c", "body c\n");
    s.write("Mail/cur/a:2,", &a);
    s.write("Mail/cur/b:2,", &b);
    s.write("Mail/cur/c:2,", &c);
    s.run(&["Mail"]).ok();
    s.promote_trusted();
    s.rename("Mail/cur/a:2,", "Mail/cur/a:2,S");
    s.remove("Mail/cur/c:2,");
    (s, a, b, c)
}

#[test]
fn without_options_a_move_and_a_delete() {
    let (s, a, b, c) = moved_and_removed();
    s.run(&["Mail"]).diff_is(&[
        mv("Mail/cur/a:2,", "Mail/cur/a:2,S", &a),
        delete("Mail/cur/c:2,", &c),
    ]);
    s.assert_new_db(&[dbline("Mail/cur/a:2,S", &a), dbline("Mail/cur/b:2,", &b)]);
}

#[test]
fn no_delete_drops_deletes_of_vanished_messages() {
    for flag in ["-n", "--no-delete"] {
        let (s, a, b, _) = moved_and_removed();
        s.run(&[flag, "Mail"])
            .diff_is(&[mv("Mail/cur/a:2,", "Mail/cur/a:2,S", &a)]);
        s.assert_new_db(&[dbline("Mail/cur/a:2,S", &a), dbline("Mail/cur/b:2,", &b)]);
    }
}

#[test]
fn no_move_gives_copy_and_delete() {
    let (s, a, b, c) = moved_and_removed();
    s.run(&["--no-move", "Mail"]).diff_is(&[
        copy("Mail/cur/a:2,", "Mail/cur/a:2,S", &a),
        delete("Mail/cur/a:2,", &a),
        delete("Mail/cur/c:2,", &c),
    ]);
    s.assert_new_db(&[dbline("Mail/cur/a:2,S", &a), dbline("Mail/cur/b:2,", &b)]);
}

#[test]
fn no_delete_with_no_move_still_deletes_the_moved_source() {
    for args in [
        &["-n", "--no-move", "Mail"][..],
        &["--no-move", "-n", "Mail"],
    ] {
        let (s, a, b, _) = moved_and_removed();
        s.run(args).diff_is(&[
            copy("Mail/cur/a:2,", "Mail/cur/a:2,S", &a),
            delete("Mail/cur/a:2,", &a),
        ]);
        s.assert_new_db(&[dbline("Mail/cur/a:2,S", &a), dbline("Mail/cur/b:2,", &b)]);
    }
}

#[test]
fn deletes_come_last() {
    let s = Sandbox::new();
    let mut messages = Vec::new();
    for i in 0..20 {
        let m = msg(&format!("Subject: {i}"), &format!("body {i}\n"));
        s.write(format!("Mail/cur/{i:02}"), &m);
        messages.push(m);
    }
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    let mut expected = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let name = format!("Mail/cur/{i:02}");
        match i % 4 {
            0 => {
                s.remove(&name);
                expected.push(delete(&name, m));
            }
            1 => {
                let to = format!("Mail/new/{i:02}");
                s.mkdir("Mail/new");
                s.rename(&name, &to);
                expected.push(mv(&name, &to, m));
            }
            2 => {
                let added = msg(&format!("Subject: new {i}"), &format!("new {i}\n"));
                let to = format!("Mail/cur/added{i:02}");
                s.write(&to, &added);
                expected.push(add(&to, &added));
            }
            _ => {}
        }
    }
    s.run(&["Mail"]).diff_is(&expected);
}

// ---------------------------------------------------------------------------
// Digests and db-files
// ---------------------------------------------------------------------------

#[test]
fn digests_are_sha1_of_header_and_body_bytes() {
    let s = Sandbox::new();
    let m = b"Subject: split\nX: y\n\nfirst paragraph\n\nsecond paragraph\n".to_vec();
    s.write("Mail/cur/m", &m);
    s.write("parts/header", b"Subject: split\nX: y\n\n");
    s.write("parts/body", b"first paragraph\n\nsecond paragraph\n");

    // The expected digests come from coreutils, not from our code.
    let sums = std::process::Command::new("sha1sum")
        .args(["parts/header", "parts/body"])
        .current_dir(s.root())
        .output()
        .expect("sha1sum is installed");
    let sums = String::from_utf8(sums.stdout).unwrap();
    let digests: Vec<&str> = sums.lines().map(|l| &l[..40]).collect();
    assert_eq!(digests, [hsha(&m), bsha(&m)]);

    let run = s.run(&["Mail"]);
    assert_eq!(
        run.ok(),
        vec![format!("ADD Mail/cur/m {} {}", digests[0], digests[1]).into_bytes()]
    );
    assert_eq!(
        s.new_db(),
        format!("{} {} Mail/cur/m\n", digests[0], digests[1]).into_bytes()
    );
}

#[test]
fn db_lines_hold_raw_names() {
    let s = Sandbox::new();
    let m = msg("Subject: raw", "body\n");
    s.write("Mail/cur/a b%20c 100%", &m);
    s.run(&["Mail"])
        .diff_is(&[add("Mail/cur/a b%20c 100%", &m)]);
    assert!(
        s.run(&["-d", "Mail"]).ok()[0].starts_with(b"ADD Mail/cur/a%20b%2520c%20100%25 ")
    );
    assert_eq!(
        s.new_db(),
        format!("{} {} Mail/cur/a b%20c 100%\n", hsha(&m), bsha(&m)).into_bytes()
    );
}

#[test]
fn a_db_written_by_smd_1_3_is_read_as_is() {
    let s = Sandbox::new();
    let keep = msg("Subject: keep", "keep\n");
    let spaced = msg("Subject: spaced", "spaced\n");
    let stale_old = msg("Subject: stale", "old\n");
    let stale_new = msg("Subject: stale", "new\n");
    let gone = msg("Subject: gone", "gone\n");
    s.write("Mail/cur/keep:2,S", &keep);
    s.write("Mail/cur/sp ace:2,S", &spaced);
    s.write("Mail/cur/stale", &stale_new);

    let db = [
        dbline("Mail/cur/keep:2,S", &keep),
        dbline("Mail/cur/gone", &gone),
        dbline("Mail/cur/sp ace:2,S", &spaced),
        dbline("Mail/cur/stale", &stale_old),
    ]
    .concat();
    s.write("db.txt", &db);
    s.write("db.txt.mtime", b"1");

    s.run(&["Mail"]).diff_is(&[
        replace("Mail/cur/stale", &stale_old, &stale_new),
        delete("Mail/cur/gone", &gone),
    ]);
    // What stayed keeps its place and its bytes; what changed goes last.
    assert_eq!(
        s.new_db(),
        [
            dbline("Mail/cur/keep:2,S", &keep),
            dbline("Mail/cur/sp ace:2,S", &spaced),
            dbline("Mail/cur/stale", &stale_new),
        ]
        .concat()
    );
}

#[test]
fn a_db_whose_last_line_has_no_newline_is_read() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    let mut db = dbline("Mail/cur/a", &a);
    db.pop();
    s.write("db.txt", &db);
    s.run(&["Mail"]).diff_is(&[]);
    assert_eq!(s.new_db(), dbline("Mail/cur/a", &a));
}

#[test]
fn a_malformed_db_is_an_error_naming_the_line() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    let mut db = dbline("Mail/cur/a", &a);
    db.extend_from_slice(b"this is not a db line\n");
    s.write("db.txt", &db);

    let run = s.run(&["Mail"]);
    let error = run.fails();
    assert!(error.contains("line 2"), "{}", run.context());
    assert_eq!(
        run.lines().len(),
        1,
        "only the ERROR line\n{}",
        run.context()
    );
    s.assert_no_new_files();
}

#[test]
fn a_malformed_mtime_file_is_an_error() {
    let s = Sandbox::new();
    s.write("Mail/cur/a", &msg("Subject: a", "a\n"));
    s.write("db.txt.mtime", b"yesterday");
    let run = s.run(&["Mail"]);
    run.fails();
    s.assert_no_new_files();
}

#[test]
fn an_mtime_file_with_a_newline_is_accepted() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.write("db.txt", &dbline("Mail/cur/a", &a));
    s.write("db.txt.mtime", format!("{}\n", now() + 10).as_bytes());
    s.run(&["Mail"]).diff_is(&[]);
}

#[test]
fn an_unchanged_rescan_writes_the_same_db_bytes() {
    let s = Sandbox::new();
    for i in 0..30 {
        s.write(
            format!("Mail/f{}/cur/m{i}", i % 3),
            &msg(&format!("Subject: {i}"), &format!("{i}\n")),
        );
    }
    s.run(&["Mail"]).ok();
    s.promote_trusted();
    let db = s.read("db.txt");

    s.run(&["Mail"]).diff_is(&[]);
    assert_eq!(s.new_db(), db, "trusted rescan rewrote the db");

    s.write("db.txt.mtime", b"1");
    s.run(&["Mail"]).diff_is(&[]);
    assert_eq!(s.new_db(), db, "full rescan rewrote the db");
}

// ---------------------------------------------------------------------------
// The scan cache
// ---------------------------------------------------------------------------

#[test]
fn trusted_files_are_not_read_again() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "aaaa\n");
    s.write("Mail/cur/a", &a);
    s.run(&["Mail"]).ok();
    s.promote_trusted();

    // Same size, old modification time, change time before the saved scan
    // time: the cache vouches for it and the edit is not seen.
    let edited = msg("Subject: a", "bbbb\n");
    s.write("Mail/cur/a", &edited);
    s.set_mtime("Mail/cur/a", -3600);

    s.run(&["Mail"]).diff_is(&[]);
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

#[test]
fn an_edit_that_restores_the_mtime_is_seen_through_the_ctime() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "aaaa\n");
    let b = msg("Subject: b", "bbbb\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/cur/b", &b);
    s.run(&["Mail"]).ok();
    let last_scan = now() + 1;
    s.promote_db("db.txt", Some(last_scan));

    // Wait until a change time is no longer older than the saved scan time,
    // even by the kernel's coarse clock, which may lag a few milliseconds.
    while now() <= last_scan {
        std::thread::sleep(Duration::from_millis(50));
    }
    let edited = msg("Subject: a", "cccc\n");
    s.write("Mail/cur/a", &edited);
    s.set_mtime("Mail/cur/a", -3600);

    s.run(&["Mail"])
        .diff_is(&[replace("Mail/cur/a", &a, &edited)]);
    s.assert_new_db(&[dbline("Mail/cur/a", &edited), dbline("Mail/cur/b", &b)]);
}

// ---------------------------------------------------------------------------
// Safety: nothing that merely cannot be read becomes a DELETE
// ---------------------------------------------------------------------------

#[test]
fn an_unreadable_known_message_keeps_its_entry() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let b = msg("Subject: b", "b\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/cur/b", &b);
    s.mddiff_unprivileged(&["Mail"]).ok();
    s.promote_untrusted();

    s.chmod("Mail/cur/a", 0o000);
    let c = msg("Subject: c", "c\n");
    s.write("Mail/cur/c", &c);
    s.chmod("Mail/cur/c", 0o000);

    let run = s.mddiff_unprivileged(&["Mail"]);
    run.diff_is(&[]);
    assert!(run.stderr.contains("Mail/cur/a"), "{}", run.context());
    assert!(run.stderr.contains("Mail/cur/c"), "{}", run.context());
    s.assert_new_db(&[dbline("Mail/cur/a", &a), dbline("Mail/cur/b", &b)]);

    // Readable again: the new one is added, the old one was never lost.
    s.chmod("Mail/cur/a", 0o644);
    s.chmod("Mail/cur/c", 0o644);
    s.promote_untrusted();
    s.mddiff_unprivileged(&["Mail"])
        .diff_is(&[add("Mail/cur/c", &c)]);
}

#[test]
fn a_dangling_symlink_in_place_of_a_known_message_keeps_its_entry() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    s.remove("Mail/cur/a");
    s.symlink("../../nowhere/a", "Mail/cur/a");

    let run = s.run(&["Mail"]);
    run.diff_is(&[]);
    assert!(run.stderr.contains("Mail/cur/a"), "{}", run.context());
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

#[test]
fn a_known_message_truncated_to_empty_is_not_deleted() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let empty_new: &[u8] = b"";
    s.write("Mail/cur/a", &a);
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    s.write("Mail/cur/a", b"");
    s.write("Mail/cur/fresh-empty", empty_new);

    let run = s.run(&["Mail"]);
    run.diff_is(&[]);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Mail/cur/a"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the emptied message\n{}",
        run.context()
    );
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

#[test]
fn a_known_message_replaced_by_a_link_to_a_fifo_is_not_deleted() {
    // diff.rs documents it: "A message replaced by a link to a non-file is
    // still treated as unreadable: never a silent DELETE."
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    s.run(&["--mkfifo", "fifo"]).ok();
    s.remove("Mail/cur/a");
    s.symlink("../../fifo", "Mail/cur/a");

    s.run(&["Mail"]).diff_is(&[]);
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

#[test]
fn a_missing_root_fails_and_writes_nothing() {
    let s = Sandbox::new();
    s.write("Mail/cur/a", &msg("Subject: a", "a\n"));

    let run = s.run(&["NoSuchMail"]);
    run.fails();
    assert_eq!(run.lines().len(), 1, "{}", run.context());
    s.assert_no_new_files();

    let run = s.run(&["Mail", "NoSuchMail"]);
    run.fails();
    assert_eq!(run.lines().len(), 1, "{}", run.context());
    s.assert_no_new_files();
}

#[test]
fn a_root_that_is_a_file_fails_and_writes_nothing() {
    let s = Sandbox::new();
    s.write("Mail/cur/a", &msg("Subject: a", "a\n"));
    s.write("NotAFolder", b"x");

    s.run(&["NotAFolder"]).fails();
    s.assert_no_new_files();
    let run = s.run(&["Mail", "NotAFolder"]);
    run.fails();
    assert_eq!(run.lines().len(), 1, "{}", run.context());
    s.assert_no_new_files();
}

#[test]
fn an_unreadable_folder_fails_and_writes_nothing() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/Locked/cur/b", &msg("Subject: b", "b\n"));
    s.mddiff_unprivileged(&["Mail"]).ok();
    s.promote_untrusted();

    s.chmod("Mail/Locked", 0o000);
    let run = s.mddiff_unprivileged(&["Mail"]);
    let error = run.fails();
    assert!(error.contains("Mail/Locked"), "{}", run.context());
    assert!(
        !run.lines().iter().any(|l| l.starts_with(b"DELETE")),
        "{}",
        run.context()
    );
    s.assert_no_new_files();

    // Excluded, it is never opened.
    let run = s.mddiff_unprivileged(&["--exclude", "Mail/Locked", "Mail"]);
    run.ok();
    s.chmod("Mail/Locked", 0o755);
}

/// Asserts that a scan deleted none of `names`: it either failed with
/// nothing written, or kept their db lines.
fn assert_nothing_deleted(s: &Sandbox, run: &Run, kept: &[Vec<u8>]) {
    for line in run.lines() {
        assert!(
            !line.starts_with(b"DELETE "),
            "messages that may still exist are deleted\n{}",
            run.context()
        );
    }
    if run.code == Some(0) {
        let db = s.new_db_sorted();
        for line in kept {
            assert!(
                db.contains(line),
                "db.txt.new lost a line\n{}",
                run.context()
            );
        }
    } else {
        run.fails();
        s.assert_no_new_files();
    }
}

#[test]
fn a_symlinked_folder_whose_target_vanished_deletes_nothing() {
    // An archive folder linked from an external disk that is not mounted
    // right now: smd 1.3 fails the scan ("Unable to open directory"); a
    // scan that ignores the link tells the peer to delete the archive.
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    let mut kept = Vec::new();
    for i in 0..3 {
        let m = msg(&format!("Subject: {i}"), &format!("archived {i}\n"));
        s.write(format!("Disk/Archive/cur/m{i}"), &m);
        kept.push(dbline(format!("Mail/Archive/cur/m{i}"), &m));
    }
    s.symlink("../Disk/Archive", "Mail/Archive");
    s.run(&["Mail"]).ok();
    s.promote_untrusted();

    s.rename("Disk", "Disk.unmounted");
    let run = s.run(&["Mail"]);
    assert_nothing_deleted(&s, &run, &kept);
}

#[test]
fn a_symlinked_folder_that_cannot_be_reached_deletes_nothing() {
    // The link's target exists but cannot be looked up (a parent folder
    // without search permission): not the same as a link to nothing.
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    let m = msg("Subject: m", "archived\n");
    s.write("Disk/Archive/cur/m", &m);
    s.symlink("../Disk/Archive", "Mail/Archive");
    s.mddiff_unprivileged(&["Mail"]).ok();
    s.promote_untrusted();

    s.chmod("Disk", 0o000);
    let run = s.mddiff_unprivileged(&["Mail"]);
    s.chmod("Disk", 0o755);
    assert_nothing_deleted(&s, &run, &[dbline("Mail/Archive/cur/m", &m)]);
}

#[test]
fn a_folder_without_search_permission_deletes_nothing() {
    // Listing works, opening the files does not.
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.mddiff_unprivileged(&["Mail"]).ok();
    s.promote_untrusted();

    s.chmod("Mail/cur", 0o644);
    let run = s.mddiff_unprivileged(&["Mail"]);
    s.chmod("Mail/cur", 0o755);
    assert_nothing_deleted(&s, &run, &[dbline("Mail/cur/a", &a)]);
}

#[test]
fn an_unreadable_tmp_folder_is_never_opened() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/tmp/cur/x", &msg("Subject: x", "x\n"));
    s.chmod("Mail/tmp", 0o000);
    s.mddiff_unprivileged(&["Mail"])
        .diff_is(&[add("Mail/cur/a", &a)]);
    s.chmod("Mail/tmp", 0o755);
}

#[test]
fn only_files_directly_in_cur_or_new_are_messages() {
    let s = Sandbox::new();
    let m = |tag: &str| msg(&format!("Subject: {tag}"), &format!("{tag}\n"));
    s.write("Mail/cur/in-cur", &m("cur"));
    s.write("Mail/new/in-new", &m("new"));
    s.write("Mail/Sub/Deeper/cur/deep", &m("deep"));
    s.write("Mail/cur/sub/cur/below-cur", &m("below"));
    s.write("Mail/tmp/in-tmp", &m("tmp"));
    s.write("Mail/tmp/cur/in-tmp-cur", &m("tmp-cur"));
    s.write("Mail/Sub/tmp/new/in-sub-tmp", &m("sub-tmp"));
    s.write("Mail/loose-file", &m("loose"));
    s.write("Mail/Sub/dovecot-uidlist", &m("uidlist"));
    s.write("Mail/cur/sub/not-a-message", &m("nested"));
    s.write("Mail/curious/x", &m("curious"));

    s.run(&["Mail"]).diff_is(&[
        add("Mail/cur/in-cur", &m("cur")),
        add("Mail/new/in-new", &m("new")),
        add("Mail/Sub/Deeper/cur/deep", &m("deep")),
        add("Mail/cur/sub/cur/below-cur", &m("below")),
    ]);
}

#[test]
fn excludes_decode_spaces_and_star_crosses_slashes() {
    let s = Sandbox::new();
    let m = |tag: &str| msg(&format!("Subject: {tag}"), &format!("{tag}\n"));
    s.write("Mail/Spam Box/cur/spam", &m("spam"));
    s.write("Mail/Spam Box Two/cur/kept", &m("kept"));
    s.write("Mail/a/b/Trash/cur/trash", &m("trash"));
    s.write("Mail/Trash/cur/top-trash", &m("top-trash"));
    s.write("Mail/Trashy/cur/trashy", &m("trashy"));
    s.write("Mail/cur/inbox", &m("inbox"));

    s.run(&[
        "--exclude",
        "Mail/Spam%20Box",
        "--exclude",
        "*/Trash",
        "Mail",
    ])
    .diff_is(&[
        add("Mail/Spam Box Two/cur/kept", &m("kept")),
        add("Mail/Trashy/cur/trashy", &m("trashy")),
        add("Mail/cur/inbox", &m("inbox")),
    ]);
}

// ---------------------------------------------------------------------------
// Names are bytes
// ---------------------------------------------------------------------------

fn awkward_names() -> Vec<Vec<u8>> {
    vec![
        b"Mail/cur/with space:2,S".to_vec(),
        b"Mail/cur/100% sure %41:2,".to_vec(),
        b"Mail/cur/lit%20eral".to_vec(),
        b"Mail/cur/tab\there".to_vec(),
        b"Mail/cur/cr\rhere".to_vec(),
        b"Mail/cur/\xff\xfe\x80 not utf8".to_vec(),
        b"Mail/caf\xe9 f%lder/new/m\xc3\xa9l".to_vec(),
        [&b"Mail/cur/"[..], &[b'x'; 255]].concat(),
        [&b"Mail/new/"[..], &[b' '; 254], b"%"].concat(),
    ]
}

/// The name field of a diff line, decoded.
fn decoded_field(line: &[u8], field: usize) -> Vec<u8> {
    dec(line.split(|&b| b == b' ').nth(field).expect("field"))
}

#[test]
fn awkward_names_round_trip_through_diff_and_db() {
    let s = Sandbox::new();
    let names = awkward_names();
    let contents: Vec<Vec<u8>> = (0..names.len())
        .map(|i| msg(&format!("Subject: {i}"), &format!("body {i}\n")))
        .collect();
    for (name, content) in names.iter().zip(&contents) {
        s.write(name, content);
    }

    let run = s.run(&["Mail"]);
    let expected: Vec<Vec<u8>> = names
        .iter()
        .zip(&contents)
        .map(|(n, c)| add(n, c))
        .collect();
    run.diff_is(&expected);
    let mut decoded: Vec<Vec<u8>> =
        run.lines().iter().map(|l| decoded_field(l, 1)).collect();
    decoded.sort();
    let mut sorted_names = names.clone();
    sorted_names.sort();
    assert_eq!(decoded, sorted_names);
    for line in run.lines() {
        assert_eq!(line.split(|&b| b == b' ').count(), 4, "{line:?}");
    }
    let db: Vec<Vec<u8>> = names
        .iter()
        .zip(&contents)
        .map(|(n, c)| dbline(n, c))
        .collect();
    s.assert_new_db(&db);

    // Renamed, every name appears on both sides of a MOVE.
    s.promote_trusted();
    let mut expected = Vec::new();
    let mut new_names = Vec::new();
    for (name, content) in names.iter().zip(&contents) {
        let mut to = name.clone();
        *to.last_mut().unwrap() = b'Z';
        s.rename(name, &to);
        expected.push(mv(name, &to, content));
        new_names.push(to);
    }
    let run = s.run(&["Mail"]);
    run.diff_is(&expected);
    for line in run.lines() {
        let from = decoded_field(&line, 1);
        let to = decoded_field(&line, 5);
        let i = names.iter().position(|n| *n == from).expect("known source");
        assert_eq!(to, new_names[i]);
        assert!(s.exists(&to));
    }
}

#[test]
fn an_encoded_root_is_decoded_and_names_are_encoded_back() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("My Mail/cur/a", &a);
    s.write(b"\xffMail/cur/b", &a);
    let run = s.run(&["My%20Mail", "%FFMail"]);
    run.ok();
    s.assert_new_db(&[dbline("My Mail/cur/a", &a), dbline(b"\xffMail/cur/b", &a)]);
}

#[test]
fn paths_longer_than_1024_bytes_round_trip() {
    let s = Sandbox::new();
    let mut folder = b"Mail".to_vec();
    for i in 0..6 {
        folder.push(b'/');
        folder.extend_from_slice(&[b'a' + i; 200]);
    }
    let name = [&folder[..], b"/cur/", &[b'm'; 200], b":2,S"].concat();
    assert!(name.len() > 1400);
    let old = msg("Subject: deep", "deep body\n");
    s.write(&name, &old);

    let run = s.run(&["Mail"]);
    run.diff_is(&[add(&name, &old)]);
    assert_eq!(decoded_field(&run.lines()[0], 1), name);
    assert_eq!(s.new_db(), dbline(&name, &old));

    s.promote_untrusted();
    let new = msg("Subject: deep\nX-Flag: 1", "deep body\n");
    s.write(&name, &new);
    s.run(&["Mail"])
        .diff_is(&[replaceheader(&name, &old, &new)]);
    assert_eq!(s.new_db(), dbline(&name, &new));
}

#[test]
fn a_name_with_a_newline_is_reported_and_left_out() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let bad = msg("Subject: bad", "bad\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/cur/two\nlines", &bad);

    let run = s.run(&["Mail"]);
    run.diff_is(&[add("Mail/cur/a", &a)]);
    assert!(run.stderr.contains("newline"), "{}", run.context());
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

// ---------------------------------------------------------------------------
// Messages without a blank line
// ---------------------------------------------------------------------------

#[test]
fn header_only_and_crlf_mail_are_all_header() {
    let s = Sandbox::new();
    let header_only: &[u8] = b"Subject: only a header\nFrom: x@y\n";
    let crlf: &[u8] = b"Subject: crlf\r\nFrom: x@y\r\n\r\nbody\r\n";
    let no_newline: &[u8] = b"no newline at all";
    let starts_blank: &[u8] = b"\n\nbody after a leading blank line\n";
    let one_newline: &[u8] = b"\nX: y\n\nz";
    s.write("Mail/cur/header-only", header_only);
    s.write("Mail/cur/crlf", crlf);
    s.write("Mail/cur/no-newline", no_newline);
    s.write("Mail/cur/starts-blank", starts_blank);
    s.write("Mail/cur/one-newline", one_newline);

    let line =
        |name: &str, h: String, b: &str| format!("ADD {name} {h} {b}").into_bytes();
    s.run(&["Mail"]).diff_is(&[
        line("Mail/cur/header-only", sha1_hex(header_only), EMPTY_SHA),
        line("Mail/cur/crlf", sha1_hex(crlf), EMPTY_SHA),
        line("Mail/cur/no-newline", sha1_hex(no_newline), EMPTY_SHA),
        line(
            "Mail/cur/starts-blank",
            sha1_hex(b"\n\n"),
            &sha1_hex(b"body after a leading blank line\n"),
        ),
        line(
            "Mail/cur/one-newline",
            sha1_hex(b"\nX: y\n\n"),
            &sha1_hex(b"z"),
        ),
    ]);
    assert!(s.new_db_sorted().contains(
        &format!("{} {EMPTY_SHA} Mail/cur/crlf\n", sha1_hex(crlf)).into_bytes()
    ));
}

#[test]
fn large_messages_split_exactly_across_read_chunks() {
    let s = Sandbox::new();
    let mut expected = Vec::new();
    // The header's last `\n` lands on both sides of 64 KiB and 128 KiB.
    for (i, header_len) in [65535usize, 65536, 65537, 131071, 131072, 131073, 262145]
        .into_iter()
        .enumerate()
    {
        let mut m = b"X: ".to_vec();
        m.resize(header_len - 1, b'h');
        m.extend_from_slice(b"\n\nbody\n");
        let name = format!("Mail/cur/big{i}");
        s.write(&name, &m);
        expected.push(add(&name, &m));
    }
    let mut header_only = vec![b'h'; 300_000];
    header_only.push(b'\n');
    s.write("Mail/cur/big-header-only", &header_only);
    expected.push(
        format!(
            "ADD Mail/cur/big-header-only {} {EMPTY_SHA}",
            sha1_hex(&header_only)
        )
        .into_bytes(),
    );
    s.run(&["Mail"]).diff_is(&expected);
}

// ---------------------------------------------------------------------------
// Symlinks
// ---------------------------------------------------------------------------

#[test]
fn a_symlinked_folder_is_followed_under_the_link_name() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let b = msg("Subject: b", "b\n");
    s.write("Mail/cur/a", &a);
    s.write("Elsewhere/Folder/cur/b", &b);
    s.symlink("../Elsewhere/Folder", "Mail/Linked");

    s.run(&["Mail"])
        .diff_is(&[add("Mail/cur/a", &a), add("Mail/Linked/cur/b", &b)]);
    s.assert_new_db(&[dbline("Mail/cur/a", &a), dbline("Mail/Linked/cur/b", &b)]);
}

#[test]
fn a_symlink_loop_is_reported_once_and_the_scan_succeeds() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.symlink("..", "Mail/loop");

    let run = s.run(&["Mail"]);
    run.diff_is(&[add("Mail/cur/a", &a)]);
    let reports = run.stderr.lines().filter(|l| l.contains("loop")).count();
    assert_eq!(reports, 1, "{}", run.context());
    s.assert_new_db(&[dbline("Mail/cur/a", &a)]);
}

/// A folder given a second name by a symlink (`.Sent` -> `.Sent Messages`)
/// is one folder: listed twice, its messages would reach the other side
/// twice, and deleting the apparent duplicate there would delete the only
/// copy here.
#[test]
fn a_folder_symlinked_under_another_name_counts_once() {
    let s = Sandbox::new();
    let sent = msg("Subject: sent", "sent\n");
    s.write("Mail/.Sent Messages/cur/1:2,S", &sent);
    s.symlink(".Sent Messages", "Mail/.Sent");

    let run = s.run(&["Mail"]);

    let diff = run.ok();
    let adds_of_sent = [
        add("Mail/.Sent Messages/cur/1:2,S", &sent),
        add("Mail/.Sent/cur/1:2,S", &sent),
    ];
    assert_eq!(diff.len(), 1, "{}", run.context());
    assert!(adds_of_sent.contains(&diff[0]), "{}", run.context());
    let reports = run
        .stderr
        .lines()
        .filter(|l| l.contains("under another name"));
    assert_eq!(reports.count(), 1, "{}", run.context());
    assert_eq!(s.new_db_sorted().len(), 1);
}

#[test]
fn a_symlink_to_a_message_is_read_through() {
    let s = Sandbox::new();
    let a = msg("Subject: stored elsewhere", "a\n");
    s.write("Store/a", &a);
    s.mkdir("Mail/cur");
    s.symlink("../../Store/a", "Mail/cur/a:2,S");

    s.run(&["Mail"]).diff_is(&[add("Mail/cur/a:2,S", &a)]);
    s.assert_new_db(&[dbline("Mail/cur/a:2,S", &a)]);
}

// ---------------------------------------------------------------------------
// Roots and db-file options
// ---------------------------------------------------------------------------

#[test]
fn a_trailing_slash_on_a_root_is_dropped() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let b = msg("Subject: b", "b\n");
    s.write("Mail/cur/a", &a);
    s.write("Other/new/b", &b);
    s.run(&["Mail/", "Other"])
        .diff_is(&[add("Mail/cur/a", &a), add("Other/new/b", &b)]);
}

#[test]
fn the_db_file_defaults_to_db_txt_and_can_be_moved() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);

    s.run(&["Mail"]).diff_is(&[add("Mail/cur/a", &a)]);
    assert!(s.exists("db.txt.new") && s.exists("db.txt.mtime.new"));

    s.mkdir("state dir");
    s.run(&["--db-file", "state dir/x.db", "Mail"])
        .diff_is(&[add("Mail/cur/a", &a)]);
    assert_eq!(s.read("state dir/x.db.new"), dbline("Mail/cur/a", &a));
    assert!(s.exists("state dir/x.db.mtime.new"));

    s.promote_db("state dir/x.db", None);
    s.run(&["--db-file=state dir/x.db", "Mail"]).diff_is(&[]);
}

#[test]
fn dry_run_writes_no_new_db() {
    for flag in ["-d", "--dry-run"] {
        let s = Sandbox::new();
        let a = msg("Subject: a", "a\n");
        s.write("Mail/cur/a", &a);
        s.run(&[flag, "Mail"]).diff_is(&[add("Mail/cur/a", &a)]);
        s.assert_no_new_files();
    }
}

#[test]
fn overlapping_roots_list_each_message_once() {
    // `COPY x TO x` tells the client to copy a file onto itself, and the
    // db then holds x twice, which the next scan with the very same
    // arguments turns into `DELETE x` although x is there.
    for roots in [&["Mail", "Mail"][..], &["Mail/", "Mail/Sub"]] {
        let s = Sandbox::new();
        let a = msg("Subject: a", "a\n");
        s.write("Mail/Sub/cur/a", &a);

        s.run(roots).diff_is(&[add("Mail/Sub/cur/a", &a)]);
        s.assert_new_db(&[dbline("Mail/Sub/cur/a", &a)]);
        s.promote_untrusted();
        s.run(roots).diff_is(&[]);
    }
}

#[test]
fn a_db_naming_a_message_twice_never_deletes_it() {
    // The scan meets Mail/cur/a: it is not gone, whatever the db says.
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    s.write("Mail/cur/a", &a);
    s.write(
        "db.txt",
        &[dbline("Mail/cur/a", &a), dbline("Mail/cur/a", &a)].concat(),
    );
    s.write("db.txt.mtime", b"1");

    let run = s.run(&["Mail"]);
    let lines = run.ok();
    assert!(
        !lines.iter().any(|l| l.starts_with(b"DELETE Mail/cur/a ")),
        "a message the scan met is deleted\n{}",
        run.context()
    );
}

#[test]
fn option_values_given_with_equals_keep_their_bytes() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let b = msg("Subject: b", "b\n");
    s.write("Mail/cur/a", &a);
    s.write(b"Mail/\xffJunk/cur/b", &b);

    let run = s.mddiff(&[
        os(b"--exclude=Mail/\xff*"),
        os(b"--db-file=db\xff"),
        os(b"Mail"),
    ]);
    run.diff_is(&[add("Mail/cur/a", &a)]);
    assert!(s.exists(b"db\xff.new"), "db-file name lost its bytes");
}

#[test]
fn long_options_may_be_abbreviated() {
    let (s, a, _, _) = moved_and_removed();
    s.run(&["--no-d", "--no-m", "--db", "db.txt", "Mail"])
        .diff_is(&[
            copy("Mail/cur/a:2,", "Mail/cur/a:2,S", &a),
            delete("Mail/cur/a:2,", &a),
        ]);
}

#[test]
fn excluding_a_folder_after_a_sync_deletes_nothing() {
    let s = Sandbox::new();
    let a = msg("Subject: a", "a\n");
    let w = msg("Subject: w", "w\n");
    s.write("Mail/cur/a", &a);
    s.write("Mail/.work/cur/w", &w);
    s.run(&["Mail"]).ok();
    s.promote_db("db.txt", None);

    // Leaving a folder out of the sync must not tell the other side to
    // delete what it holds; the db keeps its entries.
    s.run(&["--exclude", "Mail/.work", "Mail"]).diff_is(&[]);
    s.assert_new_db(&[dbline("Mail/cur/a", &a), dbline("Mail/.work/cur/w", &w)]);
}
