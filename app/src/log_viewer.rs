//! The files of `~/.smd/log/` for the log window: which there are, and
//! their text (the end of a long one), read without blocking for long.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The most of a log file shown: its end, where the last run is.
const MAX_SHOWN: u64 = 512 * 1024;

/// One log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// `~/.smd/log/`.
pub fn log_dir(home: &Path) -> PathBuf {
    home.join(".smd").join("log")
}

/// The regular files of the log folder, sorted by name; none when the
/// folder does not exist yet.
pub fn list_logs(home: &Path) -> Vec<LogFile> {
    let Ok(entries) = fs::read_dir(log_dir(home)) else {
        return Vec::new();
    };
    let mut logs: Vec<LogFile> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok().filter(|m| m.is_file())?;
            Some(LogFile {
                name: entry.file_name().to_string_lossy().into_owned(),
                path: entry.path(),
                size: metadata.len(),
                modified: metadata.modified().ok(),
            })
        })
        .collect();
    logs.sort_by(|a, b| a.name.cmp(&b.name));
    logs
}

/// The text of a log, or its last part when it is long (cut at a line
/// start), with invalid UTF-8 replaced.
pub fn read_log(path: &Path) -> io::Result<(String, bool)> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let truncated = size > MAX_SHOWN;
    if truncated {
        file.seek(SeekFrom::Start(size - MAX_SHOWN))?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_SHOWN).read_to_end(&mut bytes)?;
    if truncated {
        if let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            bytes.drain(..=newline);
        }
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_reads_logs() {
        let home = tempfile::tempdir().unwrap();
        assert!(list_logs(home.path()).is_empty());
        let dir = log_dir(home.path());
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("server.default.log"), "INFO: b\n").unwrap();
        fs::write(dir.join("client.default.log"), b"ERROR: caf\xe9\n").unwrap();

        let logs = list_logs(home.path());
        let names: Vec<_> = logs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["client.default.log", "server.default.log"]);
        let (text, truncated) = read_log(&logs[0].path).unwrap();
        assert_eq!(text, "ERROR: caf\u{fffd}\n");
        assert!(!truncated);
    }

    #[test]
    fn long_logs_show_their_end_from_a_line_start() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join("big.log");
        let line = "0123456789abcdef\n";
        let count = (MAX_SHOWN as usize / line.len()) + 10;
        fs::write(&path, line.repeat(count) + "last\n").unwrap();
        let (text, truncated) = read_log(&path).unwrap();
        assert!(truncated);
        assert!(text.starts_with(line));
        assert!(text.ends_with("last\n"));
    }
}
