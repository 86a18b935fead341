//! `mddiff`: computes the diff of Maildir folders against a db-file, and
//! the small helper modes smd 1.3's scripts call. A drop-in replacement of
//! smd 1.3's program of the same name.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, DirBuilder, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smd::diff::{write_command, DiffOptions};
use smd::examine::open_noatime;
use smd::getopt::{self, Spec};
use smd::message::hash_stream;
use smd::scan::{scan, DbSaving, ScanRequest};
use smd::sha::Sha;
use smd::url;
use smd::walk::Walker;

const SPECS: &[Spec] = &[
    Spec {
        long: "max-mailno",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "db-file",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "exclude",
        short: None,
        takes_value: true,
    },
    Spec {
        long: "sha1sum",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "mkdir-p",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "mkfifo",
        short: None,
        takes_value: false,
    },
    Spec {
        long: "list",
        short: Some('l'),
        takes_value: false,
    },
    Spec {
        long: "symlink",
        short: Some('s'),
        takes_value: false,
    },
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
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

const HELP: &str = "\
Usage: mddiff [options] (paths...|fifo)

Compares Maildir folders with the db-file of the last run and prints, one a
line, what a copy of them must do to catch up: ADD, COPY, MOVE, COPYBODY,
REPLACEHEADER, REPLACE and, last, DELETE. Every regular file inside a folder
named cur/ or new/ below the given paths is a message; tmp/ folders are
never entered. The new state is saved to DBFILE.new and the scan time to
DBFILE.mtime.new. Names with spaces are given and printed %20-encoded.

Options:
  --db-file PATH      db-file of the last run (default db.txt)
  --exclude GLOB      skip folders whose path matches GLOB (repeatable)
  -n, --no-delete     do not report vanished messages (they still leave
                      the new db-file, so they look new to the other side)
      --no-move       report a move as COPY plus DELETE
  -d, --dry-run       do not write a new db-file
  -v, --verbose       explain on stderr what is skipped and why
      --max-mailno N  accepted for compatibility; memory does not depend on it
  -l, --list          only print the cur/ and new/ folders below the paths
  -s, --symlink       with a fifo: read SOURCE and TARGET lines, create the
                      TARGET's folder and a symlink, answer OK or ERROR
      --sha1sum FILE...   print the SHA-1 of whole files, as sha1sum
      --mkdir-p DIR...    create folders and their parents (mode 0770)
      --mkfifo PATH...    create fifos (mode 0600)
  -h, --help          this help

With a single fifo as argument, mddiff reads file names from it, one a line,
and prints the SHA-1 of each file's header and body.

Exit status: 0 on success, 1 on error (an ERROR line is printed on stdout).
";

fn main() -> ExitCode {
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("mddiff: {error}");
            print!("{HELP}");
            return ExitCode::FAILURE;
        }
    };
    if args.has("help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if args.operands.is_empty() {
        eprintln!("mddiff: no paths given");
        print!("{HELP}");
        return ExitCode::FAILURE;
    }

    let verbose = args.has("verbose");
    let result = if args.has("mkdir-p") {
        mkdir_p(&args.operands)
    } else if args.has("sha1sum") {
        sha1sum(&args.operands)
    } else if args.has("mkfifo") {
        mkfifo(&args.operands)
    } else {
        let first = decoded_path(&args.operands[0]);
        match fs::metadata(&first) {
            Ok(metadata)
                if metadata.file_type().is_fifo() && args.operands.len() == 1 =>
            {
                if args.has("symlink") {
                    symlinks_from(&first)
                } else {
                    hashes_from(&first)
                }
            }
            Ok(_) => {
                let excludes: Vec<Vec<u8>> = args
                    .values("exclude")
                    .map(|glob| url::decode(glob.as_bytes()))
                    .collect();
                let roots: Vec<Vec<u8>> = args
                    .operands
                    .iter()
                    .map(|root| url::decode(root.as_bytes()))
                    .collect();
                if args.has("list") {
                    list_folders(&roots, &excludes, verbose)
                } else {
                    let request = ScanRequest {
                        base: PathBuf::from("."),
                        roots,
                        excludes,
                        db_file: args
                            .last_value("db-file")
                            .map_or_else(|| PathBuf::from("db.txt"), PathBuf::from),
                        options: DiffOptions {
                            no_delete: args.has("no-delete"),
                            no_move: args.has("no-move"),
                            delete_guard_percent: None,
                        },
                        saving: if args.has("dry-run") {
                            DbSaving::Never
                        } else {
                            DbSaving::Always
                        },
                    };
                    diff(&request, verbose)
                }
            }
            Err(error) => Err(Failure::new(
                "stat",
                format!("unable to stat {}: {error}", first.display()),
            )),
        }
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::FAILURE
        }
    }
}

/// A fatal error, reported as smd 1.3 did: `error [cause]: text` on stderr
/// and `ERROR text` on stdout, where a reading program looks for it.
struct Failure {
    cause: &'static str,
    text: String,
}

impl Failure {
    fn new(cause: &'static str, text: String) -> Failure {
        Failure { cause, text }
    }

    fn report(&self) {
        eprintln!("error [{}]: {}", self.cause, self.text);
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "ERROR {}", self.text);
        let _ = stdout.flush();
    }
}

fn output_failed(error: io::Error) -> Failure {
    Failure::new("write", format!("unable to write the output: {error}"))
}

fn diff(request: &ScanRequest, verbose: bool) -> Result<(), Failure> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut line = Vec::with_capacity(512);
    let mut write_error = None;

    let summary = scan(request, &mut |command| {
        if write_error.is_none() {
            write_error = write_command(&mut out, &mut line, command).err();
        }
    })
    .map_err(|error| Failure::new("scan", error.to_string()))?;

    if let Some(error) = write_error {
        return Err(output_failed(error));
    }
    out.flush().map_err(output_failed)?;

    for warning in &summary.walk_warnings {
        eprintln!("warning [walk]: {warning}");
    }
    for skipped in &summary.skipped {
        eprintln!("warning [read]: {skipped}");
    }
    if verbose {
        eprintln!(
            "debug [summary]: {} messages, {} commands",
            summary.messages, summary.commands
        );
    }
    Ok(())
}

fn list_folders(
    roots: &[Vec<u8>],
    excludes: &[Vec<u8>],
    verbose: bool,
) -> Result<(), Failure> {
    let mut warnings = Vec::new();
    let walker = Walker {
        base: Path::new("."),
        roots,
        excludes,
    };
    let folders = walker
        .message_folders(&mut warnings)
        .map_err(|error| Failure::new("opendir", error.to_string()))?;

    let mut out = BufWriter::new(io::stdout().lock());
    for folder in folders {
        out.write_all(&folder)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(output_failed)?;
    }
    out.flush().map_err(output_failed)?;
    if verbose {
        for warning in warnings {
            eprintln!("warning [walk]: {warning}");
        }
    }
    Ok(())
}

fn mkdir_p(dirs: &[OsString]) -> Result<(), Failure> {
    for dir in dirs {
        DirBuilder::new()
            .recursive(true)
            .mode(0o770)
            .create(dir)
            .map_err(|error| {
                let dir = Path::new(dir).display();
                Failure::new("mkdir", format!("unable to create dir {dir}: {error}"))
            })?;
    }
    Ok(())
}

fn mkfifo(paths: &[OsString]) -> Result<(), Failure> {
    for path in paths {
        make_fifo(path).map_err(|error| {
            let path = Path::new(path).display();
            Failure::new("mknod", format!("Unable to create fifo {path}: {error}"))
        })?;
    }
    Ok(())
}

#[allow(unsafe_code)]
fn make_fifo(path: &OsStr) -> io::Result<()> {
    let path = CString::new(path.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))?;
    // SAFETY: `path` is a valid NUL-terminated string for the whole call.
    let rc = unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn sha1sum(files: &[OsString]) -> Result<(), Failure> {
    for file in files {
        let metadata = fs::metadata(file).map_err(|error| {
            Failure::new(
                "stat",
                format!("unable to stat {}: {error}", Path::new(file).display()),
            )
        })?;
        if !metadata.is_file() {
            let file = Path::new(file).display();
            return Err(Failure::new(
                "stat",
                format!("{file} in not a regular_file"),
            ));
        }
    }

    let mut out = io::stdout().lock();
    for file in files {
        let sha = Sha::of_file(Path::new(file)).map_err(|error| {
            let file = Path::new(file).display();
            Failure::new("open", format!("unable to open file '{file}': {error}"))
        })?;
        let mut line = sha.to_hex().into_bytes();
        line.extend_from_slice(b"  ");
        line.extend_from_slice(file.as_bytes());
        line.push(b'\n');
        out.write_all(&line).map_err(output_failed)?;
    }
    Ok(())
}

/// The lone-fifo mode: one file name a line in, `HSHA BSHA` a line out.
fn hashes_from(fifo: &Path) -> Result<(), Failure> {
    let input = open_fifo(fifo)?;
    let mut out = io::stdout().lock();
    let mut buffer = vec![0u8; 128 * 1024];

    for name in lines(input) {
        let name = name.map_err(|error| Failure::new("read", error.to_string()))?;
        let describe = |error: io::Error| {
            let name = String::from_utf8_lossy(&name).into_owned();
            Failure::new("open", format!("unable to open file '{name}': {error}"))
        };
        let mut file = open_noatime(&bytes_path(&name)).map_err(describe)?;
        if !file.metadata().map_err(describe)?.is_file() {
            let name = String::from_utf8_lossy(&name).into_owned();
            return Err(Failure::new(
                "fstat",
                format!("not a regular file '{name}'"),
            ));
        }
        let hashed = hash_stream(&mut file, &mut buffer).map_err(describe)?;

        let mut line = Vec::with_capacity(82);
        hashed.hash.header.write_hex(&mut line);
        line.push(b' ');
        hashed.hash.body.write_hex(&mut line);
        line.push(b'\n');
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(output_failed)?;
    }
    Ok(())
}

/// The `-s` fifo mode: SOURCE and TARGET lines in, a symlink and `OK` out.
fn symlinks_from(fifo: &Path) -> Result<(), Failure> {
    let input = open_fifo(fifo)?;
    let mut out = io::stdout().lock();
    let mut names = lines(input);

    while let Some(source) = names.next() {
        let Some(target) = names.next() else { break };
        let source = source.map_err(|error| Failure::new("read", error.to_string()))?;
        let target = target.map_err(|error| Failure::new("read", error.to_string()))?;
        let (source, target) = (bytes_path(&source), bytes_path(&target));

        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o770)
                .create(parent)
                .map_err(|error| {
                    let parent = parent.display();
                    Failure::new(
                        "mkdir",
                        format!("unable to create dir {parent}: {error}"),
                    )
                })?;
        }
        std::os::unix::fs::symlink(&source, &target).map_err(|error| {
            let (source, target) = (source.display(), target.display());
            Failure::new(
                "symlink",
                format!("unable to symlink {source} to {target}: {error}"),
            )
        })?;
        out.write_all(b"OK\n")
            .and_then(|()| out.flush())
            .map_err(output_failed)?;
    }
    Ok(())
}

fn open_fifo(fifo: &Path) -> Result<BufReader<File>, Failure> {
    File::open(fifo).map(BufReader::new).map_err(|error| {
        Failure::new(
            "fopen",
            format!("unable to open fifo {}: {error}", fifo.display()),
        )
    })
}

/// Lines as raw bytes, without their `\n`.
fn lines(mut input: impl BufRead) -> impl Iterator<Item = io::Result<Vec<u8>>> {
    std::iter::from_fn(move || {
        let mut line = Vec::new();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(Ok(line))
            }
            Err(error) => Some(Err(error)),
        }
    })
}

fn decoded_path(argument: &OsStr) -> PathBuf {
    bytes_path(&url::decode(argument.as_bytes()))
}

fn bytes_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes.to_vec()))
}
