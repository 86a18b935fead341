//! `smd-uniform-names`: before the first sync, writes `~/smd-rename.sh` to
//! give local messages the names they have on the server.

use std::process::ExitCode;

use smd::config::Config;
use smd::getopt::{self, Spec};
use smd::lock::Lock;

const SPECS: &[Spec] = &[
    Spec {
        long: "verbose",
        short: Some('v'),
        takes_value: false,
    },
    Spec {
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

const USAGE: &str = "\
Usage: smd-uniform-names [-v] [NAME]

Before the first sync of endpoint NAME (default: default), when both
mailboxes already hold the same mail under different names, writes
~/smd-rename.sh: it renames the local messages to the server's names, so
that the first sync transfers nothing. Check the script, then run it.
Exit status: 0 on success, 1 on failure (also when the endpoint was
already synchronized).
";

fn main() -> ExitCode {
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) if args.has("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => args,
        Err(error) => {
            println!("smd-uniform-names: {error}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let name = args.operands.last().map_or_else(
        || "default".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let result = smd::cli::home().and_then(|home| {
        let config = Config::load(&home, &name).map_err(|e| e.to_string())?;
        let _lock = Lock::acquire(&Lock::path_in(&home))
            .map_err(|e| smd::sync::lock_refused(&e).report.join("\n"))?;
        smd::uniform::write_rename_script(&home, &config, args.has("verbose"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("ERROR: {error}");
            ExitCode::from(1)
        }
    }
}
