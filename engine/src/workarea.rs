//! The workarea of a push with translators: `~/.smd/workarea/`, a tree of
//! symlinks named as the server names the folders, each pointing to the
//! local folder. The local server scans the remote names through it, so
//! the db and the diff speak the server's names, as with smd 1.3.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::protocol::Failure;
use crate::tags::Tags;
use crate::translator::{self, StderrTail, TranslatorError, REASON_WAIT};
use crate::url;
use crate::walk::{as_path, WalkError, Walker};

/// Rebuilds the workarea for `config` and returns its path.
pub fn build(home: &Path, config: &Config) -> Result<PathBuf, Failure> {
    let workarea = home.join(".smd").join("workarea");
    clear(&workarea)?;

    let folders = local_folders(home, config).map_err(|error| {
        Failure::new(
            format!("unable to list the local folders: {error}"),
            Tags::new("workarea", "unknown", true),
        )
    })?;

    let command = config.translator_lr.as_deref().unwrap_or("cat");
    let translated = translate_all(home, command, &folders)?;

    for (local, remote) in folders.iter().zip(&translated) {
        let link = workarea.join(as_path(remote));
        let target = home.join(as_path(local));
        let made = link
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| std::os::unix::fs::symlink(&target, &link));
        if let Err(error) = made {
            return Err(Failure::new(
                format!(
                    "unable to link {} to {}: {error}",
                    link.display(),
                    target.display()
                ),
                Tags::new("workarea", "fail-create-symlink", true),
            ));
        }
    }
    Ok(workarea)
}

/// The local `cur` and `new` folders of `config`, without the excluded
/// ones, as `mddiff -l` lists them.
pub fn local_folders(home: &Path, config: &Config) -> Result<Vec<Vec<u8>>, WalkError> {
    let decode = |words: &[String]| -> Vec<Vec<u8>> {
        words
            .iter()
            .map(|word| url::decode(word.as_bytes()))
            .collect()
    };
    let (roots, excludes) =
        (decode(&config.mailbox_local), decode(&config.exclude_local));
    let walker = Walker {
        base: home,
        roots: &roots,
        excludes: &excludes,
    };
    walker.message_folders(&mut Vec::new())
}

/// Empties the workarea, refusing if it holds anything but folders and
/// symlinks: that would be someone's data, not ours.
fn clear(workarea: &Path) -> Result<(), Failure> {
    let stray = |path: &Path| {
        Failure::new(
            format!(
                "{} holds a file ({}) that smd did not put there; move it away",
                workarea.display(),
                path.display()
            ),
            Tags::new("workarea", "unknown", true),
        )
    };
    fn check(dir: &Path, stray: &dyn Fn(&Path) -> Failure) -> Result<(), Failure> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let kind = entry.file_type().map_err(|_| stray(&entry.path()))?;
            if kind.is_dir() {
                check(&entry.path(), stray)?;
            } else if !kind.is_symlink() {
                return Err(stray(&entry.path()));
            }
        }
        Ok(())
    }
    check(workarea, &stray)?;

    let failed = |error: std::io::Error| {
        Failure::new(
            format!("unable to reset {}: {error}", workarea.display()),
            Tags::new("workarea", "bad-permissions", true),
        )
    };
    match fs::remove_dir_all(workarea) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(error)),
    }
    fs::create_dir_all(workarea).map_err(failed)
}

/// Runs the translator once over every folder, one a line.
fn translate_all(
    home: &Path,
    command: &str,
    folders: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, Failure> {
    let failed = |error: TranslatorError| error.into_failure("workarea");
    let no_answer = |folder: Option<&Vec<u8>>, what: String, reason| {
        failed(TranslatorError::NoAnswer {
            command: command.to_owned(),
            folder: folder.map(|f| String::from_utf8_lossy(f).into_owned()),
            what,
            reason,
        })
    };

    let mut words = command.split_whitespace();
    let program = crate::config::translator_program(words.next().unwrap_or("cat"), home);
    let mut child = Command::new(program)
        .args(words)
        .current_dir(home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            failed(TranslatorError::NotRunnable {
                command: command.to_owned(),
                error: error.to_string(),
            })
        })?;
    let stderr = StderrTail::start(child.stderr.take().expect("stderr is piped"));

    let mut input = Vec::new();
    for folder in folders {
        input.extend_from_slice(folder);
        input.push(b'\n');
    }
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Feed it from a thread: a translator may answer before reading all.
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let mut output = Vec::new();
    let read = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_end(&mut output);
    let fed = feeder.join().map(|r| r.is_ok()).unwrap_or(false);
    let status = child.wait();
    let stderr = stderr.lines(REASON_WAIT);

    // The first refusal names the folder; all it printed after it, and on
    // stderr, is its reason. A translator that refuses stops reading, so
    // this comes before the checks of its exit.
    let lines: Vec<&[u8]> = output.split(|&b| b == b'\n').collect();
    if let Some(at) = lines.iter().position(|line| translator::is_refusal(line)) {
        let after = output
            .len()
            .min(lines[..=at].iter().map(|l| l.len() + 1).sum());
        return Err(failed(TranslatorError::Refused {
            command: command.to_owned(),
            folder: folders.get(at).map_or_else(
                || "(after the last folder)".to_owned(),
                |f| String::from_utf8_lossy(f).into_owned(),
            ),
            reason: translator::reason(lines[at], [&output[after..], &stderr[..]]),
        }));
    }

    let answers = &lines[..folders.len().min(lines.len())];
    let explained = || translator::reason(b"", [&stderr[..]]);
    match status {
        Ok(status) if !status.success() => {
            return Err(no_answer(None, format!("failed ({status})"), explained()))
        }
        Err(error) => {
            return Err(no_answer(
                None,
                format!("could not be waited for ({error})"),
                explained(),
            ))
        }
        Ok(_) => {}
    }
    if let Err(error) = read {
        let what = format!("could not be read ({error})");
        return Err(no_answer(None, what, explained()));
    }
    if !fed || answers.len() != folders.len() {
        let what = format!(
            "gave {} answers for {} folders",
            answers.len(),
            folders.len()
        );
        return Err(no_answer(folders.get(answers.len()), what, explained()));
    }

    for (folder, answer) in folders.iter().zip(answers) {
        if !translator::is_safe_answer(folder, answer) {
            return Err(failed(TranslatorError::UnsafeAnswer {
                command: command.to_owned(),
                folder: String::from_utf8_lossy(folder).into_owned(),
                answer: std::ffi::OsStr::from_bytes(answer)
                    .to_string_lossy()
                    .into_owned(),
            }));
        }
    }
    Ok(answers.iter().map(|answer| answer.to_vec()).collect())
}
