//! `run_sync` tells ssh's failures apart, while its report keeps smd 1.3's
//! words. A stand-in for ssh on PATH prints what OpenSSH prints for each
//! failure and exits with 255, as ssh does; nothing leaves the machine.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use smd::config::Config;
use smd::ssh_failure::SshFailureKind;
use smd::sync::{run_sync, Direction, SyncOptions};

const FAKE_SSH: &str = r#"#!/bin/sh
# The host is the first word that is not an option.
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -o) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
case "$1" in
  denied) echo "me@denied: Permission denied (publickey,password)." >&2 ;;
  refused) echo "ssh: connect to host refused port 22: Connection refused" >&2 ;;
  nowhere) echo "ssh: Could not resolve hostname nowhere: Name or service not known" >&2 ;;
  missing) echo "sh: 1: $2: not found" >&2; exit 127 ;;
  *) echo "something nobody has seen before" >&2 ;;
esac
exit 255
"#;

fn endpoint(home: &Path, name: &str, server: &str) -> Config {
    fs::write(
        Config::path_for(home, name),
        format!("SERVERNAME={server}\nCLIENTNAME=lap\nMAILBOX=Mail\n"),
    )
    .unwrap();
    Config::load(home, name).unwrap()
}

#[test]
fn ssh_failures_are_typed_and_the_report_stays_as_in_smd_1_3() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    for folder in ["Mail/cur", "Mail/new", "Mail/tmp", ".smd"] {
        fs::create_dir_all(home.join(folder)).unwrap();
    }
    let bin = root.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let ssh = bin.join("ssh");
    fs::write(&ssh, FAKE_SSH).unwrap();
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755)).unwrap();
    // The only test of this binary: no other thread reads PATH meanwhile.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&path));
    std::env::set_var("PATH", std::env::join_paths(paths).unwrap());

    let cases = [
        ("denied", Some(SshFailureKind::AuthenticationDenied)),
        ("refused", Some(SshFailureKind::ConnectionRefused)),
        ("nowhere", Some(SshFailureKind::HostNotResolved)),
        ("missing", Some(SshFailureKind::RemoteProgramMissing)),
        ("odd", None),
    ];
    for (server, expected) in cases {
        let config = endpoint(&home, server, server);
        for direction in [Direction::Pull, Direction::Push] {
            let options = SyncOptions {
                show_tags: true,
                ..SyncOptions::default()
            };
            let outcome = run_sync(&home, &config, direction, &options, &mut |_| {});
            let what = format!("{server} {direction:?}: {:#?}", outcome.report);
            assert_eq!(outcome.exit_code, 1, "{what}");
            assert_eq!(
                outcome.ssh_failure.as_ref().map(|f| f.kind),
                expected,
                "{what}"
            );

            let tags = outcome.report.iter().filter(|l| l.contains("TAGS:"));
            if server == "missing" {
                // Already told apart before: retrying cannot help.
                assert!(
                    tags.clone().any(|l| l.contains("remote-program-missing")),
                    "{what}"
                );
            } else {
                // smd 1.3's words: ssh, the network, retry.
                assert!(
                    tags.clone().any(|l| l.contains(
                        "error::context(ssh) probable-cause(network) \
                         human-intervention(avoidable) suggested-actions(retry)"
                    )),
                    "{what}"
                );
            }
        }
    }

    let denied = endpoint(&home, "denied", "denied");
    let outcome = run_sync(
        &home,
        &denied,
        Direction::Pull,
        &SyncOptions::default(),
        &mut |_| {},
    );
    let failure = outcome.ssh_failure.unwrap();
    assert_eq!(
        failure.said,
        "me@denied: Permission denied (publickey,password)."
    );
    assert!(failure.kind.tags().human);
}
