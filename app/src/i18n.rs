//! Translation: every string a person reads goes through `gettext`,
//! written as a plain function call so that `xgettext --language=C`
//! finds it (xgettext 0.21 has no Rust parser, and cannot see macros).

use std::fmt::Display;

pub use gettextrs::{gettext, ngettext};

use crate::config::{GETTEXT_PACKAGE, LOCALEDIR};

/// Binds the text domain. GTK's own initialisation calls
/// `setlocale(LC_ALL, "")`, so nothing else is needed here.
pub fn init() {
    // A failure only means untranslated text: not worth stopping for.
    let _ = gettextrs::bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    let _ = gettextrs::bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    let _ = gettextrs::textdomain(GETTEXT_PACKAGE);
}

/// Replaces each `{name}` in a translated template by its value, so that
/// translators can move the placeholders around.
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_named_and_may_repeat() {
        let text = fill(
            "{count} new in {name} ({name})",
            &[("name", &"work"), ("count", &3)],
        );
        assert_eq!(text, "3 new in work (work)");
        assert_eq!(gettext("Untranslated stays"), "Untranslated stays");
    }
}
