//! The URL-style escaping smd uses for names in diff lines and arguments.
//!
//! Only `%` and space are escaped (as `%25` and `%20`), so that a name is a
//! single word; every other byte, UTF-8 or not, travels as it is. Decoding
//! accepts any `%` followed by two hex digits and leaves other `%` alone.

/// Escapes `%` and space.
pub fn encode(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 8);
    encode_into(name, &mut out);
    out
}

/// Escapes `%` and space, appending to `out`.
pub fn encode_into(name: &[u8], out: &mut Vec<u8>) {
    for &byte in name {
        match byte {
            b' ' => out.extend_from_slice(b"%20"),
            b'%' => out.extend_from_slice(b"%25"),
            _ => out.push(byte),
        }
    }
}

/// Replaces every `%XX` (two hex digits) with the byte it names.
pub fn decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            if let Some(decoded) = tail.get(..2).and_then(hex_pair) {
                out.push(decoded);
                rest = &tail[2..];
                continue;
            }
        }
        out.push(byte);
        rest = tail;
    }
    out
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_space_and_percent_are_escaped() {
        assert_eq!(encode(b"a b%c\td"), b"a%20b%25c\td");
        assert_eq!(encode(b"\xff\xfe"), b"\xff\xfe");
    }

    #[test]
    fn decode_accepts_any_hex_pair_and_keeps_stray_percent() {
        assert_eq!(decode(b"a%20b%25c"), b"a b%c");
        assert_eq!(decode(b"%41%2f"), b"A/");
        assert_eq!(decode(b"100%"), b"100%");
        assert_eq!(decode(b"%zz%2"), b"%zz%2");
    }

    #[test]
    fn round_trip_of_awkward_names() {
        for name in [&b"x %20 y"[..], b"%", b"  ", b"caf\xc3\xa9 \xff", b""] {
            assert_eq!(decode(&encode(name)), name);
        }
    }
}
