//! Mapping remote folder names to local ones through a translator program.
//!
//! The translator is the user's program (`TRANSLATOR_RL`): it reads one
//! folder path a line and answers one line each, or `ERROR` and a reason.
//! It runs once for the whole session; each folder is asked once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::protocol::Failure;
use crate::tags::Tags;

/// How long a translator may take to answer one line.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Maps remote folders to local ones; the identity without a translator.
pub struct Translator {
    process: Option<Running>,
    cache: HashMap<Vec<u8>, Vec<u8>>,
}

struct Running {
    program: String,
    child: Child,
    input: ChildStdin,
    answers: Receiver<std::io::Result<Vec<u8>>>,
}

impl Translator {
    pub fn identity() -> Translator {
        Translator {
            process: None,
            cache: HashMap::new(),
        }
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
            .spawn()
            .map_err(|error| {
                Failure::new(
                    format!(
                        "unable to run the translator '{command}': {error}; check \
                         TRANSLATOR_RL in the config"
                    ),
                    Tags::new("translate", "translator-not-found", true),
                )
            })?;

        let input = child.stdin.take().expect("stdin is piped");
        let output = child.stdout.take().expect("stdout is piped");
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
        };
        Ok(Translator {
            process: Some(process),
            cache: HashMap::new(),
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
        self.cache.insert(folder.to_vec(), answer.clone());
        Ok(answer)
    }
}

impl Running {
    fn ask(&mut self, folder: &[u8]) -> Result<Vec<u8>, Failure> {
        let shown = String::from_utf8_lossy(folder).into_owned();
        let fail = |why: String| {
            Failure::new(
                format!("the translator '{}' {why} on input '{shown}'", self.program),
                Tags::new("translate", "bad-translator", true),
            )
        };

        let mut line = folder.to_vec();
        line.push(b'\n');
        if let Err(error) = self
            .input
            .write_all(&line)
            .and_then(|()| self.input.flush())
        {
            return Err(fail(format!("stopped reading its input ({error})")));
        }

        let answer = match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(answer)) if answer.is_empty() => {
                return Err(fail("exited without answering".into()))
            }
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Err(fail(format!("could not be read ({error})"))),
            Err(RecvTimeoutError::Timeout) => {
                return Err(fail(format!(
                    "gave no answer within {} seconds",
                    ANSWER_TIMEOUT.as_secs()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(fail("exited without answering".into()))
            }
        };
        let answer = answer.strip_suffix(b"\n").unwrap_or(&answer).to_vec();

        if answer.starts_with(b"ERROR") {
            let why = String::from_utf8_lossy(&answer).into_owned();
            return Err(fail(format!("failed ({why})")));
        }
        if answer.is_empty() || answer.starts_with(b"/") {
            return Err(fail("returned an empty or absolute path".into()));
        }
        if answer.split(|&b| b == b'/').any(|c| c == b"..") {
            return Err(fail("returned a path containing '..'".into()));
        }
        Ok(answer)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
