//! Finding the messages below mailbox roots.
//!
//! A message is a regular file directly inside a folder named `cur` or
//! `new`; folders named `tmp` are never entered. Symlinked folders are
//! followed, with loop detection; directory entries without a file type
//! are resolved with `stat` (the standard library does this for us). A
//! folder that cannot be listed fails the walk: skipping it would make
//! every message in it look deleted.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::fnmatch::fnmatch;

/// Paths of candidate messages, in walk order, in one byte arena.
#[derive(Default)]
pub struct FileList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl FileList {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn name(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    fn push(&mut self, name: &[u8]) {
        self.bytes.extend_from_slice(name);
        self.ends.push(self.bytes.len());
    }
}

/// Something odd met during a walk that did not stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkWarning {
    /// A symlinked folder leads back to one of its own ancestors.
    SymlinkLoop { path: Vec<u8> },
    /// A folder met a second time under another name (through a symlink):
    /// its messages count once, under the name met first, or deleting an
    /// apparent duplicate on the other side would delete the only copy.
    SameFolder { path: Vec<u8>, first: Vec<u8> },
    /// A name with a newline cannot be written in a db-file or a diff.
    NewlineInName { path: Vec<u8> },
    /// A symlink whose target cannot be reached.
    BrokenSymlink { path: Vec<u8> },
}

impl fmt::Display for WalkWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkWarning::SymlinkLoop { path } => write!(
                f,
                "'{}' is a symlink loop back to one of its parent folders; not followed",
                lossy(path)
            ),
            WalkWarning::SameFolder { path, first } => write!(
                f,
                "'{}' is the folder '{}' under another name (a symlink); its messages \
                 are synchronized once, as '{}'",
                lossy(path),
                lossy(first),
                lossy(first)
            ),
            WalkWarning::NewlineInName { path } => write!(
                f,
                "'{}' has a newline in its name and cannot be synchronized; rename it",
                lossy(path).escape_debug()
            ),
            WalkWarning::BrokenSymlink { path } => {
                write!(f, "'{}' is a symlink to nothing; ignored", lossy(path))
            }
        }
    }
}

/// Why a walk failed.
#[derive(Debug)]
pub enum WalkError {
    RootMissing { root: Vec<u8> },
    RootNotAFolder { root: Vec<u8> },
    FolderUnreadable { path: Vec<u8>, source: io::Error },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::RootMissing { root } => write!(
                f,
                "mailbox '{}' does not exist; check the mailbox name, or create it",
                lossy(root)
            ),
            WalkError::RootNotAFolder { root } => {
                write!(f, "mailbox '{}' is not a folder", lossy(root))
            }
            WalkError::FolderUnreadable { path, source } => write!(
                f,
                "Unable to open directory '{}': {source}; fix its permissions or \
                 exclude it",
                lossy(path)
            ),
        }
    }
}

impl std::error::Error for WalkError {}

/// What to walk and how.
pub struct Walker<'a> {
    /// The folder names are relative to.
    pub base: &'a Path,
    pub roots: &'a [Vec<u8>],
    /// Folders whose path matches one of these (fnmatch, no flags) are
    /// skipped with everything below them.
    pub excludes: &'a [Vec<u8>],
}

impl Walker<'_> {
    /// Lists every candidate message.
    pub fn messages(
        &self,
        warnings: &mut Vec<WalkWarning>,
    ) -> Result<FileList, WalkError> {
        self.messages_with(warnings, &mut |_, _| {})
    }

    /// Lists every candidate message, handing each run of files listed
    /// together (indices into the list) to `listed` as soon as it is
    /// known, so that work on them can start while the walk goes on.
    pub fn messages_with(
        &self,
        warnings: &mut Vec<WalkWarning>,
        listed: &mut dyn FnMut(&FileList, Range<usize>),
    ) -> Result<FileList, WalkError> {
        let mut files = FileList::default();
        let mut visit = Visit::Messages {
            files: &mut files,
            listed,
            reported: 0,
        };
        self.walk(&mut visit, warnings)?;
        visit.flush();
        Ok(files)
    }

    /// Lists the `cur` and `new` folders, without entering them.
    pub fn message_folders(
        &self,
        warnings: &mut Vec<WalkWarning>,
    ) -> Result<Vec<Vec<u8>>, WalkError> {
        let mut folders = Vec::new();
        self.walk(&mut Visit::Folders(&mut folders), warnings)?;
        Ok(folders)
    }

    fn walk(
        &self,
        visit: &mut Visit<'_>,
        warnings: &mut Vec<WalkWarning>,
    ) -> Result<(), WalkError> {
        let mut walked = HashMap::new();
        for root in distinct_roots(self.roots) {
            let metadata = match fs::metadata(self.base.join(as_path(root))) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(WalkError::RootMissing {
                        root: root.to_vec(),
                    })
                }
                Err(source) => {
                    return Err(WalkError::FolderUnreadable {
                        path: root.to_vec(),
                        source,
                    })
                }
            };
            if !metadata.is_dir() {
                return Err(WalkError::RootNotAFolder {
                    root: root.to_vec(),
                });
            }

            let mut state = WalkState {
                base: self.base,
                visit,
                warnings,
                ancestors: Vec::new(),
                walked: &mut walked,
            };
            let mut reported_loops = HashSet::new();
            state.folder(root.to_vec(), &metadata, self.excludes, &mut reported_loops)?;
        }
        Ok(())
    }
}

enum Visit<'a> {
    Messages {
        files: &'a mut FileList,
        listed: &'a mut dyn FnMut(&FileList, Range<usize>),
        /// Files before this index were handed to `listed` already.
        reported: usize,
    },
    Folders(&'a mut Vec<Vec<u8>>),
}

impl Visit<'_> {
    /// Hands the files listed since the last call to the caller.
    fn flush(&mut self) {
        if let Visit::Messages {
            files,
            listed,
            reported,
        } = self
        {
            if files.len() > *reported {
                listed(files, *reported..files.len());
                *reported = files.len();
            }
        }
    }
}

struct WalkState<'a, 'b> {
    base: &'a Path,
    visit: &'a mut Visit<'b>,
    warnings: &'a mut Vec<WalkWarning>,
    /// (device, inode) of the folders from the root down to here.
    ancestors: Vec<(u64, u64)>,
    /// Every folder walked so far, by (device, inode), with its name.
    walked: &'a mut HashMap<(u64, u64), Vec<u8>>,
}

impl WalkState<'_, '_> {
    fn folder(
        &mut self,
        path: Vec<u8>,
        metadata: &fs::Metadata,
        excludes: &[Vec<u8>],
        reported_loops: &mut HashSet<Vec<u8>>,
    ) -> Result<(), WalkError> {
        if excludes.iter().any(|pattern| fnmatch(pattern, &path)) {
            return Ok(());
        }

        let identity = (metadata.dev(), metadata.ino());
        if self.ancestors.contains(&identity) {
            if reported_loops.insert(path.clone()) {
                self.warnings.push(WalkWarning::SymlinkLoop { path });
            }
            return Ok(());
        }
        if let Some(first) = self.walked.get(&identity) {
            self.warnings.push(WalkWarning::SameFolder {
                path,
                first: first.clone(),
            });
            return Ok(());
        }
        self.walked.insert(identity, path.clone());

        let base = path.rsplit(|&b| b == b'/').next().unwrap_or(&path);
        let holds_messages = base == b"cur" || base == b"new";
        if holds_messages {
            if let Visit::Folders(folders) = self.visit {
                folders.push(path);
                return Ok(());
            }
        }

        let unreadable = |source| WalkError::FolderUnreadable {
            path: path.clone(),
            source,
        };
        let entries = fs::read_dir(self.base.join(as_path(&path))).map_err(unreadable)?;

        self.ancestors.push(identity);
        let mut child = path.clone();
        child.push(b'/');
        let prefix = child.len();
        for entry in entries {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            child.truncate(prefix);
            child.extend_from_slice(name.as_bytes());

            let file_type = entry.file_type().map_err(unreadable)?;
            if file_type.is_file() {
                if holds_messages {
                    self.message(&child);
                }
            } else if file_type.is_dir() {
                if name.as_bytes() != b"tmp" {
                    let metadata = entry.metadata().map_err(unreadable)?;
                    self.visit.flush();
                    self.folder(child.clone(), &metadata, excludes, reported_loops)?;
                }
            } else if file_type.is_symlink() {
                self.visit.flush();
                self.symlink(
                    &child,
                    name.as_bytes(),
                    holds_messages,
                    excludes,
                    reported_loops,
                )?;
            } else if holds_messages {
                // A fifo, socket or device where mail belongs: if a known
                // message was replaced by it, examining it keeps the
                // message's entry instead of deleting it elsewhere.
                self.message(&child);
            }
        }
        self.visit.flush();
        self.ancestors.pop();
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &[u8],
        name: &[u8],
        holds_messages: bool,
        excludes: &[Vec<u8>],
        reported_loops: &mut HashSet<Vec<u8>>,
    ) -> Result<(), WalkError> {
        match fs::metadata(self.base.join(as_path(path))) {
            Ok(target) if target.is_dir() => {
                if name != b"tmp" {
                    self.folder(path.to_vec(), &target, excludes, reported_loops)?;
                }
            }
            // A symlink to a file is read through, like a message; a
            // dangling one may be a message that was known: examining it
            // decides what to keep.
            _ if holds_messages => self.message(path),
            Ok(_) => {}
            // Whether this was a folder of known messages (an unmounted
            // disk, say) only the db can tell: the scan decides.
            Err(_) => self.warnings.push(WalkWarning::BrokenSymlink {
                path: path.to_vec(),
            }),
        }
        Ok(())
    }

    fn message(&mut self, path: &[u8]) {
        if path.contains(&b'\n') {
            self.warnings.push(WalkWarning::NewlineInName {
                path: path.to_vec(),
            });
            return;
        }
        if let Visit::Messages { files, .. } = self.visit {
            files.push(path);
        }
    }
}

/// The roots without a trailing `/`, leaving out any root that is inside
/// another (or repeated), so that no message is listed twice.
fn distinct_roots(roots: &[Vec<u8>]) -> Vec<&[u8]> {
    let trimmed: Vec<&[u8]> = roots
        .iter()
        .map(|root| root.strip_suffix(b"/").unwrap_or(root))
        .collect();
    let inside = |inner: &[u8], outer: &[u8]| {
        inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner[outer.len()] == b'/'
    };
    trimmed
        .iter()
        .enumerate()
        .filter(|&(at, root)| {
            !trimmed[..at].contains(root)
                && !trimmed.iter().any(|outer| inside(root, outer))
        })
        .map(|(_, root)| *root)
        .collect()
}

pub fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

pub(crate) fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}
