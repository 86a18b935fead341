//! Mapping remote folder names to local ones through a translator program.
//!
//! The translator is the user's program (`TRANSLATOR_RL`): it reads one
//! folder path a line and answers one line each, or `ERROR` and a reason.
//! It runs once for the whole session; each folder is asked once. What it
//! says when it fails, on stdout or stderr, goes into the failure
//! (see `crate::translator`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::protocol::Failure;
use crate::translator::{self, StderrTail, TranslatorError, REASON_WAIT};

/// How long a translator may take to answer one line.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Maps remote folders to local ones; the identity without a translator.
pub struct Translator {
    process: Option<Running>,
    cache: HashMap<Vec<u8>, Vec<u8>>,
    /// The local mailboxes every answer must be inside (none: unchecked).
    local_roots: Vec<Vec<u8>>,
}

struct Running {
    program: String,
    child: Child,
    input: ChildStdin,
    answers: Receiver<std::io::Result<Vec<u8>>>,
    stderr: StderrTail,
}

impl Translator {
    pub fn identity() -> Translator {
        Translator {
            process: None,
            cache: HashMap::new(),
            local_roots: Vec::new(),
        }
    }

    /// Refuses, from now on, answers outside these local mailbox folders
    /// (relative to HOME, `%20`-encoded as in the config).
    pub fn keep_inside(&mut self, roots: &[String]) {
        self.local_roots = roots
            .iter()
            .map(|root| {
                let decoded = crate::url::decode(root.as_bytes());
                decoded.strip_suffix(b"/").unwrap_or(&decoded).to_vec()
            })
            .collect();
    }

    /// Starts `command` (words split on spaces, no shell): an absolute
    /// path, a path relative to `home`, or a program on PATH.
    pub fn start(command: &str, home: &Path) -> Result<Translator, Failure> {
        let mut words = command.split_whitespace();
        let Some(program) = words.next() else {
            return Ok(Translator::identity());
        };
        if program == "cat" && words.clone().next().is_none() {
            return Ok(Translator::identity());
        }

        let executable = crate::config::translator_program(program, home);
        let mut child = Command::new(&executable)
            .args(words)
            .current_dir(home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                TranslatorError::NotRunnable {
                    command: command.to_owned(),
                    error: error.to_string(),
                }
                .into_failure("translate")
            })?;

        let input = child.stdin.take().expect("stdin is piped");
        let output = child.stdout.take().expect("stdout is piped");
        let stderr = StderrTail::start(child.stderr.take().expect("stderr is piped"));
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut output = BufReader::new(output);
            loop {
                let mut line = Vec::new();
                let result = output.read_until(b'\n', &mut line).map(|_| line);
                let finished =
                    matches!(&result, Ok(line) if line.is_empty()) || result.is_err();
                if sender.send(result).is_err() || finished {
                    return;
                }
            }
        });

        let process = Running {
            program: command.to_owned(),
            child,
            input,
            answers,
            stderr,
        };
        Ok(Translator {
            process: Some(process),
            cache: HashMap::new(),
            local_roots: Vec::new(),
        })
    }

    pub fn is_identity(&self) -> bool {
        self.process.is_none()
    }

    /// Maps a remote folder (ending in `cur`, `new` or `tmp`) to a local one.
    pub fn translate(&mut self, folder: &[u8]) -> Result<Vec<u8>, Failure> {
        let Some(process) = &mut self.process else {
            return Ok(folder.to_vec());
        };
        if let Some(local) = self.cache.get(folder) {
            return Ok(local.clone());
        }

        let answer = process.ask(folder)?;
        let inside = |root: &Vec<u8>| {
            answer.len() > root.len() + 1
                && answer.starts_with(root)
                && answer[root.len()] == b'/'
        };
        if !self.local_roots.is_empty() && !self.local_roots.iter().any(inside) {
            let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let error = TranslatorError::OutsideMailboxes {
                command: process.program.clone(),
                folder: lossy(folder),
                answer: lossy(&answer),
                roots: self.local_roots.iter().map(|r| lossy(r)).collect(),
            };
            return Err(error.into_failure("translate"));
        }
        self.cache.insert(folder.to_vec(), answer.clone());
        Ok(answer)
    }
}

impl Running {
    fn ask(&mut self, folder: &[u8]) -> Result<Vec<u8>, Failure> {
        let shown = String::from_utf8_lossy(folder).into_owned();
        let mut line = folder.to_vec();
        line.push(b'\n');
        if let Err(error) = self
            .input
            .write_all(&line)
            .and_then(|()| self.input.flush())
        {
            let what = format!("stopped reading its input ({error})");
            return Err(self.no_answer(&shown, what));
        }

        let answer = match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(answer)) if answer.is_empty() => {
                return Err(self.no_answer(&shown, "exited without answering".into()))
            }
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                let what = format!("could not be read ({error})");
                return Err(self.no_answer(&shown, what));
            }
            Err(RecvTimeoutError::Timeout) => {
                let error = TranslatorError::TimedOut {
                    command: self.program.clone(),
                    folder: shown,
                    seconds: ANSWER_TIMEOUT.as_secs(),
                };
                return Err(error.into_failure("translate"));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(self.no_answer(&shown, "exited without answering".into()))
            }
        };
        let answer = answer.strip_suffix(b"\n").unwrap_or(&answer).to_vec();

        if translator::is_refusal(&answer) {
            let (later, stderr) = self.last_words();
            return Err(self.refusal_of(&answer, &later, &stderr, &shown));
        }
        if !translator::is_safe_answer(folder, &answer) {
            let error = TranslatorError::UnsafeAnswer {
                command: self.program.clone(),
                folder: shown,
                answer: String::from_utf8_lossy(&answer).into_owned(),
            };
            return Err(error.into_failure("translate"));
        }
        Ok(answer)
    }

    /// No answer. A translator that refuses before reading its input (bad
    /// arguments, no config) has printed `ERROR` and its reason all the
    /// same: that is a refusal.
    fn no_answer(&mut self, folder: &str, what: String) -> Failure {
        let (printed, stderr) = self.last_words();
        let (first, rest) = match printed.iter().position(|&b| b == b'\n') {
            Some(end) => (&printed[..end], &printed[end + 1..]),
            None => (&printed[..], &[][..]),
        };
        if translator::is_refusal(first) {
            return self.refusal_of(first, rest, &stderr, folder);
        }
        TranslatorError::NoAnswer {
            command: self.program.clone(),
            folder: Some(folder.to_owned()),
            what,
            reason: translator::reason(b"", [&printed[..], &stderr[..]]),
        }
        .into_failure("translate")
    }

    fn refusal_of(
        &self,
        refusal: &[u8],
        rest: &[u8],
        stderr: &[u8],
        folder: &str,
    ) -> Failure {
        TranslatorError::Refused {
            command: self.program.clone(),
            folder: folder.to_owned(),
            reason: translator::reason(refusal, [rest, stderr]),
        }
        .into_failure("translate")
    }

    /// What the translator prints on stdout until it exits, and on stderr,
    /// waiting a little for it to finish explaining itself.
    fn last_words(&mut self) -> (Vec<u8>, Vec<u8>) {
        let deadline = Instant::now() + REASON_WAIT;
        let mut printed = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.answers.recv_timeout(left) {
                Ok(Ok(line)) if !line.is_empty() => printed.extend_from_slice(&line),
                _ => break,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        (printed, self.stderr.lines(left))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
