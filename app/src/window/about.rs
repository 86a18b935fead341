//! The About window.

use adw::prelude::*;

use crate::config::{ICON_NAME, ISSUES, VERSION, WEBSITE};
use crate::i18n::gettext;

pub fn show_about(parent: Option<&gtk::Window>) -> adw::AboutWindow {
    let about = adw::AboutWindow::builder()
        .application_name(gettext("Sync Mail Dir"))
        .application_icon(ICON_NAME)
        .version(VERSION)
        .comments(gettext(
            "Keeps two Maildir mailboxes in sync over ssh, and tells you when a \
             problem needs you.",
        ))
        .website(WEBSITE)
        .issue_url(ISSUES)
        .developer_name(gettext("The smd-rs developers"))
        .license_type(gtk::License::Gpl30)
        // Translators: your name(s), one a line, to be credited.
        .translator_credits(gettext("translator-credits"))
        .build();
    if let Some(parent) = parent {
        about.set_transient_for(Some(parent));
    }
    about.present();
    about
}
