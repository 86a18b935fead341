//! `smd-translate`: the stock translator for `TRANSLATOR_LR` and
//! `TRANSLATOR_RL`. It maps folder paths, one a line from stdin to stdout,
//! between the local and the remote naming of an endpoint. A drop-in
//! replacement of smd 1.3's program; the mappings live in `smd::translate`.

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use smd::cli::home;
use smd::getopt::{self, Spec};
use smd::translate::{Direction, Mode, Roots, Translation};

const SPECS: &[Spec] = &[
    Spec {
        long: "mode",
        short: Some('m'),
        takes_value: true,
    },
    Spec {
        long: "direction",
        short: Some('d'),
        takes_value: true,
    },
    Spec {
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

const USAGE: &str = "\
Usage: smd-translate [-m MODE] -d LR|RL ENDPOINT
       smd-translate -m cat -d LR|RL [ENDPOINT]

Reads folder paths (relative to $HOME, ending in cur, new or tmp), one a
line, and prints each one's name on the other side: with -d LR from the
local name to the remote one, with -d RL the other way. The roots come
from MAILBOX_LOCAL and MAILBOX_REMOTE (or MAILBOX) in ~/.smd/config.ENDPOINT;
-m cat needs no roots, so it reads no config and ENDPOINT may be left out.
Meant for the config's translators, for example:
  TRANSLATOR_RL=\"smd-translate -m oimap-dovecot -d RL ENDPOINT\"
  TRANSLATOR_LR=\"smd-translate -m oimap-dovecot -d LR ENDPOINT\"

Options:
  -m, --mode MODE       how names differ (default oimap-dovecot):
        oimap-dovecot   remote Maildir/.sub.folder, local Mail/sub.folder
        nodots          remote Maildir/.sub.folder, local Mail/sub/folder
        nodots2         remote Maildir/sub/folder,  local Mail/..sub.folder
        move            only the root differs
        cat             nothing differs
  -d, --direction DIR   LR (local to remote) or RL (remote to local)
  -h, --help            show this help

On an error it prints ERROR and a reason on stdout and exits with 1.
";

fn main() -> ExitCode {
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(error) => return fail(&format!("{error}; see smd-translate --help")),
    };
    if args.has("help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }

    let translation = match configure(&args) {
        Ok(translation) => translation,
        Err(error) => return fail(&error),
    };
    match translate_lines(&translation) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("unable to copy the folder names: {error}")),
    }
}

/// Checks the arguments and reads the roots from the endpoint's config,
/// when the mode needs them.
fn configure(args: &getopt::Args) -> Result<Translation, String> {
    let text = |value: &OsString| value.to_string_lossy().into_owned();
    let direction = match args.last_value("direction").map(text) {
        None => return Err("no direction given: use -d LR or -d RL".into()),
        Some(name) => Direction::from_name(&name)
            .ok_or_else(|| format!("the direction '{name}' is neither LR nor RL"))?,
    };
    let mode = match args.last_value("mode").map(text) {
        None => Mode::OimapDovecot,
        Some(name) => Mode::from_name(&name).ok_or_else(|| {
            format!("unknown mode '{name}'; known modes: {}", Mode::NAMES)
        })?,
    };
    let endpoint = match args.operands.as_slice() {
        [endpoint] => Some(text(endpoint)),
        [] => None,
        [_, extra, ..] => {
            return Err(format!(
                "one endpoint only: unexpected '{}'",
                extra.to_string_lossy()
            ))
        }
    };

    // `cat` maps nothing, so it needs no roots: it works for an endpoint
    // without a config, and without an endpoint at all.
    if mode == Mode::Cat {
        let roots = Roots {
            local: Vec::new(),
            remote: Vec::new(),
        };
        return Ok(Translation {
            mode,
            direction,
            roots,
        });
    }

    let Some(endpoint) = endpoint else {
        return Err("no endpoint given; see smd-translate --help".into());
    };
    let config = home()?.join(".smd").join(format!("config.{endpoint}"));
    let config_text = std::fs::read(&config).map_err(|error| {
        format!(
            "no configuration for the endpoint '{endpoint}': unable to read {}: {error}",
            config.display()
        )
    })?;
    let roots = Roots::from_config(&config_text, &config).map_err(|e| e.to_string())?;
    Ok(Translation {
        mode,
        direction,
        roots,
    })
}

/// Answers each line as soon as it arrives: smd-client keeps one
/// translator running and waits for each answer before sending the next
/// folder, so nothing may sit in a buffer.
fn translate_lines(translation: &Translation) -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let folder = line.strip_suffix(b"\n").unwrap_or(&line);
        output.write_all(&translation.map(folder))?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
}

/// Reports an error where the caller reads the answers: `ERROR`, then the
/// reason, on stdout.
fn fail(reason: &str) -> ExitCode {
    let mut output = io::stdout().lock();
    let _ = writeln!(output, "ERROR");
    let _ = writeln!(output, "smd-translate: {reason}");
    let _ = output.flush();
    ExitCode::FAILURE
}
