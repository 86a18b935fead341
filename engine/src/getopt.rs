//! Command-line parsing in the manner of GNU `getopt_long`, which smd 1.3's
//! tools use: short flags may be bundled (`-vd`), long options may be
//! abbreviated to any unique prefix and take their value as `--opt=V` or
//! `--opt V`, options and operands may be mixed, and `--` ends options.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One option a program accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub long: &'static str,
    pub short: Option<char>,
    pub takes_value: bool,
}

/// A parsed option: its long name and its value, if it takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub long: &'static str,
    pub value: Option<OsString>,
}

/// The options in the order given, then the operands.
#[derive(Debug, Default)]
pub struct Args {
    pub options: Vec<Parsed>,
    pub operands: Vec<OsString>,
}

impl Args {
    pub fn has(&self, long: &str) -> bool {
        self.options.iter().any(|option| option.long == long)
    }

    pub fn values<'a>(
        &'a self,
        long: &'a str,
    ) -> impl Iterator<Item = &'a OsString> + 'a {
        self.options
            .iter()
            .filter(move |option| option.long == long)
            .filter_map(|option| option.value.as_ref())
    }

    pub fn last_value<'a>(&'a self, long: &'a str) -> Option<&'a OsString> {
        self.values(long).last()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum UsageError {
    Unknown(String),
    Ambiguous(String),
    MissingValue(String),
    UnexpectedValue(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Unknown(option) => write!(f, "unrecognized option '{option}'"),
            UsageError::Ambiguous(option) => write!(f, "option '{option}' is ambiguous"),
            UsageError::MissingValue(option) => {
                write!(f, "option '{option}' requires an argument")
            }
            UsageError::UnexpectedValue(option) => {
                write!(f, "option '{option}' doesn't allow an argument")
            }
        }
    }
}

impl std::error::Error for UsageError {}

/// Parses `arguments` (without the program name).
pub fn parse(
    specs: &[Spec],
    arguments: impl IntoIterator<Item = OsString>,
) -> Result<Args, UsageError> {
    let mut args = Args::default();
    let mut rest = arguments.into_iter();

    while let Some(argument) = rest.next() {
        let text = argument.to_string_lossy().into_owned();
        if text == "--" {
            args.operands.extend(rest);
            break;
        }
        if let Some(long) = argument.as_bytes().strip_prefix(b"--") {
            // Split the raw bytes, so that a value that is not UTF-8 keeps
            // its bytes.
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(at) => (
                    &long[..at],
                    Some(OsString::from_vec(long[at + 1..].to_vec())),
                ),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name);
            let spec = find_long(specs, &name, &text)?;
            let value = match (spec.takes_value, inline) {
                (true, Some(value)) => Some(value),
                (true, None) => Some(rest.next().ok_or_else(|| {
                    UsageError::MissingValue(format!("--{}", spec.long))
                })?),
                (false, Some(_)) => {
                    return Err(UsageError::UnexpectedValue(format!("--{}", spec.long)))
                }
                (false, None) => None,
            };
            args.options.push(Parsed {
                long: spec.long,
                value,
            });
        } else if text.len() > 1 && text.starts_with('-') {
            let flags: Vec<char> = text[1..].chars().collect();
            for (at, flag) in flags.iter().enumerate() {
                let spec = specs
                    .iter()
                    .find(|spec| spec.short == Some(*flag))
                    .ok_or_else(|| UsageError::Unknown(format!("-{flag}")))?;
                if spec.takes_value {
                    let attached: String = flags[at + 1..].iter().collect();
                    let value = if attached.is_empty() {
                        rest.next()
                            .ok_or_else(|| UsageError::MissingValue(format!("-{flag}")))?
                    } else {
                        OsString::from(attached)
                    };
                    args.options.push(Parsed {
                        long: spec.long,
                        value: Some(value),
                    });
                    break;
                }
                args.options.push(Parsed {
                    long: spec.long,
                    value: None,
                });
            }
        } else {
            args.operands.push(argument);
        }
    }
    Ok(args)
}

fn find_long<'a>(
    specs: &'a [Spec],
    name: &str,
    text: &str,
) -> Result<&'a Spec, UsageError> {
    if let Some(exact) = specs.iter().find(|spec| spec.long == name) {
        return Ok(exact);
    }
    let mut candidates = specs.iter().filter(|spec| spec.long.starts_with(name));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) if !name.is_empty() => Ok(only),
        (Some(_), Some(_)) => Err(UsageError::Ambiguous(text.to_owned())),
        _ => Err(UsageError::Unknown(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            long: "verbose",
            short: Some('v'),
            takes_value: false,
        },
        Spec {
            long: "dry-run",
            short: Some('d'),
            takes_value: false,
        },
        Spec {
            long: "db-file",
            short: None,
            takes_value: true,
        },
        Spec {
            long: "exclude",
            short: None,
            takes_value: true,
        },
        Spec {
            long: "translator",
            short: Some('t'),
            takes_value: true,
        },
    ];

    fn run(words: &[&str]) -> Result<Args, UsageError> {
        parse(SPECS, words.iter().map(OsString::from))
    }

    #[test]
    fn bundles_prefixes_and_mixed_operands() {
        let args =
            run(&["-vd", "Mail", "--db=x", "--exclude", "a b", "--", "-v"]).unwrap();
        assert!(args.has("verbose") && args.has("dry-run"));
        assert_eq!(args.last_value("db-file").unwrap(), "x");
        assert_eq!(args.last_value("exclude").unwrap(), "a b");
        assert_eq!(
            args.operands,
            vec![OsString::from("Mail"), OsString::from("-v")]
        );
    }

    #[test]
    fn short_option_values_attached_or_separate() {
        assert_eq!(
            run(&["-tcat"]).unwrap().last_value("translator").unwrap(),
            "cat"
        );
        assert_eq!(
            run(&["-t", "cat"])
                .unwrap()
                .last_value("translator")
                .unwrap(),
            "cat"
        );
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(
            run(&["--bogus"]).unwrap_err(),
            UsageError::Unknown("--bogus".into())
        );
        assert_eq!(
            run(&["--d"]).unwrap_err(),
            UsageError::Ambiguous("--d".into())
        );
        assert_eq!(
            run(&["--db-file"]).unwrap_err(),
            UsageError::MissingValue("--db-file".into())
        );
        assert_eq!(run(&["-x"]).unwrap_err(), UsageError::Unknown("-x".into()));
        assert_eq!(
            run(&["--verbose=1"]).unwrap_err(),
            UsageError::UnexpectedValue("--verbose".into())
        );
    }
}
