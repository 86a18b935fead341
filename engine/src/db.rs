//! The db-file: what a mailbox held at the last sync.
//!
//! One line a message, `HSHA BSHA NAME\n`, NAME raw (not URL-encoded) and
//! relative to the folder the scan ran in. Beside it, `<db>.mtime` holds
//! the Unix time the scan that wrote it started, as decimal digits.
//!
//! A [`Db`] keeps every name in one byte arena and every entry in a flat
//! vector, so a million messages cost a few dozen bytes each plus their
//! names.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::durable;
use crate::message::MessageHash;
use crate::sha::Sha;

/// One message of a db-file.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub hash: MessageHash,
    name_start: usize,
    name_len: u32,
}

/// The messages of a db-file, in file order.
#[derive(Default)]
pub struct Db {
    names: Vec<u8>,
    entries: Vec<Entry>,
}

impl Db {
    pub fn new() -> Db {
        Db::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    pub fn name(&self, index: usize) -> &[u8] {
        let entry = &self.entries[index];
        &self.names[entry.name_start..entry.name_start + entry.name_len as usize]
    }

    pub fn hash(&self, index: usize) -> MessageHash {
        self.entries[index].hash
    }

    pub fn push(&mut self, name: &[u8], hash: MessageHash) {
        let name_start = self.names.len();
        self.names.extend_from_slice(name);
        let name_len = u32::try_from(name.len()).expect("a file name fits in 4 GiB");
        self.entries.push(Entry {
            hash,
            name_start,
            name_len,
        });
    }

    /// Reads a db-file. A missing file is an empty db: that is how a first
    /// sync starts.
    pub fn load(path: &Path) -> Result<Db, DbError> {
        // Read whole: a db is a few dozen bytes a message, and one read
        // beats a read per line.
        match std::fs::read(path) {
            Ok(bytes) => Db::parse(&bytes).map_err(|error| error.at(path)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Db::new()),
            Err(error) => Err(DbError::io(path, error)),
        }
    }

    /// Parses db lines from `reader`. A last line without `\n` is accepted.
    pub fn read(mut reader: impl Read) -> Result<Db, DbError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|error| DbError::io(Path::new(""), error))?;
        Db::parse(&bytes)
    }

    /// Parses the bytes of a db-file.
    pub fn parse(bytes: &[u8]) -> Result<Db, DbError> {
        let lines = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let mut db = Db::new();
        db.entries.reserve(bytes.len() / 100);
        db.names.reserve(bytes.len());
        for (number, line) in lines.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                // smd 1.3 skips blank lines; so do we.
                continue;
            }
            let (name, hash) = parse_line(line).ok_or(DbError::Malformed {
                path: PathBuf::new(),
                line: number + 1,
            })?;
            db.push(name, hash);
        }
        Ok(db)
    }

    /// Writes every entry as a db line.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = Vec::with_capacity(256);
        for index in 0..self.len() {
            line.clear();
            format_line(self.name(index), self.hash(index), &mut line);
            out.write_all(&line)?;
        }
        Ok(())
    }
}

/// Appends `HSHA BSHA NAME\n`.
pub fn format_line(name: &[u8], hash: MessageHash, out: &mut Vec<u8>) {
    hash.header.write_hex(out);
    out.push(b' ');
    hash.body.write_hex(out);
    out.push(b' ');
    out.extend_from_slice(name);
    out.push(b'\n');
}

/// Parses `HSHA BSHA NAME`. Like smd 1.3's reader, it accepts more than
/// one blank between fields (a name never starts with a blank: it starts
/// with its mailbox root).
fn parse_line(line: &[u8]) -> Option<(&[u8], MessageHash)> {
    fn skip_blanks(text: &[u8]) -> Option<&[u8]> {
        let at = text
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(text.len());
        (at > 0).then(|| &text[at..])
    }
    let line = skip_blanks(line).unwrap_or(line);
    let header = Sha::from_hex(line.get(..40)?)?;
    let rest = skip_blanks(&line[40..])?;
    let body = Sha::from_hex(rest.get(..40)?)?;
    let name = skip_blanks(&rest[40..])?;
    (!name.is_empty()).then_some((name, MessageHash { header, body }))
}

/// Reads `<db>.mtime`. A missing file means "never scanned": nothing is
/// trusted.
pub fn load_mtime(path: &Path) -> Result<i64, DbError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| DbError::Malformed {
            path: path.to_owned(),
            line: 1,
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(DbError::io(path, error)),
    }
}

/// Writes `<db>.mtime`-style content (decimal, no newline), durably.
pub fn save_mtime(path: &Path, time: i64) -> io::Result<()> {
    durable::replace_file(path, |out| write!(out, "{time}"))
}

/// Appends `suffix` to a path's file name: `db.txt` + `.new`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The db-file name smd uses for an endpoint and its mailbox arguments:
/// `<E>__<M>.db.txt`, see the module docs of the protocol for who passes
/// what. `mailboxes` are the arguments exactly as given (still `%20`-encoded).
pub fn db_file_name(endpoint: &str, mailboxes: &[impl AsRef<str>]) -> String {
    let endpoint = endpoint
        .strip_suffix('/')
        .unwrap_or(endpoint)
        .replace('/', "_");
    let joined: Vec<&str> = mailboxes.iter().map(AsRef::as_ref).collect();
    let joined = joined.join("__");
    let joined = joined.strip_suffix('/').unwrap_or(&joined);
    let joined = joined.replace(['/', '%'], "_");
    format!("{endpoint}__{joined}.db.txt")
}

/// Why a db-file could not be read.
#[derive(Debug)]
pub enum DbError {
    Io { path: PathBuf, source: io::Error },
    Malformed { path: PathBuf, line: usize },
}

impl DbError {
    fn io(path: &Path, source: io::Error) -> DbError {
        DbError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn at(self, path: &Path) -> DbError {
        match self {
            DbError::Io { source, .. } => DbError::Io {
                path: path.to_owned(),
                source,
            },
            DbError::Malformed { line, .. } => DbError::Malformed {
                path: path.to_owned(),
                line,
            },
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Io { path, source } => {
                write!(f, "unable to read db file '{}': {source}", path.display())
            }
            DbError::Malformed { path, line }
                if path.extension().is_some_and(|e| e == "mtime") =>
            {
                write!(
                f,
                "malformed scan time in '{}': it should hold a decimal number; remove it \
                 to make the next scan read every message again",
                path.display()
            )
            }
            DbError::Malformed { path, line } => write!(
                f,
                "malformed db file '{}' at line {line}; remove it (and its .mtime) \
                 to rebuild it with a full rescan",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Io { source, .. } => Some(source),
            DbError::Malformed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::hash_bytes;

    #[test]
    fn lines_round_trip_with_awkward_names() {
        let mut db = Db::new();
        db.push(b"Mail/cur/with space %20 and\ttab", hash_bytes(b"a\n\nb"));
        db.push(b"Mail/new/\xff\xfe not utf8", hash_bytes(b"only header"));

        let mut bytes = Vec::new();
        db.write_to(&mut bytes).unwrap();
        let again = Db::read(&bytes[..]).unwrap();

        assert_eq!(again.len(), 2);
        assert_eq!(again.name(0), db.name(0));
        assert_eq!(again.name(1), db.name(1));
        assert_eq!(again.hash(1), db.hash(1));
        let mut rewritten = Vec::new();
        again.write_to(&mut rewritten).unwrap();
        assert_eq!(rewritten, bytes);
    }

    #[test]
    fn reads_a_line_written_by_smd_1_3() {
        let line = b"da39a3ee5e6b4b0d3255bfef95601890afd80709 \
            0000000000000000000000000000000000000000 Mail/cur/1.x:2,S";
        let db = Db::read(&line[..]).unwrap();
        assert_eq!(db.name(0), b"Mail/cur/1.x:2,S");
        assert_eq!(db.hash(0).header, Sha::EMPTY);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        let bytes = b"da39a3ee5e6b4b0d3255bfef95601890afd80709 \
            da39a3ee5e6b4b0d3255bfef95601890afd80709 ok\nnot a db line\n";
        match Db::read(&bytes[..]) {
            Err(DbError::Malformed { line: 2, .. }) => {}
            other => panic!(
                "expected malformed line 2, got {:?}",
                other.map(|d| d.len())
            ),
        }
    }

    #[test]
    fn db_file_names_follow_smd_rules() {
        assert_eq!(
            db_file_name("lap-default", &["Mail/"]),
            "lap-default__Mail.db.txt"
        );
        assert_eq!(
            db_file_name("lap/top//", &["A/", "My%20Mail//"]),
            "lap_top___A___My_20Mail_.db.txt"
        );
    }

    #[test]
    fn mtime_is_decimal_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.txt.mtime");
        assert_eq!(load_mtime(&path).unwrap(), 0);
        save_mtime(&path, 1_700_000_000).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"1700000000");
        assert_eq!(load_mtime(&path).unwrap(), 1_700_000_000);
    }
}
