//! The released smd 1.3.0 sends and reads the db-file's change as an
//! xdelta 1.1 patch (`xdelta delta` / `xdelta patch`), where later 1.3
//! builds use VCDIFF (xdelta3). The test plays such a peer by hand, with
//! Debian's real `xdelta` program (1.1.3) making and applying the patches.

mod sync_common;

use std::fs;
use std::path::Path;
use std::process::Command;

use sync_common::*;

const EP: &str = "lap";
const DB: &str = "lap__Mail.db.txt";
const VCDIFF_MAGIC: &[u8] = &[0xd6, 0xc3, 0xc4];
const XDELTA1_MAGIC: &[u8] = b"%XDZ004%";

/// Runs the real `xdelta` with `args`; it exits 1 when `delta` finds
/// differences, which is success too.
fn xdelta(args: &[&Path]) {
    let status = Command::new("xdelta")
        .args(args.iter().map(|p| p.as_os_str()))
        .status()
        .expect("xdelta (Debian package xdelta) must be installed");
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "xdelta {args:?}: {status}"
    );
}

fn sha1(bytes: &[u8]) -> String {
    sha1_hex(bytes)
}

/// What smd 1.3.0's server does at COMMIT: `xdelta delta db db.new patch`.
fn xdelta1_patch(dir: &Path, old: &[u8], new: &[u8]) -> Vec<u8> {
    let (old_path, new_path, patch) =
        (dir.join("old"), dir.join("new"), dir.join("patch"));
    fs::write(&old_path, old).unwrap();
    fs::write(&new_path, new).unwrap();
    xdelta(&[Path::new("delta"), &old_path, &new_path, &patch]);
    fs::read(patch).unwrap()
}

/// What smd 1.3.0's client does with it: `xdelta patch patch db db.new`.
fn xdelta1_apply(dir: &Path, old: &[u8], patch: &[u8]) -> Vec<u8> {
    let (old_path, patch_path, out) =
        (dir.join("old"), dir.join("patch"), dir.join("out"));
    fs::write(&old_path, old).unwrap();
    fs::write(&patch_path, patch).unwrap();
    let _ = fs::remove_file(&out);
    xdelta(&[Path::new("patch"), &patch_path, &old_path, &out]);
    fs::read(out).unwrap()
}

#[test]
fn our_client_reads_the_patch_of_an_smd_1_3_0_server() {
    let sb = Sandbox::new();
    let message = mail("m", "from a 1.3.0 server");
    let db = format!("{} Mail/cur/m:2,S\n", pair(&message));
    let patch = xdelta1_patch(sb.root(), b"", db.as_bytes());
    assert!(patch.starts_with(XDELTA1_MAGIC));

    let mut client =
        Peer::spawn(CLIENT, &sb.client, &os_args(&[EP, "Mail"]), sb.logs.path());
    assert_eq!(client.line_text().as_deref(), Some("protocol 1.3"));
    client.line_text();
    client.send(format!("protocol 1.3\ndbfile {EMPTY_SHA} -\n").as_bytes());
    let add = format!("ADD Mail/cur/m:2,S {}\nEND\n", pair(&message));
    client.send(add.as_bytes());
    assert_eq!(client.line_text().as_deref(), Some("GET Mail/cur/m:2,S"));
    client.send(&cat(&[
        format!("chunk {}\n", message.len()).as_bytes(),
        &message,
    ]));
    assert_eq!(client.line_text().as_deref(), Some("COMMIT"));
    client.send(&cat(&[
        format!("chunk {}\n", patch.len()).as_bytes(),
        &patch,
    ]));
    assert_eq!(client.line_text().as_deref(), Some("DONE"));
    let (exit, _) = client.finish();

    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert_eq!(read(&sb.client, b"Mail/cur/m:2,S"), message);
    assert_eq!(fs::read(db_path(&sb.client, DB)).unwrap(), db.as_bytes());
}

/// One run of our server against a client played by the test, whose db
/// holds `client_db`: takes the diff, fetches nothing, asks for the delta,
/// and answers it with `answer` (`DONE` or `ABORT`).
struct ServerRun {
    delta: Vec<u8>,
    new_db: Vec<u8>,
    exit: Exit,
}

fn server_run(sb: &Sandbox, client_db: &[u8], answer: &[u8]) -> ServerRun {
    let args = os_args(&["-v", EP, "Mail"]);
    let mut server = Peer::spawn(SERVER, &sb.server, &args, sb.logs.path());
    assert_eq!(server.line_text().as_deref(), Some("protocol 1.3"));
    server.line_text();
    let handshake = format!("protocol 1.3\ndbfile {} -\n", sha1(client_db));
    server.send(handshake.as_bytes());
    while server.line_text().expect("the diff") != "END" {}

    server.send_line(b"COMMIT");
    let delta = server.chunk();
    let new_db = fs::read(db_path(&sb.server, &format!("{DB}.new"))).unwrap_or_default();
    server.send_line(answer);
    let (exit, _) = server.finish();
    ServerRun {
        delta,
        new_db,
        exit,
    }
}

/// smd 1.3.0's client cannot read VCDIFF and aborts right after the delta:
/// the server then sends xdelta 1 patches to that client, which the real
/// `xdelta patch` applies; a client that then aborts after an xdelta 1
/// patch gets VCDIFF again.
#[test]
fn our_server_sends_xdelta1_to_a_client_that_could_not_read_vcdiff() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/a:2,S", &mail("a", "first"));
    let marker = db_path(&sb.server, &format!("{DB}.peer-xdelta1"));

    let refused = server_run(&sb, b"", b"ABORT");
    assert!(refused.delta.starts_with(VCDIFF_MAGIC));
    assert_eq!(refused.exit.code, Some(5), "{}", refused.exit.stderr);
    assert!(marker.exists(), "{}", refused.exit.stderr);
    assert!(
        refused.exit.stderr.contains("xdelta 1"),
        "{}",
        refused.exit.stderr
    );

    let accepted = server_run(&sb, b"", b"DONE");
    assert!(accepted.delta.starts_with(XDELTA1_MAGIC));
    assert_eq!(accepted.exit.code, Some(0), "{}", accepted.exit.stderr);
    let rebuilt = xdelta1_apply(sb.root(), b"", &accepted.delta);
    assert_eq!(rebuilt, accepted.new_db);
    assert_eq!(fs::read(db_path(&sb.server, DB)).unwrap(), rebuilt);

    put(&sb.server, b"Mail/cur/b:2,S", &mail("b", "second"));
    let switched_back = server_run(&sb, &rebuilt, b"ABORT");
    assert!(switched_back.delta.starts_with(XDELTA1_MAGIC));
    assert!(!marker.exists(), "{}", switched_back.exit.stderr);

    let vcdiff_again = server_run(&sb, &rebuilt, b"DONE");
    assert!(vcdiff_again.delta.starts_with(VCDIFF_MAGIC));
    assert_eq!(
        vcdiff_again.exit.code,
        Some(0),
        "{}",
        vcdiff_again.exit.stderr
    );
}

/// Our own client reads whichever format the server settled on, so a
/// laptop moved from smd 1.3.0 to smd-rs keeps syncing with no rescan.
#[test]
fn our_client_and_server_agree_in_either_format() {
    let sb = Sandbox::new();
    put(&sb.server, b"Mail/cur/a:2,S", &mail("a", "first"));
    fs::create_dir_all(sb.server.join(".smd")).unwrap();
    fs::write(db_path(&sb.server, &format!("{DB}.peer-xdelta1")), b"").unwrap();

    let run = sb.sync(&[EP, "Mail"], &[EP, "Mail"]);
    run.assert_ok();
    assert_eq!(
        fs::read(db_path(&sb.server, DB)).unwrap(),
        fs::read(db_path(&sb.client, DB)).unwrap()
    );
    assert_eq!(read(&sb.client, b"Mail/cur/a:2,S"), mail("a", "first"));
}
