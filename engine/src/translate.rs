//! The folder mappings of `smd-translate`, the stock translator.
//!
//! A translator maps one folder path (ending in `cur`, `new` or `tmp`,
//! relative to `$HOME`) from one side's naming to the other's: `LR` maps a
//! local folder to its remote name, `RL` a remote folder to its local name.
//! The two roots come from the endpoint's config: `MAILBOX_LOCAL` and
//! `MAILBOX_REMOTE`, or `MAILBOX` for both.
//!
//! The names end up in db-files and on disk on both sides, so every mode
//! maps exactly as smd 1.3's `smd-translate` did, quirks included: a line
//! that does not start with the expected root is left as it is; the
//! patterns look for the *last* `/cur` (then `/new`, then `/tmp`) in a line
//! and keep whatever follows it; `oimap-dovecot RL` replaces the remote
//! root even when it is only a prefix of the first folder name; and
//! `nodots2` maps as 1.3's code did, which is the other way round from its
//! manual page (the `..sub.folder` form is the *local* one).
//!
//! Two deliberate differences, both for roots 1.3 could not handle: roots
//! are matched literally (1.3 used them as Lua patterns, so `+`, `*`, `(`
//! and friends misbehaved), and `%XX` in a root is decoded as everywhere
//! else in the config (1.3 either left such folders unmapped or crashed
//! with "invalid capture index").

use std::fmt;
use std::path::{Path, PathBuf};

use crate::url;

/// How folder names differ between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Remote `Maildir/.sub.folder`, local `Mail/sub.folder`: the layout
    /// offlineimap users get from a Dovecot server.
    OimapDovecot,
    /// Remote `Maildir/.sub.folder`, local `Mail/sub/folder`.
    Nodots,
    /// Local `Mail/..sub.folder`, remote `Maildir/sub/folder`.
    Nodots2,
    /// Only the root differs.
    Move,
    /// Nothing differs.
    Cat,
}

impl Mode {
    pub const NAMES: &'static str = "oimap-dovecot, nodots, nodots2, move, cat";

    pub fn from_name(name: &str) -> Option<Mode> {
        match name {
            "oimap-dovecot" | "default" => Some(Mode::OimapDovecot),
            "nodots" => Some(Mode::Nodots),
            "nodots2" => Some(Mode::Nodots2),
            "move" => Some(Mode::Move),
            "cat" => Some(Mode::Cat),
            _ => None,
        }
    }
}

/// Which way a folder name travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a local folder to its remote name (`LR`).
    LocalToRemote,
    /// From a remote folder to its local name (`RL`).
    RemoteToLocal,
}

impl Direction {
    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "LR" => Some(Direction::LocalToRemote),
            "RL" => Some(Direction::RemoteToLocal),
            _ => None,
        }
    }
}

/// The mailbox roots of the two sides, relative to `$HOME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub local: Vec<u8>,
    pub remote: Vec<u8>,
}

/// Why the roots could not be read from a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Neither `MAILBOX` nor the `MAILBOX_LOCAL`/`MAILBOX_REMOTE` pair
    /// gives this side's root.
    MissingRoot {
        config: PathBuf,
        variable: &'static str,
    },
    /// A root written with shell expansion (`$VAR`, backquotes), which is
    /// not evaluated here and would name a folder literally called so.
    ShellExpansion {
        config: PathBuf,
        variable: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingRoot { config, variable } => write!(
                f,
                "{} sets neither {variable} nor MAILBOX; set one of them to the \
                 mailbox root (relative to $HOME)",
                config.display()
            ),
            ConfigError::ShellExpansion { config, variable } => write!(
                f,
                "{} sets {variable} with shell expansion ($ or `), which smd-translate \
                 does not evaluate; write the folder name literally",
                config.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Roots {
    /// Reads the roots from the text of `~/.smd/config.NAME` (named
    /// `config` in errors).
    ///
    /// The config is a shell script, but it is not run: like 1.3, only
    /// lines of the shape `KEY=VALUE` count, the value being its first
    /// word, with one leading and one trailing quote and then one trailing
    /// `/` removed. The last assignment of a variable wins. `MAILBOX` may
    /// list several roots: only the first is used.
    pub fn from_config(text: &[u8], config: &Path) -> Result<Roots, ConfigError> {
        let mut mailbox = None;
        let mut local = None;
        let mut remote = None;
        for line in text.split(|&byte| byte == b'\n') {
            match assignment(line) {
                Some((b"MAILBOX", value)) => mailbox = Some(value),
                Some((b"MAILBOX_LOCAL", value)) => local = Some(value),
                Some((b"MAILBOX_REMOTE", value)) => remote = Some(value),
                _ => {}
            }
        }

        let root = |value: Option<&[u8]>, variable| match value.or(mailbox) {
            Some(value) if value.iter().any(|&b| b == b'$' || b == b'`') => {
                Err(ConfigError::ShellExpansion {
                    config: config.to_owned(),
                    variable,
                })
            }
            Some(value) => Ok(url::decode(normalize(value))),
            None => Err(ConfigError::MissingRoot {
                config: config.to_owned(),
                variable,
            }),
        };
        Ok(Roots {
            local: root(local, "MAILBOX_LOCAL")?,
            remote: root(remote, "MAILBOX_REMOTE")?,
        })
    }
}

/// Splits `  KEY = VALUE rest` into the key and the first word of the
/// value. As in 1.3 the key is the longest run of non-blanks that an `=`
/// follows, so in `A=b=c` the key is `A=b`.
fn assignment(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = skip_blanks(line, 0);
    let word_end = line[start..]
        .iter()
        .position(|&byte| is_blank(byte))
        .map_or(line.len(), |at| start + at);

    for key_end in (start + 1..=word_end).rev() {
        let equals = skip_blanks(line, key_end);
        if line.get(equals) != Some(&b'=') {
            continue;
        }
        let value_start = skip_blanks(line, equals + 1);
        let value_len = line[value_start..]
            .iter()
            .take_while(|&&byte| !is_blank(byte))
            .count();
        if value_len > 0 {
            let value = &line[value_start..value_start + value_len];
            return Some((&line[start..key_end], value));
        }
    }
    None
}

/// Blanks as the C locale's `isspace` sees them (Lua's `%s`).
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn skip_blanks(line: &[u8], from: usize) -> usize {
    let blanks = line[from.min(line.len())..]
        .iter()
        .take_while(|&&byte| is_blank(byte))
        .count();
    from + blanks
}

/// Removes one leading quote, one trailing quote, then one trailing `/`.
fn normalize(value: &[u8]) -> &[u8] {
    let is_quote = |byte: &u8| matches!(byte, b'"' | b'\'');
    let value = match value.first() {
        Some(byte) if is_quote(byte) => &value[1..],
        _ => value,
    };
    let value = match value.last() {
        Some(byte) if is_quote(byte) => &value[..value.len() - 1],
        _ => value,
    };
    value.strip_suffix(b"/").unwrap_or(value)
}

/// One configured translation: a mode, a direction and the roots.
#[derive(Debug, Clone)]
pub struct Translation {
    pub mode: Mode,
    pub direction: Direction,
    pub roots: Roots,
}

impl Translation {
    /// Maps one folder path (without its newline).
    pub fn map(&self, line: &[u8]) -> Vec<u8> {
        let local = self.roots.local.as_slice();
        let remote = self.roots.remote.as_slice();
        match (self.mode, self.direction) {
            (Mode::OimapDovecot, Direction::LocalToRemote) => {
                oimap_dovecot_lr(line, local, remote)
            }
            (Mode::OimapDovecot, Direction::RemoteToLocal) => {
                oimap_dovecot_rl(line, local, remote)
            }
            (Mode::Nodots, Direction::LocalToRemote) => nodots_lr(line, local, remote),
            (Mode::Nodots, Direction::RemoteToLocal) => nodots_rl(line, local, remote),
            (Mode::Nodots2, Direction::LocalToRemote) => nodots2_lr(line, local, remote),
            (Mode::Nodots2, Direction::RemoteToLocal) => nodots2_rl(line, local, remote),
            (Mode::Move, Direction::LocalToRemote) => {
                swap_root(line, local, remote).unwrap_or_else(|| line.to_vec())
            }
            (Mode::Move, Direction::RemoteToLocal) => {
                swap_root(line, remote, local).unwrap_or_else(|| line.to_vec())
            }
            (Mode::Cat, _) => line.to_vec(),
        }
    }
}

/// The three Maildir leaves, in the order 1.3 rewrote them.
const LEAVES: [&[u8]; 3] = [b"cur", b"new", b"tmp"];

/// Local `Mail/sub.folder` → remote `Maildir/.sub.folder`; the root's own
/// leaves keep no dot.
fn oimap_dovecot_lr(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    let remote_prefix = if is_root_leaf(line, local) {
        join(&[remote, b"/"])
    } else {
        join(&[remote, b"/."])
    };
    replace_prefix(line, &join(&[local, b"/"]), &remote_prefix)
        .unwrap_or_else(|| line.to_vec())
}

/// Remote `Maildir/.sub.folder` → local `Mail/sub.folder`. The remote
/// root is replaced even when it is only the start of a longer name, and
/// the dot is dropped after the local root whatever the line's origin.
fn oimap_dovecot_rl(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    let rooted = replace_prefix(line, remote, local).unwrap_or_else(|| line.to_vec());
    replace_prefix(&rooted, &join(&[local, b"/."]), &join(&[local, b"/"]))
        .unwrap_or(rooted)
}

/// Local `Mail/sub/folder` → remote `Maildir/.sub.folder`.
fn nodots_lr(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    if is_root_leaf(line, local) {
        return swap_root(line, local, remote).unwrap_or_else(|| line.to_vec());
    }
    rewrite_sub_folders(line, local, |path, leaf| {
        join(&[remote, b"/.", &replace_byte(path, b'/', b'.'), b"/", leaf])
    })
}

/// Remote `Maildir/.sub.folder` → local `Mail/sub/folder`: every dot
/// after the root becomes a slash, and the doubled slash this leaves right
/// after the root is squeezed.
fn nodots_rl(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    let Some(tail) = line
        .strip_prefix(remote)
        .filter(|tail| tail.starts_with(b"/"))
    else {
        return line.to_vec();
    };
    let tail = replace_byte(tail, b'.', b'/');
    let tail = if tail.starts_with(b"//") {
        &tail[1..]
    } else {
        &tail[..]
    };
    join(&[local, tail])
}

/// Local `Mail/..sub.folder` → remote `Maildir/sub/folder`: every `..` is
/// dropped, then every dot becomes a slash.
fn nodots2_lr(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    if is_root_leaf(line, local) {
        return swap_root(line, local, remote).unwrap_or_else(|| line.to_vec());
    }
    rewrite_sub_folders(line, local, |path, leaf| {
        let undotted = replace_byte(&remove_double_dots(path), b'.', b'/');
        join(&[remote, b"/", &undotted, b"/", leaf])
    })
}

/// Remote `Maildir/sub/folder` → local `Mail/..sub.folder`: a run of
/// leading slashes is squeezed to one, then every slash becomes a dot.
fn nodots2_rl(line: &[u8], local: &[u8], remote: &[u8]) -> Vec<u8> {
    if is_root_leaf(line, remote) {
        return swap_root(line, remote, local).unwrap_or_else(|| line.to_vec());
    }
    rewrite_sub_folders(line, remote, |path, leaf| {
        let slashes = path.iter().take_while(|&&byte| byte == b'/').count();
        let squeezed = if slashes >= 2 {
            &path[slashes - 1..]
        } else {
            path
        };
        let dotted = replace_byte(squeezed, b'/', b'.');
        join(&[local, b"/..", &dotted, b"/", leaf])
    })
}

/// Whether `line` is `root/cur`, `root/new` or `root/tmp`.
fn is_root_leaf(line: &[u8], root: &[u8]) -> bool {
    line.strip_prefix(root)
        .and_then(|tail| tail.strip_prefix(b"/"))
        .is_some_and(|leaf| LEAVES.contains(&leaf))
}

/// `from/rest` → `to/rest`, or `None` when `line` is not below `from`.
fn swap_root(line: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    replace_prefix(line, &join(&[from, b"/"]), &join(&[to, b"/"]))
}

fn replace_prefix(line: &[u8], prefix: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    line.strip_prefix(prefix).map(|tail| join(&[with, tail]))
}

/// Rewrites `root/PATH/LEAF...` into `rewrite(PATH, LEAF)...` for each leaf
/// in turn, PATH running to the *last* `/LEAF` of the line (what 1.3's
/// greedy `^root/(.*)/(cur)` patterns matched). Each rewrite sees the
/// previous one's result, as in 1.3.
fn rewrite_sub_folders(
    line: &[u8],
    root: &[u8],
    rewrite: impl Fn(&[u8], &[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let prefix = join(&[root, b"/"]);
    let mut line = line.to_vec();
    for leaf in LEAVES {
        let Some(tail) = line.strip_prefix(prefix.as_slice()) else {
            continue;
        };
        let marker = join(&[b"/", leaf]);
        let Some(at) = rfind(tail, &marker) else {
            continue;
        };
        let after = &tail[at + marker.len()..];
        line = join(&[&rewrite(&tail[..at], leaf), after]);
    }
    line
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    (0..=haystack.len().checked_sub(needle.len())?)
        .rev()
        .find(|&at| haystack[at..].starts_with(needle))
}

/// Removes every `..`, scanning left to right without overlaps.
fn remove_double_dots(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&byte, tail)) = rest.split_first() {
        if let Some(after) = rest.strip_prefix(b"..") {
            rest = after;
            continue;
        }
        out.push(byte);
        rest = tail;
    }
    out
}

fn replace_byte(text: &[u8], from: u8, to: u8) -> Vec<u8> {
    text.iter()
        .map(|&byte| if byte == from { to } else { byte })
        .collect()
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(text: &str) -> Result<Roots, ConfigError> {
        Roots::from_config(text.as_bytes(), Path::new("config.test"))
    }

    fn map(mode: Mode, direction: Direction, line: &str) -> String {
        let translation = Translation {
            mode,
            direction,
            roots: Roots {
                local: b"Mail".to_vec(),
                remote: b"Maildir".to_vec(),
            },
        };
        String::from_utf8(translation.map(line.as_bytes())).unwrap()
    }

    #[test]
    fn config_values_are_first_words_without_quotes_and_slash() {
        let found = roots(
            "# MAILBOX=commented\n  MAILBOX_LOCAL = \"Mail/\" more words\n\
             MAILBOX_REMOTE='Remote'\n",
        )
        .unwrap();
        assert_eq!(found.local, b"Mail");
        assert_eq!(found.remote, b"Remote");
    }

    #[test]
    fn config_mailbox_serves_both_sides_and_last_assignment_wins() {
        let found = roots("MAILBOX=\"Old Other\"\nMAILBOX=New/\n").unwrap();
        assert_eq!(found.local, b"New");
        assert_eq!(found.remote, b"New");

        let first_word = roots("MAILBOX=\"Mail Other\"\n").unwrap();
        assert_eq!(first_word.local, b"Mail");
    }

    #[test]
    fn config_key_is_the_longest_run_before_an_equals() {
        // `MAILBOX_REMOTE=R=x` assigns the key `MAILBOX_REMOTE=R`, so the
        // remote root falls back to MAILBOX.
        let found =
            roots("MAILBOX=M\nMAILBOX_REMOTE=R=x\nexport MAILBOX_LOCAL=L\n").unwrap();
        assert_eq!(found.local, b"M");
        assert_eq!(found.remote, b"M");
    }

    #[test]
    fn config_roots_are_url_decoded() {
        let found = roots("MAILBOX=My%20Mail\n").unwrap();
        assert_eq!(found.local, b"My Mail");
    }

    #[test]
    fn config_without_roots_is_an_error() {
        let error = roots("MAILBOX_LOCAL=Mail\n").unwrap_err();
        assert!(error.to_string().contains("MAILBOX_REMOTE"), "{error}");
    }

    #[test]
    fn normalize_strips_one_quote_each_side_then_one_slash() {
        assert_eq!(normalize(b"\"Mail/\""), b"Mail");
        assert_eq!(normalize(b"'Mail//'"), b"Mail/");
        assert_eq!(normalize(b"\""), b"");
        assert_eq!(normalize(b"Mail"), b"Mail");
    }

    #[test]
    fn oimap_dovecot() {
        use Direction::*;
        let lr = |line| map(Mode::OimapDovecot, LocalToRemote, line);
        assert_eq!(lr("Mail/cur"), "Maildir/cur");
        assert_eq!(lr("Mail/foo.bar/new"), "Maildir/.foo.bar/new");
        assert_eq!(lr("Mail/a/b/cur"), "Maildir/.a/b/cur");
        assert_eq!(lr("Other/cur"), "Other/cur");

        let rl = |line| map(Mode::OimapDovecot, RemoteToLocal, line);
        assert_eq!(rl("Maildir/cur"), "Mail/cur");
        assert_eq!(rl("Maildir/.foo.bar/new"), "Mail/foo.bar/new");
        assert_eq!(rl("Maildirx/.a/cur"), "Mailx/.a/cur");
        assert_eq!(rl("Mail/.x/cur"), "Mail/x/cur");
    }

    #[test]
    fn nodots() {
        use Direction::*;
        let lr = |line| map(Mode::Nodots, LocalToRemote, line);
        assert_eq!(lr("Mail/new"), "Maildir/new");
        assert_eq!(lr("Mail/a/b/cur"), "Maildir/.a.b/cur");
        assert_eq!(lr("Mail/a/cur/b/new"), "Maildir/.a/cur/b/new");

        let rl = |line| map(Mode::Nodots, RemoteToLocal, line);
        assert_eq!(rl("Maildir/.a.b/cur"), "Mail/a/b/cur");
        assert_eq!(rl("Maildir/cur"), "Mail/cur");
        assert_eq!(rl("Maildir/..x/cur"), "Mail//x/cur");
        assert_eq!(rl("Maildirx/.a/cur"), "Maildirx/.a/cur");
    }

    #[test]
    fn nodots2_maps_as_the_code_did() {
        use Direction::*;
        let lr = |line| map(Mode::Nodots2, LocalToRemote, line);
        assert_eq!(lr("Mail/..a.b/cur"), "Maildir/a/b/cur");
        assert_eq!(lr("Mail/.a/cur"), "Maildir//a/cur");
        assert_eq!(lr("Mail/tmp"), "Maildir/tmp");

        let rl = |line| map(Mode::Nodots2, RemoteToLocal, line);
        assert_eq!(rl("Maildir/a/b/cur"), "Mail/..a.b/cur");
        assert_eq!(rl("Maildir///x/cur"), "Mail/...x/cur");
        assert_eq!(rl("Maildir/tmp"), "Mail/tmp");
    }

    #[test]
    fn move_and_cat() {
        use Direction::*;
        assert_eq!(
            map(Mode::Move, LocalToRemote, "Mail/.a/cur"),
            "Maildir/.a/cur"
        );
        assert_eq!(
            map(Mode::Move, RemoteToLocal, "Maildir/a/cur"),
            "Mail/a/cur"
        );
        assert_eq!(map(Mode::Move, RemoteToLocal, "Mail/a/cur"), "Mail/a/cur");
        assert_eq!(
            map(Mode::Cat, RemoteToLocal, "Maildir/a/cur"),
            "Maildir/a/cur"
        );
    }

    #[test]
    fn roots_are_literal_not_patterns() {
        let translation = Translation {
            mode: Mode::Move,
            direction: Direction::LocalToRemote,
            roots: Roots {
                local: b"Mail+(x)".to_vec(),
                remote: b"R%1".to_vec(),
            },
        };
        assert_eq!(translation.map(b"Mail+(x)/a/cur"), b"R%1/a/cur");
        assert_eq!(translation.map(b"Maill(x)/a/cur"), b"Maill(x)/a/cur");
    }

    #[test]
    fn remove_double_dots_scans_left_to_right() {
        assert_eq!(remove_double_dots(b"...a..b."), b".ab.");
    }
}
