//! A temporary HOME holding both sides of a real sync: `Local/` is this
//! computer's mailbox and `Remote/` the "server's", synchronized by the
//! engine with `SERVERNAME=localhost` and `SMDCLIENTOPTS=-l` (no ssh), and
//! translators that map the two names, as a real two-host setup would.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const ENDPOINT: &str = "test";

/// A stand-in for ssh that connects nowhere: it says what OpenSSH says
/// for two servers and fails as ssh does, with 255.
const FAKE_SSH: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in --) shift; break ;; -o) shift 2 ;; -*) shift ;; *) break ;; esac
done
case "$1" in
  denied) echo "me@denied: Permission denied (publickey)." >&2 ;;
  unreachable) echo "ssh: connect to host unreachable port 22: Connection refused" >&2 ;;
  *) echo "ssh: Could not resolve hostname $1: Name or service not known" >&2 ;;
esac
exit 255
"#;

/// A comment of the person's own, which editing must keep.
pub const USER_COMMENT: &str = "# my own note: both sides live here";

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl Fixture {
    pub fn new() -> io::Result<Fixture> {
        let dir = tempfile::Builder::new()
            .prefix("smd-applet-ui.")
            .tempdir()?;
        let root = dir.path().to_owned();
        let home = root.join("home");
        for folder in ["Local", "Remote"] {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(home.join(folder).join(sub))?;
            }
        }
        fs::create_dir_all(home.join(".smd"))?;
        fs::create_dir_all(home.join("bin"))?;

        // Translators read a folder a line and answer at once.
        let translator = |name: &str, from: &str, to: &str| -> io::Result<()> {
            let path = home.join("bin").join(name);
            fs::write(
                &path,
                format!(
                    "#!/bin/sh\nwhile IFS= read -r line; do\n  echo \"{to}/${{line#{from}/}}\"\ndone\n"
                ),
            )?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
        };
        translator("local-to-remote", "Local", "Remote")?;
        translator("remote-to-local", "Remote", "Local")?;

        let fake_bin = root.join("fake-bin");
        fs::create_dir_all(&fake_bin)?;
        let ssh = fake_bin.join("ssh");
        fs::write(&ssh, FAKE_SSH)?;
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755))?;

        fs::write(
            home.join(".smd").join(format!("config.{ENDPOINT}")),
            format!(
                "{USER_COMMENT}\n\
                 SERVERNAME=localhost\n\
                 CLIENTNAME=laptop\n\
                 MAILBOX_LOCAL=Local\n\
                 MAILBOX_REMOTE=Remote\n\
                 TRANSLATOR_LR=bin/local-to-remote\n\
                 TRANSLATOR_RL=bin/remote-to-local\n\
                 SMDCLIENTOPTS=-l\n"
            ),
        )?;
        fs::write(
            home.join(".smd").join("loop"),
            format!("# the applet's schedule\n1 1 {ENDPOINT}\n"),
        )?;

        // A new message on the server, and the conflict: the same name on
        // both sides for two different messages.
        fs::write(
            home.join("Remote/cur/1.server:2,S"),
            "From: Server <server@example.org>\nTo: you@example.org\n\
             Subject: Hello from the server\nDate: Mon, 1 Dec 2025 10:00:00 +0000\n\n\
             First message.\n",
        )?;
        fs::write(
            home.join("Remote/cur/2.same:2,"),
            "From: Server <server@example.org>\nSubject: server version\n\nServer text.\n",
        )?;
        fs::write(
            home.join("Local/cur/2.same:2,"),
            "From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.org>\nTo: you@example.org\n\
             Subject: =?ISO-8859-1?Q?Caf=E9?= plans\nDate: Tue, 2 Dec 2025 09:30:00 +0100\n\n\
             Written here, never synchronized.\n",
        )?;
        Ok(Fixture {
            _dir: dir,
            root,
            home,
        })
    }

    /// The folder of the stand-in for ssh, to put first on PATH.
    pub fn fake_bin(&self) -> PathBuf {
        self.root.join("fake-bin")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.home.join(relative)
    }

    /// The messages below a mailbox, by name relative to it.
    pub fn tree(&self, mailbox: &str) -> BTreeMap<String, Vec<u8>> {
        let mut tree = BTreeMap::new();
        for sub in ["cur", "new"] {
            let folder = self.home.join(mailbox).join(sub);
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
                tree.insert(name, fs::read(entry.path()).unwrap_or_default());
            }
        }
        tree
    }

    pub fn in_sync(&self) -> bool {
        self.tree("Local") == self.tree("Remote")
    }
}

/// The folder of the engine's programs (smd-server, smd-client), which a
/// local sync runs: beside this test's target folder.
pub fn engine_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SMD_BIN_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    // target/debug/deps/ui-HASH -> target/debug
    let dir = exe.parent()?.parent()?.to_owned();
    dir.join("smd-server").is_file().then_some(dir)
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SMD_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("screenshots")))
        .unwrap_or_else(|| Path::new("target/screenshots").to_owned())
}
