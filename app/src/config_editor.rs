//! Editing `~/.smd/config.NAME` and `~/.smd/loop` without losing what the
//! person wrote: both files are edited line by line. Only the assignment
//! (or schedule line) whose value changes is rewritten, in place; every
//! comment, blank line and unknown line stays byte for byte, and a
//! variable that was not set yet is appended at the end.
//!
//! The config is a shell script, so values keep their shell meaning: a
//! value shown as `` `hostname`-work `` is written back so that the shell
//! still runs `hostname`.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use smd::config::Config;
use smd::schedule::{Schedule, ScheduleError};

use crate::i18n::{fill, gettext};

/// The variables the endpoint editor shows.
pub const VARIABLES: [&str; 12] = [
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
];

/// One line of a config file, and where its value is when it assigns one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    assignment: Option<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    name: String,
    /// Byte range of the value's shell word in `text`.
    value: std::ops::Range<usize>,
}

/// A config file as lines, editable without disturbing the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigText {
    lines: Vec<Line>,
    /// Whether the last line ended with a newline.
    final_newline: bool,
}

impl ConfigText {
    pub fn parse(text: &str) -> ConfigText {
        let final_newline = text.is_empty() || text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .map(|line| Line {
                    text: line.to_owned(),
                    assignment: parse_assignment(line),
                })
                .collect()
        };
        ConfigText {
            lines,
            final_newline,
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = self
            .lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if self.final_newline && !self.lines.is_empty() {
            text.push('\n');
        }
        text
    }

    /// The value the shell would see for `name`, quotes removed (the last
    /// assignment wins, as in the shell). Command substitutions are shown
    /// as written.
    pub fn get(&self, name: &str) -> Option<String> {
        let line = self.last_assignment(name)?;
        let assignment = line.assignment.as_ref()?;
        Some(unquote(&line.text[assignment.value.clone()]))
    }

    fn last_assignment(&self, name: &str) -> Option<&Line> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.assignment.as_ref().is_some_and(|a| a.name == name))
    }

    /// Sets `name` to `value`: its last assignment's value is replaced in
    /// place (anything after it on the line, such as a comment, stays), or
    /// a new line is appended. Setting the value it already has changes
    /// nothing, so an untouched field never rewrites the user's quoting.
    pub fn set(&mut self, name: &str, value: &str) {
        if self.get(name).as_deref() == Some(value) {
            return;
        }
        let quoted = quote(value);
        let found = self
            .lines
            .iter_mut()
            .rev()
            .find(|l| l.assignment.as_ref().is_some_and(|a| a.name == name));
        match found {
            Some(line) => {
                let Some(assignment) = line.assignment.as_mut() else {
                    return;
                };
                line.text.replace_range(assignment.value.clone(), &quoted);
                assignment.value =
                    assignment.value.start..assignment.value.start + quoted.len();
            }
            None => {
                let text = format!("{name}={quoted}");
                self.lines.push(Line {
                    assignment: parse_assignment(&text),
                    text,
                });
                self.final_newline = true;
            }
        }
    }

    /// Turns every assignment of `name` into a comment, so the shell no
    /// longer sets it but the person still sees what was there.
    pub fn unset(&mut self, name: &str) {
        for line in &mut self.lines {
            if line.assignment.as_ref().is_some_and(|a| a.name == name) {
                line.text = format!("# {}", line.text);
                line.assignment = None;
            }
        }
    }
}

/// `NAME=word` at the start of a line (after blanks and an optional
/// `export`), with the byte range of the value's word.
fn parse_assignment(line: &str) -> Option<Assignment> {
    let start = line.len() - line.trim_start().len();
    let mut rest = &line[start..];
    let mut offset = start;
    if let Some(after) = rest.strip_prefix("export") {
        let blanks = after.len() - after.trim_start().len();
        if blanks > 0 {
            offset += "export".len() + blanks;
            rest = &line[offset..];
        }
    }
    let equals = rest.find('=')?;
    let name = &rest[..equals];
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return None;
    }
    let value_start = offset + equals + 1;
    let value_end = value_start + shell_word_length(&line[value_start..]);
    Some(Assignment {
        name: name.to_owned(),
        value: value_start..value_end,
    })
}

/// The length of the shell word at the start of `text`: up to the first
/// unquoted blank or `;`.
fn shell_word_length(text: &str) -> usize {
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t' | ';') => return at,
            (None, '"' | '\'' | '`') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None | Some('"') | Some('`'), '\\') => {
                chars.next();
            }
            _ => {}
        }
    }
    text.len()
}

/// The text a shell word stands for, quotes removed; backquoted commands
/// and `$` expansions are kept as written.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), c) if c == open && open != '`' => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '`') => {
                quote = Some('`');
                out.push(c);
            }
            (Some('`'), '`') => {
                quote = None;
                out.push(c);
            }
            (Some('"'), '\\') => match chars.next() {
                Some(next @ ('"' | '\\' | '$' | '`')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (_, c) => out.push(c),
        }
    }
    out
}

/// Writes `value` as a shell word that [`unquote`] reads back as `value`:
/// bare when it is plain, else in double quotes (where `` ` `` and `$`
/// keep the meaning the person typed).
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./%:@,+=-".contains(c));
    if plain {
        return value.to_owned();
    }
    let mut quoted = String::from('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A mistake in a field of the endpoint editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: &'static str,
    pub message: String,
}

/// Checks the editor's values the way the engine will, while typing:
/// `values` gives a variable's current text (empty when unset).
pub fn validate(
    values: &dyn Fn(&str) -> String,
    home: &Path,
    path: Option<&OsStr>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |variable: &'static str, message: String| {
        problems.push(Problem { variable, message })
    };

    let server = values("SERVERNAME");
    if server.trim().is_empty() {
        problem("SERVERNAME", gettext("The server’s ssh alias is missing."));
    } else if server.starts_with('-') {
        problem("SERVERNAME", gettext("An ssh alias cannot start with “-”."));
    } else if server.contains(char::is_whitespace) {
        problem("SERVERNAME", gettext("An ssh alias has no spaces."));
    } else if !server
        .chars()
        .all(|c| c.is_alphanumeric() || "._-@:[]%+".contains(c))
    {
        problem(
            "SERVERNAME",
            gettext("This does not look like an ssh alias: use the Host name from ~/.ssh/config."),
        );
    }
    let client_options = values("SMDCLIENTOPTS");
    if server.trim() == "localhost"
        && !client_options.split_whitespace().any(|o| o == "-l")
    {
        problem(
            "SERVERNAME",
            gettext(
                "A local sync needs -l in client options (SMDCLIENTOPTS): add it there, \
                 or give the ssh alias of a server.",
            ),
        );
    }
    if values("CLIENTNAME").trim().is_empty() {
        problem(
            "CLIENTNAME",
            gettext("This computer needs a name for the server."),
        );
    }

    let mailbox = values("MAILBOX");
    let translated = [
        "MAILBOX_LOCAL",
        "MAILBOX_REMOTE",
        "TRANSLATOR_LR",
        "TRANSLATOR_RL",
    ];
    let uses_translation = translated.iter().any(|v| !values(v).trim().is_empty());
    if !mailbox.trim().is_empty() && uses_translation {
        problem(
            "MAILBOX",
            gettext(
                "Set either MAILBOX, or the two mailboxes and the two translators, not both.",
            ),
        );
    } else if mailbox.trim().is_empty() && !uses_translation {
        problem("MAILBOX", gettext("No mailbox is set."));
    }

    for variable in ["MAILBOX", "MAILBOX_LOCAL", "MAILBOX_REMOTE"] {
        for word in values(variable).split_whitespace() {
            if word.starts_with('/') || word.starts_with('~') {
                problem(
                    variable,
                    fill(
                        &gettext("“{mailbox}” must be relative to your home folder."),
                        &[("mailbox", &word)],
                    ),
                );
            } else if word.contains("..") {
                problem(
                    variable,
                    fill(
                        &gettext("“{mailbox}” must not contain “..”."),
                        &[("mailbox", &word)],
                    ),
                );
            }
        }
    }

    if uses_translation {
        for variable in translated {
            let value = values(variable);
            if value.trim().is_empty() {
                problem(variable, gettext("Needed when the two sides differ."));
            } else if variable.starts_with("TRANSLATOR")
                && !translator_exists(&value, home, path)
            {
                problem(
                    variable,
                    fill(
                        &gettext(
                            "“{program}” was not found: give an absolute path, a program \
                             in your home folder or one on PATH.",
                        ),
                        &[("program", &value.split_whitespace().next().unwrap_or(""))],
                    ),
                );
            }
        }
    }
    problems
}

/// Whether a translator command can be found as the engine looks for it:
/// an absolute path, a program in HOME, or one on PATH.
fn translator_exists(command: &str, home: &Path, path: Option<&OsStr>) -> bool {
    let Some(program) = command.split_whitespace().next() else {
        return false;
    };
    // Shell expansions cannot be judged without running them.
    if program == "cat" || program.contains(['`', '$']) {
        return true;
    }
    if program.starts_with('/') {
        return is_executable(Path::new(program));
    }
    if is_executable(&home.join(program)) {
        return true;
    }
    path.is_some_and(|path| {
        std::env::split_paths(path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The signs a new endpoint's name may hold besides letters and digits.
const NAME_SIGNS: &str = "-_.@+";

/// Why a name cannot name a new endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointNameError {
    Empty,
    /// `-` would read as an option of smd-pull, `.` makes a hidden file.
    BadStart(char),
    /// The engine refuses `/`, blanks and control characters (the name is
    /// part of file names); the other signs would be read by the shell,
    /// which runs the config file, and the new file's template has the
    /// name in `SERVERNAME=smd-server-NAME`.
    BadCharacter(char),
}

impl fmt::Display for EndpointNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            EndpointNameError::Empty => gettext("The name is empty."),
            EndpointNameError::BadStart(first) => fill(
                &gettext("A name cannot start with “{character}”."),
                &[("character", first)],
            ),
            EndpointNameError::BadCharacter(c) if c.is_whitespace() => {
                gettext("A name cannot contain spaces.")
            }
            EndpointNameError::BadCharacter(c) if c.is_control() => {
                gettext("A name cannot contain control characters.")
            }
            EndpointNameError::BadCharacter(c) => fill(
                &gettext("A name cannot contain “{character}”."),
                &[("character", c)],
            ),
        };
        let rule = fill(
            &gettext(
                "Use letters, digits and the signs {signs}; the first character must be \
                 a letter or a digit.",
            ),
            &[(
                "signs",
                &NAME_SIGNS
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" "),
            )],
        );
        write!(f, "{reason} {rule}")
    }
}

impl std::error::Error for EndpointNameError {}

/// Checks a name for a new endpoint (`~/.smd/config.NAME`): what the
/// engine accepts, less the signs its shell would read.
pub fn check_endpoint_name(name: &str) -> Result<(), EndpointNameError> {
    let Some(first) = name.chars().next() else {
        return Err(EndpointNameError::Empty);
    };
    if first == '-' || first == '.' {
        return Err(EndpointNameError::BadStart(first));
    }
    match name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || NAME_SIGNS.contains(c)))
    {
        Some(bad) => Err(EndpointNameError::BadCharacter(bad)),
        None => Ok(()),
    }
}

/// The endpoints that have a config file, by name: every name the engine
/// can run, including ones the applet would not give a new endpoint.
pub fn endpoint_names(home: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(home.join(".smd")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let endpoint = name.strip_prefix("config.")?;
            (Config::check_name(endpoint).is_ok() && !endpoint.ends_with('~'))
                .then(|| endpoint.to_owned())
        })
        .collect();
    names.sort();
    names
}

/// One line of `~/.smd/loop`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LoopLine {
    Entry {
        text: String,
        pull: u64,
        push: u64,
        endpoint: String,
    },
    /// Comments, blank lines, and lines the schedule parser refuses:
    /// kept so the person can still see and fix them.
    Other(String),
}

/// The schedule file as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopText {
    lines: Vec<LoopLine>,
    final_newline: bool,
}

impl LoopText {
    pub fn parse(text: &str) -> LoopText {
        let final_newline = text.is_empty() || text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n').map(parse_loop_line).collect()
        };
        LoopText {
            lines,
            final_newline,
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = self
            .lines
            .iter()
            .map(|line| match line {
                LoopLine::Entry { text, .. } | LoopLine::Other(text) => text.as_str(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        if self.final_newline && !self.lines.is_empty() {
            text.push('\n');
        }
        text
    }

    /// The entries, as (endpoint, pull minutes, push minutes).
    pub fn entries(&self) -> Vec<(String, u64, u64)> {
        self.lines
            .iter()
            .filter_map(|line| match line {
                LoopLine::Entry {
                    pull,
                    push,
                    endpoint,
                    ..
                } => Some((endpoint.clone(), *pull, *push)),
                LoopLine::Other(_) => None,
            })
            .collect()
    }

    /// Sets the minutes of `endpoint`'s line, rewriting the numbers in
    /// place, or appends a line for it.
    pub fn set(&mut self, endpoint: &str, pull: u64, push: u64) {
        let found = self.lines.iter_mut().find(
            |line| matches!(line, LoopLine::Entry { endpoint: e, .. } if e == endpoint),
        );
        match found {
            Some(LoopLine::Entry {
                text,
                pull: old_pull,
                push: old_push,
                ..
            }) => {
                if (*old_pull, *old_push) != (pull, push) {
                    *text = replace_fields(text, &[pull.to_string(), push.to_string()]);
                    *old_pull = pull;
                    *old_push = push;
                }
            }
            _ => {
                self.lines.push(LoopLine::Entry {
                    text: format!("{pull} {push} {endpoint}"),
                    pull,
                    push,
                    endpoint: endpoint.to_owned(),
                });
                self.final_newline = true;
            }
        }
    }

    /// Removes `endpoint`'s line.
    pub fn remove(&mut self, endpoint: &str) {
        self.lines.retain(
            |line| !matches!(line, LoopLine::Entry { endpoint: e, .. } if e == endpoint),
        );
    }

    /// The schedule the loop will read, or the first line it refuses.
    pub fn check(&self) -> Result<Schedule, ScheduleError> {
        Schedule::parse(&self.to_text())
    }
}

fn parse_loop_line(line: &str) -> LoopLine {
    let other = || LoopLine::Other(line.to_owned());
    if line.starts_with('#') {
        return other();
    }
    match Schedule::parse(line) {
        Ok(schedule) => match schedule.entries.as_slice() {
            [entry] => LoopLine::Entry {
                text: line.to_owned(),
                pull: entry.pull_minutes,
                push: entry.push_minutes,
                endpoint: entry.endpoint.clone(),
            },
            _ => other(),
        },
        Err(_) => other(),
    }
}

/// Replaces the first fields of a blank-separated line, keeping the blanks
/// between them (so columns stay aligned when the widths allow).
fn replace_fields(line: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut rest = line;
    for value in values {
        let blanks = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..blanks]);
        rest = &rest[blanks..];
        let word = rest.find([' ', '\t']).unwrap_or(rest.len());
        out.push_str(value);
        rest = &rest[word..];
        // Keep the column where the next field started, when there is room.
        let grown = value.len().saturating_sub(word);
        let blanks = rest.len() - rest.trim_start().len();
        if grown > 0 && blanks > 1 {
            let keep = blanks.saturating_sub(grown).max(1);
            rest = &rest[blanks - keep..];
        } else if value.len() < word && blanks > 0 {
            out.push_str(&" ".repeat(word - value.len()));
        }
    }
    out.push_str(rest);
    out
}

/// What a configuration check found, in one sentence, and whether it is
/// all good: a side whose folders could not be listed was not checked,
/// which is said (with why) instead of a success.
pub fn check_verdict(report: &smd::checkconf::CheckReport) -> (String, bool) {
    if let Some(broken) = report.first_broken() {
        return (
            fill(
                &gettext("The folder “{folder}” does not come back as itself: fix the translators before synchronizing."),
                &[("folder", &broken.folder)],
            ),
            false,
        );
    }
    let mut skipped = Vec::new();
    if let Err(error) = &report.local {
        skipped.push(fill(
            &gettext("The folders here could not be listed, so this side was not checked: {error}"),
            &[("error", error)],
        ));
    }
    if let Err(error) = &report.remote {
        skipped.push(fill(
            &gettext("The folders on the server could not be listed, so that side was not checked: {error}"),
            &[("error", error)],
        ));
    }
    if skipped.is_empty() {
        (
            gettext("Every folder maps to the other side and back to itself."),
            true,
        )
    } else {
        (skipped.join("\n"), false)
    }
}

/// The most minutes a schedule field takes: one day.
pub const MAX_MINUTES: u64 = 1440;

/// Reads a schedule field as typed: a whole number of minutes from 0
/// (never) to [`MAX_MINUTES`]. Anything else is refused with the reason,
/// never turned into 0 or clamped.
pub fn parse_minutes(text: &str) -> Result<u64, String> {
    let typed = text.trim();
    if typed.is_empty() {
        return Err(fill(
            &gettext("Type a number of minutes from 0 to {max} (0 means never)"),
            &[("max", &MAX_MINUTES)],
        ));
    }
    let digits = typed.chars().all(|c| c.is_ascii_digit());
    match typed.parse::<u64>() {
        Ok(minutes) if minutes <= MAX_MINUTES => Ok(minutes),
        Err(_) if !digits => Err(fill(
            &gettext("“{value}” is not a whole number of minutes from 0 to {max}"),
            &[("value", &typed), ("max", &MAX_MINUTES)],
        )),
        _ => Err(fill(
            &gettext("{value} minutes is more than a day: at most {max}"),
            &[("value", &typed), ("max", &MAX_MINUTES)],
        )),
    }
}

/// Writes a file through a temporary file in its folder and a rename, so
/// a crash leaves the old or the new text, never half of one; keeps the
/// old file's permissions.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no folder"))?;
    fs::create_dir_all(folder)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temporary = PathBuf::from(folder);
    temporary.push(format!(
        ".{}.smd-applet-{}",
        name.to_string_lossy(),
        std::process::id()
    ));

    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        if let Ok(old) = fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_not_listed_is_no_success() {
        use smd::checkconf::{CheckReport, RoundTrip};
        let trip = |folder: &str, back: &str| RoundTrip {
            folder: folder.into(),
            translated: "x".into(),
            back: back.into(),
        };
        let good = CheckReport {
            local: Ok(vec![trip("Mail/a", "Mail/a")]),
            remote: Ok(Vec::new()),
        };
        assert!(check_verdict(&good).1);
        let skipped = CheckReport {
            local: Ok(vec![trip("Mail/a", "Mail/a")]),
            remote: Err("ssh: Could not resolve hostname".into()),
        };
        let (text, ok) = check_verdict(&skipped);
        assert!(!ok);
        assert!(text.contains("on the server") && text.contains("Could not resolve"));
        assert!(!text.contains("Every folder"));
        let broken = CheckReport {
            local: Ok(vec![trip("Mail/a", "Mail/b")]),
            remote: Err("x".into()),
        };
        assert!(check_verdict(&broken).0.contains("Mail/a"));
    }

    #[test]
    fn schedule_minutes_are_whole_numbers_up_to_a_day() {
        assert_eq!(parse_minutes("0"), Ok(0));
        assert_eq!(parse_minutes(" 15 "), Ok(15));
        assert_eq!(parse_minutes("1440"), Ok(1440));
        for bad in [
            "",
            " ",
            "abc",
            "5x",
            "-1",
            "1.5",
            "1441",
            "99999999999999999999999",
        ] {
            assert!(parse_minutes(bad).is_err(), "{bad:?}");
        }
        assert!(parse_minutes("abc").unwrap_err().contains("“abc”"));
        assert!(parse_minutes("2000").unwrap_err().contains("1440"));
    }

    const USER_CONFIG: &str = "# my server\n\
        SERVERNAME=old-alias   # the ssh alias\n\
        CLIENTNAME=`hostname`-work\n\
        \n\
        MAILBOX=\"Mail/ My%20Mail/\"\n\
        export EXCLUDE='Mail/spam Mail/a b'\n\
        echo something odd\n\
        FOO=bar\n";

    #[test]
    fn unchanged_text_round_trips() {
        for text in [USER_CONFIG, "", "no newline", "A=1\n\n\n", "\n"] {
            assert_eq!(ConfigText::parse(text).to_text(), text, "{text:?}");
        }
    }

    #[test]
    fn values_are_read_as_the_shell_reads_them() {
        let config = ConfigText::parse(USER_CONFIG);
        assert_eq!(config.get("SERVERNAME").as_deref(), Some("old-alias"));
        assert_eq!(config.get("CLIENTNAME").as_deref(), Some("`hostname`-work"));
        assert_eq!(config.get("MAILBOX").as_deref(), Some("Mail/ My%20Mail/"));
        assert_eq!(config.get("EXCLUDE").as_deref(), Some("Mail/spam Mail/a b"));
        assert_eq!(config.get("TRANSLATOR_LR"), None);
        let last_wins = ConfigText::parse("A=1\nA=\"2 \\\"x\\\"\"\n");
        assert_eq!(last_wins.get("A").as_deref(), Some("2 \"x\""));
    }

    #[test]
    fn only_changed_lines_are_rewritten() {
        let mut config = ConfigText::parse(USER_CONFIG);
        config.set("SERVERNAME", "new-alias");
        config.set("CLIENTNAME", "`hostname`-work");
        config.set("MAILBOX", "Mail/ Other/");
        config.set("DEBUG", "true");
        config.set("EXCLUDE_LOCAL", "Mail/a b");
        let expected = USER_CONFIG
            .replace("old-alias", "new-alias")
            .replace("\"Mail/ My%20Mail/\"", "\"Mail/ Other/\"")
            + "DEBUG=true\nEXCLUDE_LOCAL=\"Mail/a b\"\n";
        assert_eq!(config.to_text(), expected);
        assert_eq!(config.get("EXCLUDE_LOCAL").as_deref(), Some("Mail/a b"));
        // The trailing comment stayed on the SERVERNAME line.
        assert!(config
            .to_text()
            .contains("SERVERNAME=new-alias   # the ssh alias\n"));
    }

    #[test]
    fn quoting_round_trips_every_value() {
        for value in [
            "",
            "plain",
            "a b",
            "quote\"d",
            "back\\slash",
            "`cmd` $HOME",
            "it's",
        ] {
            let mut config = ConfigText::parse("# c\n");
            config.set("V", value);
            let reparsed = ConfigText::parse(&config.to_text());
            assert_eq!(reparsed.get("V").as_deref(), Some(value), "{value:?}");
        }
    }

    #[test]
    fn unset_comments_the_line_out() {
        let mut config = ConfigText::parse("MAILBOX=Mail\n# keep\n");
        config.unset("MAILBOX");
        config.set("MAILBOX_LOCAL", "Mail");
        assert_eq!(
            config.to_text(),
            "# MAILBOX=Mail\n# keep\nMAILBOX_LOCAL=Mail\n"
        );
        assert_eq!(config.get("MAILBOX"), None);
    }

    #[test]
    fn the_engine_template_is_editable() {
        let template = smd::config::template("work");
        let mut config = ConfigText::parse(&template);
        assert_eq!(config.get("SERVERNAME").as_deref(), Some("smd-server-work"));
        assert_eq!(config.get("MAILBOX").as_deref(), Some("Mail/"));
        config.set("SERVERNAME", "mail.example");
        let text = config.to_text();
        assert_eq!(text.lines().count(), template.lines().count());
        assert!(text.contains("\nSERVERNAME=mail.example\n"));
        assert!(text.contains("#   Host smd-server-work\n"));
    }

    fn check(pairs: &[(&str, &str)], home: &Path) -> Vec<Problem> {
        let values = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default()
        };
        validate(&values, home, Some(OsStr::new("/usr/bin:/bin")))
    }

    fn variables(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.variable).collect()
    }

    #[test]
    fn validation_while_typing() {
        let home = tempfile::tempdir().unwrap();
        let good = [
            ("SERVERNAME", "mail"),
            ("CLIENTNAME", "lap"),
            ("MAILBOX", "Mail/"),
        ];
        assert!(check(&good, home.path()).is_empty());

        for server in ["", "-oProxyCommand=x", "my server", "a;b"] {
            let problems = check(
                &[
                    ("SERVERNAME", server),
                    ("CLIENTNAME", "c"),
                    ("MAILBOX", "M"),
                ],
                home.path(),
            );
            assert_eq!(variables(&problems), ["SERVERNAME"], "{server:?}");
        }
        for mailbox in ["/abs", "~/Mail", "Mail/../x", ""] {
            let problems = check(
                &[
                    ("SERVERNAME", "s"),
                    ("CLIENTNAME", "c"),
                    ("MAILBOX", mailbox),
                ],
                home.path(),
            );
            assert_eq!(variables(&problems), ["MAILBOX"], "{mailbox:?}");
        }
        let both = check(
            &[
                ("SERVERNAME", "s"),
                ("CLIENTNAME", "c"),
                ("MAILBOX", "M"),
                ("MAILBOX_LOCAL", "L"),
            ],
            home.path(),
        );
        assert!(variables(&both).contains(&"MAILBOX"));

        // A local sync without -l would ssh to this machine.
        let local = |options: &str| {
            check(
                &[
                    ("SERVERNAME", "localhost"),
                    ("CLIENTNAME", "c"),
                    ("MAILBOX", "M"),
                    ("SMDCLIENTOPTS", options),
                ],
                home.path(),
            )
        };
        let problems = local("");
        assert_eq!(variables(&problems), ["SERVERNAME"]);
        assert!(problems[0].message.contains("-l in client options"));
        assert!(local("-v -l").is_empty());
    }

    #[test]
    fn translators_must_exist() {
        let home = tempfile::tempdir().unwrap();
        let script = home.path().join("tr.sh");
        fs::write(&script, "#!/bin/sh\ncat\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let base = [
            ("SERVERNAME", "s"),
            ("CLIENTNAME", "c"),
            ("MAILBOX_LOCAL", "Mail"),
            ("MAILBOX_REMOTE", "Remote"),
        ];
        let with = |lr: &str, rl: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("TRANSLATOR_LR", lr));
            pairs.push(("TRANSLATOR_RL", rl));
            variables(&check(&pairs, home.path()))
        };
        assert!(with("tr.sh -d LR", "cat").is_empty());
        assert!(with("sh -c x", &script.to_string_lossy()).is_empty());
        assert_eq!(with("no-such-translator", "cat"), ["TRANSLATOR_LR"]);
        assert_eq!(with("/nope/tr", ""), ["TRANSLATOR_LR", "TRANSLATOR_RL"]);
    }

    #[test]
    fn endpoint_names_say_what_is_wrong() {
        for good in ["work", "home-2", "a.b", "me@mail", "x+y", "Über_Post"] {
            assert_eq!(check_endpoint_name(good), Ok(()), "{good}");
            // Whatever the applet creates, the engine runs.
            assert!(Config::check_name(good).is_ok(), "{good}");
        }
        let refused = [
            ("", EndpointNameError::Empty),
            ("-x", EndpointNameError::BadStart('-')),
            (".hidden", EndpointNameError::BadStart('.')),
            ("a/b", EndpointNameError::BadCharacter('/')),
            ("my work", EndpointNameError::BadCharacter(' ')),
            ("a$b", EndpointNameError::BadCharacter('$')),
            ("a;b", EndpointNameError::BadCharacter(';')),
            ("tab\there", EndpointNameError::BadCharacter('\t')),
        ];
        for (name, error) in refused {
            assert_eq!(check_endpoint_name(name), Err(error), "{name:?}");
        }
        // What the engine refuses, the applet refuses too.
        for name in ["", "-x", ".x", "a/b", "a b", "a\nb"] {
            assert!(Config::check_name(name).is_err(), "{name:?}");
        }

        let told = EndpointNameError::BadCharacter('/').to_string();
        assert!(told.starts_with("A name cannot contain “/”."), "{told}");
        assert!(
            told.contains("letters, digits and the signs - _ . @ +"),
            "{told}"
        );
        assert!(EndpointNameError::BadCharacter(' ')
            .to_string()
            .contains("spaces"));
        assert!(EndpointNameError::BadStart('-')
            .to_string()
            .contains("start with “-”"));
    }

    #[test]
    fn existing_endpoints_the_engine_runs_are_listed() {
        let home = tempfile::tempdir().unwrap();
        let smd = home.path().join(".smd");
        fs::create_dir_all(&smd).unwrap();
        // A name the applet would not give, but the engine runs.
        for name in ["config.a:b", "config.-x", "config.ok"] {
            fs::write(smd.join(name), "").unwrap();
        }
        assert_eq!(endpoint_names(home.path()), ["a:b", "ok"]);
    }

    const USER_LOOP: &str = "# my schedule\n\
        # pull push endpoint\n\
        \x20 3            10           default\n\
        5 0 work # odd but valid? no\n\
        1 1 home\n";

    #[test]
    fn loop_lines_are_kept_and_edited_in_place() {
        let mut schedule = LoopText::parse(USER_LOOP);
        assert_eq!(schedule.to_text(), USER_LOOP);
        // "work" has four fields: kept as text, not an entry.
        assert_eq!(
            schedule.entries(),
            [("default".to_owned(), 3, 10), ("home".to_owned(), 1, 1)]
        );
        assert!(schedule.check().is_err());

        schedule.set("default", 15, 10);
        schedule.set("home", 1, 1);
        schedule.set("new", 2, 0);
        schedule.remove("nothing");
        let text = schedule.to_text();
        assert!(
            text.contains("\n  15           10           default\n"),
            "{text}"
        );
        assert!(text.ends_with("1 1 home\n2 0 new\n"), "{text}");
        assert!(text.contains("5 0 work # odd but valid? no\n"));

        schedule.remove("home");
        assert!(!schedule.to_text().contains("home"));
    }

    #[test]
    fn shorter_numbers_keep_columns() {
        assert_eq!(
            replace_fields("  15   10  x", &["3".into(), "10".into()]),
            "  3    10  x"
        );
        assert_eq!(
            replace_fields("1 1 x", &["100".into(), "1".into()]),
            "100 1 x"
        );
    }

    #[test]
    fn endpoints_are_found_and_files_written_safely() {
        let home = tempfile::tempdir().unwrap();
        let smd = home.path().join(".smd");
        fs::create_dir_all(&smd).unwrap();
        for name in [
            "config.work",
            "config.default",
            "config.bak~",
            "loop",
            "config.",
        ] {
            fs::write(smd.join(name), "").unwrap();
        }
        assert_eq!(endpoint_names(home.path()), ["default", "work"]);

        let path = smd.join("config.work");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, "SERVERNAME=x\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "SERVERNAME=x\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(&smd).unwrap().count(), 5);
    }
}
