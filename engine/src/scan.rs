//! A whole mddiff run: load the db, walk the mailboxes, examine every
//! file, compute the diff and save the new db beside the old one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::db::{self, Db, DbError};
use crate::diff::{self, Command, DiffOptions, NameIndex, Skipped};
use crate::examine::{examine_all, stat_while_walking};
use crate::fnmatch::fnmatch;
use crate::walk::{WalkError, WalkWarning, Walker};

/// What to scan and how.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The folder that names (roots, db entries) are relative to.
    pub base: PathBuf,
    /// Mailbox roots, decoded, relative to the current folder.
    pub roots: Vec<Vec<u8>>,
    /// Exclude patterns, decoded.
    pub excludes: Vec<Vec<u8>>,
    /// The db-file; the new one is written to `<db>.new` and the scan
    /// start time to `<db>.mtime.new`.
    pub db_file: PathBuf,
    pub options: DiffOptions,
    pub saving: DbSaving,
}

/// When a scan writes the new db, `<db>.new`, and its start time,
/// `<db>.mtime.new`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DbSaving {
    /// Always: what mddiff's callers expect.
    #[default]
    Always,
    /// Only the start time when the new db would list exactly the old
    /// db's entries: the old db stays the current one. Rewriting and
    /// flushing a db of a million lines to say nothing changed would cost
    /// more than the rest of such a run.
    WhenChanged,
    /// Never: a dry run.
    Never,
}

/// What a scan found besides the commands.
pub struct ScanSummary {
    pub messages: usize,
    pub commands: usize,
    pub walk_warnings: Vec<WalkWarning>,
    pub skipped: Vec<Skipped>,
    /// Whether `<db>.new` was written (or, in a dry run, would have been).
    pub db_changed: bool,
}

/// Why a scan failed. Nothing was written when it does.
#[derive(Debug)]
pub enum ScanError {
    Db(DbError),
    Walk(WalkError),
    SaveDb {
        path: PathBuf,
        source: std::io::Error,
    },
    MassDeletion(diff::MassDeletion),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Db(error) => error.fmt(f),
            ScanError::Walk(error) => error.fmt(f),
            ScanError::MassDeletion(refusal) => refusal.fmt(f),
            ScanError::SaveDb { path, source } => {
                write!(f, "unable to save db file '{}': {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ScanError {}

impl From<DbError> for ScanError {
    fn from(error: DbError) -> Self {
        ScanError::Db(error)
    }
}

impl From<WalkError> for ScanError {
    fn from(error: WalkError) -> Self {
        ScanError::Walk(error)
    }
}

/// Runs a scan, handing each command to `emit` (DELETEs last). Commands are
/// only emitted once the whole scan succeeded.
pub fn scan(
    request: &ScanRequest,
    emit: &mut dyn FnMut(Command<'_>),
) -> Result<ScanSummary, ScanError> {
    // One second earlier than now: file times come from the kernel's
    // coarse clock, which may still show the previous second for a few
    // milliseconds, and a change made right after the scan started must
    // not look older than it.
    let started_at = unix_now() - 1;

    // The db is read while the folders are walked, and files are stat'ed
    // as soon as their folder is listed: a rescan is mostly waiting on
    // the kernel, and this keeps every core at it.
    let walker = Walker {
        base: &request.base,
        roots: &request.roots,
        excludes: &request.excludes,
    };
    let mut walk_warnings = Vec::new();
    let (loaded, (walked, statuses)) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| -> Result<(Db, i64), DbError> {
            let db = Db::load(&request.db_file)?;
            let last_scan = db::load_mtime(&db::with_suffix(&request.db_file, ".mtime"))?;
            Ok((db, last_scan))
        });
        let walked = stat_while_walking(&request.base, |listed| {
            walker.messages_with(&mut walk_warnings, listed)
        });
        (
            loading.join().expect("loading the db does not panic"),
            walked,
        )
    });
    let (old_db, last_scan) = loaded?;
    let files = walked?;
    let names = NameIndex::new();

    // A symlinked folder that cannot be reached is an error when the db
    // knew messages below it (an unmounted disk, say): otherwise they
    // would all look deleted.
    for warning in &walk_warnings {
        if let WalkWarning::BrokenSymlink { path } = warning {
            let mut below = path.clone();
            below.push(b'/');
            if names.has_prefix(&old_db, &below) {
                return Err(ScanError::Walk(WalkError::FolderUnreadable {
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the symlinked folder cannot be reached",
                    ),
                }));
            }
        }
    }

    let known = names.known_entries(&old_db, &files);
    let examined = examine_all(
        &request.base,
        &files,
        statuses,
        &|index| known[index].is_some(),
        last_scan,
    );

    let mut commands = 0;
    let repeated = names.repeated(&old_db, &known);
    let excluded = excluded_entries(&old_db, &known, &request.excludes);
    let outcome = diff::diff(
        &old_db,
        &files,
        &known,
        &repeated,
        &excluded,
        &examined,
        request.options,
        &mut |c| {
            commands += 1;
            emit(c)
        },
    )
    .map_err(ScanError::MassDeletion)?;

    let db_changed = !outcome.db.lists_the_old_db();
    match request.saving {
        DbSaving::Always => save(&request.db_file, Some(&outcome.db), started_at)?,
        DbSaving::WhenChanged if db_changed => {
            save(&request.db_file, Some(&outcome.db), started_at)?
        }
        DbSaving::WhenChanged => save(&request.db_file, None, started_at)?,
        DbSaving::Never => {}
    }

    Ok(ScanSummary {
        messages: files.len(),
        commands,
        walk_warnings,
        skipped: outcome.skipped,
        db_changed,
    })
}

/// The db entries no file matched that lie below an excluded folder.
fn excluded_entries(db: &Db, known: &[Option<u32>], excludes: &[Vec<u8>]) -> Vec<u32> {
    if excludes.is_empty() {
        return Vec::new();
    }
    let mut matched = vec![false; db.len()];
    for entry in known.iter().flatten() {
        matched[*entry as usize] = true;
    }
    let below_excluded = |name: &[u8]| {
        name.iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .any(|(at, _)| excludes.iter().any(|pattern| fnmatch(pattern, &name[..at])))
    };
    (0..db.len())
        .filter(|&entry| !matched[entry] && below_excluded(db.name(entry)))
        .map(|entry| entry as u32)
        .collect()
}

/// Writes the new db, or with `None` removes a `<db>.new` left by an
/// earlier run (so it cannot be taken for this one's), and the start time.
fn save(
    db_file: &Path,
    new_db: Option<&diff::NewDb<'_>>,
    started_at: i64,
) -> Result<(), ScanError> {
    let db_new = db::with_suffix(db_file, ".new");
    let saved = match new_db {
        Some(new_db) => new_db.save(&db_new),
        None => match std::fs::remove_file(&db_new) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    saved.map_err(|source| ScanError::SaveDb {
        path: db_new,
        source,
    })?;
    let mtime_new = db::with_suffix(db_file, ".mtime.new");
    db::save_mtime(&mtime_new, started_at).map_err(|source| ScanError::SaveDb {
        path: mtime_new,
        source,
    })
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
