//! `smd-server`: computes the diff of the mailboxes against the endpoint's
//! db-file and serves it, and the mail it names, to `smd-client` over
//! stdin/stdout. A drop-in replacement of smd 1.3's program.

use std::fs::{self, DirBuilder};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::ExitCode;

use smd::cli::{home, leading_options, override_db, report_failure, StderrLog};
use smd::getopt::Spec;
use smd::interrupt;
use smd::protocol::server::{serve, ServerOptions};
use smd::protocol::{path_inside_smd_dir, wire, DbPaths};
use smd::{durable, url};

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
        long: "no-delete",
        short: Some('n'),
        takes_value: false,
    },
    Spec {
        long: "no-move",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "exclude",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "get-mddiff-cmdline",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "override-db",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "stop-after-diff",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "dump-stdin",
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
Usage: smd-server [options] ENDPOINT MAILBOX...

Sends smd-client, over stdin and stdout, what changed in the MAILBOXes
(folders relative to $HOME, %20 for spaces) since the last sync with
ENDPOINT, and the mail it asks for. Options come first:
  -v, --verbose            log what happens on stderr
  -d, --dry-run            change nothing, not even the db-file
  -n, --no-delete          do not propagate deletions; the deleted messages
                           leave the db all the same, so a sync the other
                           way copies the client's copies back here
      --no-move            send moves as copy plus delete
      --exclude GLOB       skip folders matching GLOB (repeatable)
      --override-db FILE   use FILE (inside ~/.smd/) as the db-file
      --stop-after-diff    exit after sending the diff
      --get-mddiff-cmdline print the equivalent mddiff command and exit
      --dump-stdin FILE    save stdin to FILE (inside ~/.smd/) and exit

Exit status: 0 done, 2 usage, 3 client vanished, 4 delta failed,
5 client aborted, 6 protocol error, 7 other failure.
";

/// How long a stopped run may take to put what it received in place.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

fn main() -> ExitCode {
    let args = match leading_options(SPECS, std::env::args_os().skip(1)) {
        Ok(args) if args.has("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) if args.operands.len() >= 2 || args.has("dump-stdin") => args,
        Ok(_) => return usage("an endpoint and at least one mailbox are needed"),
        Err(error) => return usage(&error.to_string()),
    };
    let home = match home() {
        Ok(home) => home,
        Err(error) => return failure(&error),
    };
    let text = |value: &std::ffi::OsString| value.to_string_lossy().into_owned();

    if let Some(target) = args.last_value("dump-stdin") {
        return match dump_stdin(&home, &text(target)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => failure(&error),
        };
    }

    let override_db = match override_db(&args, &home) {
        Ok(path) => path,
        Err(error) => return failure(&error),
    };
    let options = ServerOptions {
        home: home.clone(),
        endpoint: text(&args.operands[0]),
        mailboxes: args.operands[1..].iter().map(text).collect(),
        excludes: args.values("exclude").map(text).collect(),
        dry_run: args.has("dry-run"),
        no_delete: args.has("no-delete"),
        no_move: args.has("no-move"),
        stop_after_diff: args.has("stop-after-diff"),
        override_db,
        mail_base: None,
        delete_guard_percent: None,
    };
    let verbose = args.has("verbose") || options.dry_run;

    if args.has("get-mddiff-cmdline") {
        println!("{}", mddiff_cmdline(&options));
        return ExitCode::SUCCESS;
    }
    if let Some(bad) = options.mailboxes.iter().find(|m| {
        smd::protocol::diffline::check_mailbox(&url::decode(m.as_bytes())).is_err()
    }) {
        return failure(&format!(
            "the mailbox '{bad}' must be relative to $HOME and must not contain '..'"
        ));
    }
    if let Err(error) = DirBuilder::new()
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
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin().lock());
    let mut writer = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut log = StderrLog::new(verbose);
    let outcome = serve(&options, &mut reader, &mut writer, &mut log);
    let _ = writer.flush();
    if let Some(failure) = &outcome.failure {
        report_failure(&mut io::stderr(), failure);
    }
    ExitCode::from(outcome.exit as u8)
}

fn mddiff_cmdline(options: &ServerOptions) -> String {
    let mddiff = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("mddiff")))
        .unwrap_or_else(|| PathBuf::from("mddiff"));
    let paths = match &options.override_db {
        Some(db) => DbPaths { db: db.clone() },
        None => {
            DbPaths::for_endpoint(&options.home, &options.endpoint, &options.mailboxes)
        }
    };
    let mut words = vec![mddiff.display().to_string()];
    if options.dry_run {
        words.push("-d".into());
    }
    words.push("--db-file".into());
    words.push(paths.db.display().to_string());
    for exclude in &options.excludes {
        words.push("--exclude".into());
        words.push(exclude.clone());
    }
    if options.no_delete {
        words.push("-n".into());
    }
    if options.no_move {
        words.push("--no-move".into());
    }
    words.extend(options.mailboxes.iter().cloned());
    words.join(" ")
}

fn dump_stdin(home: &std::path::Path, target: &str) -> Result<(), String> {
    let path = path_inside_smd_dir(home, target)?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("unable to create {}: {e}", parent.display()))?;
    }
    durable::replace_file(&path, |out| {
        io::copy(&mut io::stdin().lock(), out).map(drop)
    })
    .map_err(|error| format!("unable to write {}: {error}", path.display()))
}

fn usage(error: &str) -> ExitCode {
    eprintln!("smd-server: {error}");
    eprint!("{USAGE}");
    ExitCode::from(2)
}

fn failure(error: &str) -> ExitCode {
    eprintln!("ERROR: {error}");
    ExitCode::from(7)
}
