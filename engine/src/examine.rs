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
use std::path::Path;
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
                let mut batch_results = Vec::with_capacity(BATCH);
                loop {
                    let start = next_batch.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= files.len() {
                        break;
                    }
                    let end = (start + BATCH).min(files.len());
                    batch_results.clear();
                    for index in start..end {
                        let path = under(base, files.name(index));
                        batch_results.push(examine(
                            &path,
                            known(index),
                            last_scan,
                            &mut buffer,
                        ));
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
fn under(base: &Path, name: &[u8]) -> std::path::PathBuf {
    if base == Path::new(".") {
        as_path(name).to_owned()
    } else {
        base.join(as_path(name))
    }
}

/// Examines one file.
pub fn examine(path: &Path, known: bool, last_scan: i64, buffer: &mut [u8]) -> Examined {
    let unreadable =
        |error: io::Error| Examined::Unreadable(error.kind(), error.to_string());

    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => return unreadable(error),
    };
    if !metadata.is_file() {
        return Examined::NotRegular;
    }
    if known && metadata.mtime() < last_scan && metadata.ctime() < last_scan {
        return Examined::Trusted;
    }
    if metadata.len() == 0 {
        return Examined::Empty;
    }

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
