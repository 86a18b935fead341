//! Putting received and rebuilt messages in place, durably and in batches.
//!
//! Every new or rewritten message is first written to its folder's `tmp/`
//! and checked. A batch of such files is flushed to disk with one call,
//! then each is renamed to its final name, then each folder touched is
//! flushed once. So a run killed at any instant leaves only complete,
//! verified messages under their final names (and perhaps a stray file in
//! a `tmp/` folder, which Maildir readers ignore).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use crate::durable;
use crate::examine::open_noatime;
use crate::message::{hash_stream, MessageHash};
use crate::protocol::Failure;
use crate::sha::Sha;
use crate::tags::{Action, Tags};

/// A batch is flushed once it holds this many files...
const BATCH_FILES: usize = 512;
/// ...or this many bytes.
const BATCH_BYTES: u64 = 64 << 20;

/// What the final name may hold when a staged file replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Nothing, or an empty file.
    New,
    /// This message (or nothing, or an empty file).
    Replace { old: MessageHash },
}

struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    hash: MessageHash,
    placement: Placement,
}

/// Staged files not yet in place, and folders not yet flushed.
///
/// A full batch is put in place by a thread of its own while the next one
/// is received: waiting for the disk would otherwise stall the link. At
/// most one batch is in flight; [`Stager::commit`] waits for everything.
#[derive(Default)]
pub struct Stager {
    batch: Vec<Staged>,
    batch_bytes: u64,
    dirty_dirs: BTreeSet<PathBuf>,
    counter: u64,
    in_flight: Option<InFlight>,
    /// The mode of the messages written in each `tmp/` folder.
    file_modes: HashMap<PathBuf, u32>,
}

/// A batch being put in place by its thread.
struct InFlight {
    targets: HashSet<PathBuf>,
    placing: JoinHandle<Result<(), Failure>>,
}

impl Stager {
    /// Creates a fresh file in `tmp_dir` for a message that will be named
    /// `file_name`, open for writing and reading.
    pub fn create_tmp(
        &mut self,
        tmp_dir: &Path,
        file_name: &[u8],
    ) -> io::Result<(File, PathBuf)> {
        let base = std::ffi::OsStr::from_bytes(file_name);
        let mode = self.file_mode(tmp_dir);
        let mut candidate = tmp_dir.join(base);
        loop {
            match OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .mode(mode)
                .open(&candidate)
            {
                Ok(file) => return Ok((file, candidate)),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    self.counter += 1;
                    let mut name = base.to_owned();
                    name.push(format!(".smd{}_{}", std::process::id(), self.counter));
                    candidate = tmp_dir.join(name);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Messages get the permissions of their folder, without the execute
    /// bits (as Dovecot does): private in a private Maildir, readable by
    /// the group in one shared with it. The umask still applies.
    fn file_mode(&mut self, tmp_dir: &Path) -> u32 {
        // Looked up before inserting: no path is copied per message.
        if let Some(&mode) = self.file_modes.get(tmp_dir) {
            return mode;
        }
        let mode = match fs::metadata(tmp_dir) {
            // Never less than the owner's reading and writing.
            Ok(folder) => folder.permissions().mode() & 0o666 | 0o600,
            Err(_) => 0o600,
        };
        self.file_modes.insert(tmp_dir.to_owned(), mode);
        mode
    }

    /// Queues a verified file in `tmp/` to be renamed to `target`. An
    /// error may be an earlier batch's, which failed to be put in place.
    pub fn stage(
        &mut self,
        tmp: PathBuf,
        target: PathBuf,
        hash: MessageHash,
        placement: Placement,
        len: u64,
    ) -> Result<(), Failure> {
        self.batch.push(Staged {
            tmp,
            target,
            hash,
            placement,
        });
        self.batch_bytes += len;
        if self.batch.len() >= BATCH_FILES || self.batch_bytes >= BATCH_BYTES {
            self.wait_for_in_flight()?;
            self.start_placing();
        }
        Ok(())
    }

    /// Where the message staged to become `target` is now: its `tmp/` file
    /// while it waits in the batch, or `target` itself once in place.
    pub fn staged_file(&mut self, target: &Path) -> Result<PathBuf, Failure> {
        if let Some(staged) = self.batch.iter().find(|s| s.target == target) {
            return Ok(staged.tmp.clone());
        }
        let placing = self
            .in_flight
            .as_ref()
            .is_some_and(|in_flight| in_flight.targets.contains(target));
        if placing {
            self.wait_for_in_flight()?;
        }
        Ok(target.to_owned())
    }

    /// Remembers a folder whose entries changed (a rename or a removal).
    pub fn touched(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            self.dirty_dirs.insert(parent.to_owned());
        }
    }

    /// Puts every staged file in place and flushes every folder touched,
    /// and waits until that is done.
    pub fn commit(&mut self) -> Result<(), Failure> {
        let earlier = self.wait_for_in_flight();
        if self.batch.is_empty() && self.dirty_dirs.is_empty() {
            return earlier;
        }
        self.start_placing();
        let this_one = self.wait_for_in_flight();
        earlier.and(this_one)
    }

    /// Hands the batch and the folders touched so far to a thread that
    /// puts them in place.
    fn start_placing(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut dirty_dirs = std::mem::take(&mut self.dirty_dirs);
        for staged in &batch {
            for path in [&staged.target, &staged.tmp] {
                if let Some(parent) = path.parent() {
                    dirty_dirs.insert(parent.to_owned());
                }
            }
        }

        let targets = batch.iter().map(|staged| staged.target.clone()).collect();
        let placing = thread::spawn(move || place_batch(batch, dirty_dirs));
        self.in_flight = Some(InFlight { targets, placing });
    }

    fn wait_for_in_flight(&mut self) -> Result<(), Failure> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        in_flight
            .placing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Puts a batch in place: flush the files, rename them, flush the folders.
/// After a failure the rest of the batch is removed from `tmp/`.
fn place_batch(batch: Vec<Staged>, dirty_dirs: BTreeSet<PathBuf>) -> Result<(), Failure> {
    if let Some(first) = batch.first() {
        sync_filesystem(&first.tmp).map_err(|error| write_failed(&first.tmp, error))?;
    }

    let mut result = Ok(());
    for staged in batch {
        if result.is_ok() {
            result = place(&staged);
        }
        if result.is_err() {
            let _ = fs::remove_file(&staged.tmp);
        }
    }

    for dir in dirty_dirs {
        durable::sync_dir(&dir).map_err(|error| write_failed(&dir, error))?;
    }
    result
}

fn place(staged: &Staged) -> Result<(), Failure> {
    // A new message nearly always finds its name free: try that first,
    // and look at what is there only when the rename refuses.
    if staged.placement == Placement::New {
        match rename_no_replace(&staged.tmp, &staged.target) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(rename_failed(staged, error)),
        }
    }

    let current = current_state(&staged.target)?;
    let acceptable = match (current, staged.placement) {
        (None, _) => true,
        (Some(hash), _) if hash == staged.hash => {
            // Already there: someone (a previous run) did it.
            fs::remove_file(&staged.tmp).map_err(|e| write_failed(&staged.tmp, e))?;
            return Ok(());
        }
        (Some(hash), Placement::Replace { old }) => hash == old,
        (Some(_), Placement::New) => false,
    };
    if !acceptable {
        return Err(Failure::new(
            format!(
                "{} changed while it was being synchronized; run the sync again",
                staged.target.display()
            ),
            Tags::retry("receive", "modify-while-update"),
        ));
    }

    let renamed = if current.is_none() && !staged.target.exists() {
        rename_no_replace(&staged.tmp, &staged.target)
    } else {
        // The message being replaced, or an empty file (which counts as
        // absent).
        fs::rename(&staged.tmp, &staged.target)
    };
    renamed.map_err(|error| rename_failed(staged, error))
}

fn rename_failed(staged: &Staged, error: io::Error) -> Failure {
    Failure::new(
        format!(
            "unable to rename {} to {}: {error}; check the folder's permissions",
            staged.tmp.display(),
            staged.target.display()
        ),
        Tags::write_error("receive", "non-writeable-file", &error, &staged.target),
    )
}

/// The message at `path`, or `None` for no file or an empty one.
pub fn current_state(path: &Path) -> Result<Option<MessageHash>, Failure> {
    let mut file = match open_noatime(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(unreadable(path, error)),
    };
    if !file.metadata().map_err(|e| unreadable(path, e))?.is_file() {
        return Err(Failure::new(
            format!(
                "{} is not a regular file, where a message should be; move it away",
                path.display()
            ),
            Tags::new("read-message", "non-regular-file", true)
                .with(Action::DisplayPermissions(path.to_owned())),
        ));
    }
    let hashed = hash_stream(&mut file, &mut vec![0u8; 64 * 1024])
        .map_err(|error| unreadable(path, error))?;
    let empty = MessageHash {
        header: Sha::EMPTY,
        body: Sha::EMPTY,
    };
    Ok((hashed.hash != empty).then_some(hashed.hash))
}

pub fn unreadable(path: &Path, error: io::Error) -> Failure {
    Failure::new(
        format!(
            "unable to read {}: {error}; check its permissions",
            path.display()
        ),
        Tags::new("read-message", "wrong-permissions", true)
            .with(Action::DisplayPermissions(path.to_owned())),
    )
}

pub fn write_failed(path: &Path, error: io::Error) -> Failure {
    Failure::new(
        format!(
            "unable to write {}: {error}; check free space and the folder's permissions",
            path.display()
        ),
        Tags::write_error("receive", "non-writeable-file", &error, path),
    )
}

/// Renames without ever replacing an existing `target`.
#[allow(unsafe_code)]
pub fn rename_no_replace(source: &Path, target: &Path) -> io::Result<()> {
    let c = |path: &Path| {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
    };
    let (from, to) = (c(source)?, c(target)?);
    // SAFETY: both strings are valid and NUL-terminated for the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() != Some(libc::EINVAL) {
        return Err(error);
    }
    // The filesystem cannot rename without replacing: a hard link fails
    // when the target exists, which is the check we need.
    fs::hard_link(source, target)?;
    fs::remove_file(source)
}

/// Flushes every written file of the filesystem holding `path`: one call
/// for a whole batch instead of one per file.
#[allow(unsafe_code)]
fn sync_filesystem(path: &Path) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;

    let file = File::open(path)?;
    // SAFETY: the descriptor is open for the whole call.
    let rc = unsafe { libc::syncfs(file.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::hash_bytes;

    #[test]
    fn no_replace_rename_refuses_existing_targets() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "a").unwrap();
        fs::write(&b, "b").unwrap();
        let error = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).unwrap(), b"b");
        fs::remove_file(&b).unwrap();
        rename_no_replace(&a, &b).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"a");
    }

    /// A temporary folder holding `tmp` and `cur`, removed when dropped.
    fn maildir() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, cur) = (dir.path().join("tmp"), dir.path().join("cur"));
        fs::create_dir_all(&tmp).unwrap();
        fs::create_dir_all(&cur).unwrap();
        (dir, tmp, cur)
    }

    #[test]
    fn staged_files_land_and_conflicts_are_refused() {
        let (_dir, tmp, cur) = maildir();
        let mut stager = Stager::default();

        let mail = b"Subject: x\n\nbody\n";
        let (mut file, path) = stager.create_tmp(&tmp, b"1").unwrap();
        io::Write::write_all(&mut file, mail).unwrap();
        stager
            .stage(path, cur.join("1"), hash_bytes(mail), Placement::New, 17)
            .unwrap();
        stager.commit().unwrap();
        assert_eq!(fs::read(cur.join("1")).unwrap(), mail);
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);

        fs::write(cur.join("2"), "someone else's mail").unwrap();
        let (mut file, path) = stager.create_tmp(&tmp, b"2").unwrap();
        io::Write::write_all(&mut file, mail).unwrap();
        stager
            .stage(path, cur.join("2"), hash_bytes(mail), Placement::New, 17)
            .unwrap();
        let failure = stager.commit().unwrap_err();
        assert_eq!(failure.tags.cause, "modify-while-update");
        assert_eq!(fs::read(cur.join("2")).unwrap(), b"someone else's mail");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn a_new_message_already_in_place_or_an_empty_file_is_no_conflict() {
        let (_dir, tmp, cur) = maildir();
        let mut stager = Stager::default();
        let mail = b"Subject: x\n\nbody\n";
        fs::write(cur.join("same"), mail).unwrap();
        fs::write(cur.join("empty"), "").unwrap();

        for name in ["same", "empty"] {
            let (mut file, path) = stager.create_tmp(&tmp, name.as_bytes()).unwrap();
            io::Write::write_all(&mut file, mail).unwrap();
            stager
                .stage(path, cur.join(name), hash_bytes(mail), Placement::New, 17)
                .unwrap();
        }
        stager.commit().unwrap();

        assert_eq!(fs::read(cur.join("same")).unwrap(), mail);
        assert_eq!(fs::read(cur.join("empty")).unwrap(), mail);
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }
}
