//! Endpoint configuration: `~/.smd/config.NAME`.
//!
//! The file is a shell script (smd 1.3 sources it with `/bin/sh`, and
//! users write backquotes such as ``CLIENTNAME=`hostname`-NAME`` in it), so
//! it is read by `/bin/sh` here too: that is the only way to give every
//! existing file the meaning it always had. Only the variables smd knows
//! are read back, NUL-separated, and nothing else of the shell survives.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The variables smd reads, in the order the shell prints them.
const VARIABLES: [&str; 14] = [
    "SERVERNAME",
    "CLIENTNAME",
    "MAILBOX",
    "MAILBOX_LOCAL",
    "MAILBOX_REMOTE",
    "TRANSLATOR_LR",
    "TRANSLATOR_RL",
    "EXCLUDE",
    "EXCLUDE_LOCAL",
    "EXCLUDE_REMOTE",
    "SMDCLIENTOPTS",
    "SMDSERVEROPTS",
    "DEBUG",
    "DELETE_GUARD_PERCENT",
];

/// One endpoint's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The config name: the suffix of `config.NAME`, `default` unless given.
    pub name: String,
    pub path: PathBuf,
    /// The ssh alias of the server, or `localhost` for a local sync.
    pub server_name: String,
    /// The id of this host, passed as the endpoint to both sides.
    pub client_name: String,
    /// Mailbox roots here, relative to HOME, `%20`-encoded.
    pub mailbox_local: Vec<String>,
    /// Mailbox roots on the server; they also name the db-file.
    pub mailbox_remote: Vec<String>,
    /// Maps local folders to remote ones; `None` is the identity.
    pub translator_lr: Option<String>,
    /// Maps remote folders to local ones; `None` is the identity.
    pub translator_rl: Option<String>,
    pub exclude_local: Vec<String>,
    pub exclude_remote: Vec<String>,
    pub client_options: Vec<String>,
    pub server_options: Vec<String>,
    /// Log all traffic.
    pub debug: bool,
    /// Refuse a run that deletes more than this share (percent) of the
    /// receiving side's messages; 100 turns the guard off.
    pub delete_guard_percent: u32,
}

impl Config {
    /// Whether both sides live in this HOME and no ssh is needed.
    pub fn is_local(&self) -> bool {
        self.server_name == "localhost" && self.client_options.iter().any(|o| o == "-l")
    }

    /// `~/.smd/config.NAME`.
    pub fn path_for(home: &Path, name: &str) -> PathBuf {
        home.join(".smd").join(format!("config.{name}"))
    }

    /// Checks an endpoint name: it becomes part of file names in `~/.smd`.
    pub fn check_name(name: &str) -> Result<(), ConfigError> {
        let bad = name.is_empty()
            || name.starts_with(['-', '.'])
            || name
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control());
        if bad {
            return Err(ConfigError::Invalid {
                path: PathBuf::from(format!("config.{name}")),
                reason:
                    "an endpoint name is a plain word: letters, digits, '-', '_' or '.', \
                         not starting with '-' or '.'"
                        .to_owned(),
            });
        }
        Ok(())
    }

    /// Reads and checks `~/.smd/config.NAME`.
    pub fn load(home: &Path, name: &str) -> Result<Config, ConfigError> {
        Config::check_name(name)?;
        let path = Config::path_for(home, name);
        if !path.exists() {
            return Err(ConfigError::Missing { path });
        }
        let values = source(&path, home)?;
        Config::from_values(name, path, home, &values)
    }

    fn from_values(
        name: &str,
        path: PathBuf,
        home: &Path,
        values: &[String],
    ) -> Result<Config, ConfigError> {
        let get = |variable: &str| {
            let at = VARIABLES
                .iter()
                .position(|v| *v == variable)
                .expect("known variable");
            values.get(at).cloned().unwrap_or_default()
        };
        let invalid = |reason: String| ConfigError::Invalid {
            path: path.clone(),
            reason,
        };

        // smd 1.3 drops one trailing `/` from the mailbox variables.
        let trimmed = |variable: &str| {
            let value = get(variable);
            value.strip_suffix('/').map(str::to_owned).unwrap_or(value)
        };
        let (mailbox, local, remote) = (
            trimmed("MAILBOX"),
            trimmed("MAILBOX_LOCAL"),
            trimmed("MAILBOX_REMOTE"),
        );
        let (lr, rl) = (get("TRANSLATOR_LR"), get("TRANSLATOR_RL"));

        let both_kinds = "the config must set MAILBOX, or else all of MAILBOX_LOCAL, \
            MAILBOX_REMOTE, TRANSLATOR_LR and TRANSLATOR_RL"
            .to_owned();
        let (mailbox_local, mailbox_remote, translator_lr, translator_rl) = if mailbox
            .is_empty()
        {
            if local.is_empty() || remote.is_empty() || lr.is_empty() || rl.is_empty() {
                return Err(invalid(both_kinds));
            }
            let lr = resolve_translator(&lr, home).map_err(invalid)?;
            let rl = resolve_translator(&rl, home).map_err(invalid)?;
            (words(&local), words(&remote), lr, rl)
        } else {
            if !local.is_empty() || !remote.is_empty() {
                return Err(invalid(both_kinds));
            }
            (words(&mailbox), words(&mailbox), None, None)
        };

        for mailbox in mailbox_local.iter().chain(&mailbox_remote) {
            if mailbox.contains("..") {
                return Err(invalid(format!("the mailbox '{mailbox}' contains '..'")));
            }
            if mailbox.starts_with('/') {
                return Err(invalid(format!(
                    "the mailbox '{mailbox}' is absolute; mailboxes are relative to \
                     HOME (use a symlink for a mailbox elsewhere)"
                )));
            }
        }

        let server_name = get("SERVERNAME");
        let client_name = get("CLIENTNAME");
        if server_name.is_empty() || client_name.is_empty() {
            return Err(invalid(
                "the config must set SERVERNAME and CLIENTNAME".to_owned(),
            ));
        }
        if server_name.starts_with('-') || server_name.contains(char::is_whitespace) {
            return Err(invalid(format!(
                "SERVERNAME '{server_name}' is not an ssh host alias"
            )));
        }

        let exclude = get("EXCLUDE");
        let or_exclude = |variable: &str| {
            let value = get(variable);
            words(if value.is_empty() { &exclude } else { &value })
        };
        let delete_guard_percent = match get("DELETE_GUARD_PERCENT").as_str() {
            "" => 50,
            text => text.parse().ok().filter(|p| *p <= 100).ok_or_else(|| {
                invalid(format!(
                    "DELETE_GUARD_PERCENT must be a number from 0 to 100, not '{text}'"
                ))
            })?,
        };

        Ok(Config {
            name: name.to_owned(),
            path,
            server_name,
            client_name,
            mailbox_local,
            mailbox_remote,
            translator_lr,
            translator_rl,
            exclude_local: or_exclude("EXCLUDE_LOCAL"),
            exclude_remote: or_exclude("EXCLUDE_REMOTE"),
            client_options: words(&get("SMDCLIENTOPTS")),
            server_options: words(&get("SMDSERVEROPTS")),
            debug: get("DEBUG") == "true",
            delete_guard_percent,
        })
    }

    /// Writes the commented template for a new endpoint, without replacing
    /// an existing file.
    pub fn write_template(home: &Path, name: &str) -> io::Result<PathBuf> {
        Config::check_name(name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let path = Config::path_for(home, name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        io::Write::write_all(&mut file, template(name).as_bytes())?;
        file.sync_all()?;
        Ok(path)
    }
}

fn words(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_owned).collect()
}

/// Finds a translator the way smd 1.3 did: an absolute path, else a
/// program in HOME, else one on PATH. `cat` (or nothing) is the identity.
fn resolve_translator(command: &str, home: &Path) -> Result<Option<String>, String> {
    let program = command.split_whitespace().next().unwrap_or("");
    if program.is_empty() || command.trim() == "cat" {
        return Ok(None);
    }
    // The command is kept as written (words split on blanks when it
    // runs); `translator_program` finds its program the same way then.
    let found = program.starts_with('/')
        || is_executable(&home.join(program))
        || std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
        });
    if found {
        return Ok(Some(command.to_owned()));
    }
    Err(format!(
        "the translator '{program}' was not found: it is not an absolute path, not in \
         {} and not on PATH",
        home.display()
    ))
}

/// The program of a translator command, as smd 1.3 finds it: an absolute
/// path, else one in HOME, else a name for PATH.
pub fn translator_program(program: &str, home: &Path) -> PathBuf {
    let in_home = home.join(program);
    if !program.starts_with('/') && is_executable(&in_home) {
        in_home
    } else {
        PathBuf::from(program)
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Sources the config with `/bin/sh` and returns the variables' values.
fn source(path: &Path, home: &Path) -> Result<Vec<String>, ConfigError> {
    // Anything the file prints goes to stderr, so that only the values
    // reach stdout.
    let mut script = String::from(
        ". \"$1\" >&2 || { echo \"its last command failed with status $?; end the file \
         with one that succeeds (true, say)\" >&2; exit 1; }\n",
    );
    for variable in VARIABLES {
        script.push_str(&format!("printf '%s\\0' \"${variable}\"\n"));
    }
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(path)
        .current_dir(home)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ConfigError::Shell {
            path: path.to_owned(),
            reason: source.to_string(),
        })?;
    if !output.status.success() {
        return Err(ConfigError::Shell {
            path: path.to_owned(),
            reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    // What the file printed goes to our stderr, as it would have with smd
    // 1.3 (which sourced the file in the tool's own shell).
    let _ = io::Write::write_all(&mut io::stderr(), &output.stderr);

    let values: Vec<String> = output
        .stdout
        .split(|&b| b == 0)
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .collect();
    Ok(values)
}

/// Why a config could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing { path: PathBuf },
    Shell { path: PathBuf, reason: String },
    Invalid { path: PathBuf, reason: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { path } => {
                write!(f, "no config file {}", path.display())
            }
            ConfigError::Shell { path, reason } => {
                write!(
                    f,
                    "{} could not be read by /bin/sh: {reason}",
                    path.display()
                )
            }
            ConfigError::Invalid { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The commented config written for a new endpoint.
pub fn template(name: &str) -> String {
    format!(
        r#"# Sync Mail Dir endpoint "{name}". This is a template: edit it.
# The file is read by /bin/sh: VARIABLE=value, no spaces around "=".

# The server, as an ssh host alias. Put the real host name, user and
# options in ~/.ssh/config, for example:
#
#   Host smd-server-{name}
#     Hostname mail.example.org
#     User you
#     Compression yes
#
SERVERNAME=smd-server-{name}

# The name of this machine for that server. Each client of a server needs
# its own, so "this host - endpoint" is a good choice.
CLIENTNAME=`hostname`-{name}

# The mailbox, a folder relative to your home on both hosts (use a symlink
# if it lives elsewhere). Write spaces in names as %20. Several mailboxes
# are separated by spaces.
MAILBOX="Mail/"

# When the mailbox has a different name, or a different folder layout, on
# the two hosts: set these four instead of MAILBOX. A translator is a
# program that reads a folder path (ending in cur, new or tmp) a line and
# prints its translation; see smd-translate(1) for ready-made ones.
#
# MAILBOX_LOCAL="Mail/"
# MAILBOX_REMOTE="OtherMail/"
# TRANSLATOR_LR="smd-translate -m oimap-dovecot -d LR {name}"
# TRANSLATOR_RL="smd-translate -m oimap-dovecot -d RL {name}"

# Folders to leave out: glob patterns, separated by spaces, %20 for a
# space. EXCLUDE_LOCAL and EXCLUDE_REMOTE override it for one side.
#
# EXCLUDE="Mail/spam Mail/trash Mail/with%20spaces"
# EXCLUDE_LOCAL="Mail/spam"
# EXCLUDE_REMOTE="OtherMail/junk"

# Both mailboxes on this machine: set SERVERNAME=localhost and
#
# SMDCLIENTOPTS=-l

# Never propagate deletions (a backup that keeps everything):
#
# SMDSERVEROPTS=-n

# A run that would delete more than this percentage of the receiving
# side's messages stops before deleting anything (an emptied or unmounted
# mailbox looks like that). 100 turns the guard off.
#
# DELETE_GUARD_PERCENT=50

# Log all traffic in ~/.smd/log/ (for debugging: it holds whole mails).
#
# DEBUG=true
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(home: &Path, text: &str) -> Result<Config, ConfigError> {
        std::fs::create_dir_all(home.join(".smd")).unwrap();
        std::fs::write(home.join(".smd/config.t"), text).unwrap();
        Config::load(home, "t")
    }

    #[test]
    fn shell_syntax_means_what_sh_says() {
        let home = tempfile::tempdir().unwrap();
        let config = write_config(
            home.path(),
            "SERVERNAME=srv\nCLIENTNAME=`echo lap`-t\nMAILBOX=\"Mail/ My%20Mail/\"\n\
             EXCLUDE='Mail/spam Mail/a%20b'\necho noise\n",
        )
        .unwrap();
        assert_eq!(config.client_name, "lap-t");
        assert_eq!(config.mailbox_local, vec!["Mail/", "My%20Mail"]);
        assert_eq!(config.mailbox_remote, config.mailbox_local);
        assert_eq!(config.exclude_remote, vec!["Mail/spam", "Mail/a%20b"]);
        assert_eq!(config.translator_rl, None);
        assert_eq!(config.delete_guard_percent, 50);
        assert!(!config.is_local());
    }

    #[test]
    fn both_mailbox_kinds_or_dotdot_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let error = write_config(
            home.path(),
            "SERVERNAME=s\nCLIENTNAME=c\nMAILBOX=Mail\nMAILBOX_LOCAL=Other\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("MAILBOX_LOCAL"), "{error}");

        let error =
            write_config(home.path(), "SERVERNAME=s\nCLIENTNAME=c\nMAILBOX=../Mail\n")
                .unwrap_err();
        assert!(error.to_string().contains("'..'"), "{error}");

        let error = write_config(
            home.path(),
            "SERVERNAME=s\nCLIENTNAME=c\nMAILBOX_LOCAL=a\nMAILBOX_REMOTE=b\n\
             TRANSLATOR_LR=no-such-program-here\nTRANSLATOR_RL=cat\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("not found"), "{error}");
    }

    #[test]
    fn a_broken_script_is_reported() {
        let home = tempfile::tempdir().unwrap();
        let error = write_config(home.path(), "SERVERNAME=\"unterminated\n").unwrap_err();
        assert!(matches!(error, ConfigError::Shell { .. }), "{error}");
    }

    #[test]
    fn the_template_is_a_valid_config() {
        let home = tempfile::tempdir().unwrap();
        let path = Config::write_template(home.path(), "work").unwrap();
        let config = Config::load(home.path(), "work").unwrap();
        assert_eq!(config.path, path);
        assert_eq!(config.server_name, "smd-server-work");
        assert!(config.client_name.ends_with("-work"));
        assert_eq!(config.mailbox_local, vec!["Mail"]);
        assert!(Config::write_template(home.path(), "work").is_err());
    }
}
