//! The policy of `smd-restricted-shell`, the forced command of an ssh key
//! that may only synchronize mail.
//!
//! sshd hands the requested command line over in `SSH_ORIGINAL_COMMAND`.
//! It is split into words here without any shell: simple quoting is
//! understood (smd-pull quotes words that need it), but nothing a shell
//! would evaluate — variables, command substitution, redirections, command
//! separators — is accepted. Glob characters are kept literally (no
//! globbing), as smd 1.3's clients send `--exclude` patterns unquoted.
//!
//! Then only our server-side programs pass, with arguments that stay inside
//! the mailboxes and `~/.smd/`:
//!
//! - `smd-server` and `smd-client`, with mailboxes relative to `$HOME` and
//!   without `..`; `--override-db` and `--dump-stdin` only inside
//!   `~/.smd/`; never `-t/--translator` (a translator is a program to run,
//!   and only the local side runs one) nor `--rename-only` (it writes
//!   `~/smd-rename.sh`, a script for the user to run);
//! - `mddiff -l`, the folder listing smd-check-conf asks for, with
//!   `--exclude` patterns and mailboxes as above.
//!
//! smd 1.3 checked only the first word, so `--dump-stdin PATH` let the key
//! holder write any file.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::cli::leading_options;
use crate::getopt::{Spec, UsageError};
use crate::protocol::diffline::check_mailbox;
use crate::protocol::path_inside_smd_dir;
use crate::url;

/// A program the restricted shell may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Server,
    Client,
    Mddiff,
}

impl Program {
    /// The file name, looked up next to `smd-restricted-shell` itself.
    pub fn file_name(self) -> &'static str {
        match self {
            Program::Server => "smd-server",
            Program::Client => "smd-client",
            Program::Mddiff => "mddiff",
        }
    }

    /// Recognizes a bare name, or any absolute path ending in the name
    /// (smd 1.3's clients send the path of their own installation).
    fn from_word(word: &[u8]) -> Option<Program> {
        [Program::Server, Program::Client, Program::Mddiff]
            .into_iter()
            .find(|program| {
                let name = program.file_name().as_bytes();
                word == name
                    || (word.starts_with(b"/")
                        && word.strip_suffix(name).is_some_and(|p| p.ends_with(b"/")))
            })
    }
}

/// A command line that passed the policy: the program to run and its
/// arguments, exactly as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub program: Program,
    pub args: Vec<OsString>,
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No command: an interactive login.
    NoCommand,
    /// The line needs a shell to mean anything.
    Syntax(String),
    /// The first word is not one of our programs.
    Program(String),
    /// An option the policy or the program does not accept.
    Option { option: String, why: String },
    /// A mailbox (or folder) argument that leaves `$HOME`.
    Mailbox { mailbox: String, why: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoCommand => f.write_str(
                "no command given; this key only runs smd-server, smd-client \
                 and mddiff -l, not a login shell",
            ),
            Refusal::Syntax(why) => write!(
                f,
                "{why}; the command is not run by a shell, only plain words with \
                 simple quoting are accepted"
            ),
            Refusal::Program(word) => write!(
                f,
                "'{word}' is not allowed; this key only runs smd-server, smd-client \
                 and mddiff -l"
            ),
            Refusal::Option { option, why } => write!(f, "option '{option}': {why}"),
            Refusal::Mailbox { mailbox, why } => write!(f, "mailbox '{mailbox}': {why}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// Splits `line` into words as a POSIX shell would if it expanded nothing:
/// blanks separate words; `'...'` is literal; in `"..."` a backslash
/// escapes `"`, `\`, `$` and a backquote; outside quotes a backslash
/// escapes any byte. Anything a shell would evaluate is refused.
pub fn split_words(line: &[u8]) -> Result<Vec<Vec<u8>>, Refusal> {
    let refuse = |why: String| Err(Refusal::Syntax(why));
    // A newline would be a second command to a shell, and no file name
    // smd can carry has a control byte, quoted or not.
    if let Some(control) = line.iter().find(|&&b| b.is_ascii_control() && b != b'\t') {
        return refuse(format!("the control byte {control:#04x}"));
    }

    let mut words = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut bytes = line.iter().copied();

    while let Some(byte) = bytes.next() {
        match byte {
            b' ' | b'\t' => words.extend(word.take()),
            b'\'' => {
                let current = word.get_or_insert_with(Vec::new);
                loop {
                    match bytes.next() {
                        Some(b'\'') => break,
                        Some(inner) => current.push(inner),
                        None => return refuse("a single quote is not closed".into()),
                    }
                }
            }
            b'"' => {
                let current = word.get_or_insert_with(Vec::new);
                loop {
                    match bytes.next() {
                        Some(b'"') => break,
                        Some(b'\\') => match bytes.next() {
                            Some(escaped @ (b'"' | b'\\' | b'$' | b'`')) => {
                                current.push(escaped)
                            }
                            Some(other) => current.extend([b'\\', other]),
                            None => return refuse("a double quote is not closed".into()),
                        },
                        Some(b'$' | b'`') => {
                            return refuse(
                                "'$' or '`' inside double quotes would be expanded"
                                    .into(),
                            )
                        }
                        Some(inner) => current.push(inner),
                        None => return refuse("a double quote is not closed".into()),
                    }
                }
            }
            b'\\' => match bytes.next() {
                Some(escaped) => word.get_or_insert_with(Vec::new).push(escaped),
                None => return refuse("a backslash ends the line".into()),
            },
            b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' | b'$' | b'`' => {
                return refuse(format!("unquoted '{}'", byte as char));
            }
            plain => word.get_or_insert_with(Vec::new).push(plain),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Checks a whole command line against the policy, `home` being the
/// account's `$HOME`.
pub fn check(line: &[u8], home: &Path) -> Result<Allowed, Refusal> {
    let words = split_words(line)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(Refusal::NoCommand);
    };
    let program =
        Program::from_word(first).ok_or_else(|| Refusal::Program(lossy(first)))?;
    let args: Vec<OsString> = rest.iter().cloned().map(OsString::from_vec).collect();

    match program {
        Program::Server => check_sync_program(program, SERVER_SPECS, &args, home)?,
        Program::Client => check_sync_program(program, CLIENT_SPECS, &args, home)?,
        Program::Mddiff => check_mddiff_listing(&args)?,
    }
    Ok(Allowed { program, args })
}

/// The options of smd-server, as its own parser knows them, so that the
/// words are read here exactly as smd-server will read them. An option
/// missing here is refused, never waved through.
const SERVER_SPECS: &[Spec] = &[
    flag("verbose", Some('v')),
    flag("dry-run", Some('d')),
    flag("no-delete", Some('n')),
    flag("no-move", None),
    valued("exclude", None),
    flag("get-mddiff-cmdline", None),
    valued("override-db", None),
    flag("stop-after-diff", None),
    valued("dump-stdin", None),
    flag("help", Some('h')),
];

/// The options of smd-client, as its own parser knows them.
const CLIENT_SPECS: &[Spec] = &[
    flag("verbose", Some('v')),
    flag("dry-run", Some('d')),
    flag("local-sync", Some('l')),
    valued("translator", Some('t')),
    flag("rename-only", None),
    valued("override-db", None),
    flag("help", Some('h')),
];

const fn flag(long: &'static str, short: Option<char>) -> Spec {
    Spec {
        long,
        short,
        takes_value: false,
    }
}

const fn valued(long: &'static str, short: Option<char>) -> Spec {
    Spec {
        long,
        short,
        takes_value: true,
    }
}

/// smd-server and smd-client: leading options, then the endpoint, then
/// the mailboxes.
fn check_sync_program(
    program: Program,
    specs: &[Spec],
    args: &[OsString],
    home: &Path,
) -> Result<(), Refusal> {
    let parsed = leading_options(specs, args.iter().cloned()).map_err(|error| {
        let option = match error {
            UsageError::Unknown(word) => word,
            other => other.to_string(),
        };
        Refusal::Option {
            option,
            why: format!("{} has no such option", program.file_name()),
        }
    })?;

    for option in &parsed.options {
        let refuse = |why: &str| {
            Err(Refusal::Option {
                option: format!("--{}", option.long),
                why: why.to_owned(),
            })
        };
        match option.long {
            "translator" => {
                return refuse(
                    "a translator is a program to run; only the local side may run one",
                )
            }
            "rename-only" => {
                return refuse(
                    "it writes ~/smd-rename.sh, outside the mailboxes and ~/.smd/; \
                     only the local side uses it",
                )
            }
            "override-db" | "dump-stdin" => {
                let value = option.value.as_deref().unwrap_or_default();
                let Some(path) = value.to_str() else {
                    return refuse("the path is not valid UTF-8");
                };
                if let Err(why) = path_inside_smd_dir(home, path) {
                    return refuse(&why);
                }
            }
            _ => {}
        }
    }

    // The first operand names the endpoint, which only names the db-file
    // (its slashes become underscores); the others are mailboxes.
    for mailbox in parsed.operands.iter().skip(1) {
        check_folder(mailbox)?;
    }
    Ok(())
}

/// `mddiff -l [--exclude G]... FOLDER...`, and nothing else mddiff can do.
/// Only the exact spellings below pass, so that no abbreviation or
/// bundling can mean something else to mddiff's parser.
fn check_mddiff_listing(args: &[OsString]) -> Result<(), Refusal> {
    let mut listing = false;
    let mut folders = 0;
    let mut words = args.iter();
    let mut options_done = false;

    while let Some(word) = words.next() {
        let bytes = word.as_bytes();
        if options_done || !bytes.starts_with(b"-") || bytes == b"-" {
            check_folder(word)?;
            folders += 1;
            continue;
        }
        match bytes {
            b"-l" | b"--list" => listing = true,
            b"--exclude" if words.next().is_some() => {}
            b"--" => options_done = true,
            _ if bytes.starts_with(b"--exclude=") => {}
            _ => {
                return Err(Refusal::Option {
                    option: lossy(bytes),
                    why: "mddiff may only list folders: -l, --exclude PATTERN".into(),
                })
            }
        }
    }

    if !listing || folders == 0 {
        return Err(Refusal::Option {
            option: "-l".into(),
            why: "mddiff may only list folders: mddiff -l FOLDER...".into(),
        });
    }
    Ok(())
}

/// A mailbox or folder argument: relative to `$HOME`, without `..`, once
/// `%XX` escapes are decoded (as the programs decode them).
fn check_folder(word: &OsString) -> Result<(), Refusal> {
    check_mailbox(&url::decode(word.as_bytes())).map_err(|unsafe_name| Refusal::Mailbox {
        mailbox: word.to_string_lossy().into_owned(),
        why: unsafe_name.reason.to_owned(),
    })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/home/user";

    fn words(line: &str) -> Vec<String> {
        split_words(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|word| String::from_utf8(word).unwrap())
            .collect()
    }

    fn allowed(line: &str) -> Allowed {
        check(line.as_bytes(), Path::new(HOME))
            .unwrap_or_else(|refusal| panic!("{line:?} was refused: {refusal}"))
    }

    fn refused(line: &str) -> String {
        match check(line.as_bytes(), Path::new(HOME)) {
            Ok(allowed) => panic!("{line:?} was allowed: {allowed:?}"),
            Err(refusal) => refusal.to_string(),
        }
    }

    #[test]
    fn words_are_split_on_blanks_and_quotes_are_removed() {
        assert_eq!(words("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(
            words("'My Mail' \"a b\" x' 'y ''"),
            ["My Mail", "a b", "x y", ""]
        );
        assert_eq!(words(r"'it'\''s' a\ b"), ["it's", "a b"]);
        assert_eq!(words(r#""q\"\\\x""#), [r#"q"\\x"#]);
    }

    #[test]
    fn glob_and_tilde_are_kept_literally() {
        assert_eq!(
            words("--exclude Mail/spam* ~/x [a]"),
            ["--exclude", "Mail/spam*", "~/x", "[a]"]
        );
    }

    #[test]
    fn shell_syntax_is_refused() {
        for line in [
            "smd-server e Mail; rm -rf ~",
            "smd-server e Mail && touch x",
            "smd-server e Mail | tee x",
            "smd-server e Mail > x",
            "smd-server e $HOME",
            "smd-server e `id`",
            "smd-server e $(id)",
            "smd-server e \"$(id)\"",
            "smd-server e 'Mail",
            "smd-server e \"Mail",
            "smd-server e Mail\nid",
            "smd-server e 'Mail\nid'",
            "smd-server e Mail\\",
        ] {
            assert!(
                matches!(split_words(line.as_bytes()), Err(Refusal::Syntax(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn our_programs_run_by_name_or_absolute_path() {
        let run = allowed("smd-server -v --exclude Mail/spam* client Mail 'My Mail'");
        assert_eq!(run.program, Program::Server);
        assert_eq!(
            run.args,
            ["-v", "--exclude", "Mail/spam*", "client", "Mail", "My Mail"]
        );

        assert_eq!(
            allowed("/usr/bin/smd-client -v -l c Mail").program,
            Program::Client
        );
        assert_eq!(
            allowed("/opt/smd/bin/smd-server c Mail").program,
            Program::Server
        );
        assert_eq!(allowed("mddiff -l Mail").program, Program::Mddiff);
    }

    #[test]
    fn other_programs_are_refused() {
        for line in [
            "sh -c id",
            "smd-server2 c Mail",
            "bin/smd-server c Mail",
            "./smd-server c Mail",
            "/tmp/evil-smd-server c Mail",
            "smd-pull default",
        ] {
            assert!(refused(line).contains("is not allowed"), "{line:?}");
        }
        assert!(refused("").contains("no command"));
        assert!(refused("   ").contains("no command"));
    }

    #[test]
    fn mailboxes_stay_below_home() {
        for line in [
            "smd-server c /etc",
            "smd-server c Mail ../other",
            "smd-server c Mail/../../etc",
            "smd-server c %2E%2E/x",
            "smd-server c %2Fetc",
            "smd-client c Mail ..",
            "smd-server c ''",
        ] {
            assert!(refused(line).starts_with("mailbox "), "{line:?}");
        }
        allowed("smd-server c Mail/..x x..y");
    }

    #[test]
    fn files_written_on_request_stay_inside_dot_smd() {
        allowed("smd-server --dump-stdin ~/.smd/rename-db c Mail");
        allowed("smd-server --dump-stdin .smd/rename-db c Mail");
        allowed("smd-server --no-move --stop-after-diff --override-db /home/user/.smd/r.db.txt c Mail");
        allowed("smd-client --override-db ~/.smd/rename-db c Mail");

        for line in [
            "smd-server --dump-stdin /tmp/x c Mail",
            "smd-server --dump-stdin ~/.ssh/authorized_keys c Mail",
            "smd-server --dump-stdin ~/.smd/../.bashrc c Mail",
            "smd-server --override-db /etc/passwd c Mail",
            "smd-client --override-db ~/x c Mail",
        ] {
            assert!(refused(line).contains("outside"), "{line:?}");
        }
    }

    #[test]
    fn programs_to_run_and_scripts_are_refused() {
        assert!(refused("smd-client -t cat c Mail").contains("translator"));
        assert!(refused("smd-client --translator /bin/sh c Mail").contains("translator"));
        assert!(refused("smd-client --rename-only c Mail").contains("smd-rename.sh"));
    }

    #[test]
    fn options_the_program_does_not_know_are_refused() {
        assert!(refused("smd-server --bogus c Mail").contains("--bogus"));
        assert!(refused("smd-client --exclude x c Mail").contains("--exclude"));
        // Leading options stop two words before the end, as in the programs:
        // a mailbox that starts with '-' is a mailbox, and it is checked.
        allowed("smd-server c -odd");
        assert!(refused("smd-server -v c -/../x").starts_with("mailbox "));
    }

    #[test]
    fn harmless_calls_pass() {
        allowed("smd-server --help");
        allowed("smd-server --get-mddiff-cmdline c Mail");
        allowed("smd-server -v -d -n --no-move c Mail");
        allowed("smd-client -v -d -l c Mail");
    }

    #[test]
    fn mddiff_may_only_list() {
        allowed("mddiff -l Mail");
        allowed("mddiff --exclude Mail/spam -l --exclude=x Mail Other");
        allowed("mddiff -l -- -odd");

        for line in [
            "mddiff Mail",
            "mddiff -l",
            "mddiff -l --db-file /tmp/db Mail",
            "mddiff --mkdir-p Mail",
            "mddiff -s Mail",
            "mddiff -ls Mail",
            "mddiff --li Mail",
        ] {
            assert!(refused(line).starts_with("option "), "{line:?}");
        }
        assert!(refused("mddiff -l /etc").starts_with("mailbox "));
        assert!(refused("mddiff -l Mail ../x").starts_with("mailbox "));
    }
}
