//! The server side of protocol 1.3: scan the mailboxes, send the diff,
//! serve message data, and agree on the new db.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::diffline::check_message_name;
use super::wire::{self, WireError};
use super::{handshake, DbPaths, DeltaFormat, Failure};
use crate::diff::{write_command, DiffOptions};
use crate::durable;
use crate::examine::open_noatime;
use crate::interrupt;
use crate::scan::{scan, DbSaving, ScanError, ScanRequest};
use crate::tags::{Action, Tags};
use crate::url;
use crate::walk::{as_path, WalkError};

/// How the server was asked to run.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub home: PathBuf,
    /// The endpoint argument (smd-pull passes CLIENTNAME).
    pub endpoint: String,
    /// Mailbox arguments as given, `%20`-encoded, relative to `home`.
    pub mailboxes: Vec<String>,
    /// Exclude patterns as given, `%20`-encoded.
    pub excludes: Vec<String>,
    pub dry_run: bool,
    pub no_delete: bool,
    pub no_move: bool,
    /// Stop after sending the diff (used to compute renamings).
    pub stop_after_diff: bool,
    /// Use this db-file instead of the endpoint's (checked to be in ~/.smd).
    pub override_db: Option<PathBuf>,
    /// Where the mailbox paths resolve, when not in `home`: smd-push
    /// scans local folders through symlinks named as on the server.
    pub mail_base: Option<PathBuf>,
    /// Refuse to send a diff that deletes more than this percentage of the
    /// messages the db knows.
    pub delete_guard_percent: Option<u32>,
}

/// How a server run ended; the numbers are smd-server's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerExit {
    Done = 0,
    ClientVanished = 3,
    DeltaFailed = 4,
    ClientAborted = 5,
    ProtocolError = 6,
    Failed = 7,
}

/// The end of a server run: how, and with what error.
#[derive(Debug)]
pub struct ServerOutcome {
    pub exit: ServerExit,
    pub failure: Option<Failure>,
}

impl ServerOutcome {
    fn done() -> ServerOutcome {
        ServerOutcome {
            exit: ServerExit::Done,
            failure: None,
        }
    }

    fn failed(exit: ServerExit, failure: Failure) -> ServerOutcome {
        ServerOutcome {
            exit,
            failure: Some(failure),
        }
    }
}

/// Runs a whole server session over `reader`/`writer`. `log` receives the
/// human-readable lines (`INFO: ...`) a terminal or log file shows.
pub fn serve(
    options: &ServerOptions,
    reader: &mut BufReader<impl Read>,
    writer: &mut impl Write,
    log: &mut dyn Write,
) -> ServerOutcome {
    let paths = match &options.override_db {
        Some(db) => DbPaths { db: db.clone() },
        None => {
            DbPaths::for_endpoint(&options.home, &options.endpoint, &options.mailboxes)
        }
    };
    if let Err(failure) = handshake(reader, writer, &paths) {
        return ServerOutcome::failed(ServerExit::Failed, failure);
    }

    let roots: Vec<Vec<u8>> = options
        .mailboxes
        .iter()
        .map(|m| url::decode(m.as_bytes()))
        .collect();
    let DiffSent {
        scan_failure,
        new_db,
    } = match send_diff(options, &paths, &roots, writer, log) {
        Ok(sent) => sent,
        Err(failure) => {
            return ServerOutcome::failed(ServerExit::ClientVanished, failure)
        }
    };

    if options.stop_after_diff {
        if options.override_db.is_some() {
            for path in [
                paths.db.clone(),
                paths.mtime(),
                paths.new_db(),
                paths.new_mtime(),
            ] {
                let _ = fs::remove_file(path);
            }
        }
        return ServerOutcome::done();
    }

    let mut outcome =
        serve_requests(options, &paths, new_db, &roots, reader, writer, log);
    if scan_failure.is_some() {
        // The client aborts on a failed scan, or vanishes: the scan is the
        // reason, and ours to report (once: it is not logged before).
        outcome.failure = scan_failure;
    }
    outcome
}

/// What the scan left for the db agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewDb {
    /// In `<db>.new`.
    Written,
    /// The old db, unchanged: nothing was written but the scan time.
    SameAsOld,
}

struct DiffSent {
    /// Why the scan failed (or the deletion guard refused the diff), if
    /// it did.
    scan_failure: Option<Failure>,
    new_db: NewDb,
}

/// How this side reports its own scan failing; the client only sees the
/// text of an `ERROR` line.
fn scan_error_tags(error: &ScanError, base: &Path) -> Tags {
    match error {
        ScanError::MassDeletion(_) => Tags::new("delete-guard", "mass-deletion", true),
        ScanError::Walk(WalkError::FolderUnreadable { source, .. })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            Tags::new("mddiff", "directory-disappeared", false)
        }
        ScanError::Walk(WalkError::FolderUnreadable { path, .. }) => {
            Tags::new("mddiff", "bad-directory-permission", true)
                .with(Action::DisplayPermissions(base.join(as_path(path))))
        }
        ScanError::SaveDb { path, source } => {
            Tags::write_error("mddiff", "bad-permissions", source, path)
        }
        ScanError::Walk(_) | ScanError::Db(_) => Tags::new("mddiff", "unknown", true),
    }
}

/// Scans and sends the diff and `END`. A failed scan, or a diff refused by
/// the deletion guard, is sent as an `ERROR` line, and the failure is
/// returned.
fn send_diff(
    options: &ServerOptions,
    paths: &DbPaths,
    roots: &[Vec<u8>],
    writer: &mut impl Write,
    log: &mut dyn Write,
) -> Result<DiffSent, Failure> {
    let mut scan_failure = None;
    let mut new_db = NewDb::Written;
    let request = ScanRequest {
        base: mail_base(options).to_owned(),
        roots: roots.to_vec(),
        excludes: options
            .excludes
            .iter()
            .map(|e| url::decode(e.as_bytes()))
            .collect(),
        db_file: paths.db.clone(),
        options: DiffOptions {
            no_delete: options.no_delete,
            no_move: options.no_move,
            delete_guard_percent: options.delete_guard_percent,
        },
        saving: if options.dry_run {
            DbSaving::Never
        } else {
            DbSaving::WhenChanged
        },
    };

    let mut line = Vec::with_capacity(512);
    let mut write_error = None;
    let result = scan(&request, &mut |command| {
        if write_error.is_none() {
            write_error = write_command(writer, &mut line, command).err();
        }
    });
    match result {
        Ok(summary) => {
            // Mail left out of this sync: said even without -v.
            for warning in &summary.walk_warnings {
                let _ = writeln!(log, "WARNING: {warning}");
            }
            for skipped in &summary.skipped {
                let _ = writeln!(log, "WARNING: {skipped}");
            }
            let _ = writeln!(
                log,
                "INFO: scanned {} messages, {} changes to send",
                summary.messages, summary.commands
            );
            if !summary.db_changed {
                new_db = NewDb::SameAsOld;
            }
        }
        Err(error) => {
            // The client turns the ERROR line below into a tagged error
            // of its own; this side reports `scan_failure` at the end.
            let tags = scan_error_tags(&error, &request.base);
            scan_failure = Some(Failure::new(error.to_string(), tags));
            let text = error.to_string().replace('\n', " ");
            if let Err(error) = writeln!(writer, "ERROR {text}") {
                write_error = Some(error);
            }
        }
    }

    let sent = match write_error {
        Some(error) => Err(error),
        None => writer.write_all(b"END\n").and_then(|()| writer.flush()),
    };
    sent.map_err(|error| Failure::network("send-diff", &WireError::from(error)))?;
    Ok(DiffSent {
        scan_failure,
        new_db,
    })
}

fn serve_requests(
    options: &ServerOptions,
    paths: &DbPaths,
    new_db: NewDb,
    roots: &[Vec<u8>],
    reader: &mut BufReader<impl Read>,
    writer: &mut impl Write,
    log: &mut dyn Write,
) -> ServerOutcome {
    let mut delta_sent = None;
    loop {
        if let Some(signal) = interrupt::requested() {
            let _ = writeln!(log, "ERROR: stopped by {}", signal.name());
            return ServerOutcome::failed(
                ServerExit::ClientVanished,
                interrupt::stopped(signal),
            );
        }
        let line = match wire::read_line(reader) {
            Ok(Some(line)) => line,
            Ok(None) | Err(WireError::Closed) | Err(WireError::Io(_)) => {
                // The client reports why it went away; the server only
                // notes it, as smd 1.3 did.
                let _ = writeln!(
                    log,
                    "ERROR: communication with the client died unexpectedly"
                );
                return ServerOutcome {
                    exit: ServerExit::ClientVanished,
                    failure: None,
                };
            }
            Err(error) => {
                let failure = Failure::network("server", &error);
                return ServerOutcome::failed(ServerExit::ProtocolError, failure);
            }
        };

        let served = if let Some(name) = line.strip_prefix(b"GET ") {
            transmit(roots, mail_base(options), name, Part::All, writer)
        } else if let Some(name) = line.strip_prefix(b"GETHEADER ") {
            transmit(roots, mail_base(options), name, Part::Header, writer)
        } else if let Some(name) = line.strip_prefix(b"GETBODY ") {
            transmit(roots, mail_base(options), name, Part::Body, writer)
        } else if line == b"COMMIT" {
            send_delta(paths, new_db, options.dry_run, writer)
                .map(|format| delta_sent = format)
        } else if line == b"DONE" {
            return finish(paths, new_db, options.dry_run);
        } else if line == b"ABORT" {
            let _ = writeln!(log, "ERROR: the client aborted; removing the new db files");
            if let Some(sent) = delta_sent {
                try_the_other_delta_format(paths, sent, log);
            }
            if !options.dry_run {
                let _ = fs::remove_file(paths.new_db());
                let _ = fs::remove_file(paths.new_mtime());
            }
            return ServerOutcome {
                exit: ServerExit::ClientAborted,
                failure: None,
            };
        } else {
            let failure = Failure::new(
                format!(
                    "invalid command from the client: {}",
                    String::from_utf8_lossy(&line)
                ),
                Tags::new("protocol", "protocol-error", true),
            );
            return ServerOutcome::failed(ServerExit::ProtocolError, failure);
        };

        if let Err(outcome) = served {
            // Tell a client that waits for data that none will come.
            let _ = writer.write_all(b"ABORT\n").and_then(|()| writer.flush());
            return outcome;
        }

        // The client sends requests ahead: answer all those already here
        // with large writes, and push the answers out before waiting for
        // more (the client may be waiting for them to send more).
        if reader.buffer().is_empty() {
            if let Err(error) = writer.flush() {
                let failure = Failure::network("transmit", &error.into());
                return ServerOutcome::failed(ServerExit::ClientVanished, failure);
            }
        }
    }
}

fn mail_base(options: &ServerOptions) -> &std::path::Path {
    options.mail_base.as_deref().unwrap_or(&options.home)
}

#[derive(Clone, Copy)]
enum Part {
    All,
    Header,
    Body,
}

/// Sends a message, or part of it, as one chunk. Names outside the
/// mailboxes are refused: the server serves mail, not the filesystem.
fn transmit(
    roots: &[Vec<u8>],
    home: &std::path::Path,
    name: &[u8],
    part: Part,
    writer: &mut impl Write,
) -> Result<(), ServerOutcome> {
    if let Err(unsafe_name) = check_message_name(name, roots) {
        let failure = Failure::new(
            unsafe_name.to_string(),
            Tags::new("transmit", "protocol-error", true),
        );
        return Err(ServerOutcome::failed(ServerExit::ProtocolError, failure));
    }

    let path = home.join(as_path(name));
    let unavailable = |error: io::Error| {
        let failure = Failure::new(
            format!(
                "unable to open {}: {error}; it was probably changed while synchronizing, \
                 please retry",
                path.display()
            ),
            Tags::retry("transmit", "simultaneous-mailbox-edit"),
        );
        ServerOutcome::failed(ServerExit::Failed, failure)
    };
    let mut file = open_noatime(&path).map_err(unavailable)?;
    let metadata = file.metadata().map_err(unavailable)?;
    if !metadata.is_file() {
        let failure = Failure::new(
            format!("{} is not a regular file; move it away", path.display()),
            Tags::new("transmit", "non-regular-file", true)
                .with(Action::DisplayPermissions(path.clone())),
        );
        return Err(ServerOutcome::failed(ServerExit::Failed, failure));
    }
    let size = metadata.len();

    let network = |error: io::Error| {
        ServerOutcome::failed(
            ServerExit::ClientVanished,
            Failure::network("transmit", &error.into()),
        )
    };
    match part {
        Part::All => {
            wire::write_chunk_header(writer, size).map_err(network)?;
            let sent = io::copy(&mut (&mut file).take(size), writer).map_err(network)?;
            if sent != size {
                return Err(unavailable(io::Error::other(
                    "the file shrank while being sent",
                )));
            }
        }
        Part::Header | Part::Body => {
            let header = read_header(&mut file).map_err(unavailable)?;
            if let Part::Header = part {
                wire::write_chunk(writer, &header).map_err(network)?;
            } else {
                let body_len = size.saturating_sub(header.len() as u64);
                wire::write_chunk_header(writer, body_len).map_err(network)?;
                let sent =
                    io::copy(&mut (&mut file).take(body_len), writer).map_err(network)?;
                if sent != body_len {
                    return Err(unavailable(io::Error::other(
                        "the file shrank while being sent",
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Reads the header bytes (through the first `\n\n`, or the whole file),
/// leaving the file positioned at the body.
fn read_header(file: &mut File) -> io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};

    const MAX_HEADER: usize = 64 << 20;
    let mut header = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(header);
        }
        let searched_from = header.len().saturating_sub(1);
        header.extend_from_slice(&buffer[..read]);
        if let Some(at) = header[searched_from..]
            .windows(2)
            .position(|w| w == b"\n\n")
        {
            let end = searched_from + at + 2;
            file.seek(SeekFrom::Current(end as i64 - header.len() as i64))?;
            header.truncate(end);
            return Ok(header);
        }
        if header.len() > MAX_HEADER {
            return Err(io::Error::other("the header is larger than 64 MiB"));
        }
    }
}

/// Sends the change of the db-file, in the format the client last read;
/// returns that format (none in a dry run, which sends nothing).
fn send_delta(
    paths: &DbPaths,
    new_db: NewDb,
    dry_run: bool,
    writer: &mut impl Write,
) -> Result<Option<DeltaFormat>, ServerOutcome> {
    let format = (!dry_run).then(|| DeltaFormat::for_peer(paths));
    let delta = if let Some(format) = format {
        let read = |path: PathBuf| {
            super::read_db(&path).map_err(|error| {
                let failure = Failure::new(
                    format!("unable to read {}: {error}", path.display()),
                    Tags::new("xdelta", "bad-permissions", true)
                        .with(Action::DisplayPermissions(path.clone())),
                );
                ServerOutcome::failed(ServerExit::DeltaFailed, failure)
            })
        };
        let old = read(paths.db.clone())?;
        match new_db {
            NewDb::Written => format.encode(&old, &read(paths.new_db())?),
            NewDb::SameAsOld => format.encode(&old, &old),
        }
    } else {
        Vec::new()
    };
    wire::write_chunk(writer, &delta)
        .and_then(|()| writer.flush())
        .map(|()| format)
        .map_err(|error| {
            ServerOutcome::failed(
                ServerExit::ClientVanished,
                Failure::network("xdelta", &error.into()),
            )
        })
}

/// A client that aborts right after the delta could not use it: an smd
/// 1.3.0 client cannot read VCDIFF, a later 1.3 one cannot read xdelta 1.
/// The next run sends the other format (our client reads both, so a wrong
/// guess after some other failure costs nothing).
fn try_the_other_delta_format(paths: &DbPaths, sent: DeltaFormat, log: &mut dyn Write) {
    let next = sent.other();
    let _ = match next.remember(paths) {
        Ok(()) => writeln!(
            log,
            "INFO: the client could not apply the db delta, sent as {sent}; \
             if it runs another smd 1.3 build, it reads {next}, which the next \
             run sends"
        ),
        Err(error) => writeln!(
            log,
            "INFO: unable to note that the client may read {next} deltas in {}: {error}",
            paths.peer_reads_xdelta1().display()
        ),
    };
}

fn finish(paths: &DbPaths, new_db: NewDb, dry_run: bool) -> ServerOutcome {
    if dry_run {
        return ServerOutcome::done();
    }
    let db_in_place = match new_db {
        NewDb::Written => fs::rename(paths.new_db(), &paths.db),
        NewDb::SameAsOld => Ok(()),
    };
    let renamed = db_in_place
        .and_then(|()| fs::rename(paths.new_mtime(), paths.mtime()))
        .and_then(|()| durable::sync_parent(&paths.db));
    match renamed {
        Ok(()) => ServerOutcome::done(),
        Err(error) => ServerOutcome::failed(
            ServerExit::Failed,
            Failure::new(
                format!("unable to rename {}: {error}", paths.new_db().display()),
                Tags::write_error("rename", "bad-permissions", &error, &paths.db),
            ),
        ),
    }
}
