//! The parts of a Maildir message name: `UNIQUE:2,FLAGS`.
//!
//! The unique part names the message for its whole life; the flags after
//! `:2,` change as it is read, replied to or flagged (a rename). A name in
//! `new/` usually has no flags part yet.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the flags start.
const INFO: &[u8] = b":2,";

/// The part of a name before its flags.
pub fn unique_part(file_name: &[u8]) -> &[u8] {
    match find(file_name, INFO) {
        Some(at) => &file_name[..at],
        None => file_name,
    }
}

/// The flags of a name, if it has the `:2,` part.
pub fn flags(file_name: &[u8]) -> Option<&[u8]> {
    find(file_name, INFO).map(|at| &file_name[at + INFO.len()..])
}

/// A new name for the message `file_name`, to set a copy of it aside: the
/// unique part gets `.asideN`, and the flags stay, so mail programs keep
/// showing it as read, replied to or flagged. Being a new unique name, it
/// travels to the other side as a new message.
pub fn aside_name(file_name: &[u8], attempt: u32) -> Vec<u8> {
    let split = file_name
        .iter()
        .position(|&b| b == b':')
        .unwrap_or(file_name.len());
    let (unique, info) = file_name.split_at(split);
    let mut aside = unique.to_vec();
    aside.extend_from_slice(format!(".aside{attempt}").as_bytes());
    aside.extend_from_slice(info);
    aside
}

/// The first free path to set the message at `path` aside under, in its
/// own folder (not `tmp/`, which mail servers clean out after a day or
/// two). Free when this is called: whoever moves the file must still
/// refuse to replace one that appeared since.
pub fn free_aside_path(path: &Path) -> PathBuf {
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    let mut attempt = 1;
    loop {
        let aside = folder.join(crate::walk::as_path(&aside_name(name, attempt)));
        if attempt >= 1000 || std::fs::symlink_metadata(&aside).is_err() {
            return aside;
        }
        attempt += 1;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_part_stops_at_the_flags() {
        assert_eq!(unique_part(b"123.abc:2,S"), b"123.abc");
        assert_eq!(unique_part(b"123.abc"), b"123.abc");
        assert_eq!(flags(b"123.abc:2,"), Some(&b""[..]));
        assert_eq!(flags(b"123.abc:2,FS"), Some(&b"FS"[..]));
        assert_eq!(flags(b"123.abc"), None);
    }

    #[test]
    fn aside_names_keep_the_flags() {
        assert_eq!(aside_name(b"123.x.host:2,RS", 1), b"123.x.host.aside1:2,RS");
        assert_eq!(aside_name(b"plain", 3), b"plain.aside3");
    }

    #[test]
    fn the_aside_path_is_free_and_beside_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let message = dir.path().join("1.x:2,S");
        std::fs::write(&message, b"m").unwrap();
        std::fs::write(dir.path().join("1.x.aside1:2,S"), b"taken").unwrap();
        assert_eq!(free_aside_path(&message), dir.path().join("1.x.aside2:2,S"));
    }
}
