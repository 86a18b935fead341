//! `smd-client`: applies the diff smd-server sends over stdin/stdout to
//! the local mailboxes, fetching the mail it lacks. A drop-in replacement
//! of smd 1.3's program.

use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::DirBuilderExt;
use std::process::ExitCode;

use smd::cli::{home, leading_options, override_db, report_failure, StderrLog};
use smd::getopt::Spec;
use smd::interrupt;
use smd::protocol::client::{run_client, ClientExit, ClientOptions};
use smd::protocol::wire;

const SPECS: &[Spec] = &[
    Spec {
        long: "verbose",
        short: Some('v'),
        takes_value: false,
    },
    Spec {
        long: "dry-run",
        short: Some('d'),
        takes_value: false,
    },
    Spec {
        long: "local-sync",
        short: Some('l'),
        takes_value: false,
    },
    Spec {
        long: "translator",
        short: Some('t'),
        takes_value: true,
    },
    Spec {
        long: "rename-only",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "override-db",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

const USAGE: &str = "\
Usage: smd-client [options] ENDPOINT MAILBOX...

Applies to the local mailboxes what smd-server, talking over stdin and
stdout, reports changed in its MAILBOXes (folders relative to $HOME, %20
for spaces) since the last sync with ENDPOINT. Options come first:
  -v, --verbose             log what happens on stderr
  -d, --dry-run             change nothing; report what would be fetched
  -l, --local-sync          server and client share this HOME and db-file
  -t, --translator PROGRAM  map remote folder names to local ones
      --rename-only         write ~/smd-rename.sh instead of syncing
      --override-db FILE    use FILE (inside ~/.smd/) as the db-file

Exit status: 0 done, 1 fetched mail failed its check, 2 usage, 3 a change
could not be applied (a conflict), 4 delta failed, 5 db rename failed,
6 other failure.
";

/// How long a stopped run may take to put what it received in place.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

fn main() -> ExitCode {
    let args = match leading_options(SPECS, std::env::args_os().skip(1)) {
        Ok(args) if args.has("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) if args.operands.len() >= 2 => args,
        Ok(_) => return usage("an endpoint and at least one mailbox are needed"),
        Err(error) => return usage(&error.to_string()),
    };
    let home = match home() {
        Ok(home) => home,
        Err(error) => return failure(&error),
    };
    let text = |value: &std::ffi::OsString| value.to_string_lossy().into_owned();

    let override_db = match override_db(&args, &home) {
        Ok(path) => path,
        Err(error) => return failure(&error),
    };
    let options = ClientOptions {
        home: home.clone(),
        endpoint: text(&args.operands[0]),
        mailboxes: args.operands[1..].iter().map(text).collect(),
        dry_run: args.has("dry-run"),
        verbose: args.has("verbose") || args.has("dry-run"),
        local_sync: args.has("local-sync"),
        translator: args.last_value("translator").map(text),
        rename_only: args.has("rename-only"),
        override_db,
        delete_guard_percent: None,
        // Not known here (smd 1.3's command line does not say): smd-pull,
        // which reads them from the config, checks the translator's
        // answers against them.
        local_mailboxes: Vec::new(),
    };
    if let Err(error) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home.join(".smd"))
    {
        return failure(&format!(
            "unable to create {}: {error}",
            home.join(".smd").display()
        ));
    }

    // A stop (smd-push stopping a local sync, systemd, kill) puts what was
    // received in place before the program ends.
    if let Err(error) = interrupt::install_with_deadline(STOP_GRACE) {
        return failure(&format!("unable to catch stop signals: {error}"));
    }
    wire::widen_pipe(&io::stdin());
    wire::widen_pipe(&io::stdout());
    let mut reader = BufReader::with_capacity(256 * 1024, io::stdin().lock());
    let mut writer = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut stderr = io::stderr();
    let verbose = options.verbose;
    let mut log = StderrLog::new(verbose);
    let outcome = run_client(
        &options,
        &mut reader,
        &mut writer,
        &mut log,
        &mut |progress| {
            if verbose {
                let _ = writeln!(
                    io::stderr(),
                    "PROGRESS: {}/{} changes applied, {} bytes received",
                    progress.commands_done,
                    progress.commands_total,
                    progress.bytes_received
                );
            }
        },
    );
    let _ = writer.flush();

    match &outcome.failure {
        Some(failure) => report_failure(&mut stderr, failure),
        None if !options.rename_only => {
            let _ = writeln!(stderr, "TAGS: {}", outcome.stats);
            if options.dry_run && !outcome.would_fetch.is_empty() {
                let names: Vec<String> = outcome
                    .would_fetch
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect();
                let _ = writeln!(
                    stderr,
                    "TAGS: stats::mail-transferred({})",
                    names.join(" , ")
                );
            }
        }
        None => {}
    }
    ExitCode::from(outcome.exit as u8)
}

fn usage(error: &str) -> ExitCode {
    eprintln!("smd-client: {error}");
    eprint!("{USAGE}");
    ExitCode::from(2)
}

fn failure(error: &str) -> ExitCode {
    eprintln!("ERROR: {error}");
    ExitCode::from(ClientExit::Failed as u8)
}
