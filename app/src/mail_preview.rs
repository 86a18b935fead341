//! A readable view of one mail file for the error window: From, To,
//! Subject, Date and the text body, never raw bytes.
//!
//! This is deliberately small: header unfolding, RFC 2047 encoded words
//! (base64 and quoted-printable, UTF-8 and the ISO-8859-1 family), the
//! body's transfer encoding, and the first text part of a multipart mail.
//! Anything it does not understand is shown as lossy UTF-8 rather than
//! refused: the person needs to recognise the mail, not to audit it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bytes read from a mail file: enough for any header and a long text.
const MAX_READ: u64 = 1 << 20;
/// Characters of body shown.
const MAX_BODY_CHARS: usize = 20_000;
/// Nesting of multipart parts followed before giving up.
const MAX_DEPTH: usize = 5;

/// What the error window shows of a mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailPreview {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub date: String,
    /// The first text part, decoded; empty when there is none.
    pub body: String,
    /// Whether the body was cut to keep the window responsive.
    pub body_truncated: bool,
}

/// Reads the start of the file at `path` and decodes it.
pub fn read_preview(path: &Path) -> io::Result<MailPreview> {
    let mut bytes = Vec::new();
    File::open(path)?.take(MAX_READ).read_to_end(&mut bytes)?;
    Ok(preview(&bytes))
}

/// Decodes a mail held in memory.
pub fn preview(bytes: &[u8]) -> MailPreview {
    let (header, body) = split_header(bytes);
    let fields = parse_header(header);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| decode_words(value))
            .unwrap_or_default()
    };

    let text = text_body(&fields, body, 0).unwrap_or_default();
    let text = text.trim_end();
    let body_truncated = text.chars().count() > MAX_BODY_CHARS;
    let body = text.chars().take(MAX_BODY_CHARS).collect();
    MailPreview {
        from: field("From"),
        to: field("To"),
        cc: field("Cc"),
        subject: field("Subject"),
        date: field("Date"),
        body,
        body_truncated,
    }
}

/// Splits at the first blank line, with LF or CRLF line ends. A mail with
/// no blank line is all header, as the engine reads it too.
fn split_header(bytes: &[u8]) -> (&[u8], &[u8]) {
    if bytes.starts_with(b"\n") {
        return (&[], &bytes[1..]);
    }
    if bytes.starts_with(b"\r\n") {
        return (&[], &bytes[2..]);
    }
    let lf = find(bytes, b"\n\n").map(|at| (at + 1, at + 2));
    let crlf = find(bytes, b"\r\n\r\n").map(|at| (at + 2, at + 4));
    let split = match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((header_end, body_start)) => (&bytes[..header_end], &bytes[body_start..]),
        None => (bytes, &[]),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The header's fields, in order, with continuation lines unfolded: the
/// line break before a space or tab is dropped, the blank kept.
fn parse_header(header: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some((_, value)) = fields.last_mut() {
                value.extend_from_slice(line);
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
            let value = &line[colon + 1..];
            let start = value
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(value.len());
            fields.push((name, value[start..].to_vec()));
        }
        // Anything else (an mbox "From " line, garbage) is not a field.
    }
    fields
}

/// Decodes a header value: raw 8-bit text as UTF-8 (or Latin-1 when it is
/// not UTF-8), and RFC 2047 encoded words. Blanks between two encoded
/// words are dropped, as the RFC says; blanks next to plain text are kept.
pub fn decode_words(raw: &[u8]) -> String {
    let text = bytes_to_text(raw, "utf-8");
    let mut out = String::new();
    let mut rest = text.as_str();
    let mut after_word = false;

    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match parse_encoded_word(candidate) {
            Some((decoded, used)) => {
                let gap_is_blank = before.chars().all(char::is_whitespace);
                if !(after_word && gap_is_blank) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                after_word = true;
                rest = &candidate[used..];
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                after_word = false;
                rest = &candidate[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads one `=?charset?B|Q?text?=` at the start of `text`; returns the
/// decoded text and the bytes used.
fn parse_encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let charset_end = inner.find('?')?;
    let charset = &inner[..charset_end];
    let after_charset = &inner[charset_end + 1..];
    let mut chars = after_charset.chars();
    let encoding = chars.next()?.to_ascii_uppercase();
    if chars.next()? != '?' {
        return None;
    }
    let payload_and_rest = &after_charset[2..];
    let payload_end = payload_and_rest.find("?=")?;
    let payload = &payload_and_rest[..payload_end];
    if charset.is_empty() || payload.contains(char::is_whitespace) {
        return None;
    }

    let bytes = match encoding {
        'B' => decode_base64(payload.as_bytes())?,
        'Q' => decode_quoted_printable(payload.as_bytes(), true),
        _ => return None,
    };
    // RFC 2231 allows a language after the charset: `utf-8*en`.
    let charset = charset.split('*').next().unwrap_or(charset);
    let used = 2 + charset_end + 1 + 2 + payload_end + 2;
    Some((bytes_to_text(&bytes, charset), used))
}

/// Text from bytes in a charset: UTF-8 and ASCII as such (invalid bytes
/// replaced), the Latin-1 family byte for byte; others as lossy UTF-8.
fn bytes_to_text(bytes: &[u8], charset: &str) -> String {
    let charset = charset.trim().to_ascii_lowercase();
    let latin1 = matches!(
        charset.as_str(),
        "iso-8859-1"
            | "iso8859-1"
            | "latin1"
            | "latin-1"
            | "l1"
            | "iso-8859-15"
            | "iso8859-15"
            | "windows-1252"
            | "cp1252"
    );
    if latin1 {
        return bytes.iter().map(|&b| char::from(b)).collect();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        // Unlabelled 8-bit header text that is not UTF-8 is most likely
        // Latin-1: better than replacement characters.
        Err(_) if charset == "utf-8" && !bytes.is_empty() && is_plain_latin1(bytes) => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn is_plain_latin1(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b >= 0x20 || b == b'\t')
}

/// Base64 with the blanks mail inserts, and with or without padding.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Quoted-printable; in a header `_` is a space, in a body `=` at the end
/// of a line joins it to the next.
fn decode_quoted_printable(text: &[u8], header: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        match text[at] {
            b'_' if header => {
                out.push(b' ');
                at += 1;
            }
            b'=' => {
                let rest = &text[at + 1..];
                if rest.starts_with(b"\r\n") {
                    at += 3;
                } else if rest.starts_with(b"\n") {
                    at += 2;
                } else if let Some(byte) = rest.get(..2).and_then(hex_byte) {
                    out.push(byte);
                    at += 3;
                } else {
                    out.push(b'=');
                    at += 1;
                }
            }
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    out
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// A Content-Type: the lowercase `type/subtype` and its parameters.
struct ContentType {
    mime: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    fn of(fields: &[(String, Vec<u8>)]) -> ContentType {
        let value = header_text(fields, "Content-Type");
        let mut parts = value.split(';');
        let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|part| {
                let (key, value) = part.split_once('=')?;
                let value = value.trim().trim_matches('"').to_owned();
                Some((key.trim().to_ascii_lowercase(), value))
            })
            .collect();
        ContentType {
            mime: if mime.is_empty() {
                "text/plain".to_owned()
            } else {
                mime
            },
            params,
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn header_text(fields: &[(String, Vec<u8>)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
        .unwrap_or_default()
}

/// The text of a part: itself when it is text, else its first text part.
fn text_body(fields: &[(String, Vec<u8>)], body: &[u8], depth: usize) -> Option<String> {
    let content_type = ContentType::of(fields);
    if content_type.mime.starts_with("multipart/") {
        if depth >= MAX_DEPTH {
            return None;
        }
        let boundary = content_type.param("boundary")?;
        let parts = split_multipart(body, boundary);
        let parsed: Vec<_> = parts
            .iter()
            .map(|part| {
                let (header, body) = split_header(part);
                (parse_header(header), body)
            })
            .collect();
        // Plain text first, then anything readable (nested parts, HTML).
        let plain = parsed.iter().find(|(fields, _)| {
            ContentType::of(fields).mime == "text/plain" && !is_attachment(fields)
        });
        if let Some((fields, body)) = plain {
            return text_body(fields, body, depth + 1);
        }
        return parsed
            .iter()
            .filter(|(fields, _)| !is_attachment(fields))
            .find_map(|(fields, body)| text_body(fields, body, depth + 1));
    }
    if !content_type.mime.starts_with("text/") {
        return None;
    }

    let encoding = header_text(fields, "Content-Transfer-Encoding")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => decode_base64(body).unwrap_or_else(|| body.to_vec()),
        "quoted-printable" => decode_quoted_printable(body, false),
        _ => body.to_vec(),
    };
    let charset = content_type.param("charset").unwrap_or("utf-8");
    let text = bytes_to_text(&bytes, charset).replace("\r\n", "\n");
    if content_type.mime == "text/html" {
        Some(strip_html(&text))
    } else {
        Some(text)
    }
}

fn is_attachment(fields: &[(String, Vec<u8>)]) -> bool {
    header_text(fields, "Content-Disposition")
        .trim()
        .to_ascii_lowercase()
        .starts_with("attachment")
}

/// The parts between `--boundary` lines, up to `--boundary--`.
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if let Some(after) = trimmed.strip_prefix(delimiter.as_bytes()) {
            if let Some(begin) = start.take() {
                parts.push(&body[begin..offset]);
            }
            if after.starts_with(b"--") {
                return parts;
            }
            start = Some(offset + line.len());
        }
        offset += line.len();
    }
    if let Some(begin) = start {
        parts.push(&body[begin..]);
    }
    parts
}

/// Just enough HTML handling to read a mail that has no plain text.
fn strip_html(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let name = tag.trim_start_matches('/').to_ascii_lowercase();
                if ["br", "p", "div", "tr", "li"]
                    .iter()
                    .any(|t| name.starts_with(t))
                {
                    out.push('\n');
                }
            }
            _ if in_tag => tag.push(c),
            _ => out.push(c),
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_headers_are_unfolded() {
        let mail = b"Subject: a long\r\n\tsubject line\r\nFrom: A <a@x>\r\n\r\nbody\r\n";
        let preview = preview(mail);
        assert_eq!(preview.subject, "a long\tsubject line");
        assert_eq!(preview.from, "A <a@x>");
        assert_eq!(preview.body, "body");
    }

    #[test]
    fn encoded_words_in_utf8_and_latin1() {
        assert_eq!(decode_words(b"=?UTF-8?B?w6l0w6k=?="), "été");
        assert_eq!(
            decode_words(b"=?iso-8859-1?Q?caf=E9_cr=E8me?="),
            "café crème"
        );
        // The blank between two encoded words goes, the one before plain
        // text stays.
        assert_eq!(
            decode_words(b"=?utf-8?q?Gr=C3=BC?= \t =?utf-8?q?=C3=9Fe?= aus Wien"),
            "Grüße aus Wien"
        );
        assert_eq!(
            decode_words(b"Re: =?ISO-8859-1?B?vGJlcg==?= all"),
            "Re: \u{bc}ber all"
        );
        // Language suffix, lowercase encoding letter, missing padding.
        assert_eq!(decode_words(b"=?utf-8*fr?b?w6k?="), "é");
    }

    #[test]
    fn malformed_encoded_words_are_left_alone() {
        assert_eq!(decode_words(b"=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
        assert_eq!(decode_words(b"price =? 3"), "price =? 3");
        assert_eq!(decode_words(b"=?utf-8?B?no end"), "=?utf-8?B?no end");
        // Raw 8-bit Latin-1 in a header.
        assert_eq!(decode_words(b"caf\xe9"), "café");
    }

    #[test]
    fn multipart_picks_the_plain_text_part() {
        let mail = b"From: x@y\nSubject: =?utf-8?Q?h=C3=A9?=\n\
            Content-Type: multipart/alternative; boundary=\"XYZ\"\n\n\
            preamble\n--XYZ\nContent-Type: text/html\n\n<p>html</p>\n\
            --XYZ\nContent-Type: text/plain; charset=iso-8859-1\n\
            Content-Transfer-Encoding: quoted-printable\n\n\
            caf=E9 long=\nline\n--XYZ--\nepilogue\n";
        let preview = preview(mail);
        assert_eq!(preview.subject, "hé");
        assert_eq!(preview.body, "café longline");
    }

    #[test]
    fn base64_bodies_and_html_only_mail() {
        let mail = b"Content-Type: text/plain; charset=utf-8\n\
            Content-Transfer-Encoding: base64\n\nw6l0w6kK\n";
        assert_eq!(preview(mail).body, "été");

        let html = b"Content-Type: text/html\n\n<html><p>Hi &amp; bye</p><br>x</html>";
        assert_eq!(preview(html).body, "\nHi & bye\n\nx");
    }

    #[test]
    fn odd_files_still_give_a_preview() {
        assert_eq!(preview(b"").subject, "");
        let no_blank_line = preview(b"Subject: only header\n");
        assert_eq!(no_blank_line.subject, "only header");
        assert_eq!(no_blank_line.body, "");
        assert_eq!(preview(b"\nbody only").body, "body only");

        let long = format!("Subject: x\n\n{}", "a".repeat(MAX_BODY_CHARS + 5));
        let preview = preview(long.as_bytes());
        assert!(preview.body_truncated);
        assert_eq!(preview.body.len(), MAX_BODY_CHARS);
    }
}
