//! Finding the local copy of a message that both sides renamed.
//!
//! In Maildir a flag change is a rename (`x:2,S` becomes `x:2,RS`), and so
//! is a move to another folder. When both sides rename one message between
//! two syncs (a flag set on the phone, another on the laptop), the
//! server's `MOVE x:2,S TO x:2,FS` finds neither its source nor its target
//! here. Fetching the target, as smd 1.3 does, leaves two copies of the
//! message, and the next sync in the other direction copies the second
//! one back: the duplicate then lives on both sides.
//!
//! Instead the client looks for the renamed copy, its *twin*: a file in
//! the source's Maildir folder with the same unique part of the name and
//! the same digests, under a name the server does not know. The twin is
//! renamed to the target, keeping the flags changed on either side; the
//! next sync in the other direction carries the merged flags back.
//!
//! Without a translator (local names are the server's), the twin is also
//! looked for in the mailbox's other folders: a message moved to another
//! folder here and flagged there keeps the folder chosen here.
//!
//! TODO: with a translator, search the other folders too; that needs the
//! translator's inverse (TRANSLATOR_LR) to give their server names.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::stage::current_state;
use crate::maildir::{flags, unique_part};
use crate::message::MessageHash;
use crate::protocol::diffline::DiffLine;
use crate::walk::{as_path, Walker};

/// The twins found so far, and what is needed to look for more.
#[derive(Default)]
pub struct Twins {
    /// The files of each Maildir folder already looked at, by unique part.
    folders: HashMap<PathBuf, HashMap<Vec<u8>, Vec<Candidate>>>,
    /// Every name in the db-file and in the diff, as 64-bit hashes: these
    /// belong to the server and are never taken as twins. A collision can
    /// only make a twin look known, which falls back to fetching.
    known: Option<HashSet<u64>>,
    /// Every message of the whole mailbox by unique part, as server
    /// names, listed the first time a twin is not beside its source.
    mailbox: Option<HashMap<Vec<u8>, Vec<Vec<u8>>>>,
}

#[derive(Debug, Clone)]
struct Candidate {
    /// `cur` or `new`.
    sub: &'static str,
    file_name: Vec<u8>,
}

/// A local file found to be the renamed copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twin {
    pub path: PathBuf,
    pub file_name: Vec<u8>,
    /// The server's name of its folder, when it is not the source's Maildir
    /// folder (it was moved here).
    pub moved_to: Option<Vec<u8>>,
}

/// Where to look for the twin of a message the server renamed.
pub struct Lookup<'a> {
    /// The server's name of the message, as in the db-file.
    pub remote_name: &'a [u8],
    /// Where that name lives here.
    pub local_path: &'a Path,
    /// What the message holds.
    pub hash: MessageHash,
    /// HOME and the mailbox roots, when local names are the server's (no
    /// translator): then the whole mailbox may be searched.
    pub whole_mailbox: Option<(&'a Path, &'a [Vec<u8>])>,
}

impl Twins {
    /// The twin of `lookup`, if exactly one file here can be it. A twin is
    /// handed out once.
    pub fn find(
        &mut self,
        lookup: &Lookup,
        db: &Path,
        commands: &[DiffLine],
    ) -> io::Result<Option<Twin>> {
        let Some((remote_folder, file_name)) = split_name(lookup.remote_name) else {
            return Ok(None);
        };
        let Some(remote_maildir) = parent(remote_folder) else {
            return Ok(None);
        };
        let Some(local_maildir) = lookup.local_path.parent().and_then(Path::parent)
        else {
            return Ok(None);
        };
        let unique = unique_part(file_name);

        let folder = self
            .folders
            .entry(local_maildir.to_owned())
            .or_insert_with(|| index_maildir(local_maildir));
        let candidates = folder.get(unique).cloned().unwrap_or_default();
        if candidates.is_empty() && lookup.whole_mailbox.is_none() {
            return Ok(None);
        }

        if self.known.is_none() {
            self.known = Some(known_names(db, commands)?);
        }
        if candidates.is_empty() {
            return Ok(self.find_elsewhere(lookup, unique, remote_maildir));
        }
        let known = self.known.as_ref().expect("loaded above");

        let found = the_only_one(
            candidates.into_iter().map(|candidate| {
                let remote = [
                    remote_maildir,
                    b"/",
                    candidate.sub.as_bytes(),
                    b"/",
                    &candidate.file_name,
                ]
                .concat();
                let twin = Twin {
                    path: local_maildir
                        .join(candidate.sub)
                        .join(as_path(&candidate.file_name)),
                    file_name: candidate.file_name,
                    moved_to: None,
                };
                (remote, twin)
            }),
            known,
            lookup.hash,
        );

        if let Some(twin) = &found {
            if let Some(list) = self
                .folders
                .get_mut(local_maildir)
                .and_then(|folder| folder.get_mut(unique))
            {
                list.retain(|c| c.file_name != twin.file_name);
            }
        }
        Ok(found)
    }

    /// The twin of `lookup` in another folder of the mailbox than
    /// `source_maildir`, if exactly one file there can be it.
    fn find_elsewhere(
        &mut self,
        lookup: &Lookup,
        unique: &[u8],
        source_maildir: &[u8],
    ) -> Option<Twin> {
        let (home, roots) = lookup.whole_mailbox?;
        let known = self.known.as_ref()?;
        let mailbox = self
            .mailbox
            .get_or_insert_with(|| index_mailbox(home, roots));
        let names = mailbox.get(unique)?;

        let candidates = names.iter().filter_map(|name| {
            let (folder, file_name) = split_name(name)?;
            let twin = Twin {
                path: home.join(as_path(name)),
                file_name: file_name.to_vec(),
                moved_to: Some(folder.to_vec()),
            };
            (parent(folder) != Some(source_maildir)).then(|| (name.clone(), twin))
        });
        let twin = the_only_one(candidates, known, lookup.hash)?;

        if let Some(list) = mailbox.get_mut(unique) {
            list.retain(|listed| home.join(as_path(listed)) != twin.path);
        }
        Some(twin)
    }

    /// Whether the server knows `remote_name` (it is in the db-file or the
    /// diff). Only valid after [`Twins::find`] found a twin.
    pub fn is_known(&self, remote_name: &[u8]) -> bool {
        self.known
            .as_ref()
            .is_none_or(|known| known.contains(&name_hash(remote_name)))
    }
}

/// The one candidate, given with its server name, that can be the twin of
/// the message `hash`: a name the server does not know, holding that
/// message. With two, which one the server's name stands for is a guess,
/// so neither is taken.
fn the_only_one(
    candidates: impl Iterator<Item = (Vec<u8>, Twin)>,
    known: &HashSet<u64>,
    hash: MessageHash,
) -> Option<Twin> {
    let mut matching = candidates
        .filter(|(remote, _)| !known.contains(&name_hash(remote)))
        .filter(|(_, twin)| matches!(current_state(&twin.path), Ok(Some(h)) if h == hash))
        .map(|(_, twin)| twin);
    let first = matching.next()?;
    matching.next().is_none().then_some(first)
}

/// The name a twin takes when the server renamed `source` to `target` and
/// this side renamed it to `twin`: the target's name, with the flags the
/// server set or cleared and those this side set or cleared. A target
/// without flags (a message in `new/`) keeps its name as it is.
pub fn merged_name(source: &[u8], target: &[u8], twin: &[u8]) -> Vec<u8> {
    let Some(target_flags) = flags(target) else {
        return target.to_vec();
    };
    let base = flags(source).unwrap_or_default();
    let here = flags(twin).unwrap_or_default();

    let set_here = |f: &&u8| !base.contains(f);
    let cleared_here = |f: &&u8| base.contains(f) && !here.contains(f);
    let mut merged: Vec<u8> = target_flags
        .iter()
        .chain(here.iter().filter(set_here))
        .filter(|f| !cleared_here(f))
        .copied()
        .collect();
    merged.sort_unstable();
    merged.dedup();

    let mut name = unique_part(target).to_vec();
    name.extend_from_slice(b":2,");
    name.extend_from_slice(&merged);
    name
}

/// `folder/file` split at its last `/`.
fn split_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = name.iter().rposition(|&b| b == b'/')?;
    Some((&name[..at], &name[at + 1..]))
}

fn parent(folder: &[u8]) -> Option<&[u8]> {
    split_name(folder).map(|(parent, _)| parent)
}

/// The files of `cur/` and `new/` of a Maildir folder, by unique part.
fn index_maildir(maildir: &Path) -> HashMap<Vec<u8>, Vec<Candidate>> {
    let mut index: HashMap<Vec<u8>, Vec<Candidate>> = HashMap::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().into_vec();
            index
                .entry(unique_part(&file_name).to_vec())
                .or_default()
                .push(Candidate { sub, file_name });
        }
    }
    index
}

/// Every message of the mailbox under `roots` (relative to `home`), as
/// names relative to `home`, by unique part. Folders that cannot be listed
/// are left out: a twin there is simply not found.
fn index_mailbox(home: &Path, roots: &[Vec<u8>]) -> HashMap<Vec<u8>, Vec<Vec<u8>>> {
    let walker = Walker {
        base: home,
        roots,
        excludes: &[],
    };
    let folders = walker.message_folders(&mut Vec::new()).unwrap_or_default();

    let mut index: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    for folder in folders {
        let Ok(entries) = fs::read_dir(home.join(as_path(&folder))) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().into_vec();
            let mut name = folder.clone();
            name.push(b'/');
            name.extend_from_slice(&file_name);
            index
                .entry(unique_part(&file_name).to_vec())
                .or_default()
                .push(name);
        }
    }
    index
}

/// The hashes of every name in the db-file and in the diff.
fn known_names(db: &Path, commands: &[DiffLine]) -> io::Result<HashSet<u64>> {
    let mut known: HashSet<u64> = commands
        .iter()
        .flat_map(DiffLine::names)
        .map(name_hash)
        .collect();

    let file = match File::open(db) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(known),
        Err(error) => return Err(error),
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(known);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        // `HSHA BSHA NAME`: the name is everything after the second space.
        let mut fields = line.splitn(3, |&b| b == b' ');
        if let (Some(_), Some(_), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        {
            known.insert(name_hash(name));
        }
    }
}

fn name_hash(name: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(source: &str, target: &str, twin: &str) -> String {
        String::from_utf8(merged_name(
            source.as_bytes(),
            target.as_bytes(),
            twin.as_bytes(),
        ))
        .unwrap()
    }

    #[test]
    fn flags_set_on_both_sides_are_kept() {
        assert_eq!(merged("x:2,S", "x:2,FS", "x:2,RS"), "x:2,FRS");
    }

    #[test]
    fn a_flag_cleared_here_stays_cleared() {
        assert_eq!(merged("x:2,S", "x:2,FS", "x:2,"), "x:2,F");
    }

    #[test]
    fn a_flag_cleared_there_stays_cleared() {
        assert_eq!(merged("x:2,RS", "x:2,R", "x:2,FRS"), "x:2,FR");
    }

    #[test]
    fn a_message_leaving_new_takes_the_flags_set_here() {
        assert_eq!(merged("x", "x:2,S", "x:2,T"), "x:2,ST");
    }

    #[test]
    fn a_target_in_new_keeps_its_name() {
        assert_eq!(merged("x:2,S", "x", "x:2,RS"), "x");
    }

    #[test]
    fn a_move_to_another_folder_keeps_the_targets_unique_part() {
        assert_eq!(merged("x:2,S", "y:2,S", "x:2,FS"), "y:2,FS");
    }
}
