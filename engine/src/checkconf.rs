//! `smd-check-conf`: lists the folders on both sides and runs each through
//! both translators, so that a broken round trip is found before it
//! misplaces mail.

use std::fmt;
use std::path::Path;
use std::process::Stdio;

use crate::config::Config;
use crate::protocol::client::Translator;
use crate::protocol::Failure;
use crate::sync::remote_command;
use crate::url;
use crate::workarea;

/// One folder and what the translators make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTrip {
    pub folder: String,
    pub translated: String,
    pub back: String,
}

impl RoundTrip {
    pub fn holds(&self) -> bool {
        self.folder == self.back
    }
}

/// The check of one endpoint: the local folders (local -> remote -> local)
/// and the remote ones (remote -> local -> remote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub local: Result<Vec<RoundTrip>, String>,
    pub remote: Result<Vec<RoundTrip>, String>,
}

impl CheckReport {
    /// The first broken round trip, if any.
    pub fn first_broken(&self) -> Option<&RoundTrip> {
        let sides = [&self.local, &self.remote];
        sides
            .into_iter()
            .filter_map(|side| side.as_ref().ok())
            .flatten()
            .find(|t| !t.holds())
    }
}

/// Whether `folder` lies below one of the mailbox `roots` (`%20`-encoded).
fn inside(folder: &str, roots: &[String]) -> bool {
    roots.iter().any(|root| {
        let root = String::from_utf8_lossy(&url::decode(root.as_bytes())).into_owned();
        let root = root.trim_end_matches('/');
        folder.len() > root.len()
            && folder.starts_with(root)
            && folder[root.len()..].starts_with('/')
    })
}

impl CheckReport {
    /// The first folder whose translation lands outside the other side's
    /// mailboxes: mail for it would be written somewhere unexpected.
    pub fn first_misplaced<'a>(&'a self, config: &Config) -> Option<&'a RoundTrip> {
        let local = self.local.as_ref().ok().into_iter().flatten();
        let remote = self.remote.as_ref().ok().into_iter().flatten();
        local
            .filter(|trip| !inside(&trip.translated, &config.mailbox_remote))
            .chain(remote.filter(|trip| !inside(&trip.translated, &config.mailbox_local)))
            .next()
    }
}

impl fmt::Display for RoundTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "   {} -> {} -> {}",
            self.folder, self.translated, self.back
        )
    }
}

/// Checks `config`: local folders are listed here, remote ones with
/// `mddiff -l` over ssh (or here, for a local sync). A translator that
/// fails or refuses a folder is an error.
pub fn check(home: &Path, config: &Config) -> Result<CheckReport, Failure> {
    let mut lr = start(config.translator_lr.as_deref(), home)?;
    let mut rl = start(config.translator_rl.as_deref(), home)?;

    // A folder that cannot be listed is reported and skipped, as smd 1.3
    // did; a translator that fails is a broken configuration.
    let local = match list_local(home, config) {
        Ok(folders) => Ok(round_trips(&folders, &mut lr, &mut rl)?),
        Err(error) => Err(error),
    };
    let remote = match list_remote(home, config) {
        Ok(folders) => Ok(round_trips(&folders, &mut rl, &mut lr)?),
        Err(error) => Err(error),
    };
    Ok(CheckReport { local, remote })
}

fn start(command: Option<&str>, home: &Path) -> Result<Translator, Failure> {
    match command {
        Some(command) => Translator::start(command, home),
        None => Ok(Translator::identity()),
    }
}

fn round_trips(
    folders: &[String],
    there: &mut Translator,
    back: &mut Translator,
) -> Result<Vec<RoundTrip>, Failure> {
    let mut trips = Vec::new();
    for folder in folders {
        let translated = there.translate(folder.as_bytes())?;
        let returned = back.translate(&translated)?;
        trips.push(RoundTrip {
            folder: folder.clone(),
            translated: String::from_utf8_lossy(&translated).into_owned(),
            back: String::from_utf8_lossy(&returned).into_owned(),
        });
    }
    Ok(trips)
}

fn list_local(home: &Path, config: &Config) -> Result<Vec<String>, String> {
    let folders = workarea::local_folders(home, config).map_err(|e| e.to_string())?;
    Ok(folders
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect())
}

fn list_remote(home: &Path, config: &Config) -> Result<Vec<String>, String> {
    let mut words = vec!["mddiff".to_owned()];
    for exclude in &config.exclude_remote {
        words.push("--exclude".to_owned());
        words.push(exclude.clone());
    }
    words.push("-l".to_owned());
    words.extend(config.mailbox_remote.iter().cloned());

    let mut command = remote_command(home, config, &words);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("unable to run {:?}: {error}", command.get_program()))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned()
            + String::from_utf8_lossy(&output.stderr).trim();
        return Err(format!("listing the remote folders failed: {text}"));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}
