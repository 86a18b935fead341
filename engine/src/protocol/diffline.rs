//! Diff lines as the client receives them, and the checks that keep a
//! hostile server inside the mailbox.

use std::fmt;

use crate::message::MessageHash;
use crate::sha::Sha;
use crate::url;

/// One parsed diff line, names decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Add {
        name: Vec<u8>,
        hash: MessageHash,
    },
    Copy {
        from: Vec<u8>,
        hash: MessageHash,
        to: Vec<u8>,
    },
    Move {
        from: Vec<u8>,
        hash: MessageHash,
        to: Vec<u8>,
    },
    CopyBody {
        from: Vec<u8>,
        body: Sha,
        to: Vec<u8>,
        header: Sha,
    },
    Delete {
        name: Vec<u8>,
        hash: MessageHash,
    },
    ReplaceHeader {
        name: Vec<u8>,
        /// The name as written, when decoding changed it: smd 1.3 writes
        /// this command's name unencoded, so its `%41` may be literal.
        as_written: Option<Vec<u8>>,
        old: MessageHash,
        header: Sha,
    },
    Replace {
        name: Vec<u8>,
        old: MessageHash,
        new: MessageHash,
    },
    /// The server's scan failed.
    Error(String),
}

/// A line that is not a diff command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine(pub Vec<u8>);

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown =
            String::from_utf8_lossy(&self.0[..self.0.len().min(200)]).into_owned();
        write!(
            f,
            "the server sent a malformed diff line: {}",
            shown.escape_debug()
        )
    }
}

impl std::error::Error for BadLine {}

impl DiffLine {
    pub fn parse(line: &[u8]) -> Result<DiffLine, BadLine> {
        parse(line).ok_or_else(|| BadLine(line.to_vec()))
    }

    /// Every message name the line touches.
    pub fn names(&self) -> Vec<&[u8]> {
        match self {
            DiffLine::Add { name, .. }
            | DiffLine::Delete { name, .. }
            | DiffLine::Replace { name, .. } => vec![name],
            DiffLine::ReplaceHeader {
                name, as_written, ..
            } => std::iter::once(name)
                .chain(as_written)
                .map(Vec::as_slice)
                .collect(),
            DiffLine::Copy { from, to, .. }
            | DiffLine::Move { from, to, .. }
            | DiffLine::CopyBody { from, to, .. } => vec![from, to],
            DiffLine::Error(_) => Vec::new(),
        }
    }
}

fn parse(line: &[u8]) -> Option<DiffLine> {
    if let Some(text) = line.strip_prefix(b"ERROR ") {
        return Some(DiffLine::Error(String::from_utf8_lossy(text).into_owned()));
    }
    // smd 1.3 writes REPLACEHEADER names raw, so the name may hold spaces:
    // take the fixed-size words from the end.
    if let Some(rest) = line.strip_prefix(b"REPLACEHEADER ") {
        let words: Vec<&[u8]> = rest.rsplitn(5, |&b| b == b' ').collect();
        let [header, with, body, old_header, name] = words[..] else {
            return None;
        };
        if with != b"WITH" {
            return None;
        }
        let old = MessageHash {
            header: sha(old_header)?,
            body: sha(body)?,
        };
        let decoded = name_of(name)?;
        let as_written = (decoded != name).then(|| name.to_vec());
        return Some(DiffLine::ReplaceHeader {
            name: decoded,
            as_written,
            old,
            header: sha(header)?,
        });
    }

    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let pair = |h: &[u8], b: &[u8]| {
        Some(MessageHash {
            header: sha(h)?,
            body: sha(b)?,
        })
    };
    Some(match words[..] {
        [b"ADD", name, h, b] => DiffLine::Add {
            name: name_of(name)?,
            hash: pair(h, b)?,
        },
        [b"COPY", from, h, b, b"TO", to] => DiffLine::Copy {
            from: name_of(from)?,
            hash: pair(h, b)?,
            to: name_of(to)?,
        },
        [b"MOVE", from, h, b, b"TO", to] => DiffLine::Move {
            from: name_of(from)?,
            hash: pair(h, b)?,
            to: name_of(to)?,
        },
        [b"COPYBODY", from, b, b"TO", to, h] => DiffLine::CopyBody {
            from: name_of(from)?,
            body: sha(b)?,
            to: name_of(to)?,
            header: sha(h)?,
        },
        [b"DELETE", name, h, b] => DiffLine::Delete {
            name: name_of(name)?,
            hash: pair(h, b)?,
        },
        [b"REPLACE", name, h, b, b"WITH", h2, b2] => DiffLine::Replace {
            name: name_of(name)?,
            old: pair(h, b)?,
            new: pair(h2, b2)?,
        },
        _ => return None,
    })
}

fn sha(word: &[u8]) -> Option<Sha> {
    Sha::from_hex(word)
}

fn name_of(word: &[u8]) -> Option<Vec<u8>> {
    let name = url::decode(word);
    (!name.is_empty()).then_some(name)
}

/// Why a name from the peer is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeName {
    pub name: Vec<u8>,
    pub reason: &'static str,
}

impl fmt::Display for UnsafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing the name '{}' sent by the other side: {}",
            String::from_utf8_lossy(&self.name).escape_debug(),
            self.reason
        )
    }
}

impl std::error::Error for UnsafeName {}

/// Checks that `name` is a message inside one of the mailbox `roots`: a
/// relative path with no `..`, below a root, in a `cur` or `new` folder.
pub fn check_message_name(name: &[u8], roots: &[Vec<u8>]) -> Result<(), UnsafeName> {
    let refuse = |reason| {
        Err(UnsafeName {
            name: name.to_vec(),
            reason,
        })
    };

    if name.starts_with(b"/") {
        return refuse("it is an absolute path");
    }
    if name.contains(&0) || name.contains(&b'\n') {
        return refuse("it contains a NUL or newline byte");
    }
    let components: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
    if components.iter().any(|c| *c == b"..") {
        return refuse("it contains '..'");
    }
    if components.iter().any(|c| *c == b"." || c.is_empty()) {
        // `Mail/cur/.` names the folder itself, and would make the client
        // create folders beside the mailbox's root.
        return refuse("it contains '.' or an empty folder name");
    }
    if components.iter().any(|c| *c == b"tmp") {
        // No scan enters a tmp/ folder, so no diff names one.
        return refuse("it is inside a tmp/ folder");
    }
    let inside_a_root = roots.iter().any(|root| {
        let root = root.strip_suffix(b"/").unwrap_or(root);
        name.len() > root.len() + 1 && name.starts_with(root) && name[root.len()] == b'/'
    });
    if !inside_a_root {
        return refuse("it is not inside the mailboxes being synchronized");
    }
    match components[..] {
        [.., folder, file]
            if (folder == b"cur" || folder == b"new") && !file.is_empty() =>
        {
            Ok(())
        }
        _ => refuse("it is not a message in a cur/ or new/ folder"),
    }
}

/// Checks a mailbox argument: relative, and without `..`.
pub fn check_mailbox(mailbox: &[u8]) -> Result<(), UnsafeName> {
    let refuse = |reason| {
        Err(UnsafeName {
            name: mailbox.to_vec(),
            reason,
        })
    };
    if mailbox.is_empty() {
        return refuse("it is empty");
    }
    if mailbox.starts_with(b"/") {
        return refuse("mailboxes must be relative to the home folder");
    }
    if mailbox.split(|&b| b == b'/').any(|c| c == b"..") {
        return refuse("mailboxes must not contain '..'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Command;
    use crate::message::hash_bytes;

    fn line_of(command: Command<'_>) -> Vec<u8> {
        let mut line = Vec::new();
        command.write_line(&mut line);
        line.pop();
        line
    }

    #[test]
    fn parses_what_mddiff_writes() {
        let hash = hash_bytes(b"a\n\nb");
        let name = &b"Mail/cur/with space%"[..];
        let to = &b"Mail/new/\xff"[..];
        let cases = [
            (
                Command::Add { name, hash },
                DiffLine::Add {
                    name: name.to_vec(),
                    hash,
                },
            ),
            (
                Command::Move {
                    from: name,
                    hash,
                    to,
                },
                DiffLine::Move {
                    from: name.to_vec(),
                    hash,
                    to: to.to_vec(),
                },
            ),
            (
                Command::ReplaceHeader {
                    name,
                    old: hash,
                    header: Sha::EMPTY,
                },
                DiffLine::ReplaceHeader {
                    name: name.to_vec(),
                    // Written encoded: the raw reading is kept too.
                    as_written: Some(url::encode(name)),
                    old: hash,
                    header: Sha::EMPTY,
                },
            ),
            (
                Command::CopyBody {
                    from: name,
                    body: hash.body,
                    to,
                    header: hash.header,
                },
                DiffLine::CopyBody {
                    from: name.to_vec(),
                    body: hash.body,
                    to: to.to_vec(),
                    header: hash.header,
                },
            ),
        ];
        for (command, expected) in cases {
            assert_eq!(DiffLine::parse(&line_of(command)).unwrap(), expected);
        }
    }

    #[test]
    fn reads_smd_1_3_raw_replaceheader_names() {
        let h = Sha::EMPTY.to_hex();
        let line = format!("REPLACEHEADER Mail/cur/a b {h} {h} WITH {h}");
        match DiffLine::parse(line.as_bytes()).unwrap() {
            DiffLine::ReplaceHeader { name, .. } => assert_eq!(name, b"Mail/cur/a b"),
            other => panic!("unexpected {other:?}"),
        }
        let line = format!("REPLACEHEADER Mail/.x%41y/cur/a {h} {h} WITH {h}");
        match DiffLine::parse(line.as_bytes()).unwrap() {
            DiffLine::ReplaceHeader {
                name, as_written, ..
            } => {
                assert_eq!(name, b"Mail/.xAy/cur/a");
                assert_eq!(as_written.as_deref(), Some(&b"Mail/.x%41y/cur/a"[..]));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            &b"ADD x"[..],
            b"FROB a b c",
            b"ADD  aa bb",
            b"",
            b"COPY a h b INTO c",
        ] {
            assert!(
                DiffLine::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn names_must_stay_inside_the_mailbox() {
        let roots = vec![b"Mail".to_vec(), b"Other/".to_vec()];
        assert!(check_message_name(b"Mail/cur/1", &roots).is_ok());
        assert!(check_message_name(b"Other/.x/new/2 y", &roots).is_ok());
        for bad in [
            &b"/etc/cur/passwd"[..],
            b"Mail/../.ssh/cur/x",
            b"Mailx/cur/1",
            b"Mail/tmp/1",
            b"Mail/cur/",
            b"Mail/notes",
            b"Elsewhere/cur/1",
            b"Mail/tmp/cur/x",
            b"Mail/.Foo/tmp/new/x",
            b"Mail/cur/.",
            b"Mail/new/.",
            b"Mail/./cur/x",
            b"Mail//cur/x",
        ] {
            assert!(
                check_message_name(bad, &roots).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn mailboxes_are_relative_without_dotdot() {
        assert!(check_mailbox(b"Mail").is_ok());
        assert!(check_mailbox(b"/Mail").is_err());
        assert!(check_mailbox(b"Mail/../x").is_err());
        assert!(check_mailbox(b"").is_err());
    }
}
