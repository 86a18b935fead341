//! The command line of `smd-pull` and `smd-push`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::getopt::{self, Spec};
use crate::sync::{run_sync, Direction, SyncEvent, SyncOptions};

const SPECS: &[Spec] = &[
    Spec {
        long: "verbose",
        short: Some('v'),
        takes_value: false,
    },
    Spec {
        long: "show-tags",
        short: Some('s'),
        takes_value: false,
    },
    Spec {
        long: "dry-run",
        short: Some('d'),
        takes_value: false,
    },
    Spec {
        long: "no-delete",
        short: Some('n'),
        takes_value: false,
    },
    Spec {
        long: "template-only",
        short: Some('t'),
        takes_value: false,
    },
    Spec {
        long: "allow-mass-delete",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

fn usage(direction: Direction) -> String {
    let (command, flow) = match direction {
        Direction::Pull => ("smd-pull", "from the server to this machine"),
        Direction::Push => ("smd-push", "from this machine to the server"),
    };
    // What -n leaves behind surprises people: say it where -n is.
    let no_delete = match direction {
        Direction::Pull => {
            "do not propagate deletions: what the server
                           deleted stays here, but the db forgets it, so
                           the next smd-push copies it back there"
        }
        Direction::Push => {
            "do not propagate deletions: what was deleted
                           here stays on the server, but the db forgets
                           it, so the next smd-pull copies it back here"
        }
    };
    format!(
        "\
Usage: {command} [options] [NAME]

Synchronizes the mailbox of endpoint NAME (default: default), configured in
~/.smd/config.NAME, {flow}, over ssh.
  -v, --verbose            say what happens, and show the tags
  -s, --show-tags          print the machine-readable TAGS lines at the end
  -d, --dry-run            change nothing; report what would be done
  -n, --no-delete          {no_delete}
  -t, --template-only      only write the config template if it is missing
      --allow-mass-delete  let this run delete more than DELETE_GUARD_PERCENT
                           of the messages on the receiving side
  -h, --help               this help

SIGTERM, SIGINT (Ctrl-C) or SIGHUP stop the run cleanly: the connection is
closed, the mail received whole stays, the lock is released (a second
Ctrl-C ends it at once).

Exit status: 0 on success, 1 on failure or when stopped, or the exit code
of a failing hook. See {command}(1) and smd-config(5).
"
    )
}

/// Runs smd-pull or smd-push with the process's arguments.
pub fn main(direction: Direction) -> ExitCode {
    let command = direction.command();
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            println!("{command}: {error}");
            print!("{}", usage(direction));
            return ExitCode::from(1);
        }
    };
    if args.has("help") {
        print!("{}", usage(direction));
        return ExitCode::SUCCESS;
    }
    let name = args.operands.last().map_or_else(
        || "default".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let home = match crate::cli::home() {
        Ok(home) => home,
        Err(error) => {
            println!("{command}: {error}");
            return ExitCode::from(1);
        }
    };
    if let Err(error) = crate::interrupt::install() {
        println!("{command}: unable to handle SIGTERM and SIGINT: {error}");
        return ExitCode::from(1);
    }
    adopt_old_config(&home, &name);

    let config = match Config::load(&home, &name) {
        Ok(_) if args.has("template-only") => return ExitCode::SUCCESS,
        Ok(config) => config,
        Err(ConfigError::Missing { .. }) => {
            return match Config::write_template(&home, &name) {
                Ok(path) => {
                    println!("No config file found: created a default one");
                    println!("Please edit it: {}", path.display());
                    ExitCode::from(if args.has("template-only") { 0 } else { 1 })
                }
                Err(error) => {
                    println!("{command}: unable to write a config template: {error}");
                    ExitCode::from(1)
                }
            };
        }
        Err(error) => {
            println!("{command}: {error}");
            return ExitCode::from(1);
        }
    };

    let dry_run = args.has("dry-run");
    let options = SyncOptions {
        verbose: args.has("verbose") || dry_run,
        show_tags: args.has("show-tags") || args.has("verbose") || dry_run,
        dry_run,
        no_delete: args.has("no-delete"),
        allow_mass_delete: args.has("allow-mass-delete"),
    };
    let mut progress = ProgressDisplay::new(&name, options.verbose);
    let outcome = run_sync(&home, &config, direction, &options, &mut |event| {
        progress.show(&event)
    });
    progress.finish();

    let mut stdout = std::io::stdout().lock();
    for line in &outcome.report {
        let _ = writeln!(stdout, "{line}");
    }
    ExitCode::from(u8::try_from(outcome.exit_code).unwrap_or(1))
}

/// smd 1.3 before 0.9.4 used `~/.smd/config`; it becomes `config.default`.
fn adopt_old_config(home: &std::path::Path, name: &str) {
    let old = home.join(".smd").join("config");
    let new = Config::path_for(home, name);
    if name == "default" && old.is_file() && !new.exists() {
        println!("Renaming {} to {}", old.display(), new.display());
        let _ = std::fs::rename(old, new);
    }
}

/// Progress on stderr: a live line on a terminal; plain `PROGRESS:` lines,
/// only when verbose, otherwise.
struct ProgressDisplay {
    name: String,
    terminal: bool,
    verbose: bool,
    started: Option<Instant>,
    shown_line: bool,
}

impl ProgressDisplay {
    fn new(name: &str, verbose: bool) -> ProgressDisplay {
        ProgressDisplay {
            name: name.to_owned(),
            terminal: std::io::stderr().is_terminal(),
            verbose,
            started: None,
            shown_line: false,
        }
    }

    fn show(&mut self, event: &SyncEvent) {
        let mut stderr = std::io::stderr().lock();
        match event {
            SyncEvent::Connecting if self.verbose && !self.terminal => {
                let _ = writeln!(stderr, "PROGRESS: phase=connecting");
            }
            SyncEvent::Connecting => {}
            SyncEvent::Applying(progress) => {
                let started = *self.started.get_or_insert_with(Instant::now);
                let seconds = started.elapsed().as_secs_f64().max(0.001);
                let rate = progress.bytes_received as f64 / seconds;
                let done = progress.commands_done.max(1) as f64;
                let left = (progress.commands_total - progress.commands_done) as f64
                    * seconds
                    / done;
                if self.terminal {
                    let _ = write!(
                        stderr,
                        "\r{}: {}/{} changes, {} received, {}/s, about {} left   ",
                        self.name,
                        progress.commands_done,
                        progress.commands_total,
                        human_bytes(progress.bytes_received),
                        human_bytes(rate as u64),
                        human_duration(left),
                    );
                    self.shown_line = true;
                } else if self.verbose {
                    let _ = writeln!(
                        stderr,
                        "PROGRESS: phase=apply changes-done={} changes-total={} bytes-received={}",
                        progress.commands_done, progress.commands_total, progress.bytes_received
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        if self.shown_line {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_duration(75.4), "1:15");
    }
}
