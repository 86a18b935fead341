//! Computing the commands that bring a copy of a mailbox from the state in
//! the db to the state on disk.
//!
//! The rules are smd's (see [`Command`]), with three differences that keep
//! mail safe: a file that cannot be read, or is now empty, keeps its db
//! entry instead of turning into a DELETE; a source counts as gone only
//! when the whole scan did not meet it, so `touch a; cp a b` is a COPY and
//! never a MOVE that would rename `a` away; and a duplicate met in the same
//! scan is a COPY of the first one instead of a second transfer.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::io::{self, Write};
use std::sync::OnceLock;

use crate::db::Db;
use crate::examine::Examined;
use crate::message::MessageHash;
use crate::sha::Sha;
use crate::url;
use crate::walk::{lossy, FileList};

/// One line of the diff. Names are raw bytes; [`Command::write_line`]
/// encodes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// A new message whose body no known message has.
    Add { name: &'a [u8], hash: MessageHash },
    /// `to` is new and identical to `from`, which still exists.
    Copy {
        from: &'a [u8],
        hash: MessageHash,
        to: &'a [u8],
    },
    /// `to` is new and identical to `from`, which is gone.
    Move {
        from: &'a [u8],
        hash: MessageHash,
        to: &'a [u8],
    },
    /// `to` is new, with the body of `from` and its own header.
    CopyBody {
        from: &'a [u8],
        body: Sha,
        to: &'a [u8],
        header: Sha,
    },
    /// `name` is gone.
    Delete { name: &'a [u8], hash: MessageHash },
    /// `name` kept its body; its header is now `header`.
    ReplaceHeader {
        name: &'a [u8],
        old: MessageHash,
        header: Sha,
    },
    /// `name` kept its name; its body changed.
    Replace {
        name: &'a [u8],
        old: MessageHash,
        new: MessageHash,
    },
}

impl Command<'_> {
    /// Appends the diff line, `\n` included.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        fn pair(out: &mut Vec<u8>, hash: &MessageHash) {
            hash.header.write_hex(out);
            out.push(b' ');
            hash.body.write_hex(out);
        }
        fn name(out: &mut Vec<u8>, raw: &[u8]) {
            url::encode_into(raw, out);
            out.push(b' ');
        }

        match self {
            Command::Add { name: n, hash } => {
                out.extend_from_slice(b"ADD ");
                name(out, n);
                pair(out, hash);
            }
            Command::Copy { from, hash, to } | Command::Move { from, hash, to } => {
                let verb: &[u8] = if matches!(self, Command::Copy { .. }) {
                    b"COPY "
                } else {
                    b"MOVE "
                };
                out.extend_from_slice(verb);
                name(out, from);
                pair(out, hash);
                out.extend_from_slice(b" TO ");
                url::encode_into(to, out);
            }
            Command::CopyBody {
                from,
                body,
                to,
                header,
            } => {
                out.extend_from_slice(b"COPYBODY ");
                name(out, from);
                body.write_hex(out);
                out.extend_from_slice(b" TO ");
                name(out, to);
                header.write_hex(out);
            }
            Command::Delete { name: n, hash } => {
                out.extend_from_slice(b"DELETE ");
                name(out, n);
                pair(out, hash);
            }
            Command::ReplaceHeader {
                name: n,
                old,
                header,
            } => {
                out.extend_from_slice(b"REPLACEHEADER ");
                name(out, n);
                pair(out, old);
                out.extend_from_slice(b" WITH ");
                header.write_hex(out);
            }
            Command::Replace { name: n, old, new } => {
                out.extend_from_slice(b"REPLACE ");
                name(out, n);
                pair(out, old);
                out.extend_from_slice(b" WITH ");
                pair(out, new);
            }
        }
        out.push(b'\n');
    }
}

/// Options of the diff, as mddiff's flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions {
    /// `-n`: do not delete what vanished (a `--no-move` source still goes).
    pub no_delete: bool,
    /// `--no-move`: say COPY plus DELETE instead of MOVE.
    pub no_move: bool,
    /// Refuse a diff that deletes more than this percentage of the known
    /// messages (an emptied or unmounted mailbox looks like that).
    pub delete_guard_percent: Option<u32>,
}

/// A diff refused because it deletes too much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassDeletion {
    pub deletions: usize,
    pub known: usize,
    pub percent: u32,
}

impl MassDeletion {
    /// Checks `deletions` out of `known` messages against the guard. A
    /// single deletion always passes, so that a mailbox of one message
    /// can be emptied.
    pub fn check(
        deletions: usize,
        known: usize,
        percent: Option<u32>,
    ) -> Result<(), MassDeletion> {
        let Some(percent) = percent else {
            return Ok(());
        };
        if deletions >= 2 && deletions * 100 > known * percent as usize {
            return Err(MassDeletion {
                deletions,
                known,
                percent,
            });
        }
        Ok(())
    }
}

impl fmt::Display for MassDeletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this run would delete {} of the {} messages known (more than {}%), so \
             nothing was deleted. If a mailbox was emptied or unmounted by mistake, \
             fix that first; to delete them deliberately, run again with \
             --allow-mass-delete, or set DELETE_GUARD_PERCENT=100 in the config",
            self.deletions, self.known, self.percent
        )
    }
}

impl std::error::Error for MassDeletion {}

/// A file the diff left alone, and why: these are reported, never deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A known message that is now empty; its db entry is kept.
    EmptiedKnown { name: Vec<u8> },
    /// A file that could not be read; a known one keeps its db entry.
    Unreadable {
        name: Vec<u8>,
        known: bool,
        reason: String,
    },
    /// A known message that is no longer a regular file.
    NotRegular { name: Vec<u8> },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::EmptiedKnown { name } => write!(
                f,
                "'{}' was a message and is now empty; it is not deleted on the other \
                 side. Restore it, or delete it if that is what you want",
                lossy(name)
            ),
            Skipped::Unreadable {
                name,
                known: true,
                reason,
            } => write!(
                f,
                "unable to read '{}': {reason}; keeping what the last sync knew of it",
                lossy(name)
            ),
            Skipped::Unreadable {
                name,
                known: false,
                reason,
            } => {
                write!(f, "unable to read '{}': {reason}; ignoring it", lossy(name))
            }
            Skipped::NotRegular { name } => write!(
                f,
                "'{}' was a message and is no longer a regular file; it is not deleted \
                 on the other side",
                lossy(name)
            ),
        }
    }
}

/// What happened to each db entry during the diff.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not met by the scan.
    Gone,
    /// Met, same content (or kept because it could not be read).
    Present,
    /// Met with a different content.
    Changed,
    /// Gone, and a new file took it over with a MOVE.
    Moved,
    /// Gone, taken over with a COPY under `--no-move`: DELETE it anyway.
    CopiedAway,
    /// A second line for a name the db already has: dropped, since the
    /// first line stands for the file.
    Repeated,
}

/// The result of a diff: the new db and what was left alone.
pub struct DiffOutcome<'a> {
    pub db: NewDb<'a>,
    pub skipped: Vec<Skipped>,
}

/// The new db, as a list of what to keep from the old one and what to add
/// from the scan: a rescan copies no names to write it.
pub struct NewDb<'a> {
    old: &'a Db,
    files: &'a FileList,
    kept: Vec<u32>,
    added: Vec<(u32, MessageHash)>,
}

impl NewDb<'_> {
    pub fn len(&self) -> usize {
        self.kept.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the new db lists exactly the old db's entries, in the same
    /// order: nothing was added, and nothing left (what stays keeps its
    /// order, so equal counts mean every entry stayed).
    pub fn lists_the_old_db(&self) -> bool {
        self.added.is_empty() && self.kept.len() == self.old.len()
    }

    /// Writes every line of the new db.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = Vec::with_capacity(256);
        let kept = self
            .kept
            .iter()
            .map(|&entry| (self.old.name(entry as usize), self.old.hash(entry as usize)));
        let added = self
            .added
            .iter()
            .map(|&(index, hash)| (self.files.name(index as usize), hash));
        for (name, hash) in kept.chain(added) {
            line.clear();
            crate::db::format_line(name, hash, &mut line);
            out.write_all(&line)?;
        }
        Ok(())
    }

    /// Replaces the file at `path` with the new db, durably.
    pub fn save(&self, path: &std::path::Path) -> io::Result<()> {
        crate::durable::replace_file(path, |out| self.write_to(out))
    }
}

/// Entries grouped by a 64-bit key, each group listed in db order: a hash
/// table of chains, cheaper to build than sorting a million entries.
struct ChainIndex {
    heads: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    next: Vec<u32>,
}

const END: u32 = u32::MAX;

impl ChainIndex {
    fn new(len: usize, key: impl Fn(usize) -> u64) -> ChainIndex {
        let mut heads = HashMap::with_capacity_and_hasher(len, Default::default());
        let mut next = vec![END; len];
        // Inserting from the last entry makes every chain ascend.
        for entry in (0..len).rev() {
            if let Some(head) = heads.insert(key(entry), entry as u32) {
                next[entry] = head;
            }
        }
        ChainIndex { heads, next }
    }

    /// The entries whose key is `key`, in db order.
    fn chain(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.heads.get(&key).copied().unwrap_or(END);
        std::iter::from_fn(move || {
            (at != END).then(|| {
                let entry = at as usize;
                at = self.next[entry];
                entry
            })
        })
    }
}

/// Keys are already well mixed (digest bytes, or `name_key`): use them as
/// they are.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A quick 64-bit key of a name (not a digest: equal keys are checked).
fn name_key(name: &[u8]) -> u64 {
    let mut key = 0x9e37_79b9_7f4a_7c15 ^ name.len() as u64;
    for chunk in name.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        key = (key ^ u64::from_le_bytes(word))
            .wrapping_mul(0xff51_afd7_ed55_8ccd)
            .rotate_left(31);
    }
    key
}

fn body_key(body: &Sha) -> u64 {
    let bytes = body.as_bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

/// Entries by body digest, for finding copies and bodies.
struct ContentIndex {
    chains: ChainIndex,
}

impl ContentIndex {
    fn new(db: &Db) -> ContentIndex {
        ContentIndex {
            chains: ChainIndex::new(db.len(), |entry| body_key(&db.hash(entry).body)),
        }
    }

    /// Entries with this body, in db order.
    fn same_body(&self, db: &Db, body: Sha) -> Vec<u32> {
        self.chains
            .chain(body_key(&body))
            .filter(|&entry| db.hash(entry).body == body)
            .map(|entry| entry as u32)
            .collect()
    }
}

/// Maps names to db entries.
///
/// A rescan meets the files in the order the db lists them (both follow
/// the folders' listing order), so each name is first compared with the
/// entry after the last match; the sorted index behind it is only built
/// when that fails, which keeps an unchanged rescan from sorting at all.
pub struct NameIndex {
    chains: OnceLock<ChainIndex>,
    sorted: OnceLock<Vec<u32>>,
}

impl NameIndex {
    pub fn new() -> NameIndex {
        NameIndex {
            chains: OnceLock::new(),
            sorted: OnceLock::new(),
        }
    }

    /// The first entry (in db order) with this name.
    pub fn find(&self, db: &Db, name: &[u8]) -> Option<usize> {
        let chains = self
            .chains
            .get_or_init(|| ChainIndex::new(db.len(), |entry| name_key(db.name(entry))));
        chains
            .chain(name_key(name))
            .find(|&entry| db.name(entry) == name)
    }

    /// The db entry of each file, if any.
    pub fn known_entries(&self, db: &Db, files: &FileList) -> Vec<Option<u32>> {
        let mut next = 0;
        (0..files.len())
            .map(|index| {
                let name = files.name(index);
                let entry = if next < db.len() && db.name(next) == name {
                    Some(next)
                } else {
                    self.find(db, name)
                };
                if let Some(entry) = entry {
                    next = entry + 1;
                }
                entry.map(|entry| entry as u32)
            })
            .collect()
    }

    /// Entries whose name an earlier entry already has. Only entries no
    /// file matched can be such repeats, so an unchanged rescan checks none.
    pub fn repeated(&self, db: &Db, known: &[Option<u32>]) -> Vec<u32> {
        let mut matched = vec![false; db.len()];
        for entry in known.iter().flatten() {
            matched[*entry as usize] = true;
        }
        (0..db.len())
            .filter(|&entry| !matched[entry])
            .filter(|&entry| self.find(db, db.name(entry)) != Some(entry))
            .map(|entry| entry as u32)
            .collect()
    }

    /// Whether some entry's name starts with `prefix`.
    pub fn has_prefix(&self, db: &Db, prefix: &[u8]) -> bool {
        let sorted = self.sorted.get_or_init(|| {
            let mut sorted: Vec<u32> = (0..db.len() as u32).collect();
            sorted
                .sort_unstable_by(|&a, &b| db.name(a as usize).cmp(db.name(b as usize)));
            sorted
        });
        let at = sorted.partition_point(|&i| db.name(i as usize) < prefix);
        sorted
            .get(at)
            .is_some_and(|&i| db.name(i as usize).starts_with(prefix))
    }
}

impl Default for NameIndex {
    fn default() -> Self {
        NameIndex::new()
    }
}

/// Computes the diff from `db` to the scanned `files`, calling `emit` for
/// each command in order (DELETEs last), and returns the new db.
///
/// `known[i]` is the db entry of file `i`, if any; `examined[i]` is what
/// examining it found; `repeated` are db entries that repeat a name;
/// `excluded` are db entries below a folder the scan was told to skip:
/// they are kept as they are, since leaving a folder out of the sync must
/// not delete it on the other side.
/// Nothing is emitted when the deletion guard refuses the diff.
#[allow(clippy::too_many_arguments)]
pub fn diff<'a>(
    db: &'a Db,
    files: &'a FileList,
    known: &[Option<u32>],
    repeated: &[u32],
    excluded: &[u32],
    examined: &[Examined],
    options: DiffOptions,
    emit: &mut dyn FnMut(Command<'_>),
) -> Result<DiffOutcome<'a>, MassDeletion> {
    let mut fates = vec![Fate::Gone; db.len()];
    for &entry in repeated {
        fates[entry as usize] = Fate::Repeated;
    }
    for &entry in excluded {
        fates[entry as usize] = Fate::Present;
    }
    let mut skipped = Vec::new();

    // First pass: which known messages are still here, and how.
    for (index, result) in examined.iter().enumerate() {
        let Some(entry) = known[index] else { continue };
        let entry = entry as usize;
        fates[entry] = match result {
            Examined::Hashed(hash) if *hash != db.hash(entry) => Fate::Changed,
            Examined::Trusted | Examined::Hashed(_) => Fate::Present,
            Examined::Empty => {
                skipped.push(Skipped::EmptiedKnown {
                    name: files.name(index).to_vec(),
                });
                Fate::Present
            }
            Examined::Unreadable(_, reason) => {
                skipped.push(Skipped::Unreadable {
                    name: files.name(index).to_vec(),
                    known: true,
                    reason: reason.clone(),
                });
                Fate::Present
            }
            // A message replaced by something that is not a file (a link
            // to a fifo, say) is left alone: never a silent DELETE.
            Examined::NotRegular => {
                skipped.push(Skipped::NotRegular {
                    name: files.name(index).to_vec(),
                });
                Fate::Present
            }
        };
    }

    if options.delete_guard_percent.is_some() && !options.no_delete {
        // Vanished messages whose content reappears elsewhere are moves,
        // not losses.
        let new_contents: std::collections::HashSet<MessageHash> = examined
            .iter()
            .zip(known)
            .filter_map(|(result, entry)| match result {
                Examined::Hashed(hash) if entry.is_none() => Some(*hash),
                _ => None,
            })
            .collect();
        let deletions = (0..db.len())
            .filter(|&entry| {
                fates[entry] == Fate::Gone && !new_contents.contains(&db.hash(entry))
            })
            .count();
        MassDeletion::check(
            deletions,
            db.len() - repeated.len(),
            options.delete_guard_percent,
        )?;
    }

    // Second pass, in scan order: changed and new messages.
    // Built on the first new message: an unchanged rescan needs none.
    let contents = OnceLock::new();
    let mut new_sources: HashMap<MessageHash, u32> = HashMap::new();
    for (index, result) in examined.iter().enumerate() {
        let name = files.name(index);
        let hash = match result {
            Examined::Hashed(hash) => *hash,
            Examined::Unreadable(_, reason) if known[index].is_none() => {
                skipped.push(Skipped::Unreadable {
                    name: name.to_vec(),
                    known: false,
                    reason: reason.clone(),
                });
                continue;
            }
            _ => continue,
        };

        if let Some(entry) = known[index] {
            let old = db.hash(entry as usize);
            if old == hash {
                continue;
            }
            if old.body == hash.body {
                emit(Command::ReplaceHeader {
                    name,
                    old,
                    header: hash.header,
                });
            } else {
                emit(Command::Replace {
                    name,
                    old,
                    new: hash,
                });
            }
            continue;
        }

        let same_body = contents
            .get_or_init(|| ContentIndex::new(db))
            .same_body(db, hash.body);
        let same_content = || {
            same_body
                .iter()
                .map(|&i| i as usize)
                .filter(|&i| db.hash(i).header == hash.header)
        };

        if let Some(source) = same_content().find(|&i| fates[i] == Fate::Gone) {
            let from = db.name(source);
            if options.no_move {
                emit(Command::Copy {
                    from,
                    hash,
                    to: name,
                });
                fates[source] = Fate::CopiedAway;
            } else {
                emit(Command::Move {
                    from,
                    hash,
                    to: name,
                });
                fates[source] = Fate::Moved;
            }
            new_sources.entry(hash).or_insert(index as u32);
        } else if let Some(source) = same_content().find(|&i| fates[i] == Fate::Present) {
            emit(Command::Copy {
                from: db.name(source),
                hash,
                to: name,
            });
        } else if let Some(&source) = new_sources.get(&hash) {
            emit(Command::Copy {
                from: files.name(source as usize),
                hash,
                to: name,
            });
        } else if let Some(&source) = same_body
            .iter()
            .find(|&&i| matches!(fates[i as usize], Fate::Present | Fate::Gone))
        {
            let from = db.name(source as usize);
            emit(Command::CopyBody {
                from,
                body: hash.body,
                to: name,
                header: hash.header,
            });
            new_sources.insert(hash, index as u32);
        } else {
            emit(Command::Add { name, hash });
            new_sources.insert(hash, index as u32);
        }
    }

    // Last, what vanished.
    for (entry, fate) in fates.iter().enumerate() {
        let delete = match fate {
            Fate::Gone => !options.no_delete,
            Fate::CopiedAway => true,
            Fate::Present | Fate::Changed | Fate::Moved | Fate::Repeated => false,
        };
        if delete {
            emit(Command::Delete {
                name: db.name(entry),
                hash: db.hash(entry),
            });
        }
    }

    // The new db keeps the old order for what stayed, so that the delta
    // sent to the peer stays small, and appends the rest in scan order.
    let kept = (0..db.len() as u32)
        .filter(|&entry| fates[entry as usize] == Fate::Present)
        .collect();
    let mut added = Vec::new();
    for (index, result) in examined.iter().enumerate() {
        if let Examined::Hashed(hash) = result {
            let unchanged =
                known[index].is_some_and(|entry| fates[entry as usize] == Fate::Present);
            if !unchanged {
                added.push((index as u32, *hash));
            }
        }
    }

    Ok(DiffOutcome {
        db: NewDb {
            old: db,
            files,
            kept,
            added,
        },
        skipped,
    })
}

/// Writes commands as diff lines to `out`, buffering in `line`.
pub fn write_command(
    out: &mut impl Write,
    line: &mut Vec<u8>,
    command: Command<'_>,
) -> io::Result<()> {
    line.clear();
    command.write_line(line);
    out.write_all(line)
}
