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
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// Examines every file of `files`. `known(i)` tells whether file `i` has a
/// db entry; `last_scan` is the time the scan that wrote the db started.
pub fn examine_all(
    base: &Path,
    files: &FileList,
    known: &(dyn Fn(usize) -> bool + Sync),
    last_scan: i64,
) -> Vec<Examined> {
    const BATCH: usize = 128;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let next_batch = AtomicUsize::new(0);
    let results = Mutex::new(vec![Examined::Trusted; files.len()]);

    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut buffer = vec![0u8; 128 * 1024];
                let mut folder = Folder::default();
                let mut batch_results = Vec::with_capacity(BATCH);
                loop {
                    let start = next_batch.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= files.len() {
                        break;
                    }
                    let end = (start + BATCH).min(files.len());
                    batch_results.clear();
                    for index in start..end {
                        let name = files.name(index);
                        let status = folder.stat(base, name);
                        let path = || under(base, name);
                        let result =
                            examine(&path, status, known(index), last_scan, &mut buffer);
                        batch_results.push(result);
                    }
                    let mut results = results.lock().expect("no worker panics");
                    for (slot, result) in
                        results[start..end].iter_mut().zip(batch_results.drain(..))
                    {
                        *slot = result;
                    }
                }
            });
        }
    });

    results.into_inner().expect("no worker panics")
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

/// Examines one file, given what `stat` said of it; `path` is only made
/// when the file has to be read.
pub fn examine(
    path: &dyn Fn() -> PathBuf,
    status: io::Result<Status>,
    known: bool,
    last_scan: i64,
    buffer: &mut [u8],
) -> Examined {
    let unreadable =
        |error: io::Error| Examined::Unreadable(error.kind(), error.to_string());

    let status = match status {
        Ok(status) => status,
        Err(error) => return unreadable(error),
    };
    if !status.is_file {
        return Examined::NotRegular;
    }
    if known && status.mtime < last_scan && status.ctime < last_scan {
        return Examined::Trusted;
    }
    if status.len == 0 {
        return Examined::Empty;
    }

    let mut file = match open_noatime(&path()) {
        Ok(file) => file,
        Err(error) => return unreadable(error),
    };
    match hash_stream(&mut file, buffer) {
        Ok(hashed) if hashed.len == 0 => Examined::Empty,
        Ok(hashed) => Examined::Hashed(hashed.hash),
        Err(error) => unreadable(error),
    }
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
