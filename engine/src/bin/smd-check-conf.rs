//! `smd-check-conf`: checks an endpoint's config: lists the folders on both
//! sides and checks that the translators map each one there and back.

use std::process::ExitCode;

use smd::checkconf::{check, RoundTrip};
use smd::config::Config;
use smd::getopt::{self, Spec};
use smd::lock::Lock;

const SPECS: &[Spec] = &[Spec {
    long: "help",
    short: Some('h'),
    takes_value: false,
}];

const USAGE: &str = "\
Usage: smd-check-conf [NAME]

Checks ~/.smd/config.NAME (default: default): lists the local folders and,
over ssh, the remote ones, runs each through TRANSLATOR_LR and
TRANSLATOR_RL, and fails when a folder does not come back as itself.
Exit status: 0 when the configuration is sound, 1 otherwise.
";

fn main() -> ExitCode {
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) if args.has("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => args,
        Err(error) => {
            println!("smd-check-conf: {error}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let name = args.operands.last().map_or_else(
        || "default".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    match run(&name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            for line in error.lines() {
                println!("ERROR: {line}");
            }
            ExitCode::from(1)
        }
    }
}

fn run(name: &str) -> Result<(), String> {
    let home = smd::cli::home()?;
    let config = Config::load(&home, name).map_err(|e| e.to_string())?;
    let _lock = Lock::acquire(&Lock::path_in(&home))
        .map_err(|e| smd::sync::lock_refused(&e).report.join("\n"))?;
    let report = check(&home, &config).map_err(|failure| failure.message)?;

    let print_side = |title: &str, side: &Result<Vec<RoundTrip>, String>| match side {
        Ok(trips) => {
            println!("{title}");
            for trip in trips {
                println!("{trip}");
            }
            println!();
        }
        Err(error) => println!("{title}\n   skipped: {error}\n"),
    };
    print_side(
        "Local folders, translated to remote names and back:",
        &report.local,
    );
    print_side(
        "Remote folders, translated to local names and back:",
        &report.remote,
    );

    if let Some(misplaced) = report.first_misplaced(&config) {
        return Err(format!(
            "'{}' translates to '{}', which is outside the other side's mailboxes: fix \
             the translators (or the MAILBOX settings)",
            misplaced.folder, misplaced.translated
        ));
    }
    if let Some(broken) = report.first_broken() {
        return Err(format!(
            "the round trip of '{}' gives '{}' (through '{}'): fix the translators, or \
             mail would land in the wrong folder",
            broken.folder, broken.back, broken.translated
        ));
    }
    println!("Endpoint {name} configuration file successfully checked");
    Ok(())
}
