//! `smd-client` against a hostile or broken server, and `smd-server`
//! against a hostile or broken client: the test plays the other side by
//! hand over the child's pipes.
//!
//! Whatever the peer sends, the real program must stop with a clear
//! `ERROR:` line and the exit code scripts rely on (SPEC §4), must not
//! write or serve a byte outside its mailbox, and must leave nothing
//! half-written under `cur/` or `new/`.

mod sync_common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use sync_common::*;

const EP: &str = "lap";
const DB: &str = "lap__Mail.db.txt";

fn existing() -> Vec<u8> {
    mail("existing", "already on the client")
}

fn fetched() -> Vec<u8> {
    mail("fetched", "what the server sends")
}

/// Everything in the sandbox but the two `.smd` folders (a handshake may
/// create an empty db there).
fn state(sb: &Sandbox) -> BTreeMap<Vec<u8>, Node> {
    without(snapshot(sb.root()), &[b"a/srv/.smd", b"b/cli/.smd"])
}

fn assert_unchanged(sb: &Sandbox, before: &BTreeMap<Vec<u8>, Node>, context: &str) {
    let changes = snapshot_changes(before, &state(sb));
    assert!(changes.is_empty(), "{context}: files changed: {changes:#?}");
}

// ----------------------------------------------------- a hostile server

/// A client with one message and no db, talking to the test.
struct Setup {
    sb: Sandbox,
    before: BTreeMap<Vec<u8>, Node>,
}

fn client_setup() -> Setup {
    let sb = Sandbox::new();
    put(&sb.client, b"Mail/cur/existing:2,S", &existing());
    let before = state(&sb);
    Setup { sb, before }
}

/// Starts the client and reads its handshake.
fn start_client(sb: &Sandbox) -> Peer {
    let mut client =
        Peer::spawn(CLIENT, &sb.client, &os_args(&[EP, "Mail"]), sb.logs.path());
    assert_eq!(client.line_text().as_deref(), Some("protocol 1.3"));
    assert_eq!(
        client.line_text(),
        Some(format!("dbfile {EMPTY_SHA} -")),
        "a fresh client has an empty db"
    );
    client
}

fn server_handshake(client: &mut Peer) {
    client.send(format!("protocol 1.3\ndbfile {EMPTY_SHA} -\n").as_bytes());
}

/// What a hostile-server scenario must end with.
fn check_client_end(
    setup: &Setup,
    client: Peer,
    code: i32,
    error: &str,
    context: &str,
) -> (Exit, Vec<u8>) {
    let (exit, rest) = client.finish();
    assert_eq!(exit.code, Some(code), "{context}: exit\n{}", exit.stderr);
    let errors = exit.errors().join("\n");
    assert!(
        errors.contains(error),
        "{context}: wanted an ERROR line with {error:?}:\n{}",
        exit.stderr
    );
    assert_eq!(exit.tags().len(), 1, "{context}: {}", exit.stderr);
    assert_unchanged(&setup.sb, &setup.before, context);
    let db = db_path(&setup.sb.client, DB);
    assert!(
        !db.exists() || fs::read(&db).unwrap().is_empty(),
        "{context}: the client wrote its db"
    );
    for suffix in [".new", ".xdelta"] {
        assert!(!db_path(&setup.sb.client, &format!("{DB}{suffix}")).exists());
    }
    (exit, rest)
}

/// Replaces `@ROOT@` in a line with the sandbox's absolute path.
fn with_root(line: &[u8], sb: &Sandbox) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.windows(6).position(|w| w == b"@ROOT@") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(bytes_of(sb.root()));
        rest = &rest[at + 6..];
    }
    out.extend_from_slice(rest);
    out
}

/// Sends a diff (after a good handshake) and expects the client to refuse
/// it before fetching anything, and to tell the server with ABORT.
fn refused_diff(diff: &[Vec<u8>], code: i32, error: &str, context: &str) {
    let setup = client_setup();
    let mut client = start_client(&setup.sb);
    server_handshake(&mut client);
    for line in diff {
        client.send_line(&with_root(line, &setup.sb));
    }
    client.send_line(b"END");
    let (_, rest) = check_client_end(&setup, client, code, error, context);
    let said = String::from_utf8_lossy(&rest);
    assert!(
        !said.contains("GET"),
        "{context}: it asked for data: {said}"
    );
    assert!(said.contains("ABORT"), "{context}: no ABORT sent: {said:?}");
}

fn add_line(name: &[u8], message: &[u8]) -> Vec<u8> {
    cat(&[b"ADD ", &enc(name), b" ", pair(message).as_bytes()])
}

#[test]
fn diff_names_outside_the_mailbox_are_refused() {
    let secret = b"secret next to the client HOME\n".to_vec();
    let m = fetched();
    let e = existing();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", add_line(b"Mail/../escape/cur/x", &m)),
        (
            "dotdot deep",
            add_line(b"Mail/cur/../../../outside/cur/x", &m),
        ),
        ("leading dotdot", add_line(b"../outside/cur/x", &m)),
        ("absolute", add_line(b"@ROOT@/outside/cur/x", &m)),
        ("encoded dotdot", {
            let mut line = b"ADD Mail/%2e%2e/%2E%2E/outside/cur/x ".to_vec();
            line.extend_from_slice(pair(&m).as_bytes());
            line
        }),
        ("encoded slash", {
            let mut line = b"ADD Mail%2f..%2f..%2foutside/cur/x ".to_vec();
            line.extend_from_slice(pair(&m).as_bytes());
            line
        }),
        ("other root", add_line(b"Other/cur/x", &m)),
        ("prefix of the root", add_line(b"Mailx/cur/x", &m)),
        ("tmp", add_line(b"Mail/tmp/x", &m)),
        ("not a message folder", add_line(b"Mail/notes", &m)),
        ("the folder itself", add_line(b"Mail/cur", &m)),
        ("the folder as '.'", add_line(b"Mail/cur/.", &m)),
        ("new as '.'", add_line(b"Mail/new/.", &m)),
        ("a '.' folder", add_line(b"Mail/./cur/x", &m)),
        ("NUL", add_line(b"Mail/cur/a\0b", &m)),
        (
            "copy from outside",
            cat(&[
                b"COPY ../secret ",
                pair(&secret).as_bytes(),
                b" TO Mail/cur/stolen",
            ]),
        ),
        (
            "move to outside",
            cat(&[
                b"MOVE Mail/cur/existing:2,S ",
                pair(&e).as_bytes(),
                b" TO Mail/../../outside/cur/x",
            ]),
        ),
        (
            "delete outside",
            cat(&[b"DELETE ../secret ", pair(&secret).as_bytes()]),
        ),
        (
            "copybody from outside",
            cat(&[
                b"COPYBODY ../secret ",
                bsha(&secret).as_bytes(),
                b" TO Mail/cur/stolen ",
                hsha(&m).as_bytes(),
            ]),
        ),
        (
            "replaceheader outside",
            cat(&[
                b"REPLACEHEADER ../secret ",
                pair(&secret).as_bytes(),
                b" WITH ",
                hsha(&m).as_bytes(),
            ]),
        ),
    ];
    for (context, line) in cases {
        // A good command first: nothing at all may be applied.
        let good = add_line(b"Mail/new/good", &m);
        refused_diff(&[good, line], 6, "refusing the name", context);
    }
}

/// SPEC §1: folders named `tmp` are never entered, at any depth, so no
/// scan can produce a name with a `tmp` component. A server sending one is
/// lying, and obeying it makes the client create `cur`/`new`/`tmp` folders
/// inside a Maildir's delivery folder `tmp/` and write a message there.
#[test]
fn diff_names_below_a_tmp_folder_are_refused() {
    let m = fetched();
    for (context, name) in [
        ("tmp/cur", &b"Mail/tmp/cur/x"[..]),
        ("folder/tmp/new", b"Mail/.Foo/tmp/new/x"),
    ] {
        refused_diff(&[add_line(name, &m)], 6, "refusing the name", context);
    }
}

#[test]
fn malformed_diffs_are_refused() {
    let m = fetched();
    let h = pair(&m);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown command", b"FROB Mail/cur/x".to_vec()),
        ("lower case", format!("add Mail/cur/x {h}").into_bytes()),
        ("not hex", b"ADD Mail/cur/x nothex nothex".to_vec()),
        ("short digest", b"ADD Mail/cur/x abc def".to_vec()),
        ("missing fields", b"ADD Mail/cur/x".to_vec()),
        (
            "extra field",
            format!("ADD Mail/cur/x {h} extra").into_bytes(),
        ),
        (
            "bad keyword",
            format!("MOVE Mail/cur/a {h} INTO Mail/cur/b").into_bytes(),
        ),
        ("empty line", Vec::new()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01]),
    ];
    for (context, line) in cases {
        refused_diff(&[line], 6, "malformed", context);
    }
}

#[test]
fn a_line_longer_than_any_name_is_refused() {
    let setup = client_setup();
    let mut client = start_client(&setup.sb);
    server_handshake(&mut client);
    client.send(&vec![b'A'; 200 * 1024]);
    client.send_line(b"");
    client.send_line(b"END");
    check_client_end(&setup, client, 6, "longer than", "long line");
}

/// The server's scan failed: the client stops before applying anything,
/// and its tags say why as well as the text allows.
#[test]
fn an_error_line_aborts_with_exit_3() {
    for (error, cause) in [
        (
            "Unable to open directory 'Mail/.X': Permission denied (os error 13)",
            "probable-cause(bad-directory-permission) human-intervention(necessary)",
        ),
        (
            "Unable to open directory 'Mail/.X': No such file or directory",
            "probable-cause(directory-disappeared) human-intervention(avoidable)",
        ),
        (
            "Unable to open directory Mail/.X",
            "probable-cause(directory-disappeared) human-intervention(avoidable)",
        ),
        (
            "this run would delete 9 of the 10 messages known (more than 50%)",
            "probable-cause(mass-deletion) human-intervention(necessary)",
        ),
        (
            "unable to save db file '.smd/x.db.txt.new': No space left on device (os error 28)",
            "probable-cause(disk-full) human-intervention(necessary)",
        ),
        (
            "something else went wrong",
            "probable-cause(unknown) human-intervention(necessary)",
        ),
    ] {
        let setup = client_setup();
        let mut client = start_client(&setup.sb);
        server_handshake(&mut client);
        client.send_line(&add_line(b"Mail/new/good", &fetched()));
        client.send_line(format!("ERROR {error}").as_bytes());
        client.send_line(b"END");
        let (exit, rest) = check_client_end(&setup, client, 3, error, "ERROR");
        assert!(exit.tags()[0].contains(cause), "{error}: {:?}", exit.tags());
        assert!(String::from_utf8_lossy(&rest).contains("ABORT"));
    }
}

#[test]
fn wrong_protocol_version_is_refused() {
    for (context, line) in [
        ("1.2", &b"protocol 1.2"[..]),
        ("2.0", b"protocol 2.0"),
        ("garbage", b"\xff\xfe hello"),
    ] {
        let setup = client_setup();
        let mut client = start_client(&setup.sb);
        client.send_line(line);
        client.send_line(format!("dbfile {EMPTY_SHA} -").as_bytes());
        let (exit, _) = check_client_end(&setup, client, 6, "protocol", context);
        assert_eq!(
            exit.tags(),
            [
                "error::context(handshake) probable-cause(protocol-mismatch) \
              human-intervention(necessary) "
            ],
            "{context}"
        );
    }
}

#[test]
fn wrong_dbfile_is_refused() {
    let setup = client_setup();
    let mut client = start_client(&setup.sb);
    client.send_line(b"protocol 1.3");
    client.send_line(b"dbfile 1111111111111111111111111111111111111111 -");
    client.send_line(&add_line(b"Mail/new/good", &fetched()));
    client.send_line(b"END");
    let (exit, _) = check_client_end(&setup, client, 6, "does not match", "dbfile");
    let db = db_path(&setup.sb.client, DB);
    assert_eq!(
        exit.tags(),
        [format!(
            "error::context(handshake) probable-cause(db-mismatch) \
             human-intervention(necessary) suggested-actions(run(rm \"{}\"))",
            db.display()
        )
        .as_str()]
    );

    for (context, line) in [
        ("one word", &b"dbfile"[..]),
        (
            "one digest",
            b"dbfile da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        ("three digests", b"dbfile a b c"),
        ("not dbfile", b"dbfilex a b"),
    ] {
        let setup = client_setup();
        let mut client = start_client(&setup.sb);
        client.send_line(b"protocol 1.3");
        client.send_line(line);
        client.send_line(b"END");
        let (exit, _) = client.finish();
        assert_eq!(exit.code, Some(6), "{context}: {}", exit.stderr);
        assert!(!exit.errors().is_empty(), "{context}: {}", exit.stderr);
        assert_unchanged(&setup.sb, &setup.before, context);
    }
}

#[test]
fn truncated_streams_stop_the_client() {
    // EOF in the handshake, in the diff, in a diff line.
    let m = fetched();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no handshake", Vec::new()),
        ("half a handshake", b"protocol 1.3\n".to_vec()),
        (
            "no END",
            cat(&[
                format!("protocol 1.3\ndbfile {EMPTY_SHA} -\n").as_bytes(),
                &add_line(b"Mail/new/good", &m),
                b"\n",
            ]),
        ),
        (
            "half a line",
            cat(&[
                format!("protocol 1.3\ndbfile {EMPTY_SHA} -\n").as_bytes(),
                b"ADD Mail/new/go",
            ]),
        ),
    ];
    for (context, stream) in cases {
        let setup = client_setup();
        let mut client = start_client(&setup.sb);
        client.send(&stream);
        client.close_input();
        check_client_end(&setup, client, 6, "closed the connection", context);
    }
}

/// A diff with one ADD; the test answers the GET with `answer`.
fn fetch_with_answer(answer: &[u8], close: bool) -> (Setup, Peer) {
    let setup = client_setup();
    let mut client = start_client(&setup.sb);
    server_handshake(&mut client);
    client.send_line(&add_line(b"Mail/new/fetched", &fetched()));
    client.send_line(b"END");
    assert_eq!(client.line_text().as_deref(), Some("GET Mail/new/fetched"));
    client.send(answer);
    if close {
        client.close_input();
    }
    (setup, client)
}

fn assert_nothing_fetched(setup: &Setup, context: &str) {
    assert!(
        !exists(&setup.sb.client, b"Mail/new/fetched"),
        "{context}: a message was written"
    );
    assert_eq!(
        tmp_leftovers(&setup.sb.client),
        Vec::<Vec<u8>>::new(),
        "{context}: left in tmp/"
    );
}

#[test]
fn bad_chunks_are_refused_and_leave_nothing() {
    let m = fetched();
    let len = m.len();
    let mut other = m.clone();
    other[len - 3] ^= 1;
    let cases: Vec<(&str, Vec<u8>, bool, i32, &str)> = vec![
        (
            "EOF mid-chunk",
            cat(&[format!("chunk {}\n", len).as_bytes(), &m[..len / 2]]),
            true,
            6,
            "closed the connection",
        ),
        (
            "announced more than sent",
            cat(&[format!("chunk {}\n", len + 100).as_bytes(), &m]),
            true,
            6,
            "closed the connection",
        ),
        (
            "sent more than announced",
            cat(&[format!("chunk {}\n", len - 5).as_bytes(), &m, b"\n"]),
            false,
            1,
            "different message",
        ),
        (
            "different content",
            cat(&[format!("chunk {len}\n").as_bytes(), &other]),
            false,
            1,
            "different message",
        ),
        (
            "10^15 bytes",
            b"chunk 1000000000000000\n".to_vec(),
            false,
            6,
            "1000000000000000",
        ),
        (
            "u64 overflow",
            b"chunk 99999999999999999999999\n".to_vec(),
            false,
            6,
            "unexpected",
        ),
        ("negative", b"chunk -1\n".to_vec(), false, 6, "unexpected"),
        ("hex", b"chunk 0x10\n".to_vec(), false, 6, "unexpected"),
        (
            "two spaces",
            format!("chunk  {len}\n").into_bytes(),
            false,
            6,
            "unexpected",
        ),
        ("ABORT", b"ABORT\n".to_vec(), false, 6, ""),
        ("nothing", Vec::new(), true, 6, "closed the connection"),
    ];
    for (context, answer, close, code, error) in cases {
        let (setup, client) = fetch_with_answer(&answer, close);
        let (exit, _) = check_client_end(&setup, client, code, error, context);
        assert_nothing_fetched(&setup, context);

        // A closed connection is worth retrying; garbage is not, and the
        // words say the same as the tags.
        let retry = exit.tags()[0].contains("retry");
        let transient = exit.errors().join("\n").contains("retry");
        assert_eq!(retry, transient, "{context}: {}", exit.stderr);
        if error == "unexpected" {
            assert!(exit.tags()[0].contains("probable-cause(protocol-error)"));
            assert!(!retry, "{context}: {}", exit.stderr);
        }
    }
}

/// A diff the client applies fully, then `delta` as the db delta.
fn commit_with_delta(delta: &[u8], close: bool) -> (Setup, Peer) {
    let setup = client_setup();
    let mut client = start_client(&setup.sb);
    let m = fetched();
    server_handshake(&mut client);
    client.send_line(&add_line(b"Mail/new/fetched", &m));
    client.send_line(b"END");
    assert_eq!(client.line_text().as_deref(), Some("GET Mail/new/fetched"));
    client.send(&cat(&[format!("chunk {}\n", m.len()).as_bytes(), &m]));
    assert_eq!(client.line_text().as_deref(), Some("COMMIT"));
    client.send(delta);
    if close {
        client.close_input();
    }
    (setup, client)
}

#[test]
fn bad_db_deltas_are_refused() {
    let good_db = cat(&[pair(&fetched()).as_bytes(), b" Mail/new/fetched\n"]);
    let real = vcdiff_add_only(&good_db);
    let cases: Vec<(&str, Vec<u8>, bool, i32, &str)> = vec![
        (
            "garbage",
            b"chunk 10\n0123456789".to_vec(),
            false,
            4,
            "delta",
        ),
        (
            "truncated VCDIFF",
            cat(&[
                format!("chunk {}\n", real.len() - 4).as_bytes(),
                &real[..real.len() - 4],
            ]),
            false,
            4,
            "delta",
        ),
        (
            "10^15 bytes",
            b"chunk 1000000000000000\n".to_vec(),
            false,
            6,
            "1000000000000000",
        ),
        (
            "EOF in the delta",
            cat(&[format!("chunk {}\n", real.len()).as_bytes(), &real[..5]]),
            true,
            6,
            "closed the connection",
        ),
        ("no delta", Vec::new(), true, 6, "closed the connection"),
    ];
    for (context, delta, close, code, error) in cases {
        let (setup, client) = commit_with_delta(&delta, close);
        let (exit, rest) = client.finish();
        assert_eq!(exit.code, Some(code), "{context}: {}", exit.stderr);
        assert!(
            exit.errors().join("\n").contains(error),
            "{context}: {}",
            exit.stderr
        );
        // The fetched message may stay (it is the server's); the db may not
        // change, and no DONE may be sent.
        let db = db_path(&setup.sb.client, DB);
        // A missing db and an empty one mean the same: nothing synced yet.
        assert!(
            fs::read(&db).unwrap_or_default().is_empty(),
            "{context}: db written"
        );
        assert!(!db_path(&setup.sb.client, &format!("{DB}.new")).exists());
        let said = String::from_utf8_lossy(&rest);
        assert!(!said.contains("DONE"), "{context}: DONE sent");
        if code == 4 {
            assert!(said.contains("ABORT"), "{context}: no ABORT: {said:?}");
        }
        assert_eq!(tmp_leftovers(&setup.sb.client), Vec::<Vec<u8>>::new());
        let mut expected = setup.before.clone();
        for (name, node) in state(&setup.sb) {
            if name.starts_with(b"b/cli/Mail/new/fetched") {
                expected.insert(name, node);
            }
        }
        assert_eq!(
            snapshot_changes(&expected, &state(&setup.sb)),
            Vec::<String>::new()
        );
    }

    // The control: a good delta is accepted.
    let (setup, mut client) = commit_with_delta(
        &cat(&[format!("chunk {}\n", real.len()).as_bytes(), &real]),
        false,
    );
    assert_eq!(client.line_text().as_deref(), Some("DONE"));
    let (exit, _) = client.finish();
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert_eq!(fs::read(db_path(&setup.sb.client, DB)).unwrap(), good_db);
}

// ------------------------------------------------ an smd 1.3 server's quirks

/// smd 1.3 writes REPLACEHEADER names unencoded, so a folder named with a
/// literal `%41` arrives as `%41`: the client must not decode it to `A`
/// when only the name as written exists here (nor create the decoded
/// folder), and must ask for the header under the server's real name.
#[test]
fn a_raw_replaceheader_name_with_a_percent_is_taken_as_written() {
    let sb = Sandbox::new();
    let name = b"Mail/.x%41y/cur/m:2,S";
    let old = mail("old", "the body");
    let new = cat(&[b"Subject: new\n\n", split(&old).1]);
    put(&sb.client, name, &old);

    let mut client =
        Peer::spawn(CLIENT, &sb.client, &os_args(&[EP, "Mail"]), sb.logs.path());
    assert_eq!(client.line_text().as_deref(), Some("protocol 1.3"));
    client.line_text();
    server_handshake(&mut client);
    let (h, b, h2) = (hsha(&old), bsha(&old), hsha(&new));
    let line = format!("REPLACEHEADER Mail/.x%41y/cur/m:2,S {h} {b} WITH {h2}");
    client.send_line(line.as_bytes());
    client.send_line(b"END");
    assert_eq!(
        client.line_text().as_deref(),
        Some("GETHEADER Mail/.x%41y/cur/m:2,S")
    );
    let header = split(&new).0;
    client.send(&cat(&[
        format!("chunk {}\n", header.len()).as_bytes(),
        header,
    ]));
    assert_eq!(client.line_text().as_deref(), Some("COMMIT"));
    let db = format!("{h2} {b} Mail/.x%41y/cur/m:2,S\n");
    let delta = vcdiff_add_only(db.as_bytes());
    client.send(&cat(&[
        format!("chunk {}\n", delta.len()).as_bytes(),
        &delta,
    ]));
    assert_eq!(client.line_text().as_deref(), Some("DONE"));
    let (exit, _) = client.finish();

    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert_eq!(read(&sb.client, name), new);
    assert!(!sb.client.join("Mail/.xAy").exists(), "decoded folder made");
    assert_eq!(fs::read(db_path(&sb.client, DB)).unwrap(), db.as_bytes());
}

// ----------------------------------------------------- a hostile client

const SERVER_SECRET: &[u8] = b"secret next to the server HOME\n";
const HOME_SECRET: &[u8] = b"a file in the server HOME, outside the mailbox\n";

/// A server with one message in `Mail` and secrets around it.
fn server_setup() -> (Sandbox, BTreeMap<Vec<u8>, Node>) {
    let sb = Sandbox::new();
    put(
        &sb.server,
        b"Mail/cur/m1:2,S",
        &mail("m1", "the only message"),
    );
    put(&sb.server, b"Mail/tmp/in-tmp", HOME_SECRET);
    put(&sb.server, b"Other/cur/secret", HOME_SECRET);
    put(&sb.server, b"notes.txt", HOME_SECRET);
    let before = state(&sb);
    (sb, before)
}

/// Starts the server, does the client's handshake, reads the diff.
fn start_server(sb: &Sandbox) -> (Peer, Vec<String>) {
    start_server_limited(sb, TIME_LIMIT)
}

fn start_server_limited(sb: &Sandbox, limit: std::time::Duration) -> (Peer, Vec<String>) {
    let mut server = Peer::spawn_limited(
        SERVER,
        &sb.server,
        &os_args(&[EP, "Mail"]),
        sb.logs.path(),
        limit,
    );
    assert_eq!(server.line_text().as_deref(), Some("protocol 1.3"));
    let dbfile = server.line_text().unwrap_or_default();
    assert!(
        dbfile.starts_with(&format!("dbfile {EMPTY_SHA} ")),
        "{dbfile}"
    );
    server.send(format!("protocol 1.3\ndbfile {EMPTY_SHA} -\n").as_bytes());
    let mut diff = Vec::new();
    loop {
        let line = server.line_text().expect("the diff");
        if line == "END" {
            return (server, diff);
        }
        diff.push(line);
    }
}

fn assert_no_secret(output: &[u8], context: &str) {
    for secret in [SERVER_SECRET, HOME_SECRET, b"outside secret\n"] {
        assert!(
            !output.windows(secret.len()).any(|w| w == secret),
            "{context}: the server sent a secret"
        );
    }
}

#[test]
fn requests_outside_the_mailbox_are_refused() {
    let names: Vec<(&str, Vec<u8>)> = vec![
        ("/etc/hostname", b"/etc/hostname".to_vec()),
        ("absolute outside", Vec::new()),
        ("../x", b"../secret".to_vec()),
        ("Mail/../../x", b"Mail/../../secret".to_vec()),
        ("Mail/cur/../../x", b"Mail/cur/../../notes.txt".to_vec()),
        ("outside the roots", b"Other/cur/secret".to_vec()),
        ("in HOME", b"notes.txt".to_vec()),
        ("tmp", b"Mail/tmp/in-tmp".to_vec()),
        (
            "dotdot into another root",
            b"Mail/../Other/cur/secret".to_vec(),
        ),
        ("the root itself", b"Mail".to_vec()),
        ("empty", Vec::new()),
    ];
    for verb in ["GET", "GETHEADER", "GETBODY"] {
        for (context, name) in &names {
            let (sb, before) = server_setup();
            let name = match *context {
                "absolute outside" => {
                    bytes_of(&sb.root().join("outside/secret")).to_vec()
                }
                _ => name.clone(),
            };
            let context = format!("{verb} {context}");
            let (mut server, _) = start_server(&sb);
            server.send_line(&cat(&[verb.as_bytes(), b" ", &name]));
            let (exit, rest) = server.finish();
            assert_eq!(exit.code, Some(6), "{context}: {}", exit.stderr);
            assert!(
                exit.errors().join("\n").contains("refusing"),
                "{context}: {}",
                exit.stderr
            );
            assert_eq!(exit.tags().len(), 1, "{context}: {}", exit.stderr);
            assert_no_secret(&rest, &context);
            assert!(
                !String::from_utf8_lossy(&rest).contains("chunk"),
                "{context}: the server answered with data"
            );
            assert_unchanged(&sb, &before, &context);
        }
    }
}

#[test]
fn a_missing_message_is_a_retriable_failure() {
    let (sb, before) = server_setup();
    let (mut server, _) = start_server(&sb);
    server.send_line(b"GET Mail/cur/missing:2,S");
    let (exit, rest) = server.finish();
    assert_eq!(exit.code, Some(7), "{}", exit.stderr);
    assert_eq!(
        exit.tags(),
        [
            "error::context(transmit) probable-cause(simultaneous-mailbox-edit) \
          human-intervention(avoidable) suggested-actions(retry)"
        ]
    );
    assert_no_secret(&rest, "missing");
    assert_unchanged(&sb, &before, "missing");
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Asks the server for something in the mailbox that is not a message.
fn get_non_message(sb: &Sandbox, name: &str) {
    let start = std::time::Instant::now();
    let (mut server, _) = start_server_limited(sb, std::time::Duration::from_secs(3));
    server.send_line(format!("GET {name}").as_bytes());
    let (exit, rest) = server.finish();
    assert!(
        exit.code.is_some(),
        "{name}: the server hung and was killed after {:?}",
        start.elapsed()
    );
    assert_eq!(exit.code, Some(7), "{name}: {}", exit.stderr);
    assert!(!exit.errors().is_empty(), "{name}: {}", exit.stderr);
    assert!(!String::from_utf8_lossy(&rest).contains("chunk"), "{name}");
}

#[test]
fn a_folder_in_the_mailbox_is_not_served() {
    let (sb, _) = server_setup();
    fs::create_dir_all(sb.server.join("Mail/cur/a folder")).unwrap();
    get_non_message(&sb, "Mail/cur/a folder");
}

/// A FIFO is not a message: asking for one must fail at once, not block
/// the server forever in open(2) waiting for a writer.
#[test]
fn a_fifo_in_the_mailbox_does_not_hang_the_server() {
    let (sb, _) = server_setup();
    mkfifo(&sb.server.join("Mail/cur/a fifo"));
    get_non_message(&sb, "Mail/cur/a fifo");
}

/// The same on the client: a FIFO where the diff puts a message must be a
/// failure, not a client blocked forever.
#[test]
fn a_fifo_in_the_client_mailbox_does_not_hang_the_client() {
    let sb = Sandbox::new();
    maildir(&sb.client, b"Mail");
    mkfifo(&sb.client.join("Mail/new/fetched"));
    let start = std::time::Instant::now();
    let mut client = Peer::spawn_limited(
        CLIENT,
        &sb.client,
        &os_args(&[EP, "Mail"]),
        sb.logs.path(),
        std::time::Duration::from_secs(3),
    );
    assert_eq!(client.line_text().as_deref(), Some("protocol 1.3"));
    client.line_text();
    server_handshake(&mut client);
    client.send_line(&add_line(b"Mail/new/fetched", &fetched()));
    client.send_line(b"END");
    let (exit, _) = client.finish();
    assert!(
        exit.code.is_some(),
        "the client hung and was killed after {:?}",
        start.elapsed()
    );
    assert_ne!(exit.code, Some(0), "{}", exit.stderr);
    assert!(!exit.errors().is_empty(), "{}", exit.stderr);
}

#[test]
fn unknown_commands_and_broken_streams_stop_the_server() {
    let cases: Vec<(&str, Vec<u8>, bool, i32)> = vec![
        ("unknown command", b"FROB\n".to_vec(), false, 6),
        ("lower case", b"get Mail/cur/m1:2,S\n".to_vec(), false, 6),
        ("GET without a name", b"GET\n".to_vec(), false, 6),
        ("long line", vec![b'G'; 200 * 1024], true, 6),
        ("EOF", Vec::new(), true, 3),
        ("EOF mid-line", b"GET Mail/cur/m1".to_vec(), true, 3),
    ];
    for (context, bytes, close, code) in cases {
        let (sb, before) = server_setup();
        let (mut server, _) = start_server(&sb);
        server.send(&bytes);
        if close {
            server.close_input();
        }
        let (exit, rest) = server.finish();
        assert_eq!(exit.code, Some(code), "{context}: {}", exit.stderr);
        assert!(!exit.errors().is_empty(), "{context}: {}", exit.stderr);
        assert_no_secret(&rest, context);
        assert_unchanged(&sb, &before, context);
        assert_eq!(
            fs::read(db_path(&sb.server, DB)).unwrap_or_default(),
            b"",
            "{context}: db changed"
        );
    }
}

#[test]
fn abort_leaves_the_server_db_alone() {
    let (sb, before) = server_setup();
    let (mut server, diff) = start_server(&sb);
    assert_eq!(diff.len(), 1, "{diff:?}");
    server.send_line(b"GET Mail/cur/m1:2,S");
    assert_eq!(server.chunk(), mail("m1", "the only message"));
    server.send_line(b"ABORT");
    let (exit, _) = server.finish();
    assert_eq!(exit.code, Some(5), "{}", exit.stderr);
    assert_unchanged(&sb, &before, "ABORT");
    assert_eq!(fs::read(db_path(&sb.server, DB)).unwrap_or_default(), b"");
    for suffix in [".new", ".mtime.new"] {
        assert!(!db_path(&sb.server, &format!("{DB}{suffix}")).exists());
    }
}

#[test]
fn server_handshake_failures() {
    for (context, lines, code, cause) in [
        (
            "protocol 1.2",
            vec!["protocol 1.2".to_owned()],
            7,
            "protocol-mismatch",
        ),
        (
            "wrong db",
            vec![
                "protocol 1.3".to_owned(),
                "dbfile 1111111111111111111111111111111111111111 -".to_owned(),
            ],
            7,
            "db-mismatch",
        ),
    ] {
        let (sb, before) = server_setup();
        let mut server =
            Peer::spawn(SERVER, &sb.server, &os_args(&[EP, "Mail"]), sb.logs.path());
        for line in lines {
            server.send_line(line.as_bytes());
        }
        let (exit, rest) = server.finish();
        assert_eq!(exit.code, Some(code), "{context}: {}", exit.stderr);
        assert!(
            exit.tags()[0].contains(&format!("probable-cause({cause})")),
            "{context}: {}",
            exit.stderr
        );
        let said = String::from_utf8_lossy(&rest);
        assert!(
            !said.contains("ADD"),
            "{context}: the diff was sent: {said}"
        );
        assert_unchanged(&sb, &before, context);
        assert!(!db_path(&sb.server, &format!("{DB}.new")).exists());
    }
}

// ----------------------------------------- options that write files

fn run_server_with(sb: &Sandbox, args: &[&str], stdin: &[u8]) -> Exit {
    let mut server = Peer::spawn(SERVER, &sb.server, &os_args(args), sb.logs.path());
    server.send(stdin);
    server.finish().0
}

#[test]
fn dump_stdin_stays_in_the_smd_folder() {
    let sb = Sandbox::new();
    fs::create_dir_all(sb.server.join(".smd")).unwrap();
    let outside = sb.root().join("outside/evil");
    let before = state(&sb);
    for target in [
        outside.to_string_lossy().into_owned(),
        "../evil".to_owned(),
        "~/evil".to_owned(),
        "evil".to_owned(),
        "~/.smd/../evil".to_owned(),
        "~/.smd/../../evil".to_owned(),
        ".smd/../../../outside/evil".to_owned(),
        "~/.smd".to_owned(),
        "~/.smd/".to_owned(),
        "/etc/smd-evil".to_owned(),
    ] {
        let exit =
            run_server_with(&sb, &["--dump-stdin", &target, EP, "Mail"], b"evil\n");
        assert_ne!(exit.code, Some(0), "{target} accepted");
        assert!(!exit.errors().is_empty(), "{target}: {}", exit.stderr);
        assert_unchanged(&sb, &before, &target);
        assert!(!Path::new("/etc/smd-evil").exists());
    }
    assert_eq!(
        snapshot(&sb.server.join(".smd")),
        BTreeMap::new(),
        "something was written in ~/.smd"
    );

    // The control: inside ~/.smd it works, byte for byte.
    let data = b"line one\nline \xff two\n";
    let exit =
        run_server_with(&sb, &["--dump-stdin", "~/.smd/rename-db", EP, "Mail"], data);
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert_eq!(fs::read(sb.server.join(".smd/rename-db")).unwrap(), data);
}

/// A path inside `~/.smd` that goes out through a symlink is outside too:
/// the check exists so that a key restricted to smd cannot write files
/// elsewhere, and `~/.smd` may hold symlinks (smd 1.3's `workarea` is a
/// tree of them).
#[test]
fn dump_stdin_does_not_follow_symlinks_out_of_the_smd_folder() {
    let sb = Sandbox::new();
    fs::create_dir_all(sb.server.join(".smd")).unwrap();
    symlink(sb.root().join("outside"), sb.server.join(".smd/workarea")).unwrap();
    let before = state(&sb);
    let exit = run_server_with(
        &sb,
        &["--dump-stdin", "~/.smd/workarea/evil", EP, "Mail"],
        b"evil\n",
    );
    let written = sb.root().join("outside/evil").exists();
    assert!(
        !written && exit.code != Some(0),
        "--dump-stdin wrote {} through a symlink (exit {:?})",
        sb.root().join("outside/evil").display(),
        exit.code
    );
    assert_unchanged(&sb, &before, "symlink");
}

#[test]
fn override_db_stays_in_the_smd_folder() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/m1", &mail("m1", "x"));
    let outside = sb.root().join("outside/db");
    let before = state(&sb);
    for target in [
        outside.to_string_lossy().into_owned(),
        "../db".to_owned(),
        "~/db".to_owned(),
        "~/.smd/../../db".to_owned(),
        "~/.smd".to_owned(),
    ] {
        let exit = run_server_with(&sb, &["--override-db", &target, EP, "Mail"], b"");
        assert_ne!(exit.code, Some(0), "server: {target} accepted");
        assert!(!exit.errors().is_empty(), "{target}: {}", exit.stderr);

        let mut client = Peer::spawn(
            CLIENT,
            &sb.client,
            &os_args(&["--override-db", &target, EP, "Mail"]),
            sb.logs.path(),
        );
        client.close_input();
        let (exit, _) = client.finish();
        assert_eq!(exit.code, Some(6), "client: {target}: {}", exit.stderr);
        assert!(!exit.errors().is_empty(), "{target}: {}", exit.stderr);
        assert_unchanged(&sb, &before, &target);
    }
    for home in [&sb.server, &sb.client] {
        let smd = snapshot(&home.join(".smd"));
        assert!(
            smd.keys().all(|k| !k.ends_with(b"db")),
            "a db was written: {:?}",
            smd.keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
        );
    }
}

/// smd-server and smd-client refuse mailbox arguments that leave HOME.
#[test]
fn mailbox_arguments_must_stay_in_home() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/m1", &mail("m1", "x"));
    let before = state(&sb);
    let absolute = sb.root().join("outside").to_string_lossy().into_owned();
    for mailbox in [
        "../outside",
        "Mail/../../outside",
        absolute.as_str(),
        "Mail/..%2F..%2Foutside",
    ] {
        let exit = run_server_with(&sb, &[EP, mailbox], b"");
        assert_ne!(exit.code, Some(0), "server: {mailbox} accepted");
        assert!(!exit.errors().is_empty(), "{mailbox}: {}", exit.stderr);

        let mut client =
            Peer::spawn(CLIENT, &sb.client, &os_args(&[EP, mailbox]), sb.logs.path());
        client.close_input();
        let (exit, _) = client.finish();
        assert_eq!(exit.code, Some(6), "client: {mailbox}: {}", exit.stderr);
        assert!(!exit.errors().is_empty(), "{mailbox}: {}", exit.stderr);
        assert_unchanged(&sb, &before, mailbox);
    }
}
