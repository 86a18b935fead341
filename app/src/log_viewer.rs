//! The files of `~/.smd/log/` for the log window: which there are, and
//! their text (the end of a long one), read without blocking for long,
//! with the time of each line.
//!
//! The applet's journal and smd-loop's log stamp every line. The engine's
//! logs keep smd 1.3's format, which has no times: each of them is
//! rewritten by a run, so its lines all belong to the run that last
//! changed the file, and get that time.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::journal::parse_stamped;

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

/// One line of a log, and when it was written when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: Option<SystemTime>,
    pub text: String,
}

/// How a log's lines got their times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Each line carries its own stamp.
    PerLine,
    /// The lines carry none: each has the time the file last changed,
    /// when the run that wrote them ended.
    FileChanged,
    /// Neither is known.
    Unknown,
}

/// The lines of a log's text with their times. A line without a stamp
/// in a stamped log (smd-loop's `output:` lines) has the time of the line
/// before it.
pub fn entries(text: &str, modified: Option<SystemTime>) -> (Vec<Entry>, Timing) {
    let stamped = text.lines().any(|line| parse_stamped(line).is_some());
    if stamped {
        let mut last = None;
        let entries = text
            .lines()
            .map(|line| match parse_stamped(line) {
                Some((time, rest)) => {
                    last = Some(time);
                    Entry {
                        time: last,
                        text: rest.to_owned(),
                    }
                }
                None => Entry {
                    time: last,
                    text: line.to_owned(),
                },
            })
            .collect();
        return (entries, Timing::PerLine);
    }
    let entries = text
        .lines()
        .map(|line| Entry {
            time: modified,
            text: line.to_owned(),
        })
        .collect();
    let timing = if modified.is_some() {
        Timing::FileChanged
    } else {
        Timing::Unknown
    };
    (entries, timing)
}

/// The entries as the log window shows them: the time, as `time_text`
/// writes it, before each line; lines without a time are indented as far.
pub fn show_entries(
    entries: &[Entry],
    time_text: &dyn Fn(SystemTime) -> String,
) -> String {
    let times: Vec<Option<String>> = entries
        .iter()
        .map(|entry| entry.time.map(time_text))
        .collect();
    let width = times
        .iter()
        .flatten()
        .map(|time| time.chars().count())
        .max()
        .unwrap_or(0);
    let mut shown = String::new();
    for (entry, time) in entries.iter().zip(&times) {
        match time {
            Some(time) => shown.push_str(time),
            None => shown.push_str(&" ".repeat(width)),
        }
        if width > 0 {
            shown.push_str("  ");
        }
        shown.push_str(&entry.text);
        shown.push('\n');
    }
    shown
}

/// A time as the log window shows it: the date and time of day here.
pub fn local_time_text(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    gtk::glib::DateTime::from_unix_local(seconds)
        .and_then(|date| date.format("%Y-%m-%d %H:%M:%S"))
        .map_or_else(|_| String::from("?"), String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn seconds(text: SystemTime) -> String {
        text.duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string()
    }

    #[test]
    fn stamped_logs_give_each_line_its_time() {
        let text = "1970-01-01 00:00:10 UTC: smd-pull -s a\n\
                    output: said something\n\
                    1970-01-01 00:01:00 UTC: completed successfully\n";
        let (lines, timing) = entries(text, Some(UNIX_EPOCH));
        assert_eq!(timing, Timing::PerLine);
        let times: Vec<_> = lines.iter().map(|e| e.time.map(seconds)).collect();
        assert_eq!(
            times,
            [Some("10".into()), Some("10".into()), Some("60".into())]
        );
        assert_eq!(lines[0].text, "smd-pull -s a");
        assert_eq!(lines[1].text, "output: said something");
        assert_eq!(
            show_entries(&lines, &seconds),
            "10  smd-pull -s a\n10  output: said something\n60  completed successfully\n"
        );
        // A stamped log with lines before the first stamp.
        let (lines, _) = entries("before\n1970-01-01 00:00:01 UTC: x\n", None);
        assert_eq!(show_entries(&lines, &seconds), "   before\n1  x\n");
    }

    #[test]
    fn engine_logs_get_the_time_of_their_run() {
        let ended = UNIX_EPOCH + Duration::from_secs(99);
        let text = "INFO: 3 messages\nTAGS: stats::new-mails(3)\n";
        let (lines, timing) = entries(text, Some(ended));
        assert_eq!(timing, Timing::FileChanged);
        assert!(lines.iter().all(|e| e.time == Some(ended)));
        assert_eq!(
            show_entries(&lines, &seconds),
            "99  INFO: 3 messages\n99  TAGS: stats::new-mails(3)\n"
        );
        let (lines, timing) = entries(text, None);
        assert_eq!(timing, Timing::Unknown);
        assert_eq!(show_entries(&lines, &seconds), text);
    }

    #[test]
    fn local_times_are_dates_and_times_of_day() {
        let shown = local_time_text(UNIX_EPOCH + Duration::from_secs(86_400 * 365));
        // 1971-01-01 in any time zone but the farthest west.
        assert_eq!(shown.len(), "1971-01-01 00:00:00".len(), "{shown}");
        assert!(shown.starts_with("197"), "{shown}");
    }

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
