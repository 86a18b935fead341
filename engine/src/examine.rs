//! Looking at each candidate message: trust the db when the file has not
//! changed since the last scan, hash it otherwise.
//!
//! A rescan costs one `stat` per file: a name known to the db whose
//! modification and change times are both older than the last scan is
//! trusted without being opened (the change time catches an edit that put
//! the old modification time back). Everything else is read in chunks and
//! hashed, on every core.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use crate::message::{hash_stream, MessageHash};
use crate::walk::{as_path, FileList};

/// What examining one file found.
#[derive(Debug, Clone)]
pub enum Examined {
    /// Known to the db and untouched since: the db entry holds.
    Trusted,
    /// Read and hashed.
    Hashed(MessageHash),
    /// Zero bytes long: not a message (yet).
    Empty,
    /// Could not be read; why.
    Unreadable(io::ErrorKind, String),
    /// Not a regular file any more (a link to a fifo, say).
    NotRegular,
}

/// Stats the files of a walk while it goes on: `walk` gets a callback to
/// hand each run of listed files to, and worker threads stat them as they
/// come. Returns what `walk` returned and each file's status, by index.
pub fn stat_while_walking<T>(
    base: &Path,
    walk: impl FnOnce(&mut dyn FnMut(&FileList, Range<usize>)) -> T,
) -> (T, Vec<io::Result<Status>>) {
    /// A run of files: the index of the first, and their names.
    struct Run {
        start: usize,
        names: Vec<u8>,
        ends: Vec<usize>,
    }

    let (runs, queue) = mpsc::channel::<Run>();
    let queue = Mutex::new(queue);
    let (results, collected) = mpsc::channel::<(usize, Vec<io::Result<Status>>)>();

    std::thread::scope(|scope| {
        for _ in 0..workers() {
            let (queue, results) = (&queue, results.clone());
            scope.spawn(move || {
                let mut folder = Folder::default();
                loop {
                    let run = match queue.lock().expect("no worker panics").recv() {
                        Ok(run) => run,
                        Err(_) => return,
                    };
                    let mut statuses = Vec::with_capacity(run.ends.len());
                    let mut from = 0;
                    for &end in &run.ends {
                        statuses.push(folder.stat(base, &run.names[from..end]));
                        from = end;
                    }
                    if results.send((run.start, statuses)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(results);

        let walked = walk(&mut |files, range| {
            let mut run = Run {
                start: range.start,
                names: Vec::new(),
                ends: Vec::new(),
            };
            for index in range {
                run.names.extend_from_slice(files.name(index));
                run.ends.push(run.names.len());
            }
            let _ = runs.send(run);
        });
        drop(runs);

        let mut statuses: Vec<Option<io::Result<Status>>> = Vec::new();
        for (start, run) in collected {
            let end = start + run.len();
            if statuses.len() < end {
                statuses.resize_with(end, || None);
            }
            for (slot, status) in statuses[start..end].iter_mut().zip(run) {
                *slot = Some(status);
            }
        }
        let statuses = statuses
            .into_iter()
            .map(|status| status.unwrap_or_else(|| Err(io::Error::other("not examined"))))
            .collect();
        (walked, statuses)
    })
}

/// Examines every file of `files` given its status: trusts, classifies,
/// and hashes (on every core) what has to be read. `known(i)` tells
/// whether file `i` has a db entry; `last_scan` is the time the scan that
/// wrote the db started.
pub fn examine_all(
    base: &Path,
    files: &FileList,
    statuses: Vec<io::Result<Status>>,
    known: &(dyn Fn(usize) -> bool + Sync),
    last_scan: i64,
) -> Vec<Examined> {
    let mut results = Vec::with_capacity(files.len());
    let mut to_read = Vec::new();
    for (index, status) in statuses.into_iter().enumerate() {
        match judge(status, known(index), last_scan) {
            Some(result) => results.push(result),
            None => {
                to_read.push(index);
                results.push(Examined::Trusted);
            }
        }
    }
    if to_read.is_empty() {
        return results;
    }

    const BATCH: usize = 64;
    let next_batch = AtomicUsize::new(0);
    let hashed = Mutex::new(Vec::with_capacity(to_read.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers() {
            scope.spawn(|| {
                let mut buffer = vec![0u8; 128 * 1024];
                let mut batch = Vec::with_capacity(BATCH);
                loop {
                    let start = next_batch.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= to_read.len() {
                        break;
                    }
                    for &index in &to_read[start..(start + BATCH).min(to_read.len())] {
                        let path = under(base, files.name(index));
                        batch.push((index, read(&path, &mut buffer)));
                    }
                    hashed.lock().expect("no worker panics").append(&mut batch);
                }
            });
        }
    });
    for (index, result) in hashed.into_inner().expect("no worker panics") {
        results[index] = result;
    }
    results
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16)
}

/// `name` below `base`, without a `./` the kernel would have to look up
/// for every file when `base` is the current folder.
fn under(base: &Path, name: &[u8]) -> PathBuf {
    if base == Path::new(".") {
        as_path(name).to_owned()
    } else {
        base.join(as_path(name))
    }
}

/// What a rescan needs to know of a file without opening it.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub is_file: bool,
    pub len: u64,
    pub mtime: i64,
    pub ctime: i64,
}

impl Status {
    pub fn of(path: &Path) -> io::Result<Status> {
        let metadata = std::fs::metadata(path)?;
        Ok(Status {
            is_file: metadata.is_file(),
            len: metadata.len(),
            mtime: metadata.mtime(),
            ctime: metadata.ctime(),
        })
    }
}

/// The folder of the last file examined, kept open: a file is then looked
/// up by its own name in it instead of by its whole path, which saves the
/// kernel most of the lookup a rescan is made of.
#[derive(Default)]
struct Folder {
    path: Vec<u8>,
    handle: Option<File>,
}

impl Folder {
    fn stat(&mut self, base: &Path, name: &[u8]) -> io::Result<Status> {
        let Some(split) = name.iter().rposition(|&b| b == b'/') else {
            return Status::of(&under(base, name));
        };
        let (dir, file_name) = (&name[..split], &name[split + 1..]);
        if self.path != dir || self.handle.is_none() {
            self.path = dir.to_vec();
            self.handle = File::open(under(base, dir)).ok();
        }
        match &self.handle {
            Some(handle) => stat_at(handle, file_name),
            None => Status::of(&under(base, name)),
        }
    }
}

/// `fstatat(2)` of `name` in the open folder `dir`, following symlinks.
#[allow(unsafe_code)]
fn stat_at(dir: &File, name: &[u8]) -> io::Result<Status> {
    use std::os::unix::io::AsRawFd;

    let name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in a name"))?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the descriptor and the name are valid for the call, and the
    // kernel fills `stat` whole when it returns 0.
    let rc =
        unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), stat.as_mut_ptr(), 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat returned 0, so `stat` is initialised.
    let stat = unsafe { stat.assume_init() };
    Ok(Status {
        is_file: stat.st_mode & libc::S_IFMT == libc::S_IFREG,
        len: stat.st_size as u64,
        mtime: stat.st_mtime,
        ctime: stat.st_ctime,
    })
}

/// Decides what a file is from its status alone; `None` when it has to
/// be read.
fn judge(status: io::Result<Status>, known: bool, last_scan: i64) -> Option<Examined> {
    let status = match status {
        Ok(status) => status,
        Err(error) => return Some(unreadable(error)),
    };
    if !status.is_file {
        return Some(Examined::NotRegular);
    }
    if known && status.mtime < last_scan && status.ctime < last_scan {
        return Some(Examined::Trusted);
    }
    if status.len == 0 {
        return Some(Examined::Empty);
    }
    None
}

/// Reads and hashes one file.
fn read(path: &Path, buffer: &mut [u8]) -> Examined {
    let mut file = match open_noatime(path) {
        Ok(file) => file,
        Err(error) => return unreadable(error),
    };
    match hash_stream(&mut file, buffer) {
        Ok(hashed) if hashed.len == 0 => Examined::Empty,
        Ok(hashed) => Examined::Hashed(hashed.hash),
        Err(error) => unreadable(error),
    }
}

fn unreadable(error: io::Error) -> Examined {
    Examined::Unreadable(error.kind(), error.to_string())
}

/// Opens for reading without updating the access time where the kernel
/// allows it (only the owner may ask for that). Never blocks: a fifo put
/// where a message was expected opens at once instead of waiting for a
/// writer (callers check that what they opened is a regular file).
pub fn open_noatime(path: &Path) -> io::Result<File> {
    let open = |flags| OpenOptions::new().read(true).custom_flags(flags).open(path);
    match open(libc::O_NOATIME | libc::O_NONBLOCK) {
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => open(libc::O_NONBLOCK),
        result => result,
    }
}
