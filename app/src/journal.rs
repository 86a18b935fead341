//! The applet's own log, `~/.smd/log/applet.log`: one entry per thing the
//! applet did (a run started or ended, a message moved aside, a pause),
//! each with its time, so the log window can say when things happened.
//!
//! The engine's logs (`client.NAME.log`, `server.NAME.log`) keep smd 1.3's
//! format, which has no times, and are rewritten by every run; this one is
//! appended to. Its lines look like `~/.smd/log/loop.log`'s, written by
//! smd-loop: `YYYY-MM-DD HH:MM:SS UTC: text`, so one reader serves both.
//!
//! The loop thread and the GTK side both write here: each entry is one
//! `write` of whole lines to a file opened for appending, so entries never
//! interleave.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gtk::glib;

use crate::log_viewer::log_dir;

/// The file's name in `~/.smd/log/`.
pub const FILE_NAME: &str = "applet.log";

/// Past this size, the file is set aside as `applet.log.old` (checked at
/// each slot of the loop) and a new one begun: the log window reads only
/// the end of a long log anyway.
const MOST_BYTES: u64 = 1024 * 1024;

/// Where the applet writes what it does.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal of the person whose HOME is `home`.
    pub fn in_home(home: &Path) -> Journal {
        Journal {
            path: log_dir(home).join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets a long journal aside (replacing the one set aside before), so
    /// that it does not grow without end.
    pub fn set_aside_if_long(&self) -> io::Result<()> {
        match fs::metadata(&self.path) {
            Ok(metadata) if metadata.len() > MOST_BYTES => {
                let mut old = self.path.clone().into_os_string();
                old.push(".old");
                fs::rename(&self.path, old)
            }
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Writes an entry, each of its lines stamped with the time now. A
    /// journal that cannot be written is no reason to stop: that is only
    /// reported on stderr.
    pub fn write(&self, text: &str) {
        if let Err(error) = self.write_at(SystemTime::now(), text) {
            glib::g_warning!(
                "smd-applet",
                "Cannot write {}: {}",
                self.path.display(),
                error
            );
        }
    }

    pub fn write_at(&self, time: SystemTime, text: &str) -> io::Result<()> {
        if let Some(folder) = self.path.parent() {
            fs::create_dir_all(folder)?;
        }
        let entry = stamp_lines(time, text);
        if entry.is_empty() {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(entry.as_bytes())
    }
}

/// `text`'s lines, each after the stamp of `time`; blank lines dropped.
fn stamp_lines(time: SystemTime, text: &str) -> String {
    let stamp = stamp(time);
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("{stamp}: {line}\n"))
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS UTC`, as smd-loop writes it.
pub fn stamp(time: SystemTime) -> String {
    let seconds = unix_seconds(time);
    glib::DateTime::from_unix_utc(seconds)
        .and_then(|date| date.format("%Y-%m-%d %H:%M:%S UTC"))
        .map_or_else(|_| String::from("????-??-?? ??:??:?? UTC"), String::from)
}

/// Reads a stamp at the start of `line`: its time and the text after it.
pub fn parse_stamped(line: &str) -> Option<(SystemTime, &str)> {
    const STAMP_LENGTH: usize = "YYYY-MM-DD HH:MM:SS UTC".len();
    let stamp = line.get(..STAMP_LENGTH)?;
    let text = line[STAMP_LENGTH..].strip_prefix(": ")?;
    let (date, rest) = stamp.split_once(' ')?;
    let (clock, zone) = rest.split_once(' ')?;
    if zone != "UTC" {
        return None;
    }
    let numbers = |text: &str, separator: char| -> Option<Vec<i32>> {
        let parts: Vec<&str> = text.split(separator).collect();
        if parts.len() != 3
            || parts.iter().any(|p| !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        parts.iter().map(|part| part.parse().ok()).collect()
    };
    let (date, clock) = (numbers(date, '-')?, numbers(clock, ':')?);
    let utc = glib::DateTime::from_utc(
        date[0],
        date[1],
        date[2],
        clock[0],
        clock[1],
        f64::from(clock[2]),
    )
    .ok()?;
    let seconds = u64::try_from(utc.to_unix()).ok()?;
    Some((UNIX_EPOCH + Duration::from_secs(seconds), text))
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: u64 = 1_764_676_800; // 2025-12-02 12:00:00 UTC

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn stamps_read_back_as_written() {
        assert_eq!(stamp(at(NOON + 5)), "2025-12-02 12:00:05 UTC");
        let line = format!("{}: smd-pull -s work: started", stamp(at(NOON + 5)));
        assert_eq!(
            parse_stamped(&line),
            Some((at(NOON + 5), "smd-pull -s work: started"))
        );
        // smd-loop's lines, and lines that only look like stamps.
        assert_eq!(
            parse_stamped("1970-01-01 00:00:00 UTC: starting"),
            Some((UNIX_EPOCH, "starting"))
        );
        for line in [
            "INFO: no stamp",
            "output: smd-pull said",
            "2025-12-02 12:00:05 CET: elsewhere",
            "2025-1x-02 12:00:05 UTC: bad month",
            "2025-13-02 12:00:05 UTC: no such month",
            "2025-12-02 12:00:05 UTC",
            "",
        ] {
            assert_eq!(parse_stamped(line), None, "{line:?}");
        }
    }

    #[test]
    fn entries_are_appended_with_a_stamp_on_every_line() {
        let home = tempfile::tempdir().unwrap();
        let journal = Journal::in_home(home.path());
        journal.write_at(at(NOON), "first").unwrap();
        journal
            .write_at(at(NOON + 61), "second\n  detail\n\n")
            .unwrap();
        let text = fs::read_to_string(journal.path()).unwrap();
        assert_eq!(
            text,
            "2025-12-02 12:00:00 UTC: first\n\
             2025-12-02 12:01:01 UTC: second\n\
             2025-12-02 12:01:01 UTC:   detail\n"
        );
        assert!(text.lines().all(|line| parse_stamped(line).is_some()));
    }

    #[test]
    fn a_long_journal_is_set_aside() {
        let home = tempfile::tempdir().unwrap();
        let journal = Journal::in_home(home.path());
        journal.set_aside_if_long().unwrap();
        journal.write_at(at(NOON), "short").unwrap();
        journal.set_aside_if_long().unwrap();
        assert!(journal.path().exists());

        let long = "x".repeat(MOST_BYTES as usize);
        journal.write_at(at(NOON), &long).unwrap();
        journal.set_aside_if_long().unwrap();
        assert!(!journal.path().exists());
        let old = log_dir(home.path()).join("applet.log.old");
        assert!(fs::read_to_string(old)
            .unwrap()
            .ends_with(&format!("{long}\n")));
    }
}
