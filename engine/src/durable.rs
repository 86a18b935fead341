//! Crash-safe file replacement: write a temporary file beside the target,
//! make it durable, rename it into place, then make the rename durable.
//!
//! A run killed at any instant leaves either the old file or the new one,
//! never a mix, and never a half-written file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Replaces `path` with what `fill` writes, durably.
///
/// The temporary file is `<path>.tmp-<pid>` in the same folder, so the
/// rename never crosses a filesystem. On error the temporary file is
/// removed and `path` is untouched.
pub fn replace_file(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    remove_stale_temporaries(path);
    let temporary = temporary_name(path);
    let result = write_then_rename(&temporary, path, fill);
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_then_rename(
    temporary: &Path,
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temporary)?;
    let mut writer = BufWriter::with_capacity(256 * 1024, file);
    fill(&mut writer)?;
    let file = writer.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    drop(file);

    fs::rename(temporary, path)?;
    sync_parent(path)
}

/// Removes temporaries of `path` left by runs that were killed: those
/// whose pid is no longer running.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = name.to_owned();
    prefix.push(".tmp-");
    let prefix = prefix.as_encoded_bytes();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.as_encoded_bytes().strip_prefix(prefix) else {
            continue;
        };
        let alive = std::str::from_utf8(pid)
            .ok()
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            .is_none_or(|pid| Path::new("/proc").join(pid).exists());
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(name)
}

/// Flushes a folder's entries (creations, renames, removals) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes the folder holding `path`.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replaces_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.txt");
        fs::write(&path, "old").unwrap();

        replace_file(&path, |w| w.write_all(b"new")).unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporaries_of_dead_runs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.txt");
        fs::write(dir.path().join("db.txt.tmp-999999999"), "stale").unwrap();
        fs::write(dir.path().join("db.txt.tmp-1"), "a live pid's").unwrap();
        fs::write(dir.path().join("db.txt.tmp-x"), "not ours").unwrap();

        replace_file(&path, |w| w.write_all(b"new")).unwrap();

        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["db.txt", "db.txt.tmp-1", "db.txt.tmp-x"]);
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.txt");
        fs::write(&path, "old").unwrap();

        let error = replace_file(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();

        assert_eq!(error.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
