//! The client side of protocol 1.3: receive the diff, apply it to the
//! local mailbox with smd's rules, fetch what is missing, and agree on the
//! new db.
//!
//! Every command checks the local state first (by content, not by name or
//! date). Fetched and rebuilt messages go through [`stage`]: written to
//! `tmp/`, checked against their digests, flushed, renamed. A conflict
//! stops the run with [`Tags`] saying which file and what to do; what was
//! already done stays consistent, so the next run converges.

mod stage;
mod translate;
mod twin;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, DirBuilder, File};
use std::io::{self, BufRead, Read, Seek, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::diffline::{check_mailbox, check_message_name, DiffLine};
use super::wire::{self, WireError};
use super::{handshake, DbPaths, Failure, MAX_DELTA};
use crate::diff::MassDeletion;
use crate::durable;
use crate::examine::open_noatime;
use crate::interrupt;
use crate::maildir;
use crate::message::{MessageHash, MessageHasher};
use crate::sha::Sha;
use crate::tags::{Action, Stats, Tags};
use crate::url;
use crate::walk::as_path;
use stage::{
    current_state, rename_no_replace, unreadable, write_failed, Placement, Stager,
};
pub use translate::Translator;
use twin::{merged_name, Lookup, Twin, Twins};

/// The largest message accepted from the server.
const MAX_MESSAGE: u64 = 16 << 30;
/// The largest header accepted from the server.
const MAX_HEADER: u64 = 64 << 20;
/// Requests sent ahead of their answers, to keep the link busy...
const MAX_OUTSTANDING: usize = 64;
/// ...but never more bytes of them than a pipe surely buffers, or both
/// sides could block writing.
const MAX_OUTSTANDING_BYTES: usize = 16 * 1024;

/// How the client was asked to run.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub home: PathBuf,
    /// The endpoint argument (smd-pull passes CLIENTNAME).
    pub endpoint: String,
    /// The server's mailbox arguments as given, `%20`-encoded.
    pub mailboxes: Vec<String>,
    pub dry_run: bool,
    pub verbose: bool,
    /// `-l`: client and server share one HOME and one db; leave it alone.
    pub local_sync: bool,
    /// `-t`: the program mapping remote folders to local ones.
    pub translator: Option<String>,
    /// Write `~/smd-rename.sh` instead of applying the diff.
    pub rename_only: bool,
    pub override_db: Option<PathBuf>,
    /// Refuse a diff that deletes more than this percentage of the
    /// messages the local db knows, before changing anything.
    pub delete_guard_percent: Option<u32>,
    /// The local mailboxes (`MAILBOX_LOCAL`), when known: a translator's
    /// answer outside them is refused.
    pub local_mailboxes: Vec<String>,
}

/// How a client run ended; the numbers are smd-client's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientExit {
    Done = 0,
    FetchFailed = 1,
    CommandFailed = 3,
    DeltaFailed = 4,
    DbRenameFailed = 5,
    Failed = 6,
}

/// The end of a client run.
#[derive(Debug)]
pub struct ClientOutcome {
    pub exit: ClientExit,
    pub failure: Option<Failure>,
    pub stats: Stats,
    /// In dry-run, the messages that would have been fetched.
    pub would_fetch: Vec<Vec<u8>>,
}

/// Progress of the apply phase, reported every few commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub commands_done: usize,
    pub commands_total: usize,
    pub bytes_received: u64,
}

/// Runs a whole client session over `reader`/`writer`.
pub fn run_client(
    options: &ClientOptions,
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    log: &mut dyn Write,
    progress: &mut dyn FnMut(Progress),
) -> ClientOutcome {
    let mut session = Session {
        options,
        reader,
        writer,
        log,
        translator: Translator::identity(),
        stager: Stager::default(),
        pending: VecDeque::new(),
        outstanding_bytes: 0,
        folders: HashMap::new(),
        tmp_leftovers: HashMap::new(),
        in_flight: HashMap::new(),
        diff_bytes: 0,
        stats: Stats::default(),
        would_fetch: Vec::new(),
        buffer: vec![0u8; 128 * 1024],
        db: PathBuf::new(),
        twins: Twins::default(),
        roots: Vec::new(),
        deleted: None,
    };
    let exit = match session.run(progress) {
        Ok(()) => None,
        Err((exit, failure)) => Some((exit, failure)),
    };
    let (exit, failure) = match exit {
        None => (ClientExit::Done, None),
        Some((exit, failure)) => (exit, Some(failure)),
    };
    ClientOutcome {
        exit,
        failure,
        stats: session.stats,
        would_fetch: session.would_fetch,
    }
}

type Step<T = ()> = Result<T, (ClientExit, Failure)>;

/// What to do with the answer to a request already sent.
enum Pending {
    /// A whole message for `target`.
    Message {
        local: Local,
        hash: MessageHash,
        placement: Placement,
    },
    /// A header to put on `body`, giving `target`. `name` is the server's
    /// name, for asking the whole message instead.
    Header {
        name: Vec<u8>,
        body: Body,
        local: Local,
        hash: MessageHash,
        placement: Placement,
    },
    /// A copy of a message being fetched by an earlier request; no request
    /// of its own, it is made when its turn comes.
    LocalCopy {
        source: PathBuf,
        local: Local,
        hash: MessageHash,
    },
}

/// Where the body of a header replacement comes from.
enum Body {
    /// The message being replaced, in place.
    InPlace(PathBuf),
    /// A private copy of the message at `of`, taken when the command was
    /// met, since later commands may move or delete it. The copy has no
    /// name (it was removed once open), so a killed run leaves nothing
    /// behind.
    Copy { file: File, of: PathBuf },
}

impl Body {
    /// The message it is (or was copied from), for error messages.
    fn path(&self) -> &Path {
        match self {
            Body::InPlace(path) | Body::Copy { of: path, .. } => path,
        }
    }

    /// The whole message, from its start.
    fn open(&mut self) -> io::Result<File> {
        match self {
            Body::InPlace(path) => open_noatime(path),
            Body::Copy { file, .. } => {
                file.rewind()?;
                file.try_clone()
            }
        }
    }
}

/// Where a remote message name lives locally.
#[derive(Debug, Clone)]
struct Local {
    /// Absolute path of the message.
    path: PathBuf,
    /// Absolute path of the `tmp/` folder beside its folder.
    tmp_dir: PathBuf,
    file_name: Vec<u8>,
    /// Its folder held no file when this run first met it.
    folder_was_empty: bool,
}

/// A message found in `tmp/`, left by an earlier run.
struct Leftover {
    path: PathBuf,
    len: u64,
}

/// What a folder held when the run first met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FolderAtStart {
    Empty,
    /// Some files, or unknown (it could not be listed).
    Unknown,
}

struct Session<'a, R, W> {
    options: &'a ClientOptions,
    reader: &'a mut R,
    writer: &'a mut W,
    log: &'a mut dyn Write,
    translator: Translator,
    stager: Stager,
    pending: VecDeque<(Pending, usize)>,
    outstanding_bytes: usize,
    /// Every folder met so far, and whether it was empty then.
    folders: HashMap<PathBuf, FolderAtStart>,
    /// The names in each `tmp/` folder when it was first met: what a killed
    /// run may have left behind.
    tmp_leftovers: HashMap<PathBuf, HashSet<Vec<u8>>>,
    /// Messages asked for and not yet in place, by local path.
    in_flight: HashMap<PathBuf, MessageHash>,
    /// Bytes of diff received, which bounds the size of the new db.
    diff_bytes: usize,
    stats: Stats,
    would_fetch: Vec<Vec<u8>>,
    buffer: Vec<u8>,
    /// The db-file this run agrees on.
    db: PathBuf,
    /// Local copies of messages renamed on both sides, found on demand.
    twins: Twins,
    /// The mailbox roots, decoded.
    roots: Vec<Vec<u8>>,
    /// The names the diff deletes, listed the first time they are needed.
    deleted: Option<HashSet<Vec<u8>>>,
}

impl<R: BufRead, W: Write> Session<'_, R, W> {
    fn run(&mut self, progress: &mut dyn FnMut(Progress)) -> Step {
        let options = self.options;
        let roots = self.check_mailboxes()?;
        self.roots = roots.clone();
        if let Some(command) = &options.translator {
            self.translator = Translator::start(command, &options.home)
                .map_err(|f| (ClientExit::Failed, f))?;
            self.translator.keep_inside(&options.local_mailboxes);
        }

        let paths = match &options.override_db {
            Some(db) => DbPaths { db: db.clone() },
            None => DbPaths::for_endpoint(
                &options.home,
                &options.endpoint,
                &options.mailboxes,
            ),
        };
        handshake(self.reader, self.writer, &paths)
            .map_err(|f| (ClientExit::Failed, f))?;
        self.db = paths.db.clone();

        let commands = self.receive_diff(&roots)?;

        // A scan that failed may have sent only part of its changes: apply
        // none of them.
        let scan_error = commands.iter().find_map(|command| match command {
            DiffLine::Error(text) => Some(text),
            _ => None,
        });
        if let Some(text) = scan_error {
            return Err(self.stop(other_side_scan_failed(text)));
        }

        if options.rename_only {
            return self.write_rename_script(&commands);
        }
        if let Err(refusal) =
            guard_deletions(&commands, &paths, options.delete_guard_percent)
        {
            self.abort();
            let tags = Tags::new("delete-guard", "mass-deletion", true);
            return Err((
                ClientExit::CommandFailed,
                Failure::new(refusal.to_string(), tags),
            ));
        }

        let total = commands.len();
        for (done, command) in commands.iter().enumerate() {
            if let Err(failure) =
                stop_requested().and_then(|()| self.execute(command, &commands))
            {
                return Err(self.stop(failure));
            }
            if done % 256 == 255 {
                progress(Progress {
                    commands_done: done + 1,
                    commands_total: total,
                    bytes_received: self.stats.bytes_received,
                });
            }
        }
        let finished = self.drain().and_then(|()| {
            self.stager
                .commit()
                .map_err(|f| (ClientExit::FetchFailed, f))
        });
        if let Err(failure) = finished {
            return Err(self.stop(failure));
        }
        progress(Progress {
            commands_done: total,
            commands_total: total,
            bytes_received: self.stats.bytes_received,
        });

        self.agree(&paths)
    }

    fn check_mailboxes(&self) -> Step<Vec<Vec<u8>>> {
        let mut roots = Vec::new();
        for mailbox in &self.options.mailboxes {
            let decoded = url::decode(mailbox.as_bytes());
            if let Err(error) = check_mailbox(&decoded) {
                let cause = if decoded.starts_with(b"/") {
                    "mailbox-has--absolute-path"
                } else {
                    "bad-mailbox"
                };
                return Err((
                    ClientExit::Failed,
                    Failure::new(error.to_string(), Tags::new("main", cause, true)),
                ));
            }
            roots.push(decoded);
        }
        Ok(roots)
    }

    /// Reads and checks the whole diff before touching anything.
    fn receive_diff(&mut self, roots: &[Vec<u8>]) -> Step<Vec<DiffLine>> {
        let mut commands = Vec::new();
        loop {
            let line = wire::expect_line(self.reader).map_err(|error| {
                let failure = Failure::network("receive-delta", &error);
                (ClientExit::Failed, failure)
            })?;
            if line == b"END" {
                return Ok(commands);
            }
            self.diff_bytes += line.len() + 1;
            let command = DiffLine::parse(&line).map_err(|error| {
                self.abort();
                (
                    ClientExit::Failed,
                    Failure::new(
                        error.to_string(),
                        Tags::new("protocol", "protocol-error", true),
                    ),
                )
            })?;
            for name in command.names() {
                if let Err(error) = check_message_name(name, roots) {
                    self.abort();
                    let tags = Tags::new("protocol", "unsafe-name", true);
                    return Err((
                        ClientExit::Failed,
                        Failure::new(error.to_string(), tags),
                    ));
                }
            }
            commands.push(command);
        }
    }

    /// Applies one diff command of `commands`.
    fn execute(
        &mut self,
        command: &DiffLine,
        commands: &[DiffLine],
    ) -> Result<(), (ClientExit, Failure)> {
        let conflict = |failure| (ClientExit::CommandFailed, failure);
        match command {
            DiffLine::Add { name, hash } => {
                let local = self.local(name)?;
                match self.target_state(&local).map_err(conflict)? {
                    None => self.fetch(name, local, *hash, Placement::New),
                    Some(found) if found == *hash => Ok(()),
                    Some(_) => Err(conflict(self.conflict(
                        "mail-addition",
                        &local,
                        "a different message with the same name is already here",
                        false,
                    ))),
                }
            }
            DiffLine::Copy { from, hash, to } | DiffLine::Move { from, hash, to } => {
                let is_move = matches!(command, DiffLine::Move { .. });
                self.copy_or_move(from, *hash, to, is_move, commands)
            }
            DiffLine::CopyBody {
                from,
                body,
                to,
                header,
            } => {
                let hash = MessageHash {
                    header: *header,
                    body: *body,
                };
                let target = self.local(to)?;
                let source = self.local(from)?;
                match self.target_state(&target).map_err(conflict)? {
                    Some(found) if found == hash => return Ok(()),
                    Some(_) => {
                        return Err(conflict(self.conflict(
                            "copy-body",
                            &target,
                            "a different message with the same name is already here",
                            false,
                        )))
                    }
                    None => {}
                }
                match current_state(&source.path).map_err(conflict)? {
                    Some(found) if found.body == *body => {
                        // Later commands may move or delete the source
                        // before the header arrives: splice from a copy.
                        match self.snapshot(&source, &target) {
                            Some(body) => {
                                self.fetch_header(to, body, target, hash, Placement::New)
                            }
                            None => self.fetch(to, target, hash, Placement::New),
                        }
                    }
                    _ => self.fetch(to, target, hash, Placement::New),
                }
            }
            DiffLine::ReplaceHeader {
                name,
                as_written,
                old,
                header,
            } => {
                let name = self.replaced_name(name, as_written.as_deref())?;
                let local = self.local(name)?;
                let new = MessageHash {
                    header: *header,
                    body: old.body,
                };
                let found = match open_noatime(&local.path) {
                    Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                    // An empty file is a message here: it is not what the
                    // server had, so it is a conflict below.
                    _ => Some(
                        current_state(&local.path)
                            .map_err(conflict)?
                            .unwrap_or(EMPTY),
                    ),
                };
                match found {
                    None => match self.twin_of(name, &local, *old, commands) {
                        // Renamed here: give the renamed copy its new header.
                        Some(twin) => {
                            let twin = twin_local(twin);
                            let body = Body::InPlace(twin.path.clone());
                            let placement = Placement::Replace { old: *old };
                            self.fetch_header(name, body, twin, new, placement)
                        }
                        None => self.fetch(name, local, new, Placement::New),
                    },
                    Some(found) if found == *old => {
                        let body = Body::InPlace(local.path.clone());
                        self.fetch_header(
                            name,
                            body,
                            local,
                            new,
                            Placement::Replace { old: *old },
                        )
                    }
                    Some(found) if found == new => Ok(()),
                    Some(_) => Err(conflict(self.conflict(
                        "header-replacement",
                        &local,
                        "it was changed here too",
                        false,
                    ))),
                }
            }
            DiffLine::Replace { name, old, new } => {
                let local = self.local(name)?;
                match current_state(&local.path).map_err(conflict)? {
                    None => match self.twin_of(name, &local, *old, commands) {
                        // Renamed here: replace the renamed copy.
                        Some(twin) => {
                            let twin = twin_local(twin);
                            let placement = Placement::Replace { old: *old };
                            self.fetch(name, twin, *new, placement)
                        }
                        None => self.fetch(name, local, *new, Placement::New),
                    },
                    Some(found) if found == *new => Ok(()),
                    Some(found) if found == *old => {
                        self.fetch(name, local, *new, Placement::Replace { old: *old })
                    }
                    Some(_) => Err(conflict(self.conflict(
                        "replace",
                        &local,
                        "it was changed here too",
                        false,
                    ))),
                }
            }
            DiffLine::Delete { name, hash } => {
                let local = self.local(name)?;
                match current_state(&local.path).map_err(conflict)? {
                    None => Ok(()),
                    Some(found) if found == *hash => self.delete(&local),
                    Some(_) => {
                        let failure = Failure::new(
                            format!(
                                "unable to delete {}: it was deleted on the other side but \
                                 changed here. Delete it by hand, or run the sync in the \
                                 other direction to keep your version",
                                local.path.display()
                            ),
                            Tags::new("delete-message", "concurrent-mailbox-edit", true)
                                .with(Action::DisplayMail(local.path.clone()))
                                .with(Action::Remove(local.path.clone()))
                                .with(Action::InverseCommand),
                        );
                        Err(conflict(failure))
                    }
                }
            }
            DiffLine::Error(text) => Err(other_side_scan_failed(text)),
        }
    }

    fn copy_or_move(
        &mut self,
        from: &[u8],
        hash: MessageHash,
        to: &[u8],
        is_move: bool,
        commands: &[DiffLine],
    ) -> Step {
        let conflict = |failure| (ClientExit::CommandFailed, failure);
        let context = if is_move {
            "move-message"
        } else {
            "copy-message"
        };
        let source = self.local(from)?;
        let target = self.local(to)?;
        let found_source = current_state(&source.path).map_err(conflict)?;
        let found_target = self.target_state(&target).map_err(conflict)?;

        match (found_source, found_target) {
            (Some(s), Some(t)) if t == hash && (is_move || s == hash) => {
                // Already done; a move still owes the removal of an
                // unchanged source.
                if is_move && s == hash {
                    self.delete(&source)
                } else {
                    Ok(())
                }
            }
            (None, Some(t)) if t == hash => Ok(()),
            // A copy whose source changed here is a conflict, as in smd
            // 1.3, even when the target is right: the person decides.
            (_, Some(t)) => {
                // Syncing the other way first (smd 1.3 always suggests it)
                // only helps when the change here is to the source: a
                // different message under the target's name would meet
                // the same conflict from the other side.
                let source_changed = t == hash;
                let why = if source_changed {
                    format!("its source {} was changed here", source.path.display())
                } else {
                    "a different message with the same name is already here".to_owned()
                };
                Err(conflict(self.conflict(
                    context,
                    &target,
                    &why,
                    source_changed,
                )))
            }
            (Some(s), None) if s == hash => {
                if is_move {
                    self.local_rename(&source.path, &target.path)
                } else {
                    self.local_copy(to, &source, &target, hash)
                }
            }
            (None, None)
                if !self.options.dry_run
                    && self.in_flight.get(&source.path) == Some(&hash) =>
            {
                // The source is being fetched (a duplicate met in the same
                // scan): copy it once it is here instead of fetching twice.
                self.in_flight.insert(target.path.clone(), hash);
                let copy = Pending::LocalCopy {
                    source: source.path,
                    local: target,
                    hash,
                };
                self.pending.push_back((copy, 0));
                Ok(())
            }
            (Some(_), None) if is_move => {
                // Changed here, renamed there: the rename brings the other
                // side's version, and this one stays. Neither is lost, but
                // the person sees the message twice and should know why.
                let _ = writeln!(
                    self.log,
                    "WARNING: {} was changed here and renamed to {} on the other side: \
                     both versions are kept; delete the one you do not want",
                    source.path.display(),
                    target.path.display()
                );
                self.fetch(to, target, hash, Placement::New)
            }
            (None, None) if is_move || self.deleted_later(from, commands) => {
                match self.twin_of(from, &source, hash, commands) {
                    Some(twin) => self.move_twin(twin, from, to, target),
                    None => self.fetch(to, target, hash, Placement::New),
                }
            }
            _ => self.fetch(to, target, hash, Placement::New),
        }
    }

    /// Whether the diff deletes `name` too: a COPY and a DELETE of its
    /// source are a move split in two (`--no-move`).
    fn deleted_later(&mut self, name: &[u8], commands: &[DiffLine]) -> bool {
        let deleted = self.deleted.get_or_insert_with(|| {
            commands
                .iter()
                .filter_map(|command| match command {
                    DiffLine::Delete { name, .. } => Some(name.clone()),
                    _ => None,
                })
                .collect()
        });
        deleted.contains(name)
    }

    /// The copy of the message `name` that this side renamed since the last
    /// sync, if there is exactly one (see [`twin`]).
    fn twin_of(
        &mut self,
        name: &[u8],
        local: &Local,
        hash: MessageHash,
        commands: &[DiffLine],
    ) -> Option<Twin> {
        // Other folders can be searched only where local names are the
        // server's.
        let names_are_the_servers =
            self.translator.is_identity() && !self.options.local_sync;
        let lookup = Lookup {
            remote_name: name,
            local_path: &local.path,
            hash,
            whole_mailbox: names_are_the_servers
                .then_some((self.options.home.as_path(), self.roots.as_slice())),
        };
        match self.twins.find(&lookup, &self.db, commands) {
            Ok(found) => found,
            Err(error) => {
                // Without the db-file a twin cannot be told from a message
                // the server knows: fetch, as if there were none.
                let _ = writeln!(
                    self.log,
                    "INFO: not looking for a renamed copy of {}: unable to read {}: {error}",
                    local.path.display(),
                    self.db.display()
                );
                None
            }
        }
    }

    /// Moves the local copy of a message renamed on both sides to the
    /// server's new name, with the flags changed on either side.
    fn move_twin(&mut self, twin: Twin, from: &[u8], to: &[u8], target: Local) -> Step {
        let (target_folder, target_name) = split_after_folder(to);
        let (source_folder, source_name) = split_after_folder(from);
        let merged = merged_name(source_name, target_name, &twin.file_name);

        // Moved to another folder here, and only renamed there: the folder
        // chosen here stays (in the target's cur/ or new/).
        let folder = match &twin.moved_to {
            Some(here) if maildir_of(target_folder) == maildir_of(source_folder) => {
                let (maildir_here, _) = split_after_folder(here);
                let sub = &target_folder[maildir_of(target_folder).len()..];
                [maildir_here, sub].concat()
            }
            _ => target_folder.to_vec(),
        };

        let mut destination = target;
        if merged != target_name || folder != target_folder {
            let remote = [&folder, &merged[..]].concat();
            if !self.twins.is_known(&remote) {
                let local = self.local(&remote)?;
                if fs::symlink_metadata(&local.path).is_err() {
                    destination = local;
                }
            }
        }

        let moving = if self.options.dry_run {
            "it would be moved"
        } else {
            "moving it"
        };
        let _ = writeln!(
            self.log,
            "INFO: {} was renamed on both sides; {moving} to {}",
            twin.path.display(),
            destination.path.display()
        );
        self.local_rename(&twin.path, &destination.path)
    }

    /// The error for a local file in the way, with what to do about it.
    fn conflict(
        &self,
        context: &'static str,
        local: &Local,
        why: &str,
        inverse: bool,
    ) -> Failure {
        let aside = maildir::free_aside_path(&local.path);
        let mut tags =
            Tags::new(context, "concurrent-mailbox-edit", true).with(Action::MoveAside {
                from: local.path.clone(),
                to: aside,
            });
        if inverse {
            tags = tags.with(Action::InverseCommand);
        }
        let inverse_hint = if inverse {
            ", or run the sync in the other direction to keep your version"
        } else {
            ""
        };
        Failure::new(
            format!(
                "unable to update {}: {why}. Move it aside (to a new name) and \
                 synchronize again{inverse_hint}",
                local.path.display()
            ),
            tags,
        )
    }

    /// Which of a REPLACEHEADER's two readings names a message here: the
    /// decoded name (our servers encode it), unless only the name as
    /// written exists (smd 1.3 servers write it raw, so a `%41` in it may be
    /// part of the name).
    fn replaced_name<'n>(
        &mut self,
        decoded: &'n [u8],
        as_written: Option<&'n [u8]>,
    ) -> Step<&'n [u8]> {
        let Some(raw) = as_written else {
            return Ok(decoded);
        };
        // A translator may refuse the raw reading: then it is not here.
        if !self.is_here(decoded)? && self.is_here(raw).unwrap_or(false) {
            Ok(raw)
        } else {
            Ok(decoded)
        }
    }

    /// Whether a remote message name exists here, creating nothing.
    fn is_here(&mut self, name: &[u8]) -> Step<bool> {
        let path = self.local_path(name)?;
        Ok(fs::symlink_metadata(path).is_ok())
    }

    /// Where a remote message name lives here (its folder translated),
    /// creating nothing.
    fn local_path(&mut self, name: &[u8]) -> Step<PathBuf> {
        let (folder, file_name) = split_after_folder(name);
        let folder = folder.strip_suffix(b"/").unwrap_or(folder);
        let local_folder = self
            .translator
            .translate(folder)
            .map_err(|failure| (ClientExit::Failed, failure))?;
        Ok(self
            .options
            .home
            .join(as_path(&local_folder))
            .join(as_path(file_name)))
    }

    /// Resolves a remote message name to its local path, creating its
    /// folder (with its `cur`, `new` and `tmp` siblings) on first use.
    fn local(&mut self, name: &[u8]) -> Step<Local> {
        let failed = |failure| (ClientExit::Failed, failure);
        let path = self.local_path(name)?;
        let (_, file_name) = split_after_folder(name);
        let parent = path.parent().expect("a message has a folder").to_owned();
        let tmp_dir = tmp_dir_of(&path);

        let folder_at_start = match self.folders.get(&parent) {
            Some(known) => *known,
            None => self.first_meeting(&parent, &tmp_dir).map_err(failed)?,
        };
        Ok(Local {
            path,
            tmp_dir,
            file_name: file_name.to_vec(),
            folder_was_empty: folder_at_start == FolderAtStart::Empty,
        })
    }

    /// Notes what a folder holds before the run changes it, and creates it
    /// (with its `cur`, `new` and `tmp` siblings) if it is missing.
    ///
    /// An empty folder spares a lookup per message placed in it, the bulk
    /// of a first sync: nothing can be in the way there (and should
    /// something appear meanwhile, the rename into place refuses to
    /// replace it). The `tmp/` listing finds what a killed run left.
    fn first_meeting(
        &mut self,
        folder: &Path,
        tmp_dir: &Path,
    ) -> Result<FolderAtStart, Failure> {
        let at_start = match fs::read_dir(folder).map(|mut entries| entries.next()) {
            Ok(None) => FolderAtStart::Empty,
            Err(error) if error.kind() == io::ErrorKind::NotFound => FolderAtStart::Empty,
            _ => FolderAtStart::Unknown,
        };
        self.folders.insert(folder.to_owned(), at_start);

        if !self.tmp_leftovers.contains_key(tmp_dir) {
            let names = fs::read_dir(tmp_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.file_name().into_vec())
                .collect();
            self.tmp_leftovers.insert(tmp_dir.to_owned(), names);
        }

        if !self.options.dry_run {
            let maildir = folder.parent().unwrap_or(folder);
            for sub in ["cur", "new", "tmp"] {
                let dir = maildir.join(sub);
                if dir.is_dir() {
                    continue;
                }
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o770)
                    .create(&dir)
                    .map_err(|error| {
                        Failure::new(
                            format!(
                                "unable to create the folder {}: {error}",
                                dir.display()
                            ),
                            Tags::write_error("mkdir", "wrong-permissions", &error, &dir),
                        )
                    })?;
                self.stager.touched(&dir);
            }
        }
        Ok(at_start)
    }

    /// The message at a command's target: skips the lookup in a folder
    /// that was empty.
    fn target_state(&self, target: &Local) -> Result<Option<MessageHash>, Failure> {
        if target.folder_was_empty {
            return Ok(None);
        }
        current_state(&target.path)
    }

    fn delete(&mut self, local: &Local) -> Step {
        if !self.options.dry_run {
            fs::remove_file(&local.path).map_err(|error| {
                let failure = Failure::new(
                    format!(
                        "unable to delete {}: {error}; check the folder's permissions",
                        local.path.display()
                    ),
                    Tags::new("delete-message", "bad-directory-permission", true)
                        .with(Action::DisplayPermissions(local.path.clone())),
                );
                (ClientExit::CommandFailed, failure)
            })?;
            self.stager.touched(&local.path);
        }
        self.stats.deleted_mails += 1;
        Ok(())
    }

    fn local_rename(&mut self, source: &Path, target: &Path) -> Step {
        if self.options.dry_run {
            return Ok(());
        }
        rename_no_replace(source, target).map_err(|error| {
            let failure = Failure::new(
                format!(
                    "unable to move {} to {}: {error}; check the folder's permissions",
                    source.display(),
                    target.display()
                ),
                Tags::write_error(
                    "move-message",
                    "bad-directory-permission",
                    &error,
                    target.parent().unwrap_or(target),
                ),
            );
            (ClientExit::CommandFailed, failure)
        })?;
        self.stager.touched(source);
        self.stager.touched(target);
        Ok(())
    }

    /// Copies a local message through `tmp/`, checking what was copied.
    fn local_copy(
        &mut self,
        name: &[u8],
        source: &Local,
        target: &Local,
        hash: MessageHash,
    ) -> Step {
        if self.options.dry_run {
            return Ok(());
        }
        let failed = |failure| (ClientExit::CommandFailed, failure);
        let (mut out, tmp) =
            self.stager
                .create_tmp(&target.tmp_dir, &target.file_name)
                .map_err(|error| failed(write_failed(&target.tmp_dir, error)))?;
        let mut input = open_noatime(&source.path)
            .map_err(|e| failed(unreadable(&source.path, e)))?;
        let mut hasher = MessageHasher::new();
        let copied = copy_hashing(&mut input, &mut out, &mut hasher, &mut self.buffer);
        if let Err(error) = copied {
            let _ = fs::remove_file(&tmp);
            return Err(failed(write_failed(&tmp, error)));
        }
        let hashed = hasher.finish();
        if hashed.hash != hash {
            // The source changed since it was checked: fetch instead.
            let _ = fs::remove_file(&tmp);
            return self.fetch(name, target.clone(), hash, Placement::New);
        }
        self.stager
            .stage(tmp, target.path.clone(), hash, Placement::New, hashed.len)
            .map_err(failed)
    }

    /// Asks for a whole message.
    fn fetch(
        &mut self,
        name: &[u8],
        local: Local,
        hash: MessageHash,
        placement: Placement,
    ) -> Step {
        if self.options.dry_run {
            self.stats.new_mails += 1;
            self.would_fetch.push(name.to_vec());
            return Ok(());
        }

        // A run killed after receiving this message, but before putting it
        // in place, left it complete in tmp/: use it instead of fetching it
        // again (its digests prove it is the right one).
        if let Some(found) = self.claim_leftover(&local, hash) {
            return self
                .stager
                .stage(found.path, local.path, hash, placement, found.len)
                .map_err(|f| (ClientExit::FetchFailed, f));
        }

        self.in_flight.insert(local.path.clone(), hash);
        self.request(
            b"GET ",
            name,
            Pending::Message {
                local,
                hash,
                placement,
            },
        )
    }

    /// The complete copy of the message `hash` that a killed run left in
    /// `tmp/` for `local`, if any. Each is handed out once: `cur/X` and
    /// `new/X` share `tmp/X`.
    fn claim_leftover(&mut self, local: &Local, hash: MessageHash) -> Option<Leftover> {
        let listed = self.tmp_leftovers.get_mut(&local.tmp_dir)?;
        if !listed.contains(&local.file_name) {
            return None;
        }
        let path = local.tmp_dir.join(as_path(&local.file_name));
        if current_state(&path).ok()?? != hash {
            return None;
        }
        let len = fs::metadata(&path).ok()?.len();
        listed.remove(&local.file_name);
        Some(Leftover { path, len })
    }

    /// Asks for the header of `name`, to put on `body`.
    fn fetch_header(
        &mut self,
        name: &[u8],
        body: Body,
        local: Local,
        hash: MessageHash,
        placement: Placement,
    ) -> Step {
        let pending = Pending::Header {
            name: name.to_vec(),
            body,
            local,
            hash,
            placement,
        };
        self.request(b"GETHEADER ", name, pending)
    }

    fn request(&mut self, verb: &[u8], name: &[u8], pending: Pending) -> Step {
        let line_len = verb.len() + name.len() + 1;
        while !self.pending.is_empty()
            && (self.pending.len() >= MAX_OUTSTANDING
                || self.outstanding_bytes + line_len > MAX_OUTSTANDING_BYTES)
        {
            self.receive_one()?;
        }

        let mut line = Vec::with_capacity(line_len);
        line.extend_from_slice(verb);
        line.extend_from_slice(name);
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|error| network(&error.into()))?;
        self.pending.push_back((pending, line_len));
        self.outstanding_bytes += line_len;
        Ok(())
    }

    fn drain(&mut self) -> Step {
        while !self.pending.is_empty() {
            self.receive_one()?;
        }
        Ok(())
    }

    /// Reads the answer to the oldest request and acts on it.
    fn receive_one(&mut self) -> Step {
        stop_requested()?;
        self.writer
            .flush()
            .map_err(|error| network(&error.into()))?;
        let (pending, line_len) =
            self.pending.pop_front().expect("a request is outstanding");
        self.outstanding_bytes -= line_len;

        match pending {
            Pending::LocalCopy {
                source,
                local,
                hash,
            } => self.copy_fetched(&source, local, hash),
            Pending::Message {
                local,
                hash,
                placement,
            } => {
                let len = wire::read_chunk_header(self.reader, MAX_MESSAGE)
                    .map_err(|e| network(&e))?;
                let failed = |failure| (ClientExit::FetchFailed, failure);
                let (mut out, tmp) = self
                    .stager
                    .create_tmp(&local.tmp_dir, &local.file_name)
                    .map_err(|error| failed(write_failed(&local.tmp_dir, error)))?;
                let mut hasher = MessageHasher::new();
                let mut tee = Tee {
                    out: &mut out,
                    hasher: &mut hasher,
                };
                if let Err(error) = wire::copy_chunk(self.reader, len, &mut tee) {
                    let _ = fs::remove_file(&tmp);
                    return Err(match error {
                        WireError::Io(error)
                            if error.kind() != io::ErrorKind::BrokenPipe =>
                        {
                            failed(write_failed(&tmp, error))
                        }
                        other => network(&other),
                    });
                }
                if hasher.finish().hash != hash {
                    let _ = fs::remove_file(&tmp);
                    return Err(failed(Failure::new(
                        format!(
                            "the other side sent a different message for {}: it probably \
                             changed during the sync, please retry",
                            local.path.display()
                        ),
                        Tags::retry("receive", "modify-while-update"),
                    )));
                }
                self.stats.new_mails += 1;
                self.stats.bytes_received += len;
                self.stager
                    .stage(tmp, local.path, hash, placement, len)
                    .map_err(failed)
            }
            Pending::Header {
                name,
                mut body,
                local,
                hash,
                placement,
            } => {
                let header =
                    wire::read_chunk(self.reader, MAX_HEADER).map_err(|e| network(&e))?;
                let failed = |failure| (ClientExit::CommandFailed, failure);
                if Sha::of(&header) != hash.header {
                    // smd 1.3's server cuts headers at the first empty line,
                    // which differs for a message that starts with one: ask
                    // for the whole message instead (and if that differs
                    // too, the message changed and the run is retried).
                    return self.fetch_now(&name, local, hash, placement);
                }
                if self.options.dry_run {
                    return Ok(());
                }
                self.splice(&header, &mut body, &local, hash, placement)
                    .map_err(failed)
            }
        }
    }

    /// Asks for a whole message from inside `receive_one`, where waiting for
    /// a free request slot is not possible: the line goes out at once.
    fn fetch_now(
        &mut self,
        name: &[u8],
        local: Local,
        hash: MessageHash,
        placement: Placement,
    ) -> Step {
        if self.options.dry_run {
            self.stats.new_mails += 1;
            self.would_fetch.push(name.to_vec());
            return Ok(());
        }
        let mut line = b"GET ".to_vec();
        line.extend_from_slice(name);
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|error| network(&error.into()))?;
        self.outstanding_bytes += line.len();
        self.pending.push_back((
            Pending::Message {
                local,
                hash,
                placement,
            },
            line.len(),
        ));
        Ok(())
    }

    /// Makes a copy whose source was still on its way when the copy was
    /// met: from the staged file, or from its final name once placed.
    fn copy_fetched(&mut self, source: &Path, local: Local, hash: MessageHash) -> Step {
        let failed = |failure| (ClientExit::FetchFailed, failure);
        let from = self.stager.staged_file(source).map_err(failed)?;
        let (mut out, tmp) = self
            .stager
            .create_tmp(&local.tmp_dir, &local.file_name)
            .map_err(|error| failed(write_failed(&local.tmp_dir, error)))?;
        let mut hasher = MessageHasher::new();
        let copied = open_noatime(&from).and_then(|mut input| {
            copy_hashing(&mut input, &mut out, &mut hasher, &mut self.buffer)
        });
        let hashed = hasher.finish();
        if copied.is_err() || hashed.hash != hash {
            let _ = fs::remove_file(&tmp);
            return Err(failed(Failure::new(
                format!("{} changed during the sync; please retry", source.display()),
                Tags::retry("copy-message", "modify-while-update"),
            )));
        }
        self.stager
            .stage(tmp, local.path, hash, Placement::New, hashed.len)
            .map_err(failed)
    }

    /// Writes `header` followed by `body` to `tmp/`, checks the result byte
    /// for byte against `hash`, and stages it.
    fn splice(
        &mut self,
        header: &[u8],
        body: &mut Body,
        local: &Local,
        hash: MessageHash,
        placement: Placement,
    ) -> Result<(), Failure> {
        let source = body.path().to_owned();
        let source = source.as_path();
        let mut input = body.open().map_err(|e| unreadable(source, e))?;
        let body_start = header_length(&mut input, &mut self.buffer)
            .map_err(|e| unreadable(source, e))?;
        input
            .seek(io::SeekFrom::Start(body_start))
            .map_err(|e| unreadable(source, e))?;

        let (mut out, tmp) = self
            .stager
            .create_tmp(&local.tmp_dir, &local.file_name)
            .map_err(|e| write_failed(&local.tmp_dir, e))?;
        let mut hasher = MessageHasher::new();
        let written = out.write_all(header).and_then(|()| {
            hasher.update(header);
            copy_hashing(&mut input, &mut out, &mut hasher, &mut self.buffer)
        });
        if let Err(error) = written {
            let _ = fs::remove_file(&tmp);
            return Err(write_failed(&tmp, error));
        }
        let hashed = hasher.finish();
        if hashed.hash != hash {
            let _ = fs::remove_file(&tmp);
            return Err(Failure::new(
                format!("{} changed during the sync; please retry", source.display()),
                Tags::retry("header-replacement", "modify-while-update"),
            ));
        }
        self.stager
            .stage(tmp, local.path.clone(), hash, placement, hashed.len)
    }

    /// Copies a local message, for a splice that happens later. `None` when
    /// it cannot be read (then the whole message is fetched instead).
    fn snapshot(&mut self, source: &Local, target: &Local) -> Option<Body> {
        if self.options.dry_run {
            return Some(Body::InPlace(source.path.clone()));
        }
        let mut input = open_noatime(&source.path).ok()?;
        let mut name = target.file_name.clone();
        name.extend_from_slice(b".body");
        let (mut file, copy) = self.stager.create_tmp(&target.tmp_dir, &name).ok()?;
        let _ = fs::remove_file(&copy);
        io::copy(&mut input, &mut file).ok()?;
        Some(Body::Copy {
            file,
            of: source.path.clone(),
        })
    }

    /// After a failure: collect the answers already on their way (so what
    /// was fetched is kept), put staged files in place, and tell the server.
    fn stop(&mut self, (exit, failure): (ClientExit, Failure)) -> (ClientExit, Failure) {
        let stream_is_healthy = !matches!(
            failure.tags.cause,
            "network" | "protocol-error" | "interrupted"
        );
        if stream_is_healthy {
            while !self.pending.is_empty() {
                if self.receive_one().is_err() {
                    break;
                }
            }
        }
        let _ = self.stager.commit();
        self.abort();
        (exit, failure)
    }

    fn abort(&mut self) {
        let _ = self
            .writer
            .write_all(b"ABORT\n")
            .and_then(|()| self.writer.flush());
    }

    /// COMMIT, receive the db delta, rebuild the server's db, DONE.
    fn agree(&mut self, paths: &DbPaths) -> Step {
        let send = |writer: &mut W, text: &[u8]| {
            writer
                .write_all(text)
                .and_then(|()| writer.flush())
                .map_err(|e| network(&e.into()))
        };
        send(self.writer, b"COMMIT\n")?;
        let delta = wire::read_chunk(self.reader, MAX_DELTA).map_err(|e| network(&e))?;
        self.stats.delta_received = delta.len() as u64;

        if !self.options.dry_run && !self.options.local_sync {
            let rebuilt = super::read_db(&paths.db)
                .map_err(|error| error.to_string())
                .and_then(|old| {
                    // Each diff line adds at most one db line, no longer
                    // than twice the diff line: a bound a hostile delta
                    // cannot inflate.
                    let limit = old.len() + 2 * self.diff_bytes + 4096;
                    let new = super::apply_delta(&old, &delta, limit)?;
                    Ok((new != old).then_some(new))
                });
            let new_db = match rebuilt {
                // The same db (nothing changed): nothing to write.
                Ok(None) => return send(self.writer, b"DONE\n"),
                Ok(Some(new_db)) => new_db,
                Err(error) => {
                    self.abort();
                    let failure = Failure::new(
                        format!("unable to apply the db delta: {error}; please retry"),
                        Tags::retry("xdelta", "network"),
                    );
                    return Err((ClientExit::DeltaFailed, failure));
                }
            };
            let saved =
                durable::replace_file(&paths.new_db(), |out| out.write_all(&new_db))
                    .and_then(|()| fs::rename(paths.new_db(), &paths.db))
                    .and_then(|()| durable::sync_parent(&paths.db));
            if let Err(error) = saved {
                self.abort();
                let failure = Failure::new(
                    format!("unable to save the db-file {}: {error}", paths.db.display()),
                    Tags::write_error("rename", "bad-permissions", &error, &paths.db),
                );
                return Err((ClientExit::DbRenameFailed, failure));
            }
        }
        send(self.writer, b"DONE\n")
    }

    fn write_rename_script(&mut self, commands: &[DiffLine]) -> Step {
        let failed = |failure| (ClientExit::Failed, failure);
        let renames = renamings(commands);
        let mut script = b"#!/bin/sh\n\n".to_vec();
        for (copy, from, to) in renames {
            let from = self.local(&from).map_err(|(_, f)| f).map_err(failed)?;
            let to = self.local(&to).map_err(|(_, f)| f).map_err(failed)?;
            script.extend_from_slice(if copy { b"cp -n " } else { b"mv -n " });
            script.extend_from_slice(&shell_quote(
                from.path.as_os_str().as_encoded_bytes(),
            ));
            script.push(b' ');
            script
                .extend_from_slice(&shell_quote(to.path.as_os_str().as_encoded_bytes()));
            script.push(b'\n');
        }
        let path = self.options.home.join("smd-rename.sh");
        durable::replace_file(&path, |out| out.write_all(&script))
            .map_err(|error| failed(write_failed(&path, error)))?;
        let _ = writeln!(self.log, "INFO: Please check and run: {}", path.display());
        Ok(())
    }
}

/// Applies the deletion guard: DELETEs of messages that are not moved
/// elsewhere (a `--no-move` server sends a move as COPY plus DELETE),
/// against the messages the local db knows.
fn guard_deletions(
    commands: &[DiffLine],
    paths: &DbPaths,
    percent: Option<u32>,
) -> Result<(), MassDeletion> {
    if percent.is_none() {
        return Ok(());
    }
    let copied_from: HashSet<&[u8]> = commands
        .iter()
        .filter_map(|c| match c {
            DiffLine::Copy { from, .. } => Some(from.as_slice()),
            _ => None,
        })
        .collect();
    let deletions = commands
        .iter()
        .filter(|c| matches!(c, DiffLine::Delete { name, .. } if !copied_from.contains(name.as_slice())))
        .count();
    let known =
        fs::read(&paths.db).map_or(0, |db| db.iter().filter(|&&b| b == b'\n').count());
    MassDeletion::check(deletions, known, percent)
}

const EMPTY: MessageHash = MessageHash {
    header: Sha::EMPTY,
    body: Sha::EMPTY,
};

/// The failure for an `ERROR` line in the diff.
fn other_side_scan_failed(text: &str) -> (ClientExit, Failure) {
    let cause = scan_failure_cause(text);
    // As smd 1.3 says it: a folder that vanished may be back.
    let human = cause != "directory-disappeared";
    let failure = Failure::new(
        format!("the other side failed to scan its mailbox: {text}"),
        Tags::new("mddiff", cause, human),
    );
    (ClientExit::CommandFailed, failure)
}

/// The probable cause of the other side's scan failing, from the text of
/// its `ERROR` line (smd 1.3's words, or ours). No action goes with it:
/// the paths are on the other side.
fn scan_failure_cause(text: &str) -> &'static str {
    if text.starts_with("this run would delete") {
        "mass-deletion"
    } else if text.contains("No space left on device")
        || text.contains("Disk quota exceeded")
    {
        "disk-full"
    } else if !text.starts_with("Unable to open directory") {
        "unknown"
    } else if text.contains("Permission denied") {
        "bad-directory-permission"
    } else {
        "directory-disappeared"
    }
}

/// The Maildir folder of a `.../cur/` or `.../new/` folder, with its `/`.
fn maildir_of(folder: &[u8]) -> &[u8] {
    let trimmed = folder.strip_suffix(b"/").unwrap_or(folder);
    split_after_folder(trimmed).0
}

/// A checked message name split after its folder's `/`.
fn split_after_folder(name: &[u8]) -> (&[u8], &[u8]) {
    let slash = name
        .iter()
        .rposition(|&b| b == b'/')
        .expect("checked names have a folder");
    name.split_at(slash + 1)
}

/// A twin as a command's target (it may be in another folder than the
/// server's name, when it was moved here).
fn twin_local(twin: Twin) -> Local {
    Local {
        tmp_dir: tmp_dir_of(&twin.path),
        path: twin.path,
        file_name: twin.file_name,
        folder_was_empty: false,
    }
}

/// The `tmp/` folder of the Maildir folder holding the message at `path`.
fn tmp_dir_of(path: &Path) -> PathBuf {
    let folder = path.parent().expect("a message has a folder");
    folder
        .parent()
        .map_or_else(|| folder.join("tmp"), |maildir| maildir.join("tmp"))
}

/// Fails once a stop was asked for (by a signal, see `interrupt`); the
/// run then ends as after a dropped connection, keeping what it received.
fn stop_requested() -> Step {
    match interrupt::requested() {
        None => Ok(()),
        Some(signal) => Err((ClientExit::FetchFailed, interrupt::stopped(signal))),
    }
}

/// A broken connection or a protocol violation: smd-client's "other
/// failure" exit, like an smd 1.3 client.
fn network(error: &WireError) -> (ClientExit, Failure) {
    (ClientExit::Failed, Failure::network("receive", error))
}

/// The COPY+DELETE pairs of a diff that are renames within one folder, as
/// (copy instead of move, source, target); extra copies of one source come
/// first, so that the final move does not take the file away from them.
fn renamings(commands: &[DiffLine]) -> Vec<(bool, Vec<u8>, Vec<u8>)> {
    let deleted: HashSet<&[u8]> = commands
        .iter()
        .filter_map(|c| match c {
            DiffLine::Delete { name, .. } => Some(name.as_slice()),
            _ => None,
        })
        .collect();
    let folder = |name: &[u8]| {
        name.iter()
            .rposition(|&b| b == b'/')
            .map(|at| name[..at].to_vec())
    };

    let mut moved: HashSet<Vec<u8>> = HashSet::new();
    let mut copies = Vec::new();
    let mut moves = Vec::new();
    for command in commands {
        let DiffLine::Copy { from, to, .. } = command else {
            continue;
        };
        if !deleted.contains(from.as_slice()) || folder(from) != folder(to) {
            continue;
        }
        if moved.insert(from.clone()) {
            moves.push((false, from.clone(), to.clone()));
        } else {
            copies.push((true, from.clone(), to.clone()));
        }
    }
    copies.extend(moves);
    copies
}

/// Quotes bytes for `sh` with single quotes.
fn shell_quote(text: &[u8]) -> Vec<u8> {
    let mut quoted = vec![b'\''];
    for &byte in text {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// Feeds what is written to a file and to a hasher at once.
struct Tee<'a, W: Write> {
    out: &'a mut W,
    hasher: &'a mut MessageHasher,
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.out.write(data)?;
        self.hasher.update(&data[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn copy_hashing(
    input: &mut impl Read,
    out: &mut impl Write,
    hasher: &mut MessageHasher,
    buffer: &mut [u8],
) -> io::Result<()> {
    loop {
        let read = match input.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        out.write_all(&buffer[..read])?;
        hasher.update(&buffer[..read]);
    }
}

/// The length of a file's header: through the first `\n\n`, or all of it.
fn header_length(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<u64> {
    let mut offset = 0u64;
    let mut after_newline = false;
    loop {
        let read = input.read(buffer)?;
        if read == 0 {
            return Ok(offset);
        }
        let piece = &buffer[..read];
        if after_newline && piece[0] == b'\n' {
            return Ok(offset + 1);
        }
        if let Some(at) = piece.windows(2).position(|w| w == b"\n\n") {
            return Ok(offset + at as u64 + 2);
        }
        after_newline = piece[read - 1] == b'\n';
        offset += read as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_across_reads() {
        let message = b"A: b\nC: d\n\nbody";
        for size in 1..8 {
            let mut buffer = vec![0u8; size];
            assert_eq!(header_length(&mut &message[..], &mut buffer).unwrap(), 11);
        }
        assert_eq!(
            header_length(&mut &b"no blank line"[..], &mut [0u8; 4]).unwrap(),
            13
        );
    }

    #[test]
    fn renamings_pair_copies_with_deletes_in_one_folder() {
        let hash = EMPTY;
        let copy = |from: &str, to: &str| DiffLine::Copy {
            from: from.as_bytes().to_vec(),
            hash,
            to: to.as_bytes().to_vec(),
        };
        let delete = |name: &str| DiffLine::Delete {
            name: name.as_bytes().to_vec(),
            hash,
        };
        let commands = vec![
            copy("M/cur/a", "M/cur/a2"),
            copy("M/cur/a", "M/cur/a3"),
            copy("M/cur/b", "M/new/b"),
            copy("M/cur/c", "M/cur/c2"),
            delete("M/cur/a"),
            delete("M/cur/b"),
        ];
        let renames = renamings(&commands);
        assert_eq!(
            renames,
            vec![
                (true, b"M/cur/a".to_vec(), b"M/cur/a3".to_vec()),
                (false, b"M/cur/a".to_vec(), b"M/cur/a2".to_vec()),
            ]
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote(b"it's"), b"'it'\\''s'");
    }
}
