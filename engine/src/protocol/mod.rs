//! Protocol 1.3, spoken by `smd-server` and `smd-client` over a pair of
//! byte streams (ssh, or pipes in tests).
//!
//! 1. Handshake, both ways: `protocol 1.3` and `dbfile SHA(db) SHA(db.new)`.
//! 2. The server sends the diff, then `END`.
//! 3. The client applies it, asking for data with `GET`/`GETHEADER`; each
//!    answer is a `chunk LEN` and LEN bytes.
//! 4. The client sends `COMMIT`, the server the db delta (VCDIFF), the
//!    client `DONE`; or the client sends `ABORT`.
//!
//! Both sides name their db-file after the endpoint and the server's
//! mailbox arguments, and both keep it byte-identical, which the handshake
//! checks.

pub mod client;
pub mod diffline;
pub mod server;
pub mod wire;

use std::fmt;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::db;
use crate::sha::Sha;
use crate::tags::{Action, Tags};
use wire::WireError;

pub const PROTOCOL_VERSION: &str = "1.3";

/// The largest db delta accepted: a db of a few million messages.
pub const MAX_DELTA: u64 = 2 << 30;

/// A run that ended with an error: what to tell the person, and the tags
/// that say what can be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Plain sentences: what failed and what to do.
    pub message: String,
    pub tags: Tags,
}

impl Failure {
    pub fn new(message: impl Into<String>, tags: Tags) -> Failure {
        Failure {
            message: message.into(),
            tags,
        }
    }

    /// The peer vanished or sent garbage.
    pub fn network(context: &'static str, error: &WireError) -> Failure {
        match error {
            WireError::Closed | WireError::Aborted | WireError::Io(_) => Failure::new(
                format!("{error}; this is usually transient, please retry"),
                Tags::retry(context, "network"),
            ),
            // Garbage does not go away by itself: a broken or hostile peer,
            // or something else writing into the connection.
            _ => Failure::new(
                format!(
                    "{error}; the other side is broken or is not smd, or something \
                     (a login script on the server?) writes into the connection"
                ),
                Tags::new(context, "protocol-error", true),
            ),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The files of one endpoint's db in `~/.smd/`.
#[derive(Debug, Clone)]
pub struct DbPaths {
    pub db: PathBuf,
}

impl DbPaths {
    pub fn for_endpoint(home: &Path, endpoint: &str, mailboxes: &[String]) -> DbPaths {
        DbPaths {
            db: home
                .join(".smd")
                .join(db::db_file_name(endpoint, mailboxes)),
        }
    }

    pub fn new_db(&self) -> PathBuf {
        db::with_suffix(&self.db, ".new")
    }

    pub fn mtime(&self) -> PathBuf {
        db::with_suffix(&self.db, ".mtime")
    }

    pub fn new_mtime(&self) -> PathBuf {
        db::with_suffix(&self.db, ".mtime.new")
    }

    /// Present when the peer of this db-file reads xdelta 1 patches (it is
    /// smd 1.3.0) rather than VCDIFF deltas; see [`DeltaFormat`].
    pub fn peer_reads_xdelta1(&self) -> PathBuf {
        db::with_suffix(&self.db, ".peer-xdelta1")
    }
}

/// How the change of the db-file travels at COMMIT.
///
/// The released smd 1.3.0 runs `xdelta` 1.1 (`xdelta delta`/`xdelta
/// patch`); later 1.3 builds run `xdelta3` (VCDIFF). Both speak the same
/// protocol otherwise, so a server cannot tell which it talks to. It sends
/// VCDIFF, and when a client aborts right after receiving the delta (what
/// 1.3.0 does with a patch it cannot read) it sends the other format the
/// next time, remembering the choice beside the db-file. Our client reads
/// both, by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaFormat {
    Vcdiff,
    Xdelta1,
}

impl DeltaFormat {
    /// The format the peer of `paths` was last seen to read.
    pub fn for_peer(paths: &DbPaths) -> DeltaFormat {
        if paths.peer_reads_xdelta1().exists() {
            DeltaFormat::Xdelta1
        } else {
            DeltaFormat::Vcdiff
        }
    }

    pub fn encode(self, old: &[u8], new: &[u8]) -> Vec<u8> {
        match self {
            DeltaFormat::Vcdiff => vcdiff::encode(old, new),
            DeltaFormat::Xdelta1 => vcdiff::xdelta1::encode(old, new),
        }
    }

    /// The other one.
    pub fn other(self) -> DeltaFormat {
        match self {
            DeltaFormat::Vcdiff => DeltaFormat::Xdelta1,
            DeltaFormat::Xdelta1 => DeltaFormat::Vcdiff,
        }
    }

    /// Remembers that the peer of `paths` reads this format.
    pub fn remember(self, paths: &DbPaths) -> std::io::Result<()> {
        let marker = paths.peer_reads_xdelta1();
        match self {
            DeltaFormat::Xdelta1 => fs::write(marker, b""),
            DeltaFormat::Vcdiff => match fs::remove_file(marker) {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                result => result,
            },
        }
    }
}

impl fmt::Display for DeltaFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeltaFormat::Vcdiff => "VCDIFF (xdelta3)",
            DeltaFormat::Xdelta1 => "xdelta 1",
        })
    }
}

/// Rebuilds the new db-file from `old` and the server's delta, in either
/// format (told apart by its magic bytes), producing at most `limit` bytes.
pub fn apply_delta(old: &[u8], delta: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    if vcdiff::xdelta1::is_xdelta1(delta) {
        vcdiff::xdelta1::decode(old, delta, limit).map_err(|error| error.to_string())
    } else {
        vcdiff::decode(old, delta, limit).map_err(|error| error.to_string())
    }
}

/// Checks that an overriding path given on the command line (`--override-db`,
/// `--dump-stdin`) stays inside `~/.smd/`: these options write files, and
/// a key restricted to smd must not write anywhere else.
pub fn path_inside_smd_dir(home: &Path, given: &str) -> Result<PathBuf, String> {
    let expanded = match given.strip_prefix('~') {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None if given.starts_with('/') => PathBuf::from(given),
        None => home.join(given),
    };
    let smd_dir = home.join(".smd");
    let escapes = expanded.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    });
    let outside = || {
        format!(
            "'{given}' is outside {}; only files inside it are accepted",
            smd_dir.display()
        )
    };
    if escapes || !expanded.starts_with(&smd_dir) || expanded == smd_dir {
        return Err(outside());
    }

    // Only db-files: ~/.smd also holds configs, hooks and the schedule,
    // which smd runs or sources, and a key restricted to smd-server must
    // not be able to write those.
    let is_db_file = expanded.parent() == Some(smd_dir.as_path())
        && expanded
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|name| name == "rename-db" || name.ends_with(".db.txt"));
    if !is_db_file {
        return Err(format!(
            "'{given}' is not a db-file in {}: only rename-db and *.db.txt files there are \
             accepted",
            smd_dir.display()
        ));
    }

    // The text is inside; so must be what it resolves to, through any
    // symlink on the way (smd 1.3's workarea is made of symlinks).
    if expanded
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(outside());
    }
    let Some(existing) = expanded.ancestors().skip(1).find(|a| a.exists()) else {
        return Ok(expanded);
    };
    if !existing.starts_with(&smd_dir) {
        // Not even ~/.smd exists yet: it will be made as a real folder.
        return Ok(expanded);
    }
    let real_smd = smd_dir.canonicalize().map_err(|_| outside())?;
    match existing.canonicalize() {
        Ok(real) if real.starts_with(&real_smd) => Ok(expanded),
        _ => Err(outside()),
    }
}

/// Exchanges protocol versions and db fingerprints, and reconciles the db
/// with the peer's (renaming `db.new` into place when the last run was
/// killed between COMMIT and DONE).
pub fn handshake(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    paths: &DbPaths,
) -> Result<(), Failure> {
    let network = |error: WireError| Failure::network("handshake", &error);

    writeln!(writer, "protocol {PROTOCOL_VERSION}").map_err(|e| network(e.into()))?;

    let db_sha = fingerprint(&paths.db, true)?;
    let new_sha = fingerprint(&paths.new_db(), false).ok();
    let new_text = new_sha.map_or_else(|| "-".to_owned(), |sha| sha.to_hex());
    writeln!(writer, "dbfile {db_sha} {new_text}").map_err(|e| network(e.into()))?;
    writer.flush().map_err(|e| network(e.into()))?;

    let line = wire::expect_line(reader).map_err(network)?;
    let expected = format!("protocol {PROTOCOL_VERSION}");
    if line != expected.as_bytes() {
        return Err(Failure::new(
            format!(
                "the other side speaks {}, not {expected}; install the same protocol \
                 version on both sides",
                String::from_utf8_lossy(&line)
            ),
            Tags::new("handshake", "protocol-mismatch", true),
        ));
    }

    let line = wire::expect_line(reader).map_err(network)?;
    let text = String::from_utf8_lossy(&line);
    let mut words = text.strip_prefix("dbfile ").unwrap_or("").split(' ');
    let (Some(peer_db), Some(peer_new), None) =
        (words.next(), words.next(), words.next())
    else {
        return Err(network(WireError::Unexpected(line)));
    };

    if peer_new == db_sha.to_hex() {
        // The peer is one run ahead and will catch up itself.
        Ok(())
    } else if new_sha.is_some_and(|sha| sha.to_hex() == peer_db) {
        // The last run was killed after the peer renamed its db: catch up.
        // The db goes first: a newer scan time next to an older db would
        // make the next scan trust files it has never read.
        fs::rename(paths.new_db(), &paths.db).map_err(|error| {
            Failure::new(
                format!("unable to rename {}: {error}", paths.new_db().display()),
                Tags::write_error("handshake", "bad-permissions", &error, &paths.db),
            )
        })?;
        if paths.new_mtime().exists() {
            let _ = fs::rename(paths.new_mtime(), paths.mtime());
        }
        Ok(())
    } else if peer_db == db_sha.to_hex() {
        Ok(())
    } else {
        Err(Failure::new(
            format!(
                "the db-file {} does not match the other side's: the two mailboxes \
                 were last synchronized with different copies. Remove the db-file \
                 on both sides and synchronize again",
                paths.db.display()
            ),
            Tags::new("handshake", "db-mismatch", true)
                .with(Action::Remove(paths.db.clone())),
        ))
    }
}

/// The bytes of a db-file; a missing one is empty.
pub fn read_db(path: &Path) -> std::io::Result<Vec<u8>> {
    match fs::read(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        result => result,
    }
}

/// SHA-1 of a db file. A missing db is an empty one (a first sync
/// compares empty files); it is not created, so that a run that fails
/// leaves nothing behind.
fn fingerprint(path: &Path, missing_is_empty: bool) -> Result<Sha, Failure> {
    match Sha::of_file(path) {
        Err(error)
            if missing_is_empty && error.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(Sha::EMPTY)
        }
        result => result.map_err(|error| unreadable_db(path, error)),
    }
}

fn unreadable_db(path: &Path, error: std::io::Error) -> Failure {
    Failure::new(
        format!("unable to read the db-file {}: {error}", path.display()),
        Tags::new("handshake", "bad-permissions", true)
            .with(Action::DisplayPermissions(path.to_owned())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_paths_must_stay_in_smd_dir() {
        let home = Path::new("/home/u");
        assert_eq!(
            path_inside_smd_dir(home, "~/.smd/x.db.txt").unwrap(),
            PathBuf::from("/home/u/.smd/x.db.txt")
        );
        assert_eq!(
            path_inside_smd_dir(home, ".smd/rename-db").unwrap(),
            PathBuf::from("/home/u/.smd/rename-db")
        );
        for bad in [
            "/etc/passwd",
            "~/.bashrc",
            "~/.smd/../.bashrc",
            "~/.smd",
            "x",
            "~/.smd/config.evil",
            "~/.smd/hooks/pre-pull.d/x.db.txt",
            "~/.smd/loop",
        ] {
            assert!(path_inside_smd_dir(home, bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn override_paths_must_not_leave_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(home.join(".smd")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, home.join(".smd/workarea")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), home.join(".smd/link")).unwrap();

        assert!(path_inside_smd_dir(&home, "~/.smd/workarea/evil").is_err());
        assert!(path_inside_smd_dir(&home, "~/.smd/link").is_err());
        assert!(path_inside_smd_dir(&home, "~/.smd/rename-db").is_ok());
        assert!(path_inside_smd_dir(&home, "~/.smd/workarea/x.db.txt").is_err());
    }
}
