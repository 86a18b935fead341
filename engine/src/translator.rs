//! Why a translator program failed, in its own words.
//!
//! A translator (`TRANSLATOR_LR`, `TRANSLATOR_RL`) reads folder paths, one
//! a line, and answers each with the folder's name on the other side. It
//! refuses a folder by answering a line that starts with `ERROR`, with its
//! reason on that line or on the lines after it, and exiting; scripts also
//! explain themselves on stderr. What it said is what a person needs to
//! fix the config, so every [`TranslatorError`] carries it, and so does
//! the [`Failure`] made of it.
//!
//! The programs themselves are run by the pull's client
//! (`protocol::client::Translator`, one process answering line by line)
//! and by the push's workarea (one run over the whole list).

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::protocol::Failure;
use crate::tags::Tags;

/// At most this many lines of a translator's explanation are kept.
const REASON_LINES: usize = 20;

/// A longer line of it is cut to this many characters.
const REASON_LINE_CHARS: usize = 300;

/// How long a translator that failed is given to finish explaining why.
pub const REASON_WAIT: Duration = Duration::from_secs(2);

/// What to do about any translator failure.
const ADVICE: &str = "fix the translator, or TRANSLATOR_LR and TRANSLATOR_RL in the \
                      endpoint's config, then check them with smd-check-conf";

/// Why a translator could not map a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranslatorError {
    /// The program could not be started.
    NotRunnable { command: String, error: String },
    /// It answered `ERROR` for `folder`.
    Refused {
        command: String,
        folder: String,
        reason: Vec<String>,
    },
    /// It did not answer: it exited, stopped reading, or gave too few
    /// answers (`what` says which), for `folder` when that is known.
    NoAnswer {
        command: String,
        folder: Option<String>,
        what: String,
        reason: Vec<String>,
    },
    /// It gave no answer for `folder` within `seconds`.
    TimedOut {
        command: String,
        folder: String,
        seconds: u64,
    },
    /// It mapped `folder` to a path that is empty, absolute or climbs
    /// out with `..`, where mail must not be written.
    UnsafeAnswer {
        command: String,
        folder: String,
        answer: String,
    },
    /// It mapped `folder` outside the local mailboxes (`roots`): mail put
    /// there would never be scanned, and look deleted to the next sync.
    OutsideMailboxes {
        command: String,
        folder: String,
        answer: String,
        roots: Vec<String>,
    },
}

impl TranslatorError {
    /// The tags of this failure, in `context` (`translate` for a pull,
    /// `workarea` for a push).
    pub fn tags(&self, context: &'static str) -> Tags {
        let cause = match self {
            TranslatorError::NotRunnable { .. } => "translator-not-found",
            _ => "bad-translator",
        };
        Tags::new(context, cause, true)
    }

    pub fn into_failure(self, context: &'static str) -> Failure {
        let tags = self.tags(context);
        Failure::new(self.to_string(), tags)
    }
}

impl fmt::Display for TranslatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranslatorError::NotRunnable { command, error } => {
                write!(
                    f,
                    "unable to run the translator '{command}': {error}; {ADVICE}"
                )
            }
            TranslatorError::Refused {
                command,
                folder,
                reason,
            } => {
                write!(
                    f,
                    "the translator '{command}' refused the folder '{folder}'"
                )?;
                write_reason(f, reason)
            }
            TranslatorError::NoAnswer {
                command,
                folder,
                what,
                reason,
            } => {
                write!(f, "the translator '{command}' {what}")?;
                if let Some(folder) = folder {
                    write!(f, " on the folder '{folder}'")?;
                }
                write_reason(f, reason)
            }
            TranslatorError::TimedOut {
                command,
                folder,
                seconds,
            } => write!(
                f,
                "the translator '{command}' gave no answer for the folder '{folder}' \
                 within {seconds} seconds; a translator must answer each line at once, \
                 without buffering its output; {ADVICE}"
            ),
            TranslatorError::UnsafeAnswer {
                command,
                folder,
                answer,
            } => write!(
                f,
                "the translator '{command}' mapped the folder '{folder}' to '{answer}', \
                 which is empty, absolute, contains '..', '.' or a 'tmp' folder, or does \
                 not end in the same cur, new or tmp folder: mail would be written where \
                 no sync sees it; {ADVICE}"
            ),
            TranslatorError::OutsideMailboxes {
                command,
                folder,
                answer,
                roots,
            } => write!(
                f,
                "the translator '{command}' mapped the folder '{folder}' to '{answer}', \
                 which is outside the local mailboxes ({}): mail put there would not be \
                 synchronized, and the next push would delete it on the server; \
                 {ADVICE}",
                roots.join(", ")
            ),
        }
    }
}

impl std::error::Error for TranslatorError {}

/// The reason lines, indented under the first line, then the advice.
fn write_reason(f: &mut fmt::Formatter<'_>, reason: &[String]) -> fmt::Result {
    if reason.is_empty() {
        return write!(f, ", and said nothing about why; {ADVICE}");
    }
    writeln!(f, ", saying:")?;
    for line in reason {
        writeln!(f, "  {line}")?;
    }
    f.write_str(ADVICE)
}

/// Whether `answer` is a folder mail may be written to for `folder` (a
/// path ending in `cur`, `new` or `tmp`): relative, not empty, never
/// climbing out with `..`, and ending in the same `cur`, `new` or `tmp`
/// with no `tmp` folder before it. A message put in a `tmp/` folder is
/// invisible to every scan, so the next sync would delete it on the other
/// side as if the user had.
pub fn is_safe_answer(folder: &[u8], answer: &[u8]) -> bool {
    if answer.is_empty() || answer.starts_with(b"/") {
        return false;
    }
    let parts: Vec<&[u8]> = answer.split(|&b| b == b'/').collect();
    let (last, before) = parts.split_last().expect("split gives one part at least");
    let asked_last = folder.rsplit(|&b| b == b'/').next().unwrap_or(folder);
    *last == asked_last
        && !parts.iter().any(|part| *part == b".." || *part == b".")
        && !before.iter().any(|part| *part == b"tmp")
}

/// Whether an answer is a refusal.
pub fn is_refusal(answer: &[u8]) -> bool {
    answer.starts_with(b"ERROR")
}

/// The reason of a refusal: what follows `ERROR` on its answer line, then
/// the lines printed after it, then what went to stderr. Blank lines are
/// dropped and long ones cut, so that a chatty program cannot flood the
/// report.
pub fn reason<'a>(
    refusal: &'a [u8],
    sources: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<String> {
    let after_word = refusal.strip_prefix(b"ERROR").unwrap_or(refusal);
    let on_the_line = after_word.strip_prefix(b":").unwrap_or(after_word);
    std::iter::once(on_the_line)
        .chain(sources)
        .flat_map(|text| text.split(|&b| b == b'\n'))
        .map(|line| String::from_utf8_lossy(line).trim().to_owned())
        .filter(|line| !line.is_empty())
        .map(|line| cut(&line))
        .take(REASON_LINES)
        .collect()
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(REASON_LINE_CHARS) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_owned(),
    }
}

/// A translator's stderr: passed on to ours as it comes, as when it was
/// inherited, with its last lines kept for the report of a failure.
pub struct StderrTail {
    kept: Arc<Mutex<VecDeque<Vec<u8>>>>,
    closed: Receiver<()>,
}

impl StderrTail {
    pub fn start(stderr: impl Read + Send + 'static) -> StderrTail {
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let (closed_sender, closed) = mpsc::channel();
        let keeper = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut stderr = BufReader::new(stderr);
            let mut line = Vec::new();
            while matches!(stderr.read_until(b'\n', &mut line), Ok(read) if read > 0) {
                let _ = std::io::stderr().write_all(&line);
                let mut kept = keeper.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == REASON_LINES {
                    kept.pop_front();
                }
                kept.push_back(std::mem::take(&mut line));
            }
            let _ = closed_sender.send(());
        });
        StderrTail { kept, closed }
    }

    /// The last lines written, once stderr is closed or `wait` passed (a
    /// program's children may keep it open).
    pub fn lines(&self, wait: Duration) -> Vec<u8> {
        let _ = self.closed.recv_timeout(wait);
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().flatten().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_rest_of_the_line_then_later_lines_then_stderr() {
        let found = reason(
            b"ERROR: no rule for Maildir/x",
            [&b"see the manual\n\n"[..], b"rl.sh: line 3: oops\n"],
        );
        assert_eq!(
            found,
            [
                "no rule for Maildir/x",
                "see the manual",
                "rl.sh: line 3: oops"
            ]
        );
        assert_eq!(reason(b"ERROR", [&b""[..]]), Vec::<String>::new());
        assert_eq!(reason(b"ERROR why", []), ["why"]);
    }

    #[test]
    fn a_flood_is_cut() {
        let long = "x".repeat(1000);
        let many = format!("{long}\n").repeat(100);
        let found = reason(b"ERROR", [many.as_bytes()]);
        assert_eq!(found.len(), REASON_LINES);
        assert_eq!(found[0].chars().count(), REASON_LINE_CHARS + 3);
    }

    #[test]
    fn the_message_quotes_the_reason_and_says_what_to_do() {
        let error = TranslatorError::Refused {
            command: "bin/rl.sh".into(),
            folder: "Maildir/Bad/cur".into(),
            reason: vec!["no rule for Bad".into()],
        };
        let text = error.to_string();
        assert!(
            text.starts_with(
                "the translator 'bin/rl.sh' refused the folder 'Maildir/Bad/cur', saying:\n  \
                 no rule for Bad\nfix the translator"
            ),
            "{text}"
        );
        assert_eq!(error.tags("translate").cause, "bad-translator");
    }

    #[test]
    fn safe_answers_stay_inside_and_visible() {
        let asked = b"Remote/.a/cur";
        assert!(is_safe_answer(asked, b"Mail/.a/cur"));
        assert!(is_safe_answer(asked, b"Mail/..a/cur"));
        assert!(is_safe_answer(asked, b"Mail/.tmp/cur"));
        assert!(is_safe_answer(b"Remote/tmp", b"Mail/.a/tmp"));
        for unsafe_answer in [
            &b""[..],
            b"/tmp/cur",
            b"Mail/../../cur",
            b"Mail/./cur",
            b"Mail/.a/tmp",
            b"Mail/.a/new",
            b"Mail/tmp/cur",
            b"Mail/.a",
        ] {
            assert!(
                !is_safe_answer(asked, unsafe_answer),
                "{}",
                String::from_utf8_lossy(unsafe_answer)
            );
        }
    }
}
