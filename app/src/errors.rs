//! Failures in words a person understands: the engine's (context, cause)
//! pair becomes a heading and a few sentences saying what happened and
//! what can be done. The technical message stays available beside it.

use std::fmt;
use std::path::PathBuf;

use smd::schedule::{Direction, Job};
use smd::ssh_failure::SshFailureKind;

use crate::i18n::{fill, gettext};
use crate::scheduler::FailureReport;

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
        (_, "disk-full") => Explanation::new(
            gettext("The Disk Is Full"),
            gettext(
                "A message or the record of the synchronization could not be written \
                 because the disk (or your quota) is full. What was received so far \
                 is kept. Free some space and synchronize again.",
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
        (_, "authentication-failed") => Explanation::new(
            gettext("The Server Refused the Login"),
            gettext(
                "The server did not accept your ssh key or password, and the applet \
                 cannot type a password. Check the user and key set for this server in \
                 ~/.ssh/config, and put your public key on the server (ssh-copy-id does \
                 it); a key with a passphrase needs an ssh agent. Then try again.",
            ),
        ),
        (_, "host-key-changed") => Explanation::new(
            gettext("The Server’s Identity Changed"),
            gettext(
                "The server showed ssh a different host key from the one it remembers. \
                 If the server was reinstalled or moved, check its new key with whoever \
                 runs it, then remove the old key with “ssh-keygen -R” followed by the \
                 server’s name. If nothing changed, someone may be in the middle: do not \
                 synchronize until that is explained.",
            ),
        ),
        (_, "host-key-unknown") => Explanation::new(
            gettext("The Server Is Not Known Yet"),
            gettext(
                "ssh has never connected to this server, and the applet cannot ask you \
                 to accept its key. Connect once from a terminal with “ssh” followed by \
                 the server’s name, check the key’s fingerprint and accept it. Then try \
                 again.",
            ),
        ),
        (_, "ssh-configuration") => Explanation::new(
            gettext("ssh Cannot Use Its Configuration"),
            gettext(
                "ssh refused its configuration, or shares no way of connecting with the \
                 server. What it says below names the file and line: fix it (usually \
                 ~/.ssh/config), then try again.",
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

/// What ssh met, in a few words that fit in a sentence.
pub fn ssh_reason(kind: SshFailureKind) -> String {
    match kind {
        SshFailureKind::NetworkUnreachable => gettext("the network is unreachable"),
        SshFailureKind::TimedOut => gettext("the server did not answer in time"),
        SshFailureKind::ConnectionRefused => gettext("the server refused the connection"),
        SshFailureKind::HostNotResolved => {
            gettext("the server’s name could not be found")
        }
        SshFailureKind::ConnectionLost => gettext("the connection was cut"),
        SshFailureKind::AuthenticationDenied => gettext("the server refused the login"),
        SshFailureKind::HostKeyChanged => gettext("the server’s identity changed"),
        SshFailureKind::HostKeyUnknown => gettext("the server’s key is not known yet"),
        SshFailureKind::ConfigurationBroken => {
            gettext("ssh cannot use its configuration")
        }
        SshFailureKind::RemoteProgramMissing => {
            gettext("Sync Mail Dir is not installed on the server")
        }
    }
}

/// Why a run failed, in a few words: what ssh met, else the failure's
/// own last line, else its heading.
pub fn short_reason(failure: &FailureReport) -> String {
    match failure.ssh {
        Some(kind) => ssh_reason(kind),
        None => reason_line(&failure.message)
            .unwrap_or_else(|| explain(failure.tags.context, failure.tags.cause).heading),
    }
}

/// The calm line shown while transient trouble is retried.
pub fn retrying_status(failure: &FailureReport) -> String {
    fill(
        &gettext("Not this time: {reason}. Trying again at the next turn."),
        &[("reason", &short_reason(failure))],
    )
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
            "disk-full",
            "remote-program-missing",
            "protocol-error",
            "unsafe-name",
            "authentication-failed",
            "host-key-changed",
            "host-key-unknown",
            "ssh-configuration",
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
    fn every_ssh_failure_has_its_words() {
        let kinds = SshFailureKind::ALL;
        let reasons: std::collections::BTreeSet<String> =
            kinds.iter().map(|kind| ssh_reason(*kind)).collect();
        assert_eq!(reasons.len(), kinds.len());
        // What a person must fix is explained with what to do.
        for kind in kinds.iter().filter(|kind| !kind.is_transient()) {
            let explanation = explain("ssh", kind.cause());
            assert_ne!(explanation.heading, GENERIC, "{kind:?}");
        }
        assert!(explain("ssh", "host-key-changed")
            .body
            .contains("ssh-keygen -R"));
        assert!(explain("ssh", "authentication-failed")
            .body
            .contains("ssh-copy-id"));
    }

    #[test]
    fn retrying_is_said_calmly_with_the_reason() {
        use crate::actions::{Mailboxes, Side};
        use smd::tags::Tags;
        let failure = |ssh, message: &str| FailureReport {
            side: Side::Local,
            message: message.to_owned(),
            tags: Tags::retry("ssh", "network"),
            mailboxes: Mailboxes::default(),
            ssh,
        };
        assert_eq!(
            retrying_status(&failure(Some(SshFailureKind::ConnectionRefused), "x")),
            "Not this time: the server refused the connection. Trying again at the \
             next turn."
        );
        assert!(
            retrying_status(&failure(None, "receive: connection closed"))
                .contains("receive: connection closed")
        );
        assert!(retrying_status(&failure(None, "")).contains("Could Not Be Reached"));
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
