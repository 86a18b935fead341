//! `smd-server` and `smd-client` talking to each other: real processes,
//! real files, two HOMEs in a temporary folder.
//!
//! Every test checks what a user would: the client's mail equals the
//! server's byte for byte, both db-files are identical (and hold what the
//! server's mailbox holds), exit codes and the `TAGS:` lines scripts parse.

mod sync_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sync_common::*;

const EP: &str = "lap";
/// The db-file of `lap Mail`.
const DB: &str = "lap__Mail.db.txt";
const MAIL: &[&[u8]] = &[b"Mail"];

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

fn mail_of(home: &Path) -> Tree {
    mail_tree(home, MAIL)
}

fn db_of(home: &Path, file: &str) -> Vec<u8> {
    fs::read(db_path(home, file)).unwrap_or_else(|e| {
        panic!("no db-file {} in {}: {e}", file, home.display());
    })
}

/// Both trees equal, both db-files equal and holding the server's mail.
fn assert_converged(sb: &Sandbox, roots: &[&[u8]], db: &str) {
    let server = mail_tree(&sb.server, roots);
    let client = mail_tree(&sb.client, roots);
    assert_same_mail(&server, &client, "server vs client");
    let server_db = db_of(&sb.server, db);
    let client_db = db_of(&sb.client, db);
    assert!(
        server_db == client_db,
        "db-files differ:\n--- server\n{}\n--- client\n{}",
        String::from_utf8_lossy(&server_db),
        String::from_utf8_lossy(&client_db)
    );
    assert_eq!(
        sorted_lines(&server_db),
        expected_db(&server),
        "the db-file does not describe the server's mailbox"
    );
    for home in [&sb.server, &sb.client] {
        for suffix in [".new", ".mtime.new", ".xdelta"] {
            let stale = db_path(home, &format!("{db}{suffix}"));
            assert!(!stale.exists(), "{} left behind", stale.display());
        }
    }
}

fn assert_no_tmp_leftovers(sb: &Sandbox) {
    assert_eq!(
        tmp_leftovers(&sb.client),
        Vec::<Vec<u8>>::new(),
        "files left in tmp/"
    );
}

fn stats(exit: &Exit) -> Stats {
    exit.stats()
        .unwrap_or_else(|| panic!("no stats line in:\n{}", exit.stderr))
}

/// The messages every follow-up test starts from.
fn base_mail() -> Vec<(&'static [u8], Vec<u8>)> {
    vec![
        (b"Mail/cur/a:2,S", mail("a", "body of a")),
        (b"Mail/cur/b:2,", mail("b", "body of b")),
        (b"Mail/new/c", mail("c", "body of c")),
        (
            b"Mail/.Foo Bar/cur/50% off x:2,S",
            mail("foo", "body of foo"),
        ),
        (
            b"Mail/cur/nofinalnl:2,S",
            b"Subject: nf\n\nno final newline".to_vec(),
        ),
        (
            b"Mail/cur/leadingnl:2,S",
            b"\nX-Old: 1\n\nbody after a leading newline\n".to_vec(),
        ),
        (
            b"Mail/cur/headeronly:2,S",
            b"Subject: only a header\nFrom: x@example.org\n".to_vec(),
        ),
        (
            b"Mail/cur/crlf:2,S",
            b"Subject: crlf\r\nFrom: y@example.org\r\n\r\nbody\r\n".to_vec(),
        ),
    ]
}

/// A sandbox whose two sides were synchronized once, ready for changes.
fn synced() -> Sandbox {
    let sb = Sandbox::new();
    for (name, content) in base_mail() {
        put(&sb.server, name, &content);
    }
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    assert_no_tmp_leftovers(&sb);
    settle();
    sb
}

fn follow_up(sb: &Sandbox) -> SyncRun {
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(sb, MAIL, DB);
    assert_no_tmp_leftovers(sb);
    run
}

// ------------------------------------------------------------ first sync

fn big_message() -> Vec<u8> {
    let mut big = b"From: big@example.org\nSubject: five megabytes\n\n".to_vec();
    let mut n = 0u64;
    while big.len() < 5 * 1024 * 1024 {
        big.extend_from_slice(format!("line {n:08} of a large attachment\n").as_bytes());
        n += 1;
    }
    big
}

fn long_name() -> Vec<u8> {
    let mut name = b"Mail/.Deep".to_vec();
    for c in [b'd', b'e', b'f', b'g'] {
        name.push(b'/');
        name.extend_from_slice(&[c; 200]);
    }
    name.extend_from_slice(b"/cur/");
    name.extend_from_slice(&[b'h'; 240]);
    assert!(name.len() > 1024);
    name
}

/// A made-up pair of mailboxes (`Mail` and `My Mail`) with every awkward
/// name and content there is.
fn rich_mail() -> Vec<(Vec<u8>, Vec<u8>)> {
    let dup = mail("dup", "the same message twice");
    let list: Vec<(&[u8], Vec<u8>)> = vec![
        (b"Mail/cur/1000.a.host:2,S", mail("a", "plain")),
        (b"Mail/new/1001.b.host", mail("b", "in new")),
        (
            b"Mail/cur/with space:2,S",
            mail("space", "a space in the name"),
        ),
        (
            b"Mail/cur/100%25 sure%20not%:2,",
            mail("pct", "percent signs"),
        ),
        (b"Mail/cur/tab\there:2,S", mail("tab", "a tab in the name")),
        (b"Mail/cur/caf\xe9:2,S", mail("latin1", "not UTF-8")),
        (b"Mail/new/\xff\xfe", mail("ff", "not UTF-8 at all")),
        (
            b"Mail/cur/quote\"paren)back\\slash",
            mail("quote", "quotes"),
        ),
        (b"Mail/cur/$(touch PWNED)", mail("shell", "no shell here")),
        (b"Mail/cur/-n", mail("dash", "looks like an option")),
        (
            b"Mail/cur/crlf:2,S",
            b"Subject: crlf\r\nFrom: y@example.org\r\n\r\nbody\r\nmore\r\n".to_vec(),
        ),
        (
            b"Mail/cur/headeronly:2,S",
            b"Subject: only a header\nFrom: x@example.org\n".to_vec(),
        ),
        (
            b"Mail/cur/leadingnl:2,S",
            b"\nSubject: starts with a newline\n\nbody\n".to_vec(),
        ),
        (
            b"Mail/cur/nofinalnl:2,S",
            b"Subject: nf\n\nno final newline".to_vec(),
        ),
        (b"Mail/new/big", big_message()),
        (
            b"Mail/.Foo Bar/cur/x:2,S",
            mail("foobar", "folder with a space"),
        ),
        (
            b"Mail/.50%Folder/new/y",
            mail("pctfolder", "folder with a percent"),
        ),
        (
            b"Mail/.50%20Folder/new/y",
            mail("pct20folder", "folder with %20"),
        ),
        (
            b"Mail/.Tab\tFolder/new/t\tt",
            mail("tabfolder", "folder with a tab"),
        ),
        (
            b"Mail/.\xe9t\xe9/cur/z:2,RS",
            mail("latin1folder", "latin-1 folder"),
        ),
        (b"Mail/cur/dup1", dup.clone()),
        (b"My Mail/cur/dup2:2,S", dup),
        (
            b"My Mail/cur/space name here:2,S",
            mail("mymail", "second root"),
        ),
        (b"My Mail/new/x y", mail("mymail2", "second root, new")),
        (
            b"My Mail/.Sub/cur/s",
            mail("sub", "a subfolder of the second root"),
        ),
    ];
    let mut all: Vec<(Vec<u8>, Vec<u8>)> =
        list.into_iter().map(|(n, c)| (n.to_vec(), c)).collect();
    all.push((long_name(), mail("long", "a name longer than 1024 bytes")));
    all
}

const RICH_DB: &str = "lap__Mail__My_20Mail.db.txt";
const RICH_ROOTS: &[&[u8]] = &[b"Mail", b"My Mail"];

#[test]
fn first_sync_copies_every_message_byte_for_byte() {
    let sb = Sandbox::new();
    let messages = rich_mail();
    for (name, content) in &messages {
        put(&sb.server, name, content);
    }
    // Not messages: never sent.
    put(
        &sb.server,
        b"Mail/tmp/in-tmp",
        &mail("tmp", "being delivered"),
    );
    put(
        &sb.server,
        b"Mail/.Foo Bar/tmp/in-tmp",
        &mail("tmp2", "being delivered"),
    );
    put(&sb.server, b"Mail/dovecot-uidlist", b"3 V1 N2\n");
    put(&sb.server, b"Mail/cur/empty", b"");
    let outside_before = without(snapshot(sb.root()), &[b"a/srv", b"b/cli"]);

    let run = sb.sync(&[EP, "Mail", "My%20Mail"], &[EP, "Mail", "My%20Mail"]);
    run.assert_ok();

    let server = mail_tree(&sb.server, RICH_ROOTS);
    let client = mail_tree(&sb.client, RICH_ROOTS);
    let mut expected: Tree = messages.iter().cloned().collect();
    expected.insert(b"Mail/cur/empty".to_vec(), Vec::new());
    assert_same_mail(&server, &expected, "server fixture");
    expected.remove(b"Mail/cur/empty".as_slice());
    assert_same_mail(&expected, &client, "server vs client");
    assert_converged_except_empty(&sb);

    // Every folder written to is a whole Maildir.
    for name in expected.keys() {
        let folder = sb
            .client
            .join(path_of(name))
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_owned();
        for sub in ["cur", "new", "tmp"] {
            assert!(
                folder.join(sub).is_dir(),
                "{} lacks {sub}",
                folder.display()
            );
        }
    }
    assert!(!exists(&sb.client, b"Mail/tmp/in-tmp"));
    assert!(!exists(&sb.client, b"Mail/dovecot-uidlist"));

    // Stats: every message fetched once (the duplicate is copied locally).
    let gets: Vec<Vec<u8>> = run
        .requests()
        .into_iter()
        .filter_map(|r| r.strip_prefix(b"GET ").map(<[u8]>::to_vec))
        .collect();
    let fetched_bytes: u64 = gets.iter().map(|g| expected[g].len() as u64).sum();
    let s = stats(&run.client);
    assert_eq!(s.new_mails, gets.len() as u64, "{}", run.client.stderr);
    assert!(gets.len() >= expected.len() - 1, "{}", run.explain());
    assert_eq!(s.del_mails, 0);
    assert_eq!(s.bytes_received, fetched_bytes);
    assert!(s.xdelta_received > 0);
    assert_eq!(run.client.tags().len(), 1, "{}", run.client.stderr);
    assert!(run.client.errors().is_empty(), "{}", run.client.stderr);
    assert!(run.server.errors().is_empty(), "{}", run.server.stderr);

    // The server alone keeps the scan time.
    assert!(db_path(&sb.server, &format!("{RICH_DB}.mtime")).exists());
    assert!(!db_path(&sb.client, &format!("{RICH_DB}.mtime")).exists());

    // Nothing outside the two HOMEs changed; no shell ran a name.
    let outside_after = without(snapshot(sb.root()), &[b"a/srv", b"b/cli"]);
    assert_eq!(
        snapshot_changes(&outside_before, &outside_after),
        Vec::<String>::new()
    );
    for home in [&sb.server, &sb.client] {
        assert!(
            !snapshot(home).keys().any(|k| k.ends_with(b"PWNED")),
            "a name was run as shell code"
        );
    }

    // A second run has nothing to do.
    let again = sb.sync(&[EP, "Mail", "My%20Mail"], &[EP, "Mail", "My%20Mail"]);
    again.assert_ok();
    assert_eq!(again.diff_text(), Vec::<String>::new());
    assert_eq!(again.count_requests("GET"), 0);
    assert_eq!(stats(&again.client).new_mails, 0);
    assert_converged_except_empty(&sb);
}

fn assert_converged_except_empty(sb: &Sandbox) {
    let mut server = mail_tree(&sb.server, RICH_ROOTS);
    server.retain(|_, content| !content.is_empty());
    let client = mail_tree(&sb.client, RICH_ROOTS);
    assert_same_mail(&server, &client, "server vs client");
    let server_db = db_of(&sb.server, RICH_DB);
    assert_eq!(server_db, db_of(&sb.client, RICH_DB), "db-files differ");
    assert_eq!(sorted_lines(&server_db), expected_db(&server));
    assert_no_tmp_leftovers(sb);
}

/// Received messages take their folder's permissions without the execute
/// bits: private in a private Maildir, group-readable in a shared one
/// (assuming the usual umask, which takes nothing from these modes).
#[test]
fn received_mail_takes_the_permissions_of_its_folder() {
    use std::os::unix::fs::PermissionsExt;

    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/private", &mail("p", "private"));
    put(&sb.server, b"Mail/.Shared/cur/shared", &mail("s", "shared"));
    for (folder, mode) in [("Mail", 0o700), ("Mail/.Shared", 0o750)] {
        for sub in ["cur", "new", "tmp"] {
            let dir = sb.client.join(folder).join(sub);
            fs::create_dir_all(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        }
    }

    sb.sync(&[EP, "Mail"], &[EP, "Mail"]).assert_ok();
    let mode_of = |name: &str| {
        fs::metadata(sb.client.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode_of("Mail/cur/private"), 0o600);
    assert_eq!(mode_of("Mail/.Shared/cur/shared"), 0o640);
}

/// A message met twice in one scan is sent as an ADD and a COPY of it,
/// "instead of a second transfer" (diff.rs). Mailboxes with a folder
/// holding a copy of every message (Gmail's "All Mail") are full of them.
/// The client must then copy it locally, not fetch it a second time.
#[test]
fn duplicates_in_one_scan_are_transferred_once() {
    let sb = Sandbox::new();
    let dup = mail("dup", "the same message in two folders");
    put(&sb.server, b"Mail/cur/1:2,S", &dup);
    put(&sb.server, b"Mail/.All Mail/cur/1:2,S", &dup);
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    let mut verbs = run.verbs();
    verbs.sort();
    assert_eq!(verbs, ["ADD", "COPY"], "{}", run.explain());
    assert_eq!(
        run.count_requests("GET"),
        1,
        "fetched twice:\n{}",
        run.explain()
    );
    assert_eq!(stats(&run.client).new_mails, 1);
}

/// SPEC §2: one trailing `/` is dropped from the endpoint and from the
/// joined mailboxes, `/` and `%` become `_`; both sides name the db-file
/// alike, and `Mail/` and `Mail` are the same mailbox.
#[test]
fn db_file_names_follow_the_endpoint_and_mailbox_rule() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/a", &mail("a", "x"));
    put(&sb.server, b"My Mail/cur/b", &mail("b", "y"));
    let run = sb.sync(
        &["lap/top/", "Mail/", "My%20Mail/"],
        &["lap/top/", "Mail/", "My%20Mail/"],
    );
    run.assert_ok();
    let db = "lap_top__Mail___My_20Mail.db.txt";
    let names: Vec<String> = fs::read_dir(sb.client.join(".smd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [db], "client db-file");
    assert_eq!(db_of(&sb.server, db), db_of(&sb.client, db));
    assert_eq!(
        sorted_lines(&db_of(&sb.server, db)),
        expected_db(&mail_tree(&sb.server, RICH_ROOTS))
    );

    // The same mailbox without the slash: same names in the diff and db.
    let run = sb.sync(&["lap", "Mail"], &["lap", "Mail"]);
    run.assert_ok();
    assert_eq!(run.verbs(), ["ADD"]);
    assert_eq!(
        sorted_lines(&db_of(&sb.client, DB)),
        expected_db(&mail_of(&sb.server))
    );
}

// ------------------------------------------------------- follow-up syncs

#[test]
fn add_fetches_the_new_message() {
    let sb = synced();
    let new = mail("added", "a new one");
    put(&sb.server, b"Mail/new/added", &new);
    put(
        &sb.server,
        b"Mail/.Fresh Folder/new/first",
        &mail("f", "in a new folder"),
    );
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["ADD", "ADD"], "{}", run.explain());
    let s = stats(&run.client);
    assert_eq!((s.new_mails, s.del_mails), (2, 0));
    assert!(sb.client.join("Mail/.Fresh Folder/tmp").is_dir());
}

#[test]
fn a_sync_with_nothing_to_do_keeps_both_db_files_and_moves_the_scan_time() {
    use std::os::unix::fs::MetadataExt;

    let sb = synced();
    let server_db = db_path(&sb.server, DB);
    let client_db = db_path(&sb.client, DB);
    let before = [&server_db, &client_db].map(|path| fs::metadata(path).unwrap().ino());
    let scan_time = db_path(&sb.server, &format!("{DB}.mtime"));
    fs::write(&scan_time, "1000000000").unwrap();
    // A db.new left by a run killed before its COMMIT must not outlive
    // this run, or a later handshake could take it for the current db.
    fs::write(db_path(&sb.server, &format!("{DB}.new")), "stale\n").unwrap();

    let run = follow_up(&sb);

    assert!(run.verbs().is_empty(), "{}", run.explain());
    let after = [&server_db, &client_db].map(|path| fs::metadata(path).unwrap().ino());
    assert_eq!(before, after, "a db-file was rewritten");
    let recorded: i64 = fs::read_to_string(&scan_time)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(recorded > 1_000_000_000, "the scan time stayed {recorded}");
}

#[test]
fn copy_is_done_locally() {
    let sb = synced();
    fs::copy(
        sb.server.join("Mail/cur/a:2,S"),
        sb.server.join("Mail/cur/a copy:2,S"),
    )
    .unwrap();
    fs::copy(
        sb.server.join("Mail/.Foo Bar/cur/50% off x:2,S"),
        sb.server.join("Mail/new/50% copy"),
    )
    .unwrap();
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["COPY", "COPY"], "{}", run.explain());
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(stats(&run.client).new_mails, 0);
}

/// SPEC §9: `touch a; cp a b` must be a COPY, never a MOVE that takes `a`
/// away from the client.
#[test]
fn copy_of_a_touched_file_keeps_the_source() {
    let sb = synced();
    let source = sb.server.join("Mail/cur/b:2,");
    fs::File::options()
        .write(true)
        .open(&source)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    fs::copy(&source, sb.server.join("Mail/cur/b copy:2,")).unwrap();
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["COPY"], "{}", run.explain());
    assert!(exists(&sb.client, b"Mail/cur/b:2,"));
}

#[test]
fn flag_changes_are_moves() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    rename(&sb.server, b"Mail/new/c", b"Mail/cur/c:2,S");
    rename(
        &sb.server,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        b"Mail/.Foo Bar/cur/50% off x:2,ST",
    );
    rename(
        &sb.server,
        b"Mail/cur/headeronly:2,S",
        b"Mail/cur/headeronly:2,FS",
    );
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["MOVE"; 4], "{}", run.explain());
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(stats(&run.client).new_mails, 0);
}

#[test]
fn copybody_fetches_only_the_header() {
    let sb = synced();
    let original = read(&sb.server, b"Mail/cur/a:2,S");
    let (_, body) = split(&original);
    let new = cat(&[b"From: other@example.org\nSubject: resent\n\n", body]);
    put(&sb.server, b"Mail/cur/resent:2,S", &new);
    // The same on a body without a final newline.
    let original = read(&sb.server, b"Mail/cur/nofinalnl:2,S");
    let (_, body) = split(&original);
    let new2 = cat(&[b"Subject: nf again\n\n", body]);
    put(&sb.server, b"Mail/new/nf again", &new2);
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["COPYBODY", "COPYBODY"], "{}", run.explain());
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(run.count_requests("GETHEADER"), 2, "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/cur/resent:2,S"), new);
    assert_eq!(read(&sb.client, b"Mail/new/nf again"), new2);
}

#[test]
fn delete_removes_the_message() {
    let sb = synced();
    remove(&sb.server, b"Mail/cur/b:2,");
    remove(&sb.server, b"Mail/.Foo Bar/cur/50% off x:2,S");
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["DELETE", "DELETE"], "{}", run.explain());
    let s = stats(&run.client);
    assert_eq!((s.new_mails, s.del_mails), (0, 2));
    assert!(!exists(&sb.client, b"Mail/cur/b:2,"));
}

/// SPEC §9: the name is URL-encoded (1.3 wrote it raw), and the new header
/// is spliced byte for byte onto bodies without a final newline and onto
/// messages starting with a newline.
#[test]
fn replaceheader_splices_the_new_header() {
    let sb = synced();
    let rewrite = |name: &[u8], header: &[u8]| {
        let old = read(&sb.server, name);
        let (_, body) = split(&old);
        let new = cat(&[header, body]);
        put(&sb.server, name, &new);
        new
    };
    let a = rewrite(
        b"Mail/cur/a:2,S",
        b"From: someone@example.org\nX-Label: important\n\n",
    );
    let foo = rewrite(b"Mail/.Foo Bar/cur/50% off x:2,S", b"Subject: renamed\n\n");
    let nf = rewrite(b"Mail/cur/nofinalnl:2,S", b"Subject: nf\nX-Spam: no\n\n");
    let lead = rewrite(b"Mail/cur/leadingnl:2,S", b"\nX-New: 2\n\n");
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["REPLACEHEADER"; 4], "{}", run.explain());
    assert!(
        run.diff_text()
            .iter()
            .any(|l| l
                .starts_with("REPLACEHEADER Mail/.Foo%20Bar/cur/50%25%20off%20x:2,S ")),
        "the name is not encoded: {:?}",
        run.diff_text()
    );
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(run.count_requests("GETHEADER"), 4, "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/cur/a:2,S"), a);
    assert_eq!(read(&sb.client, b"Mail/.Foo Bar/cur/50% off x:2,S"), foo);
    assert_eq!(read(&sb.client, b"Mail/cur/nofinalnl:2,S"), nf);
    assert_eq!(read(&sb.client, b"Mail/cur/leadingnl:2,S"), lead);
    assert_eq!(stats(&run.client).new_mails, 0);
}

#[test]
fn replace_fetches_the_new_message() {
    let sb = synced();
    let new = mail("a", "a different body");
    put(&sb.server, b"Mail/cur/a:2,S", &new);
    let crlf = b"Subject: crlf\r\nFrom: y@example.org\r\n\r\nchanged\r\n".to_vec();
    put(&sb.server, b"Mail/cur/crlf:2,S", &crlf);
    let run = follow_up(&sb);
    let mut verbs = run.verbs();
    verbs.sort();
    // A CRLF message is all header: changing it changes its header only.
    assert_eq!(verbs, ["REPLACE", "REPLACEHEADER"], "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/cur/a:2,S"), new);
    assert_eq!(read(&sb.client, b"Mail/cur/crlf:2,S"), crlf);
    assert_eq!(stats(&run.client).new_mails, 1, "{}", run.explain());
}

#[test]
fn many_changes_at_once_converge() {
    let sb = synced();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "new one"));
    fs::copy(
        sb.server.join("Mail/cur/b:2,"),
        sb.server.join("Mail/cur/b2:2,"),
    )
    .unwrap();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    remove(&sb.server, b"Mail/new/c");
    let foo = read(&sb.server, b"Mail/.Foo Bar/cur/50% off x:2,S");
    put(
        &sb.server,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        &cat(&[b"Subject: changed\n\n", split(&foo).1]),
    );
    put(
        &sb.server,
        b"Mail/cur/headeronly:2,S",
        b"Subject: replaced whole\n",
    );
    let run = follow_up(&sb);
    let mut verbs = run.verbs();
    verbs.sort();
    assert_eq!(
        verbs,
        [
            "ADD",
            "COPY",
            "DELETE",
            "MOVE",
            "REPLACEHEADER",
            "REPLACEHEADER"
        ],
        "{}",
        run.explain()
    );
    // DELETEs come last.
    assert_eq!(run.verbs().last().unwrap(), "DELETE");
}

/// SPEC §9: a message emptied on the server (a full disk, a crash) is not
/// a deletion: the client keeps its good copy.
#[test]
fn an_emptied_message_is_not_deleted_on_the_client() {
    let sb = synced();
    let good = read(&sb.client, b"Mail/cur/b:2,");
    fs::write(sb.server.join("Mail/cur/b:2,"), b"").unwrap();
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert!(
        !run.verbs().contains(&"DELETE".to_owned()),
        "{}",
        run.explain()
    );
    assert_eq!(read(&sb.client, b"Mail/cur/b:2,"), good);
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
    assert!(String::from_utf8_lossy(&db_of(&sb.server, DB)).contains("Mail/cur/b:2,"));
}

/// A name with a newline cannot be written in a diff line: it is left out
/// with a warning, and everything else is synchronized.
#[test]
fn a_name_with_a_newline_is_skipped() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/ok", &mail("ok", "fine"));
    put(&sb.server, b"Mail/cur/new\nline", &mail("nl", "unnamable"));
    let run = sb.sync(&["-v", EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.verbs(), ["ADD"], "{}", run.explain());
    assert!(exists(&sb.client, b"Mail/cur/ok"));
    assert!(
        run.server.stderr.contains("newline"),
        "{}",
        run.server.stderr
    );
}

/// A MOVE whose source was changed here fetches the target and leaves the
/// changed source alone (SPEC §5).
#[test]
fn move_with_a_locally_changed_source_keeps_it() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/b:2,", b"Mail/cur/b:2,S");
    let mine = mail("b", "changed here");
    put(&sb.client, b"Mail/cur/b:2,", &mine);
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(read(&sb.client, b"Mail/cur/b:2,"), mine);
    assert_eq!(
        read(&sb.client, b"Mail/cur/b:2,S"),
        read(&sb.server, b"Mail/cur/b:2,S")
    );
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
    assert_eq!(stats(&run.client).new_mails, 1);
    assert!(
        run.client.stderr.contains("WARNING:")
            && run.client.stderr.contains("both versions are kept"),
        "{}",
        run.client.stderr
    );
}

/// Both sides renamed the same messages between two syncs (flags set on
/// each side, a folder move there and a flag change here, a header edited
/// there on a message renamed here). The client finds its renamed copy
/// and moves it, keeping the flags of both sides, instead of fetching a
/// second copy; the sync back carries the merged names to the server, and
/// each message ends up once on each side.
#[test]
fn a_message_renamed_on_both_sides_stays_one_message() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,FS");
    rename(&sb.client, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    rename(&sb.server, b"Mail/cur/b:2,", b"Mail/.Foo Bar/cur/b:2,");
    rename(&sb.client, b"Mail/cur/b:2,", b"Mail/cur/b:2,S");
    rename(&sb.server, b"Mail/new/c", b"Mail/cur/c:2,F");
    rename(&sb.client, b"Mail/new/c", b"Mail/cur/c:2,S");
    let original = read(&sb.server, b"Mail/cur/nofinalnl:2,S");
    let edited = cat(&[b"Subject: edited there\n\n", split(&original).1]);
    put(&sb.server, b"Mail/cur/nofinalnl:2,S", &edited);
    rename(
        &sb.client,
        b"Mail/cur/nofinalnl:2,S",
        b"Mail/cur/nofinalnl:2,RS",
    );
    let a = read(&sb.client, b"Mail/cur/a:2,RS");
    let b = read(&sb.client, b"Mail/cur/b:2,S");
    let c = read(&sb.client, b"Mail/cur/c:2,S");

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(run.count_requests("GETHEADER"), 1, "{}", run.explain());
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
    let client = mail_of(&sb.client);
    let mut expected = mail_of(&sb.server);
    expected.remove(&b"Mail/cur/a:2,FS"[..]);
    expected.insert(b"Mail/cur/a:2,FRS".to_vec(), a);
    expected.remove(&b"Mail/.Foo Bar/cur/b:2,"[..]);
    expected.insert(b"Mail/.Foo Bar/cur/b:2,S".to_vec(), b);
    expected.remove(&b"Mail/cur/c:2,F"[..]);
    expected.insert(b"Mail/cur/c:2,FS".to_vec(), c);
    expected.remove(&b"Mail/cur/nofinalnl:2,S"[..]);
    expected.insert(b"Mail/cur/nofinalnl:2,RS".to_vec(), edited);
    assert_same_mail(&expected, &client, "expected vs client");

    let back = sb.sync_back(&[EP, "Mail"]);
    back.assert_ok();
    assert_eq!(back.verbs(), ["MOVE"; 4], "{}", back.explain());
    assert_eq!(back.count_requests("GET"), 0, "{}", back.explain());
    assert_converged(&sb, MAIL, DB);
    assert_eq!(mail_of(&sb.server), expected);
}

/// Moved to another folder here, flagged there: the pull finds the copy
/// in its new folder and keeps that folder, with the new flag.
#[test]
fn a_message_moved_here_and_flagged_there_keeps_both_changes() {
    let sb = synced();
    rename(&sb.client, b"Mail/cur/b:2,", b"Mail/.Foo Bar/cur/b:2,");
    rename(&sb.server, b"Mail/cur/b:2,", b"Mail/cur/b:2,F");
    let b = read(&sb.client, b"Mail/.Foo Bar/cur/b:2,");

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/.Foo Bar/cur/b:2,F"), b);
    assert!(!exists(&sb.client, b"Mail/cur/b:2,F"));

    let back = sb.sync_back(&[EP, "Mail"]);
    back.assert_ok();
    assert_eq!(back.verbs(), ["MOVE"], "{}", back.explain());
    assert_converged(&sb, MAIL, DB);
    assert_eq!(read(&sb.server, b"Mail/.Foo Bar/cur/b:2,F"), b);
}

/// Moved to another folder here, header edited there: the new header goes
/// onto the moved copy, which stays where it was moved.
#[test]
fn a_message_moved_here_gets_the_header_edited_there() {
    let sb = synced();
    rename(&sb.client, b"Mail/cur/b:2,", b"Mail/.Foo Bar/cur/b:2,");
    let original = read(&sb.server, b"Mail/cur/b:2,");
    let edited = cat(&[b"Subject: edited there\n\n", split(&original).1]);
    put(&sb.server, b"Mail/cur/b:2,", &edited);

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/.Foo Bar/cur/b:2,"), edited);
    assert!(!exists(&sb.client, b"Mail/cur/b:2,"));
    assert_no_tmp_leftovers(&sb);

    sb.sync_back(&[EP, "Mail"]).assert_ok();
    assert_converged(&sb, MAIL, DB);
}

/// With `--no-move` a rename arrives as a COPY and a DELETE of its
/// source, which is still a rename: the renamed copy here is used too.
#[test]
fn a_split_rename_finds_the_copy_renamed_here() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,FS");
    rename(&sb.client, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    let a = read(&sb.client, b"Mail/cur/a:2,RS");

    let run = sb.sync(&["--no-move", EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.verbs(), ["COPY", "DELETE"], "{}", run.explain());
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(read(&sb.client, b"Mail/cur/a:2,FRS"), a);
    for gone in [
        &b"Mail/cur/a:2,RS"[..],
        b"Mail/cur/a:2,FS",
        b"Mail/cur/a:2,S",
    ] {
        assert!(
            !exists(&sb.client, gone),
            "{}",
            String::from_utf8_lossy(gone)
        );
    }
}

/// A renamed copy is taken only when it is surely the message: never a
/// name the server knows, and never when two copies could be it.
#[test]
fn a_renamed_copy_is_not_taken_when_in_doubt() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,FS");
    rename(&sb.client, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    fs::copy(
        sb.client.join("Mail/cur/a:2,RS"),
        sb.client.join("Mail/new/a"),
    )
    .unwrap();

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.count_requests("GET"), 1, "{}", run.explain());
    for kept in [&b"Mail/cur/a:2,RS"[..], b"Mail/new/a", b"Mail/cur/a:2,FS"] {
        assert!(
            exists(&sb.client, kept),
            "{}",
            String::from_utf8_lossy(kept)
        );
    }
}

#[test]
fn a_copy_the_server_knows_is_not_taken_as_renamed() {
    let sb = synced();
    let a = read(&sb.server, b"Mail/cur/a:2,S");
    put(&sb.server, b"Mail/new/a", &a);
    follow_up(&sb);
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,FS");
    remove(&sb.client, b"Mail/cur/a:2,S");

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.count_requests("GET"), 1, "{}", run.explain());
    assert_converged(&sb, MAIL, DB);
}

// ------------------------------------------- races with the server's user

/// Passes the diff on only after `action` ran on the server's mailbox.
fn after_the_diff(action: impl FnOnce() + Send + 'static) -> Hook {
    Hook {
        after: b"\nEND\n".to_vec(),
        action: Box::new(action),
    }
}

/// A message removed on the server between the scan and its GET (mail
/// deleted in a mail reader while a sync runs) is a transient failure on
/// both sides: avoidable, retry (SPEC §4 step 3: the server exits 7, and
/// an `ABORT` or end of stream means "network, retry" to a client). The
/// next run converges.
#[test]
fn a_message_deleted_during_the_sync_is_retried() {
    let sb = synced();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "soon gone"));
    let gone = sb.server.join("Mail/new/n1");
    let run = sb.sync_hooked(
        &[EP, "Mail"],
        &[EP, "Mail"],
        after_the_diff(move || fs::remove_file(gone).unwrap()),
    );
    assert_eq!(run.verbs(), ["ADD"], "{}", run.explain());
    assert_eq!(run.server.code, Some(7), "{}", run.explain());
    assert_eq!(
        run.server.tags(),
        [
            "error::context(transmit) probable-cause(simultaneous-mailbox-edit) \
          human-intervention(avoidable) suggested-actions(retry)"
        ]
    );
    assert_eq!(run.client.code, Some(6), "{}", run.explain());
    let tags = run.client.tags();
    assert!(
        tags.len() == 1
            && tags[0].contains("human-intervention(avoidable)")
            && tags[0].ends_with("suggested-actions(retry)"),
        "a retry would fix this, but the client asks for a person:\n{}",
        run.client.stderr
    );
    assert!(!exists(&sb.client, b"Mail/new/n1"));
    assert_no_tmp_leftovers(&sb);
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));

    let run = follow_up(&sb);
    assert_eq!(run.verbs(), Vec::<String>::new());
}

/// A message rewritten on the server between the scan and its GET: the
/// client finds it is not what the diff said, keeps nothing of it, says
/// "retry", and the next run brings the new version.
#[test]
fn a_message_changed_during_the_sync_is_retried() {
    let sb = synced();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "first version"));
    let changed = sb.server.join("Mail/new/n1");
    let run = sb.sync_hooked(
        &[EP, "Mail"],
        &[EP, "Mail"],
        after_the_diff(move || {
            fs::write(changed, mail("n1", "second, longer version")).unwrap()
        }),
    );
    run.assert_codes(5, 1);
    assert_eq!(
        run.client.tags(),
        [
            "error::context(receive) probable-cause(modify-while-update) \
          human-intervention(avoidable) suggested-actions(retry)"
        ]
    );
    assert!(!exists(&sb.client, b"Mail/new/n1"));
    assert_no_tmp_leftovers(&sb);
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));

    follow_up(&sb);
    assert_eq!(
        read(&sb.client, b"Mail/new/n1"),
        mail("n1", "second, longer version")
    );
}

#[test]
fn a_missing_mailbox_on_the_server_stops_the_run() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/a", &mail("a", "x"));
    let before = snapshot(&sb.client);
    let run = sb.sync(&[EP, "Mail", "Nope"], &[EP, "Mail", "Nope"]);
    run.assert_codes(5, 3);
    assert!(
        run.client.errors().iter().any(|l| l.contains("Nope")),
        "{}",
        run.client.stderr
    );
    assert_eq!(run.client.tags().len(), 1, "{}", run.client.stderr);
    assert_eq!(
        snapshot_changes(
            &without(before, &[b".smd"]),
            &without(snapshot(&sb.client), &[b".smd"])
        ),
        Vec::<String>::new()
    );
}

/// A server that cannot save its new db-file says so in its own tags
/// (with the file to look at); the client only knows the other side's scan
/// failed. Nothing changes on either side.
#[test]
fn a_server_unable_to_save_its_db_says_why() {
    let sb = synced();
    put(&sb.server, b"Mail/cur/n", &mail("n", "new"));
    let new_db = db_path(&sb.server, &format!("{DB}.new"));
    fs::create_dir(&new_db).unwrap();
    let before = snapshot(&sb.client);

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_codes(5, 3);
    assert_eq!(
        run.server.tags(),
        [format!(
            "error::context(mddiff) probable-cause(bad-permissions) \
             human-intervention(necessary) suggested-actions(display-permissions({}))",
            quoted(&new_db)
        )],
        "{}",
        run.server.stderr
    );
    assert_eq!(
        run.client.tags(),
        ["error::context(mddiff) probable-cause(unknown) human-intervention(necessary) "],
        "{}",
        run.client.stderr
    );
    let said_once = run
        .server
        .errors()
        .iter()
        .filter(|l| l.contains("unable to save"))
        .count();
    assert_eq!(said_once, 1, "{}", run.server.stderr);
    assert!(new_db.is_dir());
    assert_eq!(
        snapshot_changes(&before, &snapshot(&sb.client)),
        Vec::<String>::new()
    );
}

/// A translator that sends a folder's mail to its `tmp/`, where no scan
/// looks, would make the next sync delete that mail on the other side:
/// its answer is refused before anything is written.
#[test]
fn a_translator_answer_in_a_tmp_folder_is_refused() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/a", &mail("a", "kept safe"));
    let translator = sb.root().join("to-tmp");
    script(
        &translator,
        "#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"${line%/*}/tmp\"; done\n",
    );
    let translator = translator.to_str().unwrap();
    let before = snapshot(&sb.client);

    let run = sb.sync(&[EP, "Mail"], &["-t", translator, EP, "Mail"]);
    assert_ne!(run.client.code, Some(0), "{}", run.explain());
    let tags = run.client.tags().join("\n");
    assert!(tags.contains("probable-cause(bad-translator)"), "{tags}");
    assert!(
        run.client.errors().iter().any(|e| e.contains("Mail/tmp")),
        "{}",
        run.client.stderr
    );
    assert_eq!(
        snapshot_changes(
            &without(before, &[b".smd"]),
            &without(snapshot(&sb.client), &[b".smd"])
        ),
        Vec::<String>::new()
    );
}

// ------------------------------------------------------------ local sync

const TO_BACKUP: &str = r#"#!/bin/sh
while IFS= read -r line; do printf 'MailBK%s\n' "${line#Mail}"; done
"#;

/// `-l`: server and client share one HOME and one db-file (smd-pull with
/// SERVERNAME=localhost); the client maps `Mail` to `MailBK` and leaves the
/// db to the server.
#[test]
fn local_sync_shares_one_home_and_one_db() {
    let sb = Sandbox::new();
    for (name, content) in base_mail() {
        put(&sb.server, name, &content);
    }
    script(&sb.server.join("bin/to-backup"), TO_BACKUP);
    let home = sb.server.clone();
    let local = |n: usize| {
        run_pair(
            &home,
            &os_args(&[EP, "Mail"]),
            &home,
            &os_args(&["-l", "-t", "bin/to-backup", EP, "Mail"]),
            sb.logs.path(),
            100 + n,
            None,
        )
    };
    let check = || {
        let mail = mail_of(&home);
        let backup: Tree = mail_tree(&home, &[b"MailBK"])
            .into_iter()
            .map(|(name, content)| (cat(&[b"Mail", &name[6..]]), content))
            .collect();
        assert_same_mail(&mail, &backup, "Mail vs MailBK");
        assert_eq!(sorted_lines(&db_of(&home, DB)), expected_db(&mail));
        for suffix in [".new", ".mtime.new"] {
            assert!(!db_path(&home, &format!("{DB}{suffix}")).exists());
        }
    };
    let run = local(0);
    run.assert_ok();
    check();

    settle();
    rename(&home, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    remove(&home, b"Mail/new/c");
    put(&home, b"Mail/new/d", &mail("d", "new"));
    let run = local(1);
    run.assert_ok();
    check();
}

// ------------------------------------------------------------- conflicts

fn quoted(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!("\"{}\"", text.replace('"', "\\\"").replace(')', "\\)"))
}

/// The suggestion to set `name` aside, under a new name in its own folder
/// (`tmp/` would do: mail servers clean it out).
fn move_aside(sb: &Sandbox, name: &[u8]) -> String {
    let path = sb.client.join(path_of(name));
    let file_name = bytes_of(Path::new(path.file_name().unwrap()));
    let aside = path
        .parent()
        .unwrap()
        .join(path_of(&smd::maildir::aside_name(file_name, 1)));
    format!("run(mv -n {} {})", quoted(&path), quoted(&aside))
}

const INVERSE: &str = "run(@@INVERSECOMMAND@@ @@ENDPOINT@@)";

/// Runs a sync that must stop on a conflict over the client's `local`
/// file, checks the report and that nothing was lost, resolves it with the
/// first suggested action, and checks the next run converges.
fn check_conflict(sb: &Sandbox, local: &[u8], context: &str, actions: &[String]) {
    let mine = read(&sb.client, local);
    let server_db = db_of(&sb.server, DB);
    let client_db = db_of(&sb.client, DB);
    let server_before = snapshot(&sb.server);

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_codes(5, 3);
    let expected = format!(
        "error::context({context}) probable-cause(concurrent-mailbox-edit) \
         human-intervention(necessary) suggested-actions({})",
        actions.join(" ")
    );
    assert_eq!(
        run.client.tags(),
        [expected.as_str()],
        "{}",
        run.client.stderr
    );
    let path = sb.client.join(path_of(local));
    assert!(
        run.client
            .errors()
            .iter()
            .any(|l| l.contains(&*path.to_string_lossy())),
        "no ERROR line names {}:\n{}",
        path.display(),
        run.client.stderr
    );
    assert!(
        run.request_text().contains(&"ABORT".to_owned()),
        "{}",
        run.explain()
    );

    // Nothing lost, nothing agreed.
    assert_eq!(read(&sb.client, local), mine, "the local file was touched");
    assert_eq!(db_of(&sb.server, DB), server_db);
    assert_eq!(db_of(&sb.client, DB), client_db);
    let server_after = snapshot(&sb.server);
    assert_eq!(
        snapshot_changes(&server_before, &server_after),
        Vec::<String>::new()
    );

    // Resolve as suggested; the next run converges.
    check_conflict_resolution(sb, &actions[0]);
}

#[test]
fn conflict_on_add() {
    let sb = synced();
    put(
        &sb.server,
        b"Mail/new/fresh",
        &mail("fresh", "from the server"),
    );
    put(&sb.client, b"Mail/new/fresh", &mail("fresh", "made here"));
    let actions = [move_aside(&sb, b"Mail/new/fresh")];
    check_conflict(&sb, b"Mail/new/fresh", "mail-addition", &actions);
    // Both versions are kept, on both sides.
    for home in [&sb.client, &sb.server] {
        assert_eq!(
            read(home, b"Mail/new/fresh.aside1"),
            mail("fresh", "made here")
        );
        assert_eq!(
            read(home, b"Mail/new/fresh"),
            mail("fresh", "from the server")
        );
    }
}

#[test]
fn conflict_on_copy() {
    let sb = synced();
    fs::copy(
        sb.server.join("Mail/cur/a:2,S"),
        sb.server.join("Mail/cur/a2:2,S"),
    )
    .unwrap();
    put(&sb.client, b"Mail/cur/a2:2,S", &mail("a2", "made here"));
    // Syncing the other way would meet the same clash: not suggested.
    let actions = [move_aside(&sb, b"Mail/cur/a2:2,S")];
    check_conflict(&sb, b"Mail/cur/a2:2,S", "copy-message", &actions);
}

/// The copy is already here, but its source changed here: syncing the
/// other way first would carry that change, so it is suggested too.
#[test]
fn conflict_on_copy_of_a_source_changed_here() {
    let sb = synced();
    for home in [&sb.server, &sb.client] {
        fs::copy(home.join("Mail/cur/a:2,S"), home.join("Mail/cur/a2:2,S")).unwrap();
    }
    put(&sb.client, b"Mail/cur/a:2,S", &mail("a", "changed here"));
    let actions = [move_aside(&sb, b"Mail/cur/a2:2,S"), INVERSE.to_owned()];
    check_conflict(&sb, b"Mail/cur/a2:2,S", "copy-message", &actions);
}

#[test]
fn conflict_on_move() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    put(&sb.client, b"Mail/cur/a:2,RS", &mail("a", "made here"));
    let actions = [move_aside(&sb, b"Mail/cur/a:2,RS")];
    check_conflict(&sb, b"Mail/cur/a:2,RS", "move-message", &actions);
}

#[test]
fn conflict_on_copybody() {
    let sb = synced();
    let original = read(&sb.server, b"Mail/cur/a:2,S");
    let new = cat(&[b"Subject: resent\n\n", split(&original).1]);
    put(&sb.server, b"Mail/cur/resent", &new);
    put(&sb.client, b"Mail/cur/resent", &mail("resent", "made here"));
    let actions = [move_aside(&sb, b"Mail/cur/resent")];
    check_conflict(&sb, b"Mail/cur/resent", "copy-body", &actions);
}

#[test]
fn conflict_on_replaceheader() {
    let sb = synced();
    let original = read(&sb.server, b"Mail/.Foo Bar/cur/50% off x:2,S");
    let body = split(&original).1.to_vec();
    put(
        &sb.server,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        &cat(&[b"Subject: server header\n\n", &body]),
    );
    put(
        &sb.client,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        &cat(&[b"Subject: client header\n\n", &body]),
    );
    let actions = [move_aside(&sb, b"Mail/.Foo Bar/cur/50% off x:2,S")];
    check_conflict(
        &sb,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        "header-replacement",
        &actions,
    );
}

#[test]
fn conflict_on_replace() {
    let sb = synced();
    put(&sb.server, b"Mail/cur/b:2,", &mail("b", "server body"));
    put(&sb.client, b"Mail/cur/b:2,", &mail("b", "client body"));
    let actions = [move_aside(&sb, b"Mail/cur/b:2,")];
    check_conflict(&sb, b"Mail/cur/b:2,", "replace", &actions);
}

#[test]
fn conflict_on_delete() {
    let sb = synced();
    remove(&sb.server, b"Mail/new/c");
    put(&sb.client, b"Mail/new/c", &mail("c", "changed here"));
    let path = sb.client.join("Mail/new/c");
    let actions = [
        format!("run(rm {})", quoted(&path)),
        format!("display-mail({})", quoted(&path)),
        INVERSE.to_owned(),
    ];
    // The order smd prints: display-mail, rm, inverse.
    let printed = [actions[1].clone(), actions[0].clone(), actions[2].clone()];
    let mine = read(&sb.client, b"Mail/new/c");
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_codes(5, 3);
    let expected = format!(
        "error::context(delete-message) probable-cause(concurrent-mailbox-edit) \
         human-intervention(necessary) suggested-actions({})",
        printed.join(" ")
    );
    assert_eq!(
        run.client.tags(),
        [expected.as_str()],
        "{}",
        run.client.stderr
    );
    assert_eq!(read(&sb.client, b"Mail/new/c"), mine);
    // Resolving by removing it, as suggested, converges.
    check_conflict_resolution(&sb, &actions[0]);
}

/// The words of a `run(...)` action: bare words, or double-quoted with
/// `\"` and `\)` escaped (SPEC §6).
fn action_words(action: &str) -> Vec<String> {
    let inner = action
        .strip_prefix("run(")
        .and_then(|a| a.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a run() action: {action}"));
    let mut words = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '"' => {
                let mut word = String::new();
                loop {
                    match chars.next().expect("unterminated quote") {
                        '\\' => word.push(chars.next().unwrap()),
                        '"' => break,
                        other => word.push(other),
                    }
                }
                words.push(word);
            }
            first => {
                let mut word = first.to_string();
                while let Some(&next) = chars.peek() {
                    if next == ' ' {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                words.push(word);
            }
        }
    }
    words
}

/// Does what a suggested `mv -n A B` or `rm A` says, then syncs again:
/// the run must converge.
fn check_conflict_resolution(sb: &Sandbox, action: &str) {
    let words = action_words(action);
    let status = Command::new(&words[0]).args(&words[1..]).status().unwrap();
    assert!(status.success(), "{words:?} failed");
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();

    // A message set aside under a new name is a new message here: the sync
    // back carries it to the server, and both versions are kept.
    let back = sb.sync_back(&[EP, "Mail"]);
    back.assert_ok();
    assert_converged(sb, MAIL, DB);
    if words[0] == "mv" {
        let aside = Path::new(&words[3]).strip_prefix(&sb.client).unwrap();
        let name = bytes_of(aside);
        assert_eq!(read(&sb.server, name), read(&sb.client, name));
    }
}

/// What was applied before a conflict stays applied, and the conflict is
/// reported with a path whose quotes and parentheses are escaped.
#[test]
fn conflict_after_other_changes_keeps_them_and_escapes_the_path() {
    let sb = synced();
    let odd: &[u8] = b"Mail/new/say \"hi\" (twice)";
    put(&sb.server, b"Mail/cur/n1", &mail("n1", "first"));
    put(&sb.server, odd, &mail("odd", "from the server"));
    put(&sb.client, odd, &mail("odd", "made here"));
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_codes(5, 3);
    let path = sb.client.join(path_of(odd));
    let tag = &run.client.tags()[0];
    assert!(
        tag.contains(&format!(
            "\"{}\"",
            path.to_string_lossy()
                .replace('"', "\\\"")
                .replace(')', "\\)")
        )),
        "{tag}"
    );
    assert_eq!(read(&sb.client, odd), mail("odd", "made here"));
    let action = move_aside(&sb, odd);
    check_conflict_resolution(&sb, &action);
}

// --------------------------------------------------------------- dry run

#[test]
fn dry_run_changes_nothing_on_either_side() {
    let sb = Sandbox::new();
    for (name, content) in base_mail() {
        put(&sb.server, name, &content);
    }
    fs::create_dir_all(sb.server.join(".smd")).unwrap();
    fs::create_dir_all(sb.client.join(".smd")).unwrap();
    let before = snapshot(sb.root());

    let run = sb.sync(&["-d", EP, "Mail"], &["-d", EP, "Mail"]);
    run.assert_ok();
    assert_eq!(
        snapshot_changes(&before, &snapshot(sb.root())),
        Vec::<String>::new(),
        "a dry run changed files"
    );
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    let s = stats(&run.client);
    assert_eq!(s.new_mails, base_mail().len() as u64);
    assert_eq!(
        (s.del_mails, s.bytes_received, s.xdelta_received),
        (0, 0, 0)
    );
    let transferred = run
        .client
        .tags()
        .into_iter()
        .find_map(|t| t.strip_prefix("stats::mail-transferred("))
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no mail-transferred line:\n{}", run.client.stderr))
        .to_owned();
    let mut listed: Vec<&str> = transferred.split(" , ").collect();
    listed.sort();
    let mut names: Vec<String> = base_mail()
        .iter()
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect();
    names.sort();
    assert_eq!(listed, names);
}

#[test]
fn dry_run_of_follow_up_changes_changes_nothing() {
    let sb = synced();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "new one"));
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    remove(&sb.server, b"Mail/new/c");
    let b = read(&sb.server, b"Mail/cur/b:2,");
    put(
        &sb.server,
        b"Mail/cur/b:2,",
        &cat(&[b"Subject: new b\n\n", split(&b).1]),
    );
    // COPYBODY from a message that did not change.
    let nf = read(&sb.server, b"Mail/cur/nofinalnl:2,S");
    put(
        &sb.server,
        b"Mail/.New Folder/cur/x",
        &cat(&[b"Subject: copied body\n\n", split(&nf).1]),
    );
    let before = snapshot(sb.root());

    let run = sb.sync(&["-d", EP, "Mail"], &["-d", EP, "Mail"]);
    run.assert_ok();
    assert_eq!(
        snapshot_changes(&before, &snapshot(sb.root())),
        Vec::<String>::new(),
        "a dry run changed files\n{}",
        run.explain()
    );
    assert_eq!(run.count_requests("GET"), 0, "{}", run.explain());
    assert_eq!(run.count_requests("GETHEADER"), 2, "{}", run.explain());
    let s = stats(&run.client);
    assert_eq!(
        (s.new_mails, s.del_mails, s.xdelta_received),
        (1, 1, 0),
        "{}",
        run.explain()
    );
    assert!(run
        .client
        .tags()
        .contains(&"stats::mail-transferred(Mail/new/n1)"));

    // The real run afterwards still converges.
    follow_up(&sb);
}

// ------------------------------------------------- -n, --no-move, exclude

#[test]
fn no_delete_keeps_the_clients_copy() {
    let sb = synced();
    remove(&sb.server, b"Mail/cur/b:2,");
    let run = sb.sync(&["-n", EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert!(
        !run.verbs().contains(&"DELETE".to_owned()),
        "{}",
        run.explain()
    );
    assert!(exists(&sb.client, b"Mail/cur/b:2,"));
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
    assert_eq!(stats(&run.client).del_mails, 0);
}

/// With `-n --no-move` a rename still deletes its source (SPEC §3).
#[test]
fn no_delete_with_no_move_still_completes_renames() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    remove(&sb.server, b"Mail/cur/b:2,");
    let run = sb.sync(&["-n", "--no-move", EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    let mut verbs = run.verbs();
    verbs.sort();
    assert_eq!(verbs, ["COPY", "DELETE"], "{}", run.explain());
    assert!(!exists(&sb.client, b"Mail/cur/a:2,S"));
    assert!(exists(&sb.client, b"Mail/cur/a:2,RS"));
    assert!(exists(&sb.client, b"Mail/cur/b:2,"));
}

#[test]
fn no_move_sends_copy_and_delete_with_the_same_result() {
    let sb = synced();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    rename(&sb.server, b"Mail/new/c", b"Mail/.Foo Bar/cur/c:2,S");
    let run = sb.sync(&["--no-move", EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    let mut verbs = run.verbs();
    verbs.sort();
    assert_eq!(
        verbs,
        ["COPY", "COPY", "DELETE", "DELETE"],
        "{}",
        run.explain()
    );
    assert_eq!(run.count_requests("GET"), 0);
}

#[test]
fn exclude_skips_folders_with_spaces_and_globs() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/keep", &mail("keep", "kept"));
    put(
        &sb.server,
        b"Mail/.Junk Mail/cur/j",
        &mail("junk", "excluded"),
    );
    put(
        &sb.server,
        b"Mail/.Spam 2024/new/s",
        &mail("spam", "excluded by a glob"),
    );
    put(&sb.server, b"Mail/.Kept/cur/k", &mail("kept", "kept too"));
    let run = sb.sync(
        &[
            "--exclude",
            "Mail/.Junk%20Mail",
            "--exclude",
            "*Spam*",
            EP,
            "Mail",
        ],
        &[EP, "Mail"],
    );
    run.assert_ok();
    assert_eq!(
        mail_of(&sb.client).keys().cloned().collect::<Vec<_>>(),
        [b"Mail/.Kept/cur/k".to_vec(), b"Mail/cur/keep".to_vec()]
    );
    assert!(!sb.client.join("Mail/.Junk Mail").exists());
    assert!(!sb.client.join("Mail/.Spam 2024").exists());
    assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
    assert!(!String::from_utf8_lossy(&db_of(&sb.server, DB)).contains("Junk"));
}

// ------------------------------------------------------------ translator

const TRANSLATOR: &str = r#"#!/bin/sh
# Mail/cur -> Maildir/cur, Mail/.Foo/cur -> Maildir/Foo/cur
while IFS= read -r line; do
    case "$line" in
        Mail/cur|Mail/new|Mail/tmp) printf 'Maildir/%s\n' "${line#Mail/}" ;;
        Mail/.*) printf 'Maildir/%s\n' "${line#Mail/.}" ;;
        *) printf 'ERROR unknown folder %s\n' "$line"; exit 1 ;;
    esac
done
"#;

fn local_name(remote: &[u8]) -> Vec<u8> {
    if let Some(rest) = remote.strip_prefix(b"Mail/.") {
        cat(&[b"Maildir/", rest])
    } else {
        cat(&[b"Maildir/", remote.strip_prefix(b"Mail/").unwrap()])
    }
}

#[test]
fn translator_maps_remote_folders_to_local_ones() {
    let sb = Sandbox::new();
    for (name, content) in base_mail() {
        put(&sb.server, name, &content);
    }
    put(
        &sb.server,
        b"Mail/.Sent/cur/s:2,S",
        &mail("sent", "sent mail"),
    );
    script(&sb.client.join("bin/translate"), TRANSLATOR);

    let check = |sb: &Sandbox| {
        let server = mail_of(&sb.server);
        let expected: Tree = server
            .iter()
            .map(|(name, content)| (local_name(name), content.clone()))
            .collect();
        assert_same_mail(
            &expected,
            &mail_tree(&sb.client, &[b"Maildir"]),
            "translated",
        );
        assert!(
            !sb.client.join("Mail").exists(),
            "remote names used locally"
        );
        // The db keeps remote names on both sides.
        assert_eq!(db_of(&sb.server, DB), db_of(&sb.client, DB));
        assert_eq!(sorted_lines(&db_of(&sb.client, DB)), expected_db(&server));
    };

    // Relative to HOME, as TRANSLATOR_RL may be.
    let run = sb.sync(&[EP, "Mail"], &["-t", "bin/translate", EP, "Mail"]);
    run.assert_ok();
    check(&sb);
    assert!(sb.client.join("Maildir/Foo Bar/tmp").is_dir());

    settle();
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    let foo = read(&sb.server, b"Mail/.Foo Bar/cur/50% off x:2,S");
    put(
        &sb.server,
        b"Mail/.Foo Bar/cur/50% off x:2,S",
        &cat(&[b"Subject: new header\n\n", split(&foo).1]),
    );
    remove(&sb.server, b"Mail/.Sent/cur/s:2,S");
    put(
        &sb.server,
        b"Mail/.Archive/cur/new",
        &mail("arch", "archived"),
    );
    // An absolute path works too.
    let absolute = sb.client.join("bin/translate");
    let run = sb.sync(
        &[EP, "Mail"],
        &["-t", &absolute.to_string_lossy(), EP, "Mail"],
    );
    run.assert_ok();
    check(&sb);
}

/// Runs a sync whose translator misbehaves; it must stop with a clear
/// error and the `bad-translator` tag, and write no mail anywhere.
fn check_bad_translator(program: &str, why: &str) -> SyncRun {
    let sb = Sandbox::new();
    for (name, content) in base_mail() {
        put(&sb.server, name, &content);
    }
    script(&sb.client.join("bin/translate"), program);
    let before = without(snapshot(sb.root()), &[b"a/srv/.smd", b"b/cli/.smd"]);

    let run = sb.sync(&[EP, "Mail"], &["-t", "bin/translate", EP, "Mail"]);
    assert_eq!(run.client.code, Some(6), "{}", run.explain());
    assert!(
        matches!(run.server.code, Some(3 | 5)),
        "server exit {:?}\n{}",
        run.server.code,
        run.explain()
    );
    assert_eq!(
        run.client.tags(),
        ["error::context(translate) probable-cause(bad-translator) \
          human-intervention(necessary) "],
        "{}",
        run.client.stderr
    );
    let errors = run.client.errors().join("\n");
    assert!(
        errors.contains("translator") && errors.contains(why),
        "unclear error (wanted {why:?}):\n{}",
        run.client.stderr
    );
    let after = without(snapshot(sb.root()), &[b"a/srv/.smd", b"b/cli/.smd"]);
    assert_eq!(snapshot_changes(&before, &after), Vec::<String>::new());
    let client_db = db_path(&sb.client, DB);
    assert!(
        !client_db.exists() || fs::read(&client_db).unwrap().is_empty(),
        "the client wrote a db"
    );
    assert!(!db_path(&sb.server, &format!("{DB}.new")).exists());
    run
}

#[test]
fn translator_answering_error_stops_the_run() {
    check_bad_translator(
        "#!/bin/sh\nwhile read -r line; do echo \"ERROR no mapping for $line\"; exit 1; done\n",
        "no mapping for",
    );
}

#[test]
fn translator_that_exits_stops_the_run() {
    let run = check_bad_translator("#!/bin/sh\nexit 0\n", "");
    let errors = run.client.errors().join("\n");
    assert!(
        errors.contains("without answering") || errors.contains("stopped reading"),
        "{errors}"
    );
}

#[test]
fn translator_returning_dotdot_stops_the_run() {
    check_bad_translator(
        "#!/bin/sh\nwhile read -r line; do echo \"../../outside/$line\"; done\n",
        "..",
    );
}

#[test]
fn translator_returning_an_absolute_path_stops_the_run() {
    check_bad_translator(
        "#!/bin/sh\nwhile read -r line; do echo \"/tmp/smd-escape/$line\"; done\n",
        "absolute",
    );
}

/// The client waits 30 s for a translator's answer; this test costs that.
#[test]
fn translator_that_hangs_stops_the_run() {
    let start = Instant::now();
    let run = check_bad_translator("#!/bin/sh\nexec sleep 3600\n", "30 seconds");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        run.elapsed
    );
}

// ----------------------------------------------------------- rename-only

#[test]
fn rename_only_writes_a_quoted_rename_script_and_nothing_else() {
    let sb = Sandbox::new();
    let m1 = mail("m1", "first");
    let m2 = mail("m2", "second");
    let m3 = mail("m3", "third");
    let m4 = mail("m4", "only on the server");
    let m5 = mail("m5", "moved to another folder");
    // The server's names...
    put(&sb.server, b"Mail/cur/1.server:2,S", &m1);
    put(&sb.server, b"Mail/cur/it's the server's name:2,S", &m2);
    put(&sb.server, b"Mail/cur/3.copy-a:2,S", &m3);
    put(&sb.server, b"Mail/cur/3.copy-b:2,S", &m3);
    put(&sb.server, b"Mail/new/4.server", &m4);
    put(&sb.server, b"Mail/cur/5.server", &m5);
    // ...and the client's, for the same messages (as offlineimap names them).
    let client_mail: Vec<(&[u8], &[u8])> = vec![
        (b"Mail/cur/1.client,U=1:2,S", &m1),
        (b"Mail/cur/it's mine, U=2:2,S", &m2),
        (b"Mail/cur/3.client,U=3:2,S", &m3),
        (b"Mail/new/5.client", &m5),
    ];
    let mut db = Vec::new();
    for (name, content) in &client_mail {
        put(&sb.client, name, content);
        db.extend_from_slice(&cat(&[pair(content).as_bytes(), b" ", name, b"\n"]));
    }
    for home in [&sb.server, &sb.client] {
        put(home, b".smd/rename-db", &db);
    }
    let server_mail = mail_of(&sb.server);
    let client_before = snapshot(&sb.client);

    let run = sb.sync(
        &[
            "--no-move",
            "--stop-after-diff",
            "--override-db",
            "~/.smd/rename-db",
            EP,
            "Mail",
        ],
        &[
            "--rename-only",
            "--override-db",
            "~/.smd/rename-db",
            EP,
            "Mail",
        ],
    );
    run.assert_ok();

    let script_path = sb.client.join("smd-rename.sh");
    let text = fs::read(&script_path).expect("no ~/smd-rename.sh");
    let q = |name: &str| {
        let path = sb.client.join(name);
        format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"))
    };
    let mut expected_lines = vec![
        format!(
            "mv -n {} {}",
            q("Mail/cur/1.client,U=1:2,S"),
            q("Mail/cur/1.server:2,S")
        ),
        format!(
            "mv -n {} {}",
            q("Mail/cur/it's mine, U=2:2,S"),
            q("Mail/cur/it's the server's name:2,S")
        ),
    ];
    // The message the server has twice: moved to one of its names, and
    // (as smd 1.3 does) perhaps copied to the other first.
    let three = |verb: &str, to: &str| {
        format!(
            "{verb} -n {} {}",
            q("Mail/cur/3.client,U=3:2,S"),
            q(&format!("Mail/cur/{to}"))
        )
    };
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    let mut lines: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let threes: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("3.client"))
        .cloned()
        .collect();
    let (a, b) = ("3.copy-a:2,S", "3.copy-b:2,S");
    assert!(
        threes == [three("mv", a)]
            || threes == [three("mv", b)]
            || threes == [three("cp", a), three("mv", b)]
            || threes == [three("cp", b), three("mv", a)],
        "{text}"
    );
    lines.retain(|l| !l.contains("3.client"));
    lines.sort();
    expected_lines.sort();
    assert_eq!(lines, expected_lines, "{text}");

    // Nothing else changed on the client.
    let mut after = snapshot(&sb.client);
    after.remove(b"smd-rename.sh".as_slice());
    assert_eq!(
        snapshot_changes(
            &without(client_before, &[b".smd"]),
            &without(after, &[b".smd"])
        ),
        Vec::<String>::new()
    );
    assert_same_mail(&server_mail, &mail_of(&sb.server), "server mail");

    // The script does what it says, and the first real sync then fetches
    // only what the client did not have under some name in the same folder.
    let status = Command::new("sh").arg(&script_path).status().unwrap();
    assert!(status.success());
    for name in [
        &b"Mail/cur/1.server:2,S"[..],
        b"Mail/cur/it's the server's name:2,S",
    ] {
        assert_eq!(read(&sb.client, name), server_mail[name]);
    }
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    let mut gets = run.request_text();
    gets.retain(|r| r.starts_with("GET "));
    gets.sort();
    assert_eq!(
        gets,
        ["GET Mail/cur/5.server", "GET Mail/new/4.server"],
        "{}",
        run.explain()
    );
    let mut client = mail_of(&sb.client);
    assert_eq!(client.remove(b"Mail/new/5.client".as_slice()), Some(m5));
    assert_same_mail(&server_mail, &client, "after the first sync");
}

// ----------------------------------------------------- interrupted commit

/// A run killed after receiving a message, before renaming it into place,
/// leaves it whole in `tmp/`; the next run uses it instead of fetching it
/// again. `cur/X` and `new/X` share `tmp/X`: the copy serves one of them,
/// the other is fetched.
#[test]
fn a_message_left_in_tmp_by_a_killed_run_is_used_once() {
    let sb = Sandbox::new();
    let twin = mail("twin", "delivered twice under one name");
    put(&sb.server, b"Mail/new/1200000000.twin", &twin);
    put(&sb.server, b"Mail/cur/1200000000.twin", &twin);
    maildir(&sb.client, b"Mail");
    put(&sb.client, b"Mail/tmp/1200000000.twin", &twin);

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);

    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    assert_no_tmp_leftovers(&sb);
    assert_eq!(stats(&run.client).new_mails, 1, "{}", run.explain());
}

/// SPEC §4 step 1: a run killed after the client renamed its db but before
/// the server got DONE leaves the server with `db` (old) and `db.new`
/// (what the client has). The next handshake renames `db.new`.
#[test]
fn a_run_killed_between_commit_and_done_recovers() {
    let sb = synced();
    let old_db = db_of(&sb.server, DB);
    let old_mtime = fs::read(db_path(&sb.server, &format!("{DB}.mtime"))).unwrap();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "new one"));
    rename(&sb.server, b"Mail/cur/a:2,S", b"Mail/cur/a:2,RS");
    follow_up(&sb);
    let new_db = db_of(&sb.server, DB);
    assert_ne!(old_db, new_db);

    // Put the server back to "renamed nothing yet".
    let db = db_path(&sb.server, DB);
    let mtime = db_path(&sb.server, &format!("{DB}.mtime"));
    fs::rename(&db, db_path(&sb.server, &format!("{DB}.new"))).unwrap();
    fs::rename(&mtime, db_path(&sb.server, &format!("{DB}.mtime.new"))).unwrap();
    fs::write(&db, &old_db).unwrap();
    fs::write(&mtime, &old_mtime).unwrap();

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(run.diff_text(), Vec::<String>::new(), "{}", run.explain());
    assert_converged(&sb, MAIL, DB);
    assert_eq!(db_of(&sb.server, DB), new_db);

    // And the sync after that is as usual.
    settle();
    remove(&sb.server, b"Mail/new/n1");
    let run = follow_up(&sb);
    assert_eq!(run.verbs(), ["DELETE"]);
}

/// A client killed after writing its `db.new` but before renaming it: both
/// sides still have the old db; the stale `.new` files must not matter.
#[test]
fn a_client_killed_before_its_rename_recovers() {
    let sb = synced();
    let old_db = db_of(&sb.server, DB);
    put(&sb.server, b"Mail/new/n1", &mail("n1", "new one"));
    follow_up(&sb);
    let new_db = db_of(&sb.server, DB);
    // Both back to the old db, each with the new one as a leftover.
    for home in [&sb.server, &sb.client] {
        fs::write(db_path(home, &format!("{DB}.new")), &new_db).unwrap();
        fs::write(db_path(home, DB), &old_db).unwrap();
    }
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    assert_eq!(stats(&run.client).new_mails, 0, "{}", run.explain());
}

/// A client copy of the db that is not the server's is refused with the
/// `db-mismatch` tag, on both sides, and nothing is changed.
#[test]
fn a_different_db_is_a_mismatch() {
    let sb = synced();
    let client_db = db_path(&sb.client, DB);
    fs::write(&client_db, b"0000000000000000000000000000000000000000 da39a3ee5e6b4b0d3255bfef95601890afd80709 Mail/cur/x\n").unwrap();
    put(&sb.server, b"Mail/new/n1", &mail("n1", "new one"));
    let before = snapshot(sb.root());
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    assert_eq!(run.server.code, Some(7), "{}", run.explain());
    assert_eq!(run.client.code, Some(6), "{}", run.explain());
    assert_eq!(
        run.client.tags(),
        [format!(
            "error::context(handshake) probable-cause(db-mismatch) \
             human-intervention(necessary) suggested-actions(run(rm {}))",
            quoted(&client_db)
        )
        .as_str()]
    );
    assert!(run.server.tags()[0].contains("probable-cause(db-mismatch)"));
    assert_eq!(
        snapshot_changes(&before, &snapshot(sb.root())),
        Vec::<String>::new()
    );
}

// ------------------------------------------------ 1.3 wire compatibility

/// smd 1.3's server writes REPLACEHEADER names raw; our client must still
/// apply them (played here by a fake 1.3 server).
#[test]
fn client_applies_a_raw_replaceheader_from_a_1_3_server() {
    let sb = Sandbox::new();
    let old = mail("raw", "the body stays");
    let name: &[u8] = b"Mail/cur/raw name:2,S";
    put(&sb.client, name, &old);
    let old_db = cat(&[pair(&old).as_bytes(), b" ", name, b"\n"]);
    put(&sb.client, format!(".smd/{DB}").as_bytes(), &old_db);
    let new = cat(&[b"Subject: new header\n\n", split(&old).1]);
    let new_db = cat(&[pair(&new).as_bytes(), b" ", name, b"\n"]);

    let mut client =
        Peer::spawn(CLIENT, &sb.client, &os_args(&[EP, "Mail"]), sb.logs.path());
    assert_eq!(client.line_text().unwrap(), "protocol 1.3");
    let db_sha = sha1_hex(&old_db);
    assert_eq!(client.line_text().unwrap(), format!("dbfile {db_sha} -"));
    client.send_line(b"protocol 1.3");
    client.send_line(format!("dbfile {db_sha} {}", sha1_hex(&new_db)).as_bytes());
    client.send_line(&cat(&[
        b"REPLACEHEADER ",
        name,
        b" ",
        pair(&old).as_bytes(),
        b" WITH ",
        hsha(&new).as_bytes(),
    ]));
    client.send_line(b"END");
    assert_eq!(client.line().unwrap(), cat(&[b"GETHEADER ", name]));
    let header = split(&new).0.to_vec();
    client.send(&cat(&[
        format!("chunk {}\n", header.len()).as_bytes(),
        &header,
    ]));
    assert_eq!(client.line_text().unwrap(), "COMMIT");
    let delta = vcdiff_add_only(&new_db);
    client.send(&cat(&[
        format!("chunk {}\n", delta.len()).as_bytes(),
        &delta,
    ]));
    assert_eq!(client.line_text().unwrap(), "DONE");
    let (exit, _) = client.finish();
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert_eq!(read(&sb.client, name), new);
    assert_eq!(db_of(&sb.client, DB), new_db);
}

// ---------------------------------------------------------- real mail

fn corpus_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/corpus/spam-assassin");
    assert!(
        dir.is_dir(),
        "the real-mail corpus is missing at {}: run scripts/fetch-corpus first",
        dir.display()
    );
    dir
}

#[test]
fn real_mail_corpus_syncs_and_moves_stay_local() {
    let corpus = corpus_dir();
    let sb = Sandbox::new();
    let mut count = 0usize;
    let mut bytes = 0u64;
    let mut categories: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    let mut names = Vec::new();
    for category in &categories {
        let folder = format!("Mail/.{}", category.file_name().unwrap().to_string_lossy());
        maildir(&sb.server, folder.as_bytes());
        for entry in fs::read_dir(category).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let name = format!("{folder}/cur/{stem}:2,S");
            let content = fs::read(&path).unwrap();
            bytes += content.len() as u64;
            fs::write(sb.server.join(&name), content).unwrap();
            names.push(name);
            count += 1;
        }
    }
    assert_eq!(count, 6046, "corpus incomplete: run scripts/fetch-corpus");

    let start = Instant::now();
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    let first = start.elapsed();
    assert_converged(&sb, MAIL, DB);
    let distinct: std::collections::BTreeSet<Vec<u8>> =
        mail_of(&sb.server).into_values().collect();
    let s = stats(&run.client);
    assert_eq!(s.new_mails, distinct.len() as u64);
    assert_eq!(s.new_mails, run.count_requests("GET") as u64);
    assert!(s.bytes_received <= bytes && s.bytes_received > bytes / 2);

    settle();
    names.sort();
    for name in names.iter().step_by(100) {
        let flagged = name.replace(":2,S", ":2,RS");
        fs::rename(sb.server.join(name), sb.server.join(flagged)).unwrap();
    }
    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_converged(&sb, MAIL, DB);
    let s = stats(&run.client);
    assert_eq!(s.new_mails, 0, "{}", run.client.stderr);
    assert_eq!(s.bytes_received, 0);
    assert_eq!(
        run.verbs(),
        vec!["MOVE".to_owned(); names.len().div_ceil(100)]
    );
    assert!(first < Duration::from_secs(30), "first sync took {first:?}");
}
