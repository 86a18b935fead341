//! Shell-style pattern matching with the semantics of POSIX `fnmatch`
//! called with no flags: `*` and `?` match `/` and a leading `.` too,
//! `[...]` is a bracket expression (`!` or `^` negates, `a-z` ranges) and
//! `\` quotes the next character. smd's `--exclude` patterns use exactly
//! this, so `*/spam` excludes a folder at any depth.

/// Returns true if and only if `name` matches `pattern`.
pub fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    // Classic backtracking over the last `*` only: linear in practice and
    // never exponential.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;

    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_bracket(&pattern[p..], name[n]) {
                        if matched {
                            p += next;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        // An unterminated bracket is an ordinary `[`.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == name[n] {
                        p += 2;
                        n += 1;
                        continue;
                    }
                }
                literal => {
                    if literal == name[n] {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((star_p, star_n)) => {
                star = Some((star_p, star_n + 1));
                p = star_p + 1;
                n = star_n + 1;
            }
            None => return false,
        }
    }

    pattern[p..].iter().all(|&byte| byte == b'*')
}

/// Matches one byte against the bracket expression at the start of
/// `pattern`. Returns whether it matched and the expression's length, or
/// `None` when the bracket is not closed.
fn match_bracket(pattern: &[u8], byte: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &c = pattern.get(i)?;
        if c == b']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let (low, after_low) = if c == b'\\' {
            (*pattern.get(i + 1)?, i + 2)
        } else {
            (c, i + 1)
        };
        if pattern.get(after_low) == Some(&b'-')
            && pattern.get(after_low + 1) != Some(&b']')
        {
            let &high = pattern.get(after_low + 1)?;
            matched |= low <= byte && byte <= high;
            i = after_low + 2;
        } else {
            matched |= low == byte;
            i = after_low;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    fn m(pattern: &str, name: &str) -> bool {
        fnmatch(pattern.as_bytes(), name.as_bytes())
    }

    #[test]
    fn star_crosses_slashes_and_dots() {
        assert!(m("*", "Mail/.spam/cur"));
        assert!(m("Mail/*spam*", "Mail/.Junk.spam"));
        assert!(m("*/Trash", "Mail/sub/Trash"));
        assert!(!m("*/Trash", "Mail/Trash/cur"));
        assert!(m("Mail/.*", "Mail/.hidden"));
    }

    #[test]
    fn question_mark_and_literals() {
        assert!(m("Mail/?", "Mail/x"));
        assert!(!m("Mail/?", "Mail/xy"));
        assert!(m("My Mail", "My Mail"));
        assert!(!m("abc", "abd"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn brackets_ranges_negation_and_escapes() {
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("[]]", "]"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("[unclosed", "[unclosed"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let name = "a".repeat(200);
        assert!(!m(&format!("{}b", "*a".repeat(50)), &name));
    }
}
