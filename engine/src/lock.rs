//! One run at a time: `~/.smd/lock` holds the pid of the running tool.
//!
//! smd-pull, smd-push, smd-check-conf, smd-uniform-names and the applet
//! share the lock, so a sync never overlaps another. A lock left by a
//! process that is gone (killed, machine rebooted) is taken over.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another smd program runs.
    Held {
        path: PathBuf,
        pid: u32,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held { path, pid } => write!(
                f,
                "another smd program (pid {pid}) is running; if it is not, remove {}",
                path.display()
            ),
            LockError::Io { path, source } => {
                write!(f, "unable to take the lock {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LockError {}

impl Lock {
    /// `~/.smd/lock`, shared by every smd tool.
    pub fn path_in(home: &Path) -> PathBuf {
        home.join(".smd").join("lock")
    }

    /// Takes the lock at `path`, or says who holds it.
    pub fn acquire(path: &Path) -> Result<Lock, LockError> {
        let io_error = |source| LockError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error)?;
        }

        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    write!(file, "{}", std::process::id()).map_err(io_error)?;
                    return Ok(Lock {
                        path: path.to_owned(),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(io_error(error)),
            }

            let holder = fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            let written = fs::metadata(path).and_then(|m| m.modified()).ok();
            match holder {
                Some(pid) if holds(pid, written) && pid != std::process::id() => {
                    return Err(LockError::Held {
                        path: path.to_owned(),
                        pid,
                    });
                }
                // A dead holder, or a file that is not a pid: stale.
                _ => match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(io_error(error)),
                },
            }
        }
        Err(io_error(io::Error::other("the lock keeps changing hands")))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether the process `pid` can be the one that wrote the lock at
/// `written`: it exists, and it did not start after the lock was written
/// (a pid reused after a reboot is not the holder).
fn holds(pid: u32, written: Option<std::time::SystemTime>) -> bool {
    if !Path::new("/proc").join(pid.to_string()).exists() {
        return false;
    }
    match (started_at(pid), written) {
        (Some(started), Some(written)) => {
            started <= written + std::time::Duration::from_secs(2)
        }
        _ => true,
    }
}

/// When process `pid` started, from /proc.
fn started_at(pid: u32) -> Option<std::time::SystemTime> {
    // Field 22 of /proc/PID/stat, counted after the command name (which
    // may hold spaces, so from the last ')'), in clock ticks since boot.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())?;
    let seconds = boot as f64 + ticks as f64 / clock_ticks_per_second();
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(seconds))
}

#[allow(unsafe_code)]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system setting.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let lock = Lock::acquire(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );

        // Pretend a live process (our parent, pid 1 surely exists) holds it.
        drop(lock);
        fs::write(&path, "1").unwrap();
        match Lock::acquire(&path) {
            Err(LockError::Held { pid: 1, .. }) => {}
            other => panic!("expected the lock to be held, got {other:?}"),
        }
    }

    #[test]
    fn a_pid_that_started_after_the_lock_was_written_is_not_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // Written long ago by a process that is gone; since then the pid
        // went to a process started now (this test's own child).
        let mut newcomer = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        fs::write(&path, newcomer.id().to_string()).unwrap();
        let long_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();

        let lock = Lock::acquire(&path);
        let _ = newcomer.kill();
        let _ = newcomer.wait();
        assert!(lock.is_ok(), "a reused pid was taken for the holder");
    }

    #[test]
    fn stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        fs::write(&path, "999999999").unwrap();
        let lock = Lock::acquire(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(!path.exists());

        fs::write(&path, "not a pid").unwrap();
        let _lock = Lock::acquire(&path).unwrap();
    }
}
