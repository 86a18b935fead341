//! `smd-restricted-shell`: the forced command of an ssh key that may only
//! synchronize mail. In `~/.ssh/authorized_keys`:
//!
//! ```text
//! command="smd-restricted-shell",no-pty,no-port-forwarding ssh-ed25519 AAAA...
//! ```
//!
//! It checks the requested command (`SSH_ORIGINAL_COMMAND`) against the
//! policy in `smd::restricted`, then replaces itself with the program,
//! taken from its own directory so that PATH cannot substitute another.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use smd::cli::home;
use smd::restricted::{self, Allowed};

const USAGE: &str = "\
Usage: command=\"smd-restricted-shell\" in ~/.ssh/authorized_keys

Runs the command an ssh client asked for (SSH_ORIGINAL_COMMAND) only if it
is one of smd's server-side programs, with arguments that stay inside the
mailboxes and ~/.smd/:
  smd-server [options] ENDPOINT MAILBOX...
  smd-client [options] ENDPOINT MAILBOX...   (no -t/--translator, no --rename-only)
  mddiff -l [--exclude PATTERN]... FOLDER...
The programs may be named bare or by any absolute path; the ones installed
next to smd-restricted-shell run. Mailboxes must be relative to $HOME and
must not contain '..'; --override-db and --dump-stdin must name files
inside ~/.smd/. The command is split into words without a shell: quoting
is understood, but variables, substitutions, redirections and ';', '|',
'&' are refused.

A refused command prints the reason on stderr and exits with 1.
";

fn main() -> ExitCode {
    let mut arguments = std::env::args_os().skip(1);
    match arguments.next() {
        None => {}
        Some(word) if word == "-h" || word == "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(word) => {
            eprintln!(
                "smd-restricted-shell: unexpected argument '{}'; it reads the command \
                 from SSH_ORIGINAL_COMMAND (see --help)",
                word.to_string_lossy()
            );
            return ExitCode::FAILURE;
        }
    }

    let line = std::env::var_os("SSH_ORIGINAL_COMMAND").unwrap_or_default();
    let home = match home() {
        Ok(home) => home,
        Err(error) => return refuse(&line.to_string_lossy(), &error),
    };
    match restricted::check(line.as_bytes(), &home) {
        Ok(allowed) => run(&allowed),
        Err(refusal) => refuse(&line.to_string_lossy(), &refusal.to_string()),
    }
}

/// Replaces this process with the allowed program; returns only on error.
fn run(allowed: &Allowed) -> ExitCode {
    let program = match installed_next_to_us(allowed.program.file_name()) {
        Ok(program) => program,
        Err(error) => {
            eprintln!("smd-restricted-shell: {error}");
            return ExitCode::FAILURE;
        }
    };

    let error = Command::new(&program).args(&allowed.args).exec();
    eprintln!(
        "smd-restricted-shell: unable to run {}: {error}; smd-server, smd-client \
         and mddiff must be installed next to smd-restricted-shell",
        program.display()
    );
    ExitCode::FAILURE
}

fn installed_next_to_us(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|error| {
        format!("unable to find where smd-restricted-shell is: {error}")
    })?;
    let dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
    Ok(dir.join(name))
}

fn refuse(line: &str, why: &str) -> ExitCode {
    eprintln!("smd-restricted-shell: refused '{}': {why}", printable(line));
    ExitCode::FAILURE
}

/// The command as it can be shown on one line: control characters (a
/// newline, an escape sequence) escaped, everything else as it came.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
