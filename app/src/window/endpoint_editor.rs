//! The editor of one endpoint's `~/.smd/config.NAME`, a window over the
//! preferences: fields checked while typing, saved line by line (the
//! person's comments and other lines stay), and a "Check Configuration"
//! button that runs smd-check-conf's round trip in the loop thread.
//! Closing it with changes not saved asks first: save, discard or stay.
//!
//! A window rather than a preferences subpage: libadwaita 1.2 loses track
//! of a closed subpage when another is presented soon after, and crashes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use smd::checkconf::{CheckReport, RoundTrip};
use smd::config::Config;

use crate::config_editor::{
    check_verdict, validate, write_atomically, ConfigText, VARIABLES,
};
use crate::i18n::{fill, gettext};
use crate::scheduler::{Command, LoopHandle};

/// The variables set only when the two sides name folders differently.
const TRANSLATED: [&str; 4] = [
    "MAILBOX_LOCAL",
    "MAILBOX_REMOTE",
    "TRANSLATOR_LR",
    "TRANSLATOR_RL",
];

#[derive(Clone)]
pub struct EndpointEditor {
    inner: Rc<Inner>,
}

struct Inner {
    name: String,
    home: PathBuf,
    engine: LoopHandle,

    window: adw::Window,
    widget: gtk::Box,
    rows: HashMap<&'static str, adw::EntryRow>,
    translated: gtk::Switch,
    problems: gtk::Label,
    save: gtk::Button,
    saved: gtk::Label,

    check: gtk::Button,
    spinner: gtk::Spinner,
    results: adw::Clamp,

    /// The person chose to save or discard: closing goes ahead.
    may_close: Cell<bool>,
    /// The question about unsaved changes, while it is asked.
    asking: RefCell<Option<adw::MessageDialog>>,
}

fn title_of(variable: &str) -> String {
    match variable {
        "SERVERNAME" => gettext("Server (ssh host alias)"),
        "CLIENTNAME" => gettext("Name of this computer"),
        "MAILBOX" => gettext("Mailboxes (relative to your home folder)"),
        "MAILBOX_LOCAL" => gettext("Mailboxes here"),
        "MAILBOX_REMOTE" => gettext("Mailboxes on the server"),
        "TRANSLATOR_LR" => gettext("Folder translator, here to server"),
        "TRANSLATOR_RL" => gettext("Folder translator, server to here"),
        "EXCLUDE" => gettext("Folders to leave out"),
        "EXCLUDE_LOCAL" => gettext("Left out when scanning here"),
        "EXCLUDE_REMOTE" => gettext("Left out when scanning the server"),
        "SMDCLIENTOPTS" => {
            gettext("Client options (-l: both mailboxes on this computer)")
        }
        "SMDSERVEROPTS" => gettext("Server options (-n: never delete)"),
        other => other.to_owned(),
    }
}

impl EndpointEditor {
    pub fn new(
        parent: &impl IsA<gtk::Window>,
        home: &Path,
        name: &str,
        engine: LoopHandle,
    ) -> EndpointEditor {
        let path = Config::path_for(home, name);
        let text = ConfigText::parse(&fs::read_to_string(&path).unwrap_or_default());

        let header = adw::HeaderBar::builder()
            .title_widget(&adw::WindowTitle::new(
                &fill(&gettext("Endpoint {name}"), &[("name", &name)]),
                &path.display().to_string(),
            ))
            .build();

        let mut rows = HashMap::new();
        let entry =
            |variable: &'static str, rows: &mut HashMap<&'static str, adw::EntryRow>| {
                let row = adw::EntryRow::builder()
                    .title(title_of(variable))
                    .text(text.get(variable).unwrap_or_default())
                    .build();
                rows.insert(variable, row.clone());
                row
            };

        let server = adw::PreferencesGroup::builder()
            .title(gettext("Server"))
            .build();
        server.add(&entry("SERVERNAME", &mut rows));
        server.add(&entry("CLIENTNAME", &mut rows));

        let mailboxes = adw::PreferencesGroup::builder()
            .title(gettext("Mailboxes"))
            .description(gettext(
                "Folders relative to your home folder, separated by spaces; write a \
                 space inside a name as %20.",
            ))
            .build();
        let translated = gtk::Switch::builder()
            .valign(gtk::Align::Center)
            .active(
                TRANSLATED
                    .iter()
                    .any(|v| text.get(v).is_some_and(|t| !t.is_empty())),
            )
            .build();
        let translated_row = adw::ActionRow::builder()
            .title(gettext("Different folder names on the two sides"))
            .subtitle(gettext(
                "Use translators, such as smd-translate, to map them",
            ))
            .activatable_widget(&translated)
            .build();
        translated_row.add_suffix(&translated);
        mailboxes.add(&translated_row);
        mailboxes.add(&entry("MAILBOX", &mut rows));
        for variable in TRANSLATED {
            mailboxes.add(&entry(variable, &mut rows));
        }

        let exclusions = adw::PreferencesGroup::builder()
            .title(gettext("Exclusions"))
            .description(gettext("Glob patterns of folders not to synchronize."))
            .build();
        for variable in ["EXCLUDE", "EXCLUDE_LOCAL", "EXCLUDE_REMOTE"] {
            exclusions.add(&entry(variable, &mut rows));
        }
        let advanced = adw::PreferencesGroup::builder()
            .title(gettext("Advanced"))
            .build();
        for variable in ["SMDCLIENTOPTS", "SMDSERVEROPTS"] {
            advanced.add(&entry(variable, &mut rows));
        }

        let problems = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .css_classes(["error"])
            .build();
        let saved = gtk::Label::builder().wrap(true).xalign(0.0).build();
        let save = gtk::Button::builder()
            .label(gettext("_Save"))
            .use_underline(true)
            .css_classes(["suggested-action"])
            .build();
        let check = gtk::Button::builder()
            .label(gettext("_Check Configuration"))
            .use_underline(true)
            .build();
        let spinner = gtk::Spinner::new();
        let buttons = gtk::Box::new(gtk::Orientation::Horizontal, 12);
        buttons.append(&save);
        buttons.append(&check);
        buttons.append(&spinner);

        let results = adw::Clamp::new();

        let content = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(24)
            .margin_top(24)
            .margin_bottom(24)
            .margin_start(12)
            .margin_end(12)
            .build();
        for widget in [
            server.upcast_ref::<gtk::Widget>(),
            mailboxes.upcast_ref(),
            exclusions.upcast_ref(),
            advanced.upcast_ref(),
            problems.upcast_ref(),
            buttons.upcast_ref(),
            saved.upcast_ref(),
            results.upcast_ref(),
        ] {
            content.append(widget);
        }
        let clamp = adw::Clamp::builder()
            .maximum_size(640)
            .child(&content)
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&clamp)
            .build();
        let widget = gtk::Box::new(gtk::Orientation::Vertical, 0);
        widget.append(&header);
        widget.append(&scrolled);
        let window = adw::Window::builder()
            .transient_for(parent)
            .title(fill(&gettext("Endpoint {name}"), &[("name", &name)]))
            .default_width(680)
            .default_height(720)
            .content(&widget)
            .build();

        let editor = EndpointEditor {
            inner: Rc::new(Inner {
                name: name.to_owned(),
                home: home.to_owned(),
                engine,
                window,
                widget,
                rows,
                translated: translated.clone(),
                problems,
                save: save.clone(),
                saved,
                check: check.clone(),
                spinner,
                results,
                may_close: Cell::new(false),
                asking: RefCell::new(None),
            }),
        };

        for row in editor.inner.rows.values() {
            let weak = Rc::downgrade(&editor.inner);
            row.connect_changed(move |_| {
                if let Some(inner) = weak.upgrade() {
                    EndpointEditor { inner }.validate();
                }
            });
        }
        let weak = Rc::downgrade(&editor.inner);
        translated.connect_active_notify(move |_| {
            if let Some(inner) = weak.upgrade() {
                EndpointEditor { inner }.validate();
            }
        });
        let weak = Rc::downgrade(&editor.inner);
        save.connect_clicked(move |_| {
            if let Some(inner) = weak.upgrade() {
                EndpointEditor { inner }.save();
            }
        });
        let weak = Rc::downgrade(&editor.inner);
        check.connect_clicked(move |_| {
            if let Some(inner) = weak.upgrade() {
                EndpointEditor { inner }.start_check();
            }
        });
        let weak = Rc::downgrade(&editor.inner);
        editor.inner.window.connect_close_request(move |_| {
            let Some(inner) = weak.upgrade() else {
                return glib::Propagation::Proceed;
            };
            let editor = EndpointEditor { inner };
            if editor.inner.may_close.get() || !editor.unsaved() {
                return glib::Propagation::Proceed;
            }
            editor.ask_about_unsaved(|| {});
            glib::Propagation::Stop
        });
        editor.validate();
        editor
    }

    /// Whether the form holds changes not saved yet.
    pub fn has_unsaved_changes(&self) -> bool {
        self.unsaved()
    }

    /// Asks what to do with the changes not saved: save them, discard
    /// them, or go back to editing. After saving or discarding, the editor
    /// closes and `closed` runs; going back does nothing more. While the
    /// question is open, asking again only shows it (and `closed` is
    /// dropped: the answer to the first question decides).
    pub fn ask_about_unsaved(&self, closed: impl FnOnce() + 'static) {
        let inner = &self.inner;
        if let Some(open) = inner.asking.borrow().as_ref() {
            open.present();
            return;
        }
        let mut body = fill(
            &gettext("The changes to the endpoint {name} are not saved yet. Closing without saving loses them."),
            &[("name", &inner.name)],
        );
        let savable = inner.save.is_sensitive();
        if !savable {
            body.push_str("\n\n");
            body.push_str(&gettext(
                "They cannot be saved as they are: fix the fields marked in red first, or discard them.",
            ));
        }
        let dialog = adw::MessageDialog::builder()
            .transient_for(&inner.window)
            .modal(true)
            .heading(gettext("Save the Changes?"))
            .body(body)
            .build();
        dialog.add_response("cancel", &gettext("_Cancel"));
        dialog.add_response("discard", &gettext("_Discard"));
        dialog.add_response("save", &gettext("_Save"));
        dialog.set_response_appearance("discard", adw::ResponseAppearance::Destructive);
        dialog.set_response_appearance("save", adw::ResponseAppearance::Suggested);
        dialog.set_response_enabled("save", savable);
        dialog.set_default_response(Some(if savable { "save" } else { "cancel" }));
        dialog.set_close_response("cancel");

        let editor = self.clone();
        let closed = Cell::new(Some(closed));
        dialog.connect_response(None, move |_, response| {
            editor.inner.asking.borrow_mut().take();
            let close = match response {
                "save" => editor.save(),
                "discard" => true,
                _ => false,
            };
            if close {
                editor.inner.may_close.set(true);
                editor.inner.window.close();
                if let Some(closed) = closed.take() {
                    closed();
                }
            }
        });
        *inner.asking.borrow_mut() = Some(dialog.clone());
        dialog.present();
    }

    pub fn window(&self) -> &adw::Window {
        &self.inner.window
    }

    pub fn widget(&self) -> &gtk::Box {
        &self.inner.widget
    }

    pub fn present(&self) {
        self.inner.window.present();
    }

    /// The entry of a variable (for the UI test).
    pub fn row(&self, variable: &str) -> Option<adw::EntryRow> {
        self.inner.rows.get(variable).cloned()
    }

    pub fn save_button(&self) -> &gtk::Button {
        &self.inner.save
    }

    pub fn check_button(&self) -> &gtk::Button {
        &self.inner.check
    }

    pub fn problems_text(&self) -> String {
        self.inner.problems.label().to_string()
    }

    /// The value a variable will be saved with: rows of the mode not in
    /// use count as empty.
    fn value(&self, variable: &str) -> String {
        let translated = self.inner.translated.is_active();
        let unused = if translated {
            variable == "MAILBOX"
        } else {
            TRANSLATED.contains(&variable)
        };
        if unused {
            return String::new();
        }
        self.inner
            .rows
            .get(variable)
            .map(|row| row.text().to_string())
            .unwrap_or_default()
    }

    /// Checks the fields as they are typed.
    fn validate(&self) {
        let inner = &self.inner;
        let translated = inner.translated.is_active();
        for (variable, row) in &inner.rows {
            let shown = match *variable {
                "MAILBOX" => !translated,
                v if TRANSLATED.contains(&v) => translated,
                _ => true,
            };
            row.set_visible(shown);
            row.remove_css_class("error");
        }
        let path = std::env::var_os("PATH");
        let problems = validate(&|v| self.value(v), &inner.home, path.as_deref());
        for problem in &problems {
            if let Some(row) = inner.rows.get(problem.variable) {
                row.add_css_class("error");
            }
        }
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", title_of(p.variable), p.message))
            .collect();
        inner.problems.set_label(&text.join("\n"));
        inner.problems.set_visible(!problems.is_empty());
        inner.save.set_sensitive(problems.is_empty());
        self.update_check_button();
    }

    /// Whether the form differs from the file: the check reads the file.
    fn unsaved(&self) -> bool {
        let path = Config::path_for(&self.inner.home, &self.inner.name);
        let text = ConfigText::parse(&fs::read_to_string(&path).unwrap_or_default());
        VARIABLES.iter().any(|variable| {
            self.value(variable).trim() != text.get(variable).unwrap_or_default().trim()
        })
    }

    /// The check runs on the saved file: with unsaved changes it waits.
    fn update_check_button(&self) {
        let inner = &self.inner;
        let unsaved = self.unsaved();
        inner
            .check
            .set_sensitive(!unsaved && !inner.spinner.is_spinning());
        let tooltip = gettext("Save first: the check reads the saved configuration");
        inner
            .check
            .set_tooltip_text(unsaved.then_some(tooltip.as_str()));
    }

    /// Writes the changed lines, then lets the engine read the file as
    /// smd-pull will, to catch what only the shell can tell. Returns
    /// whether the file was written.
    fn save(&self) -> bool {
        let inner = &self.inner;
        let path = Config::path_for(&inner.home, &inner.name);
        let mut text = ConfigText::parse(&fs::read_to_string(&path).unwrap_or_default());
        for variable in VARIABLES {
            let value = self.value(variable);
            if value.trim().is_empty() {
                if text.get(variable).is_some_and(|old| !old.trim().is_empty()) {
                    text.unset(variable);
                }
            } else {
                text.set(variable, &value);
            }
        }
        if let Err(error) = write_atomically(&path, &text.to_text()) {
            self.say(
                &fill(
                    &gettext("The configuration could not be saved: {error}"),
                    &[("error", &error)],
                ),
                false,
            );
            return false;
        }
        self.update_check_button();
        match Config::load(&inner.home, &inner.name) {
            Ok(_) => self.say(&gettext("Saved."), true),
            Err(error) => self.say(
                &fill(
                    &gettext("Saved, but Sync Mail Dir cannot use it yet: {error}"),
                    &[("error", &error)],
                ),
                false,
            ),
        }
        true
    }

    fn say(&self, text: &str, good: bool) {
        let label = &self.inner.saved;
        label.set_label(text);
        label.remove_css_class(if good { "error" } else { "success" });
        label.add_css_class(if good { "success" } else { "error" });
    }

    fn start_check(&self) {
        let inner = &self.inner;
        inner.check.set_sensitive(false);
        inner.spinner.start();
        inner
            .saved
            .set_label(&gettext("Listing the folders on both sides…"));
        inner.saved.remove_css_class("success");
        inner.saved.remove_css_class("error");
        inner.results.set_child(Some(&gtk::Label::new(Some(&gettext(
            "Listing the folders on both sides…",
        )))));
        inner.engine.send(Command::Check(inner.name.clone()));
    }

    /// Shows smd-check-conf's round trips.
    pub fn on_checked(&self, result: &Result<CheckReport, String>) {
        let inner = &self.inner;
        inner.spinner.stop();
        self.update_check_button();
        let content = gtk::Box::new(gtk::Orientation::Vertical, 18);
        match result {
            Err(error) => self.say(
                &fill(
                    &gettext("The check could not run: {error}"),
                    &[("error", error)],
                ),
                false,
            ),
            Ok(report) => {
                let (verdict, good) = check_verdict(report);
                // Beside the button that was clicked, so it is seen
                // without scrolling; the table follows below.
                self.say(&verdict, good);
                content.append(&round_trip_group(
                    &gettext("Folders Here, to the Server and Back"),
                    &report.local,
                ));
                content.append(&round_trip_group(
                    &gettext("Folders on the Server, to Here and Back"),
                    &report.remote,
                ));
            }
        }
        inner.results.set_child(Some(&content));
    }
}

fn error_label(text: &str) -> gtk::Label {
    gtk::Label::builder()
        .label(text)
        .wrap(true)
        .xalign(0.0)
        .css_classes(["error"])
        .build()
}

/// One side of the round-trip table.
fn round_trip_group(
    title: &str,
    side: &Result<Vec<RoundTrip>, String>,
) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder().title(title).build();
    match side {
        Err(error) => group.add(&error_label(error)),
        Ok(trips) if trips.is_empty() => {
            group.set_description(Some(&gettext("No folders were found.")));
        }
        Ok(trips) => {
            for trip in trips {
                let row = adw::ActionRow::builder()
                    .title(glib::markup_escape_text(&trip.folder).as_str())
                    .subtitle(
                        glib::markup_escape_text(&format!(
                            "→ {} → {}",
                            trip.translated, trip.back
                        ))
                        .as_str(),
                    )
                    .build();
                let icon = if trip.holds() {
                    "emblem-ok-symbolic"
                } else {
                    "dialog-error-symbolic"
                };
                row.add_suffix(&gtk::Image::from_icon_name(icon));
                group.add(&row);
            }
        }
    }
    group
}
