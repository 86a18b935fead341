//! Why ssh could not run the other side, read from what ssh printed.
//!
//! smd 1.3 blamed "the network" whenever the other side never spoke, and
//! its report keeps doing so (scripts parse it). This module tells apart
//! what retrying may cure (the network is down, the server does not
//! answer, its name cannot be resolved for now) from what only a person
//! can fix (a refused key, a changed host key, a broken ssh configuration,
//! no smd on the server), as a typed value for programs such as the
//! applet.
//!
//! ssh exits with 255 on its own errors, and a remote shell with 127 when
//! the program is missing; any other ending is the remote program's own,
//! and is not classified here.
//!
//! TODO: smd-loop could stop retrying after a permanent failure, as the
//! applet does, instead of asking ssh again at every slot (a server may
//! ban a client that keeps failing to log in); its report and exit code
//! must keep smd 1.3's meaning for the scripts that read them.

use std::fmt;

use crate::tags::Tags;

/// The most lines of ssh's own words kept with a failure.
const MOST_LINES: usize = 30;

/// What went wrong before the other side could start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshFailureKind {
    /// No route to the server: "Network is unreachable", "No route to host".
    NetworkUnreachable,
    /// The server did not answer in time.
    TimedOut,
    /// Nothing listens on the server's ssh port.
    ConnectionRefused,
    /// The server's name could not be resolved (no DNS, or a typo).
    HostNotResolved,
    /// The connection was cut before or while the two sides spoke.
    ConnectionLost,
    /// The server refused the key or password.
    AuthenticationDenied,
    /// The server's host key differs from the one remembered.
    HostKeyChanged,
    /// The server's host key is not known yet, and ssh runs without asking.
    HostKeyUnknown,
    /// ssh refused its own configuration, or shares no algorithm with the
    /// server.
    ConfigurationBroken,
    /// The remote shell found no smd-server or smd-client.
    RemoteProgramMissing,
}

impl SshFailureKind {
    /// Every kind, for those who must say something about each one.
    pub const ALL: [SshFailureKind; 10] = [
        SshFailureKind::NetworkUnreachable,
        SshFailureKind::TimedOut,
        SshFailureKind::ConnectionRefused,
        SshFailureKind::HostNotResolved,
        SshFailureKind::ConnectionLost,
        SshFailureKind::AuthenticationDenied,
        SshFailureKind::HostKeyChanged,
        SshFailureKind::HostKeyUnknown,
        SshFailureKind::ConfigurationBroken,
        SshFailureKind::RemoteProgramMissing,
    ];

    /// Whether trying again later, with no one acting, may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            SshFailureKind::NetworkUnreachable
                | SshFailureKind::TimedOut
                | SshFailureKind::ConnectionRefused
                | SshFailureKind::HostNotResolved
                | SshFailureKind::ConnectionLost
        )
    }

    /// The probable cause, in the vocabulary of [`Tags`]: transient
    /// failures stay `network`, as smd 1.3 reports them.
    pub fn cause(self) -> &'static str {
        match self {
            SshFailureKind::AuthenticationDenied => "authentication-failed",
            SshFailureKind::HostKeyChanged => "host-key-changed",
            SshFailureKind::HostKeyUnknown => "host-key-unknown",
            SshFailureKind::ConfigurationBroken => "ssh-configuration",
            SshFailureKind::RemoteProgramMissing => "remote-program-missing",
            _ => "network",
        }
    }

    /// The tags of such a failure: retry for a transient one, a person
    /// for the others.
    pub fn tags(self) -> Tags {
        if self.is_transient() {
            Tags::retry("ssh", self.cause())
        } else {
            Tags::new("ssh", self.cause(), true)
        }
    }
}

impl fmt::Display for SshFailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SshFailureKind::NetworkUnreachable => "the network is unreachable",
            SshFailureKind::TimedOut => "the connection timed out",
            SshFailureKind::ConnectionRefused => "the connection was refused",
            SshFailureKind::HostNotResolved => "the server name could not be resolved",
            SshFailureKind::ConnectionLost => "the connection was lost",
            SshFailureKind::AuthenticationDenied => "the server refused the login",
            SshFailureKind::HostKeyChanged => "the server's host key changed",
            SshFailureKind::HostKeyUnknown => "the server's host key is not known",
            SshFailureKind::ConfigurationBroken => "ssh cannot use its configuration",
            SshFailureKind::RemoteProgramMissing => "the remote program is missing",
        })
    }
}

/// An ssh failure: what kind, and ssh's own words about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshFailure {
    pub kind: SshFailureKind,
    /// The lines ssh (or the remote shell) printed, without smd's own log
    /// lines and the frames of ssh's warnings.
    pub said: String,
}

impl SshFailure {
    /// Classifies the end of the remote command from its exit status and
    /// its standard error. `None` when it is not an ssh failure, or not
    /// one recognised: the caller then keeps its own report.
    pub fn from_exit(status: Option<i32>, stderr: &str) -> Option<SshFailure> {
        let said = ssh_lines(stderr);
        let kind = match status {
            Some(127) => SshFailureKind::RemoteProgramMissing,
            Some(255) => kind_of(&said)?,
            _ => return None,
        };
        Some(SshFailure {
            kind,
            said: said.join("\n"),
        })
    }
}

/// The lines of `stderr` that are not smd's log lines, with the `@`
/// frames of ssh's warnings taken off.
fn ssh_lines(stderr: &str) -> Vec<String> {
    const SMD_PREFIXES: [&str; 4] = ["INFO:", "ERROR:", "TAGS:", "WARNING:"];
    stderr
        .lines()
        .filter(|line| !SMD_PREFIXES.iter().any(|prefix| line.starts_with(prefix)))
        .map(|line| line.trim_matches(|c: char| c == '@' || c.is_whitespace()))
        .filter(|line| !line.is_empty())
        .take(MOST_LINES)
        .map(str::to_owned)
        .collect()
}

/// The kind of failure ssh's lines describe. Failures a person must fix
/// are looked for first: ssh often says "connection closed" after them.
fn kind_of(lines: &[String]) -> Option<SshFailureKind> {
    let lower: Vec<String> = lines.iter().map(|line| line.to_lowercase()).collect();
    let any = |patterns: &[&str]| {
        lower
            .iter()
            .any(|line| patterns.iter().any(|pattern| line.contains(pattern)))
    };

    if any(&[
        "remote host identification has changed",
        "has changed and you have",
    ]) {
        return Some(SshFailureKind::HostKeyChanged);
    }
    if any(&["host key verification failed", "host key is known for"]) {
        return Some(SshFailureKind::HostKeyUnknown);
    }
    if lines.iter().any(|line| is_login_refusal(line))
        || any(&["too many authentication failures"])
    {
        return Some(SshFailureKind::AuthenticationDenied);
    }
    if any(&[
        "bad configuration option",
        "bad owner or permissions on",
        "terminating, ",
        "unable to negotiate",
    ]) {
        return Some(SshFailureKind::ConfigurationBroken);
    }

    let transient = [
        (
            SshFailureKind::HostNotResolved,
            &[
                "could not resolve hostname",
                "name or service not known",
                "temporary failure in name resolution",
            ][..],
        ),
        (
            SshFailureKind::NetworkUnreachable,
            &["network is unreachable", "no route to host"][..],
        ),
        (SshFailureKind::TimedOut, &["timed out"][..]),
        (
            SshFailureKind::ConnectionRefused,
            &["connection refused"][..],
        ),
        (
            SshFailureKind::ConnectionLost,
            &[
                "connection reset",
                "connection closed",
                "closed by remote host",
                "broken pipe",
                "kex_exchange_identification",
            ][..],
        ),
    ];
    transient
        .iter()
        .find(|(_, patterns)| any(patterns))
        .map(|(kind, _)| *kind)
}

/// ssh's "user@host: Permission denied (publickey,password)." The list of
/// methods tells it from an I/O error's "Permission denied (os error 13)".
fn is_login_refusal(line: &str) -> bool {
    const DENIED: &str = "Permission denied (";
    let Some(at) = line.find(DENIED) else {
        return false;
    };
    let methods = &line[at + DENIED.len()..];
    let Some(end) = methods.find(')') else {
        return false;
    };
    let methods = &methods[..end];
    !methods.is_empty()
        && methods
            .chars()
            .all(|c| c.is_ascii_lowercase() || "-,@.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: i32, stderr: &str) -> Option<SshFailureKind> {
        SshFailure::from_exit(Some(status), stderr).map(|failure| failure.kind)
    }

    #[test]
    fn network_trouble_is_transient() {
        let cases = [
            (
                "ssh: connect to host mail.example port 22: Network is unreachable",
                SshFailureKind::NetworkUnreachable,
            ),
            (
                "ssh: connect to host 10.0.0.9 port 22: No route to host",
                SshFailureKind::NetworkUnreachable,
            ),
            (
                "ssh: connect to host mail.example port 22: Connection timed out",
                SshFailureKind::TimedOut,
            ),
            (
                "Connection timed out during banner exchange",
                SshFailureKind::TimedOut,
            ),
            (
                "ssh: connect to host 127.0.0.1 port 2222: Connection refused",
                SshFailureKind::ConnectionRefused,
            ),
            (
                "ssh: Could not resolve hostname nowhere: Name or service not known",
                SshFailureKind::HostNotResolved,
            ),
            (
                "ssh: Could not resolve hostname mail: Temporary failure in name resolution",
                SshFailureKind::HostNotResolved,
            ),
            (
                "kex_exchange_identification: read: Connection reset by peer",
                SshFailureKind::ConnectionLost,
            ),
            (
                "Connection to mail.example closed by remote host.",
                SshFailureKind::ConnectionLost,
            ),
        ];
        for (stderr, expected) in cases {
            assert_eq!(kind(255, stderr), Some(expected), "{stderr}");
            assert!(expected.is_transient(), "{stderr}");
            assert!(expected.tags().is_retriable(), "{stderr}");
            assert_eq!(expected.cause(), "network");
        }
    }

    #[test]
    fn what_a_person_must_fix_is_permanent() {
        let changed = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
            Offending ECDSA key in /home/u/.ssh/known_hosts:3\n\
            Host key for mail.example has changed and you have requested strict checking.\n\
            Host key verification failed.\n";
        let cases = [
            (
                "u@mail.example: Permission denied (publickey,password).",
                SshFailureKind::AuthenticationDenied,
            ),
            (
                "Received disconnect from 10.0.0.9 port 22:2: Too many authentication \
                 failures\nDisconnected from 10.0.0.9 port 22",
                SshFailureKind::AuthenticationDenied,
            ),
            (changed, SshFailureKind::HostKeyChanged),
            (
                "No ED25519 host key is known for mail.example and you have requested \
                 strict checking.\nHost key verification failed.",
                SshFailureKind::HostKeyUnknown,
            ),
            (
                "/home/u/.ssh/config: line 4: Bad configuration option: hostnme\n\
                 /home/u/.ssh/config: terminating, 1 bad configuration options",
                SshFailureKind::ConfigurationBroken,
            ),
            (
                "Bad owner or permissions on /home/u/.ssh/config",
                SshFailureKind::ConfigurationBroken,
            ),
            (
                "Unable to negotiate with 10.0.0.9 port 22: no matching host key type \
                 found. Their offer: ssh-dss",
                SshFailureKind::ConfigurationBroken,
            ),
        ];
        for (stderr, expected) in cases {
            assert_eq!(kind(255, stderr), Some(expected), "{stderr}");
            assert!(!expected.is_transient(), "{stderr}");
            assert!(expected.tags().human, "{stderr}");
            assert!(!expected.tags().is_retriable(), "{stderr}");
        }

        let said = SshFailure::from_exit(Some(255), changed).unwrap().said;
        assert!(said.starts_with("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\n"));
        assert!(said.contains("known_hosts:3"));
        assert!(!said.contains("@@"));
    }

    #[test]
    fn a_missing_program_is_the_shell_s_127() {
        let failure = SshFailure::from_exit(
            Some(127),
            "bash: line 1: smd-server: command not found\n",
        )
        .unwrap();
        assert_eq!(failure.kind, SshFailureKind::RemoteProgramMissing);
        assert_eq!(failure.kind.cause(), "remote-program-missing");
        assert_eq!(failure.said, "bash: line 1: smd-server: command not found");
    }

    #[test]
    fn other_endings_are_not_ssh_failures() {
        // The remote program's own failure, or a normal end.
        assert_eq!(
            kind(1, "ssh: connect to host x port 22: Connection refused"),
            None
        );
        assert_eq!(SshFailure::from_exit(None, "Connection refused"), None);
        assert_eq!(kind(0, ""), None);
        // ssh failed, but with words not known here.
        assert_eq!(kind(255, "something new went wrong"), None);
        // smd's own log lines are not ssh's words, even when they mention
        // a denied permission.
        let smd_log = "ERROR: unable to open Mail/cur: Permission denied (os error 13)\n\
                       TAGS: error::context(receive) probable-cause(network) \
                       human-intervention(avoidable) suggested-actions(retry)\n\
                       Connection to mail.example closed by remote host.\n";
        assert_eq!(kind(255, smd_log), Some(SshFailureKind::ConnectionLost));
        assert!(!is_login_refusal("open: Permission denied (os error 13)"));
    }
}
