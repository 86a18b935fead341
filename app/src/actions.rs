//! What the error window may do about a failure, and doing it safely.
//!
//! The engine suggests actions as typed values, but their paths come from
//! a run that may have involved a hostile or confused peer, and a remote
//! failure's paths are the server's. So nothing here trusts a path: every
//! one is checked to lie inside the endpoint's local mailbox roots (after
//! resolving symbolic links on both sides) before it is read or changed,
//! files are changed only when they are plain message files in a `cur` or
//! `new` folder, and nothing is ever run through a shell.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use smd::config::Config;
use smd::maildir;
use smd::tags::{Action, Tags};

use crate::errors::ActionError;

/// Which side reported a failure: only the local side's paths are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

/// The real (symlink-free) folders of an endpoint's local mailboxes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailboxes {
    roots: Vec<PathBuf>,
}

impl Mailboxes {
    /// The roots of `config.mailbox_local` under `home`; roots that do not
    /// exist yet are left out (nothing can be inside them).
    pub fn of(home: &Path, config: &Config) -> Mailboxes {
        let roots = config
            .mailbox_local
            .iter()
            .map(|root| {
                let decoded = smd::url::decode(root.as_bytes());
                home.join(OsString::from_vec(decoded))
            })
            .collect::<Vec<_>>();
        Mailboxes::from_roots(&roots)
    }

    pub fn from_roots(roots: &[PathBuf]) -> Mailboxes {
        Mailboxes {
            roots: roots
                .iter()
                .filter_map(|root| root.canonicalize().ok())
                .collect(),
        }
    }

    /// Checks that `path` names something inside a mailbox root, and
    /// returns its real path. Used before reading (permissions).
    pub fn inside(&self, path: &Path) -> Result<PathBuf, ActionError> {
        reject_tricks(path)?;
        let real = path.canonicalize().map_err(|source| ActionError::Io {
            path: path.to_owned(),
            source,
        })?;
        if self.roots.iter().any(|root| real.starts_with(root)) {
            Ok(real)
        } else {
            Err(ActionError::OutsideMailbox(path.to_owned()))
        }
    }

    /// Checks that `path` is a message: a regular file (not a link) in a
    /// `cur` or `new` folder inside a mailbox root. Returns its path with
    /// the folder resolved, the only form later steps use.
    pub fn message(&self, path: &Path) -> Result<PathBuf, ActionError> {
        reject_tricks(path)?;
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(ActionError::NotAMessage(path.to_owned()));
        };
        let real_folder = self.inside(folder)?;
        let in_maildir = real_folder
            .file_name()
            .is_some_and(|f| f == OsStr::new("cur") || f == OsStr::new("new"));
        if !in_maildir {
            return Err(ActionError::NotAMessage(path.to_owned()));
        }
        let real = real_folder.join(name);
        let metadata = fs::symlink_metadata(&real).map_err(|source| ActionError::Io {
            path: path.to_owned(),
            source,
        })?;
        if !metadata.file_type().is_file() {
            return Err(ActionError::NotAMessage(path.to_owned()));
        }
        Ok(real)
    }
}

/// Relative paths and `..` are refused before any lookup: engine paths are
/// always absolute and never need them.
fn reject_tricks(path: &Path) -> Result<(), ActionError> {
    let tricky = !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    if tricky {
        Err(ActionError::OutsideMailbox(path.to_owned()))
    } else {
        Ok(())
    }
}

/// Moves a message aside to a fresh name in its own folder, never
/// replacing a file; it then travels to the other side as a new message.
/// Returns the new path.
pub fn move_aside(mailboxes: &Mailboxes, path: &Path) -> Result<PathBuf, ActionError> {
    let from = mailboxes.message(path)?;
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ActionError::Io { path, source }
    };
    let folder = from
        .parent()
        .ok_or_else(|| ActionError::NotAMessage(path.to_owned()))?;
    let name = from
        .file_name()
        .ok_or_else(|| ActionError::NotAMessage(path.to_owned()))?;

    for attempt in 1..=1000 {
        let to = folder.join(OsStr::from_bytes(&maildir::aside_name(
            name.as_bytes(),
            attempt,
        )));
        // A hard link fails when the name is taken, so no file is ever
        // overwritten, even by a name that appeared a moment ago.
        match fs::hard_link(&from, &to) {
            Ok(()) => {
                fs::remove_file(&from).map_err(io_error(&from))?;
                return Ok(to);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                // A filesystem without hard links: check, then rename.
                match fs::symlink_metadata(&to) {
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        fs::rename(&from, &to).map_err(io_error(&from))?;
                        return Ok(to);
                    }
                    _ => continue,
                }
            }
        }
    }
    Err(ActionError::Io {
        path: from.clone(),
        source: io::Error::new(io::ErrorKind::AlreadyExists, "no free name"),
    })
}

/// Deletes the local copy of a message.
pub fn remove(mailboxes: &Mailboxes, path: &Path) -> Result<(), ActionError> {
    let real = mailboxes.message(path)?;
    fs::remove_file(&real).map_err(|source| ActionError::Io { path: real, source })
}

/// The permissions of a path and of its folder, as `ls -l` shows them,
/// with the owner marked when it is not the person running the applet.
pub fn describe_permissions(
    mailboxes: &Mailboxes,
    path: &Path,
) -> Result<Vec<(PathBuf, String)>, ActionError> {
    let real = mailboxes.inside(path)?;
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let mut lines = Vec::new();
    for shown in [Some(real.as_path()), real.parent()].into_iter().flatten() {
        let metadata = fs::symlink_metadata(shown).map_err(|source| ActionError::Io {
            path: shown.to_owned(),
            source,
        })?;
        let mut text = mode_string(&metadata);
        if me.is_some_and(|uid| uid != metadata.uid()) {
            text.push_str(&format!(" (owner uid {})", metadata.uid()));
        }
        lines.push((shown.to_owned(), text));
    }
    Ok(lines)
}

/// `drwxr-x---` and the like.
pub fn mode_string(metadata: &fs::Metadata) -> String {
    let kind = if metadata.is_dir() {
        'd'
    } else if metadata.file_type().is_symlink() {
        'l'
    } else if metadata.is_file() {
        '-'
    } else {
        '?'
    };
    let mode = metadata.permissions().mode();
    let mut text = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}

/// One thing the error window offers to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Open the folder holding this message in the file manager.
    ShowFile(PathBuf),
    /// Move this message aside to a fresh name.
    MoveAside(PathBuf),
    /// Delete the local copy of this message.
    Remove(PathBuf),
    /// Synchronize in the other direction, so that this side wins.
    InverseSync,
    /// Open the endpoint's settings in the preferences.
    EditEndpoint,
    /// Synchronize again.
    Retry,
}

/// What the error window shows and offers for a failure.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The message to preview, already checked to be a local message.
    pub mail: Option<PathBuf>,
    /// Paths whose permissions to show, checked to be inside a mailbox.
    pub permissions: Vec<PathBuf>,
    pub offers: Vec<Offer>,
    /// Suggestions left out, and why (outside the mailbox, remote path...).
    pub refused: Vec<String>,
}

/// Turns a failure's suggested actions into checked offers.
pub fn plan(tags: &Tags, side: Side, mailboxes: &Mailboxes) -> Plan {
    let mut plan = Plan::default();
    let add = |plan: &mut Plan, offer: Offer| {
        if !plan.offers.contains(&offer) {
            plan.offers.push(offer);
        }
    };

    for action in &tags.actions {
        match (action, side) {
            (Action::Retry, _) => add(&mut plan, Offer::Retry),
            (Action::InverseCommand, _) => add(&mut plan, Offer::InverseSync),
            // The applet never stops another process: the lock is simply
            // tried again later.
            (Action::Kill(_), _) => {}
            (
                Action::DisplayMail(path)
                | Action::Remove(path)
                | Action::DisplayPermissions(path)
                | Action::MoveAside { from: path, .. },
                Side::Remote,
            ) => plan.refused.push(crate::i18n::fill(
                &crate::i18n::gettext(
                    "{path} is on the server: the applet cannot act on it from here.",
                ),
                &[("path", &path.display())],
            )),
            (Action::DisplayPermissions(path), Side::Local) => {
                match mailboxes.inside(path) {
                    Ok(_) => plan.permissions.push(path.clone()),
                    Err(error) => plan.refused.push(error.to_string()),
                }
            }
            (Action::DisplayMail(path), Side::Local) => match mailboxes.message(path) {
                Ok(real) => {
                    plan.mail.get_or_insert(real);
                    add(&mut plan, Offer::ShowFile(path.clone()));
                }
                Err(error) => plan.refused.push(error.to_string()),
            },
            // The engine suggests tmp/ as the target; the applet picks a
            // fresh name in the same folder instead, so the message keeps
            // being synchronized rather than hidden.
            (Action::MoveAside { from, .. }, Side::Local) => {
                match mailboxes.message(from) {
                    Ok(real) => {
                        plan.mail.get_or_insert(real);
                        add(&mut plan, Offer::ShowFile(from.clone()));
                        add(&mut plan, Offer::MoveAside(from.clone()));
                    }
                    Err(error) => plan.refused.push(error.to_string()),
                }
            }
            (Action::Remove(path), Side::Local) => match mailboxes.message(path) {
                Ok(real) => {
                    plan.mail.get_or_insert(real);
                    add(&mut plan, Offer::ShowFile(path.clone()));
                    add(&mut plan, Offer::Remove(path.clone()));
                }
                Err(error) => plan.refused.push(error.to_string()),
            },
        }
    }
    if settings_may_fix(tags) {
        add(&mut plan, Offer::EditEndpoint);
    }
    // Trying again is always possible, and the last button.
    plan.offers.retain(|offer| *offer != Offer::Retry);
    plan.offers.push(Offer::Retry);
    plan
}

/// Whether the endpoint's own settings are a likely fix: its file has a
/// mistake, a translator or mailbox in it is wrong, or the server it names
/// refuses the login or lacks smd (both happen with a wrong SERVERNAME).
/// Host keys and ssh's own configuration are not in the endpoint's file.
pub fn settings_may_fix(tags: &Tags) -> bool {
    tags.context == "config"
        || matches!(
            tags.cause,
            "bad-translator"
                | "translator-not-found"
                | "mailbox-has--absolute-path"
                | "authentication-failed"
                | "remote-program-missing"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Fixture {
        _dir: tempfile::TempDir,
        home: PathBuf,
        mailboxes: Mailboxes,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_owned();
        for folder in ["Mail/cur", "Mail/new", "Mail/tmp", "Other/cur"] {
            fs::create_dir_all(home.join(folder)).unwrap();
        }
        fs::write(home.join("Mail/cur/1.a:2,S"), "Subject: one\n\nbody\n").unwrap();
        fs::write(home.join("Other/cur/secret"), "x").unwrap();
        let mailboxes = Mailboxes::from_roots(&[home.join("Mail")]);
        Fixture {
            _dir: dir,
            home,
            mailboxes,
        }
    }

    #[test]
    fn only_messages_inside_the_mailbox_pass() {
        let f = fixture();
        let message = f.home.join("Mail/cur/1.a:2,S");
        assert!(f.mailboxes.message(&message).is_ok());
        // A `.` inside is no trick: Path drops it.
        assert!(f
            .mailboxes
            .message(&f.home.join("Mail/cur/./1.a:2,S"))
            .is_ok());

        let refused = [
            f.home.join("Other/cur/secret"),
            f.home.join("Mail/cur/../../Other/cur/secret"),
            PathBuf::from("Mail/cur/1.a:2,S"),
        ];
        for path in refused {
            assert!(
                matches!(
                    f.mailboxes.message(&path),
                    Err(ActionError::OutsideMailbox(_))
                ),
                "{path:?}"
            );
        }
        // Not in cur/new, or not a regular file.
        fs::write(f.home.join("Mail/tmp/t"), "x").unwrap();
        assert!(matches!(
            f.mailboxes.message(&f.home.join("Mail/tmp/t")),
            Err(ActionError::NotAMessage(_))
        ));
        assert!(matches!(
            f.mailboxes.message(&f.home.join("Mail/cur")),
            Err(ActionError::NotAMessage(_))
        ));
    }

    #[test]
    fn symlinks_cannot_escape() {
        let f = fixture();
        // A link to a file outside, inside the mailbox.
        symlink(
            f.home.join("Other/cur/secret"),
            f.home.join("Mail/cur/link"),
        )
        .unwrap();
        assert!(matches!(
            f.mailboxes.message(&f.home.join("Mail/cur/link")),
            Err(ActionError::NotAMessage(_))
        ));
        // A linked folder that leads outside.
        symlink(f.home.join("Other"), f.home.join("Mail/escape")).unwrap();
        assert!(matches!(
            f.mailboxes.message(&f.home.join("Mail/escape/cur/secret")),
            Err(ActionError::OutsideMailbox(_))
        ));
        assert!(remove(&f.mailboxes, &f.home.join("Mail/escape/cur/secret")).is_err());
        assert!(f.home.join("Other/cur/secret").exists());

        // A mailbox root that is itself a link is followed.
        symlink(f.home.join("Mail"), f.home.join("Linked")).unwrap();
        let linked = Mailboxes::from_roots(&[f.home.join("Linked")]);
        assert!(linked.message(&f.home.join("Linked/cur/1.a:2,S")).is_ok());
    }

    #[test]
    fn moving_aside_never_overwrites() {
        let f = fixture();
        let message = f.home.join("Mail/cur/1.a:2,S");
        // The first fresh name is taken already.
        fs::write(f.home.join("Mail/cur/1.a.aside1:2,S"), "other").unwrap();

        let moved = move_aside(&f.mailboxes, &message).unwrap();
        assert_eq!(moved.file_name().unwrap(), "1.a.aside2:2,S");
        assert!(!message.exists());
        assert_eq!(
            fs::read_to_string(&moved).unwrap(),
            "Subject: one\n\nbody\n"
        );
        assert_eq!(
            fs::read_to_string(f.home.join("Mail/cur/1.a.aside1:2,S")).unwrap(),
            "other"
        );
        assert!(move_aside(&f.mailboxes, &message).is_err());
    }

    #[test]
    fn removing_a_message() {
        let f = fixture();
        let message = f.home.join("Mail/cur/1.a:2,S");
        remove(&f.mailboxes, &message).unwrap();
        assert!(!message.exists());
        assert!(remove(&f.mailboxes, &message).is_err());
    }

    #[test]
    fn plans_keep_local_checked_actions_only() {
        let f = fixture();
        let message = f.home.join("Mail/cur/1.a:2,S");
        let tags = Tags::new("delete-message", "concurrent-mailbox-edit", true)
            .with(Action::DisplayMail(message.clone()))
            .with(Action::Remove(message.clone()))
            .with(Action::Remove(f.home.join("Other/cur/secret")))
            .with(Action::Kill(1))
            .with(Action::InverseCommand);

        let local = plan(&tags, Side::Local, &f.mailboxes);
        assert_eq!(local.mail, Some(message.clone()));
        assert_eq!(
            local.offers,
            [
                Offer::ShowFile(message.clone()),
                Offer::Remove(message.clone()),
                Offer::InverseSync,
                Offer::Retry
            ]
        );
        assert_eq!(local.refused.len(), 1);

        let remote = plan(&tags, Side::Remote, &f.mailboxes);
        assert_eq!(remote.mail, None);
        assert_eq!(remote.offers, [Offer::InverseSync, Offer::Retry]);
        assert_eq!(remote.refused.len(), 3);
    }

    #[test]
    fn settings_are_offered_when_they_may_be_the_fix() {
        let none = Mailboxes::default();
        let offers = |tags: Tags| plan(&tags, Side::Local, &none).offers;
        assert_eq!(
            offers(Tags::new("config", "unknown", true)),
            [Offer::EditEndpoint, Offer::Retry]
        );
        for cause in [
            "bad-translator",
            "translator-not-found",
            "authentication-failed",
            "remote-program-missing",
        ] {
            assert!(
                offers(Tags::new("ssh", cause, true)).contains(&Offer::EditEndpoint),
                "{cause}"
            );
        }
        for cause in ["host-key-changed", "concurrent-mailbox-edit", "network"] {
            assert_eq!(
                offers(Tags::new("ssh", cause, true)),
                [Offer::Retry],
                "{cause}"
            );
        }
    }

    #[test]
    fn permissions_are_shown_like_ls() {
        let f = fixture();
        let folder = f.home.join("Mail/cur");
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o750)).unwrap();
        let lines = describe_permissions(&f.mailboxes, &folder).unwrap();
        assert_eq!(lines[0].1, "drwxr-x---");
        assert_eq!(lines.len(), 2);
        assert!(describe_permissions(&f.mailboxes, &f.home.join("Other")).is_err());
    }
}
