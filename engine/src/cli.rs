//! Pieces shared by the command-line programs.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::getopt::{Args, Parsed, Spec, UsageError};
use crate::protocol::Failure;

/// Parses options the way smd-server and smd-client always have: only
/// leading options, and only while more than two words remain, so that an
/// endpoint or mailbox that starts with `-` is still taken as one.
pub fn leading_options(
    specs: &[Spec],
    arguments: impl IntoIterator<Item = OsString>,
) -> Result<Args, UsageError> {
    let mut words: Vec<OsString> = arguments.into_iter().collect();
    let mut options = Vec::new();
    while words.len() > 2 {
        let word = words[0].to_string_lossy().into_owned();
        let spec = specs.iter().find(|spec| {
            word == format!("--{}", spec.long)
                || spec.short.is_some_and(|c| word == format!("-{c}"))
        });
        let Some(spec) = spec else {
            if word.starts_with('-') && word.len() > 1 {
                return Err(UsageError::Unknown(word));
            }
            break;
        };
        words.remove(0);
        let value = if spec.takes_value {
            Some(words.remove(0))
        } else {
            None
        };
        options.push(Parsed {
            long: spec.long,
            value,
        });
    }
    Ok(Args {
        options,
        operands: words,
    })
}

/// The `--override-db` value, checked to be inside `~/.smd/`.
pub fn override_db(
    args: &Args,
    home: &std::path::Path,
) -> Result<Option<PathBuf>, String> {
    args.last_value("override-db")
        .map(|value| crate::protocol::path_inside_smd_dir(home, &value.to_string_lossy()))
        .transpose()
}

/// `$HOME`, which every smd program works relative to.
pub fn home() -> Result<PathBuf, String> {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home)),
        _ => Err("HOME is not set; smd works relative to the home folder".to_owned()),
    }
}

/// Writes a failure as smd 1.3 did: `ERROR:` lines, then the `TAGS:` line.
pub fn report_failure(log: &mut impl Write, failure: &Failure) {
    for line in failure.message.lines() {
        let _ = writeln!(log, "ERROR: {line}");
    }
    let _ = writeln!(log, "TAGS: {}", failure.tags);
}

/// stderr for a child's log lines: whole lines, and `INFO:` lines only
/// when verbose.
pub struct StderrLog {
    verbose: bool,
    line: Vec<u8>,
}

impl StderrLog {
    pub fn new(verbose: bool) -> StderrLog {
        StderrLog {
            verbose,
            line: Vec::new(),
        }
    }
}

impl Write for StderrLog {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(data);
        while let Some(end) = self.line.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.line.drain(..=end).collect();
            if self.verbose || !line.starts_with(b"INFO:") {
                std::io::stderr().write_all(&line)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            long: "verbose",
            short: Some('v'),
            takes_value: false,
        },
        Spec {
            long: "exclude",
            short: None,
            takes_value: true,
        },
    ];

    fn words(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn stops_when_two_words_remain() {
        let args =
            leading_options(SPECS, words(&["-v", "--exclude", "a b", "-v", "Mail"]))
                .unwrap();
        assert_eq!(args.options.len(), 2);
        assert_eq!(args.operands, words(&["-v", "Mail"]));
    }

    #[test]
    fn unknown_leading_options_are_errors() {
        assert!(leading_options(SPECS, words(&["--bogus", "e", "Mail"])).is_err());
    }
}
