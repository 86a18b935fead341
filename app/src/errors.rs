//! Failures in words a person understands: the engine's (context, cause)
//! pair becomes a heading and a few sentences saying what happened and
//! what can be done. The technical message stays available beside it.

use std::fmt;
use std::path::PathBuf;

use smd::schedule::{Direction, Job};

use crate::i18n::gettext;

/// Replaces the placeholders the engine's suggestions carry
/// (`@@INVERSECOMMAND@@ @@ENDPOINT@@`) by the command and endpoint they
/// stand for, as smd-pull and smd-push print them.
pub fn substitute(text: &str, job: &Job) -> String {
    let inverse = match job.direction {
        Direction::Pull => Direction::Push,
        Direction::Push => Direction::Pull,
    };
    text.replace("@@INVERSECOMMAND@@", inverse.program())
        .replace("@@ENDPOINT@@", &job.endpoint)
}

/// The line of a failure's message that says why, in its own words, to
/// show beside the explanation: the last line that is not a tags line,
/// shortened when very long.
pub fn reason_line(message: &str) -> Option<String> {
    const LONGEST: usize = 300;
    let line = message
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.contains("TAGS:"))?;
    if line.chars().count() > LONGEST {
        let short: String = line.chars().take(LONGEST).collect();
        Some(format!("{short}…"))
    } else {
        Some(line.to_owned())
    }
}

/// A heading (short, Title Case, no period) and sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub heading: String,
    pub body: String,
}

impl Explanation {
    fn new(heading: String, body: String) -> Explanation {
        Explanation { heading, body }
    }
}

/// Explains a failure from its tags' context and cause.
pub fn explain(context: &str, cause: &str) -> Explanation {
    match (context, cause) {
        (_, "another-instance-is-running") => Explanation::new(
            gettext("Another Synchronization Is Running"),
            gettext(
                "Another Sync Mail Dir program, for example smd-pull started by hand, \
                 is working on your mailboxes. The applet tries again at the next turn.",
            ),
        ),
        (_, "network") => Explanation::new(
            gettext("The Server Could Not Be Reached"),
            gettext(
                "The connection to the server failed or was cut. This is usually \
                 temporary: the applet tries again at the next turn.",
            ),
        ),
        ("mail-addition", "concurrent-mailbox-edit") => Explanation::new(
            gettext("Two Different Messages Have the Same Name"),
            gettext(
                "A new message from the other side has the same name as a different \
                 message here. Move the local message aside: it gets a new name, both \
                 versions are kept, and it reaches the other side at the next push.",
            ),
        ),
        ("copy-message" | "move-message", "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Message Is in the Way"),
            gettext(
                "A message was copied or moved on the other side, but a different \
                 message already has its new name here. Move the local message aside \
                 to keep both, or synchronize in the other direction so that your \
                 version wins.",
            ),
        ),
        ("copy-body", "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Message Is in the Way"),
            gettext(
                "The other side has a new version of a message, but a different \
                 message already has its name here. Move the local message aside to \
                 keep both versions.",
            ),
        ),
        ("header-replacement", "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Message Was Changed on Both Sides"),
            gettext(
                "The header of this message (its subject, flags or tags added by a \
                 mail filter) was changed both here and on the other side. Move the \
                 local copy aside to keep both versions.",
            ),
        ),
        ("replace", "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Message Was Changed on Both Sides"),
            gettext(
                "This message was changed both here and on the other side. Move the \
                 local copy aside to keep both versions.",
            ),
        ),
        ("delete-message", "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Deleted Message Was Changed Here"),
            gettext(
                "This message was deleted on the other side, but it was changed here \
                 since the last synchronization. Delete the local copy too, or \
                 synchronize in the other direction to keep your version.",
            ),
        ),
        (_, "concurrent-mailbox-edit") => Explanation::new(
            gettext("A Message Was Changed on Both Sides"),
            gettext(
                "The same message was changed here and on the other side. Move the \
                 local copy aside to keep both versions.",
            ),
        ),
        (_, "db-mismatch") => Explanation::new(
            gettext("The Two Sides Remember Different Synchronizations"),
            gettext(
                "The record of the last synchronization (the db-file) differs on the \
                 two sides, so neither can tell what changed. This happens when a \
                 db-file is restored from a backup or copied from another machine. \
                 Remove the db-file on both sides and synchronize again: no mail is \
                 lost, but the next run reads every message.",
            ),
        ),
        (_, "protocol-mismatch") => Explanation::new(
            gettext("The Two Sides Run Incompatible Versions"),
            gettext(
                "The server and this computer speak different versions of the Sync \
                 Mail Dir protocol. Install the same protocol version on both.",
            ),
        ),
        (_, "protocol-error") => Explanation::new(
            gettext("The Other Side Sent Something Unexpected"),
            gettext(
                "The conversation with the other side broke off with a message that \
                 makes no sense at this point. A broken connection or an incompatible \
                 version can cause this; see the log of both sides.",
            ),
        ),
        (_, "bad-directory-permission" | "wrong-permissions" | "bad-permissions") => {
            Explanation::new(
                gettext("A File or Folder Cannot Be Changed"),
                gettext(
                    "Sync Mail Dir lacks the permission to change a file or folder. \
                     Its permissions are shown below: it must be readable and \
                     writable by you.",
                ),
            )
        }
        (_, "non-writeable-file") => Explanation::new(
            gettext("A File Cannot Be Written"),
            gettext(
                "A message file or its folder is read-only. Make it writable by you \
                 and synchronize again.",
            ),
        ),
        (_, "simultaneous-mailbox-edit") => Explanation::new(
            gettext("The Mailbox Changed During the Synchronization"),
            gettext(
                "A message changed while it was being sent, for example because a \
                 mail program moved it at the same moment. Trying again is usually \
                 enough.",
            ),
        ),
        (_, "modify-while-update") => Explanation::new(
            gettext("A Message Changed While It Was Updated"),
            gettext(
                "A message changed while Sync Mail Dir was updating it. Trying again \
                 is usually enough.",
            ),
        ),
        (_, "directory-disappeared") => Explanation::new(
            gettext("A Folder Disappeared"),
            gettext(
                "A mail folder disappeared while the other side was reading it, for \
                 example because it was renamed or deleted. Synchronize again once \
                 the folders are settled.",
            ),
        ),
        (_, "non-regular-file") => Explanation::new(
            gettext("Something Other Than a Message Is in the Mailbox"),
            gettext(
                "Where a message should be, there is something that is not a regular \
                 file (a folder, a device or a broken link). Remove or rename it.",
            ),
        ),
        (_, "bad-translator" | "translator-not-found") => Explanation::new(
            gettext("The Folder Name Translator Failed"),
            gettext(
                "The program that maps folder names between the two sides (the \
                 translator) failed or was not found. Check TRANSLATOR_LR and \
                 TRANSLATOR_RL in the endpoint's configuration and use “Check \
                 Configuration” in the preferences.",
            ),
        ),
        (_, "mailbox-has--absolute-path") => Explanation::new(
            gettext("A Mailbox Is Written as an Absolute Path"),
            gettext(
                "Mailboxes must be written relative to your home folder. Change the \
                 endpoint's configuration; use a symbolic link for a mailbox that \
                 lives elsewhere.",
            ),
        ),
        (_, "mass-deletion") => Explanation::new(
            gettext("Too Many Messages Would Be Deleted"),
            gettext(
                "This run would delete a large share of the messages on the receiving \
                 side, which usually means a mailbox was emptied by mistake or a disk \
                 is not mounted. Nothing was deleted. Check the mailbox; if the \
                 deletion is wanted, run smd-pull or smd-push once by hand with the \
                 option that allows it.",
            ),
        ),
        (_, "remote-program-missing") => Explanation::new(
            gettext("Sync Mail Dir Is Not Installed on the Server"),
            gettext(
                "The server has no smd-server or smd-client on the path that ssh \
                 sessions use. Install Sync Mail Dir there; trying again will not help \
                 until then.",
            ),
        ),
        (_, "unsafe-name") => Explanation::new(
            gettext("A Dangerous Message Name Was Refused"),
            gettext(
                "The other side sent a message name that would reach outside the \
                 mailbox. It was refused and nothing was written.",
            ),
        ),
        ("hook", _) => Explanation::new(
            gettext("A Hook Failed"),
            gettext(
                "One of the programs in ~/.smd/hooks/ ended with an error, which \
                 stops the synchronization. Its output is in the log.",
            ),
        ),
        ("config", _) => Explanation::new(
            gettext("The Endpoint Configuration Cannot Be Used"),
            gettext(
                "The configuration file of this endpoint has a mistake. Open the \
                 preferences to fix it; the details below say what is wrong.",
            ),
        ),
        ("setup", _) => Explanation::new(
            gettext("The Synchronization Could Not Start"),
            gettext(
                "Something needed before synchronizing failed, for example starting \
                 ssh or writing the log. The details below say what.",
            ),
        ),
        _ => Explanation::new(
            gettext("The Synchronization Failed"),
            gettext("The details below and the log say what went wrong."),
        ),
    }
}

/// Why an action of the error window could not be done.
#[derive(Debug)]
pub enum ActionError {
    /// The path is not inside the endpoint's local mailboxes.
    OutsideMailbox(PathBuf),
    /// The path is not a regular message file in a `cur` or `new` folder.
    NotAMessage(PathBuf),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::i18n::fill;
        match self {
            ActionError::OutsideMailbox(path) => f.write_str(&fill(
                &gettext(
                    "{path} is outside this endpoint's mailboxes: the applet does not \
                     touch it.",
                ),
                &[("path", &path.display())],
            )),
            ActionError::NotAMessage(path) => f.write_str(&fill(
                &gettext("{path} is not a message file: the applet does not touch it."),
                &[("path", &path.display())],
            )),
            ActionError::Io { path, source } => f.write_str(&fill(
                &gettext("{path}: {error}"),
                &[("path", &path.display()), ("error", source)],
            )),
        }
    }
}

impl std::error::Error for ActionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_the_command_and_endpoint() {
        let pull = Job {
            direction: Direction::Pull,
            endpoint: "work".into(),
        };
        let tags =
            "error::context(x) suggested-actions(run(@@INVERSECOMMAND@@ @@ENDPOINT@@))";
        assert_eq!(
            substitute(tags, &pull),
            "error::context(x) suggested-actions(run(smd-push work))"
        );
        let push = Job {
            direction: Direction::Push,
            endpoint: "home".into(),
        };
        assert_eq!(
            substitute("@@INVERSECOMMAND@@ @@ENDPOINT@@", &push),
            "smd-pull home"
        );
        assert!(!substitute(tags, &push).contains("@@"));
    }

    #[test]
    fn the_reason_is_the_last_plain_line() {
        let ssh = "ssh: connect to host localhost port 22: Connection refused\n\
                   x: TAGS: error::context(ssh)\n";
        assert_eq!(
            reason_line(ssh).as_deref(),
            Some("ssh: connect to host localhost port 22: Connection refused")
        );
        assert_eq!(reason_line(" \n"), None);
        assert!(reason_line(&"a".repeat(500)).unwrap().ends_with('…'));
    }

    const GENERIC: &str = "The Synchronization Failed";

    #[test]
    fn every_cause_the_engine_reports_has_its_own_sentence() {
        for cause in [
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
            "remote-program-missing",
            "protocol-error",
            "unsafe-name",
        ] {
            let explanation = explain("receive", cause);
            assert_ne!(explanation.heading, GENERIC, "{cause}");
            assert!(explanation.body.ends_with('.'), "{cause}");
            assert!(!explanation.heading.ends_with('.'), "{cause}");
        }
        assert_eq!(explain("main", "unknown").heading, GENERIC);
    }

    #[test]
    fn conflicts_are_told_apart_by_context() {
        let addition = explain("mail-addition", "concurrent-mailbox-edit");
        let deletion = explain("delete-message", "concurrent-mailbox-edit");
        let header = explain("header-replacement", "concurrent-mailbox-edit");
        assert_ne!(addition, deletion);
        assert_ne!(addition, header);
        assert!(deletion.body.contains("deleted on the other side"));
        assert!(addition.body.contains("Move the local message aside"));
    }

    #[test]
    fn applet_contexts_are_explained() {
        assert!(explain("hook", "hook-failed").body.contains("hooks"));
        assert!(explain("config", "unknown")
            .heading
            .contains("Configuration"));
        assert!(explain("setup", "unknown")
            .heading
            .contains("Could Not Start"));
        assert!(explain("locking", "another-instance-is-running")
            .body
            .contains("next turn"));
    }
}
