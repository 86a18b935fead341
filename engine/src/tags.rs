//! Errors that need a decision, as typed values.
//!
//! smd reports a failed run as a `TAGS:` line on stderr that scripts and
//! applets parse: a context, a probable cause, whether a person must act,
//! and suggested actions. Inside the engine these are [`Tags`] values; the
//! text form exists only for the command line and for smd 1.3 peers.

use std::fmt;
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
