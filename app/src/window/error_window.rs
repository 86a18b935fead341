//! The error window: what happened, in sentences; the mail in question,
//! readable; file permissions when they matter; and one button per thing
//! that can be done. After an action the sync runs again and its outcome
//! shows here, in the same window.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;

use adw::prelude::*;
use gtk::{gio, glib};

use crate::actions::{self, Offer, Side};
use crate::application::AppAction;
use crate::errors::{explain, substitute};
use crate::i18n::{fill, gettext};
use crate::journal::Journal;
use crate::mail_preview::read_preview;
use crate::scheduler::{inverse, Command, Event, LoopHandle, Outcome};
use crate::status::ErrorState;

#[derive(Clone)]
pub struct ErrorWindow {
    inner: Rc<Inner>,
}

struct Inner {
    window: adw::Window,
    endpoint: String,
    engine: LoopHandle,
    journal: Journal,

    outcome: gtk::Label,
    /// Where the messages moved aside went: kept in sight while the
    /// synchronization that follows replaces the outcome line.
    moved_note: gtk::Label,
    clamp: adw::Clamp,

    shown: RefCell<Option<ErrorState>>,
    buttons: RefCell<Vec<(Offer, gtk::Button)>>,
    /// An action was taken and its sync has not finished.
    waiting: Cell<bool>,
    /// The outcome line speaks of the error about to be shown: keep it.
    keep_outcome: Cell<bool>,
}

impl ErrorWindow {
    pub fn new(
        app: &adw::Application,
        endpoint: &str,
        engine: LoopHandle,
        journal: Journal,
    ) -> ErrorWindow {
        let window = adw::Window::builder()
            .application(app)
            .title(fill(
                &gettext("Problem with {endpoint}"),
                &[("endpoint", &endpoint)],
            ))
            .default_width(640)
            .default_height(720)
            .hide_on_close(true)
            .build();

        let outcome = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .visible(false)
            .margin_top(12)
            .margin_start(12)
            .margin_end(12)
            .build();
        let moved_note = gtk::Label::builder()
            .wrap(true)
            .wrap_mode(gtk::pango::WrapMode::WordChar)
            .xalign(0.0)
            .visible(false)
            .selectable(true)
            .focusable(false)
            .margin_top(6)
            .margin_start(12)
            .margin_end(12)
            .name("moved-note")
            .build();
        let clamp = adw::Clamp::builder().maximum_size(640).build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&clamp)
            .build();
        let layout = gtk::Box::new(gtk::Orientation::Vertical, 0);
        layout.append(&adw::HeaderBar::new());
        layout.append(&outcome);
        layout.append(&moved_note);
        layout.append(&scrolled);
        window.set_content(Some(&layout));

        ErrorWindow {
            inner: Rc::new(Inner {
                window,
                endpoint: endpoint.to_owned(),
                engine,
                journal,
                outcome,
                moved_note,
                clamp,
                shown: RefCell::new(None),
                buttons: RefCell::new(Vec::new()),
                waiting: Cell::new(false),
                keep_outcome: Cell::new(false),
            }),
        }
    }

    pub fn window(&self) -> &adw::Window {
        &self.inner.window
    }

    pub fn present(&self) {
        self.inner.window.present();
    }

    /// The action buttons, with what each does (for the UI test).
    pub fn buttons(&self) -> Vec<(Offer, gtk::Button)> {
        self.inner.buttons.borrow().clone()
    }

    /// The line saying how the last action went.
    pub fn outcome_text(&self) -> String {
        self.inner.outcome.label().to_string()
    }

    /// What is said about the messages moved aside, if any were.
    pub fn moved_text(&self) -> String {
        let note = &self.inner.moved_note;
        if note.is_visible() {
            note.label().to_string()
        } else {
            String::new()
        }
    }

    /// Shows `error`, unless it is the one already shown.
    pub fn show_error(&self, error: &ErrorState) {
        if self.inner.shown.borrow().as_ref() == Some(error) {
            self.inner.keep_outcome.set(false);
            return;
        }
        *self.inner.shown.borrow_mut() = Some(error.clone());
        if !self.inner.keep_outcome.replace(false) {
            self.say("", None);
            self.inner.moved_note.set_visible(false);
        }
        let content = self.build(error);
        self.inner.clamp.set_child(Some(&content));
        self.set_waiting(false);
    }

    fn build(&self, error: &ErrorState) -> gtk::Box {
        let failure = &error.failure;
        let explanation = explain(failure.tags.context, failure.tags.cause);
        let plan = actions::plan(&failure.tags, failure.side, &failure.mailboxes);

        let content = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(18)
            .margin_top(18)
            .margin_bottom(18)
            .margin_start(12)
            .margin_end(12)
            .build();
        content.append(
            &gtk::Label::builder()
                .label(&explanation.heading)
                .wrap(true)
                .xalign(0.0)
                .css_classes(["title-2"])
                .build(),
        );
        let direction = match error.job.direction {
            smd::schedule::Direction::Pull => gettext("receiving mail"),
            smd::schedule::Direction::Push => gettext("sending mail"),
        };
        let context = fill(
            &gettext("This happened while {doing} for {endpoint}."),
            &[("doing", &direction), ("endpoint", &self.inner.endpoint)],
        );
        content.append(&paragraph(&format!("{} {}", context, explanation.body)));
        // The failure's own words (a missing file, the shell's error, the
        // option that overrides a guard), not only in the details below.
        let message = substitute(&failure.message, &error.job);
        if !message.trim().is_empty() {
            let reason = gtk::Label::builder()
                .label(fill(
                    &gettext("What it says: {message}"),
                    &[("message", &message.trim())],
                ))
                .wrap(true)
                .wrap_mode(gtk::pango::WrapMode::WordChar)
                .selectable(true)
                // Selectable for copying, but not the first focus: GTK
                // would select all of it when the window opens.
                .focusable(false)
                .xalign(0.0)
                .name("failure-message")
                .build();
            content.append(&reason);
        }
        if failure.side == Side::Remote {
            content.append(&paragraph(&gettext(
                "The server reported this problem, so the files it names are on the \
                 server: deal with them there, or use the buttons below.",
            )));
        }

        if let Some(mail) = &plan.mail {
            content.append(&mail_group(mail));
        }
        if !plan.permissions.is_empty() {
            content.append(&permissions_group(&plan.permissions, &failure.mailboxes));
        }

        let buttons = gtk::FlowBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .column_spacing(12)
            .row_spacing(12)
            .homogeneous(false)
            .max_children_per_line(4)
            .build();
        let mut made = Vec::new();
        for offer in &plan.offers {
            let button = gtk::Button::builder().label(offer_label(offer)).build();
            if matches!(offer, Offer::MoveAside(_) | Offer::Retry) {
                button.add_css_class("suggested-action");
            }
            if matches!(offer, Offer::Remove(_)) {
                button.add_css_class("destructive-action");
            }
            let this = self.clone();
            let chosen = offer.clone();
            button.connect_clicked(move |_| this.perform(&chosen));
            buttons.insert(&button, -1);
            made.push((offer.clone(), button));
        }
        *self.inner.buttons.borrow_mut() = made;
        content.append(&buttons);

        if !plan.refused.is_empty() {
            content.append(&paragraph(&substitute(
                &plan.refused.join("\n"),
                &error.job,
            )));
        }

        let details = gtk::Label::builder()
            .label(substitute(
                &format!("{}\n\nTAGS: {}", failure.message, failure.tags),
                &error.job,
            ))
            .wrap(true)
            .wrap_mode(gtk::pango::WrapMode::WordChar)
            .selectable(true)
            .xalign(0.0)
            .css_classes(["monospace"])
            .build();
        let expander = gtk::Expander::builder()
            .label(gettext("Technical Details"))
            .child(&details)
            .build();
        content.append(&expander);
        content
    }

    fn set_waiting(&self, waiting: bool) {
        self.inner.waiting.set(waiting);
        for (_, button) in self.inner.buttons.borrow().iter() {
            button.set_sensitive(!waiting);
        }
    }

    fn say(&self, text: &str, good: Option<bool>) {
        let label = &self.inner.outcome;
        label.set_label(text);
        label.set_visible(!text.is_empty());
        label.remove_css_class("success");
        label.remove_css_class("error");
        match good {
            Some(true) => label.add_css_class("success"),
            Some(false) => label.add_css_class("error"),
            None => {}
        }
    }

    /// Does what a button offers. Paths were checked when the plan was
    /// made, and are checked again by the action itself, right before
    /// touching anything.
    fn perform(&self, offer: &Offer) {
        let Some(error) = self.inner.shown.borrow().clone() else {
            return;
        };
        let mailboxes = &error.failure.mailboxes;
        match offer {
            Offer::ShowFile(path) => self.show_file(mailboxes, path),
            Offer::MoveAside(path) => match actions::move_aside(mailboxes, path) {
                Ok(moved) => {
                    self.inner.journal.write(&format!(
                        "{}: the local message {} was moved aside to {}",
                        self.inner.endpoint,
                        path.display(),
                        moved.display()
                    ));
                    self.tell_moved(&moved);
                    self.say(&gettext("Synchronizing again…"), None);
                    self.retry(&error);
                }
                Err(failure) => self.say(&failure.to_string(), Some(false)),
            },
            Offer::Remove(path) => self.confirm_remove(&error, path),
            Offer::InverseSync => {
                self.inner.journal.write(&format!(
                    "{}: synchronizing in the other direction first, to keep the local version",
                    self.inner.endpoint
                ));
                self.say(
                    &gettext("Synchronizing in the other direction first…"),
                    None,
                );
                self.set_waiting(true);
                self.inner.engine.send(Command::Run(inverse(&error.job)));
                self.inner.engine.send(Command::Run(error.job.clone()));
            }
            Offer::EditEndpoint => {
                if let Some(app) = self.inner.window.application() {
                    let edit = AppAction::EditEndpoint(self.inner.endpoint.clone());
                    edit.activate(&app);
                }
            }
            Offer::Retry => {
                self.say(&gettext("Synchronizing again…"), None);
                self.retry(&error);
            }
        }
    }

    /// Says where a message moved aside went, in full, for as long as the
    /// window deals with this error.
    fn tell_moved(&self, moved: &Path) {
        let note = &self.inner.moved_note;
        let line = fill(
            &gettext("The local message was moved aside to {path}"),
            &[("path", &moved.display())],
        );
        let text = if note.is_visible() {
            format!("{}\n{line}", note.label())
        } else {
            line
        };
        note.set_label(&text);
        note.set_visible(true);
    }

    fn retry(&self, error: &ErrorState) {
        self.set_waiting(true);
        self.inner.engine.send(Command::Run(error.job.clone()));
    }

    fn show_file(&self, mailboxes: &actions::Mailboxes, path: &Path) {
        let folder = match mailboxes.message(path) {
            Ok(real) => real.parent().map(Path::to_path_buf),
            Err(error) => {
                self.say(&error.to_string(), Some(false));
                return;
            }
        };
        let Some(uri) = folder.and_then(|f| glib::filename_to_uri(f, None).ok()) else {
            return;
        };
        let this = self.clone();
        glib::spawn_future_local(async move {
            let launched = gio::AppInfo::launch_default_for_uri_future(
                &uri,
                None::<&gio::AppLaunchContext>,
            )
            .await;
            if let Err(error) = launched {
                this.say(
                    &fill(
                        &gettext("The folder could not be opened: {error}"),
                        &[("error", &error)],
                    ),
                    Some(false),
                );
            }
        });
    }

    fn confirm_remove(&self, error: &ErrorState, path: &Path) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dialog = adw::MessageDialog::builder()
            .transient_for(&self.inner.window)
            .modal(true)
            .heading(gettext("Delete the Local Copy?"))
            .body(fill(
                &gettext("The message “{name}” will be deleted from this computer. It is already gone from the other side."),
                &[("name", &name)],
            ))
            .build();
        dialog.add_response("cancel", &gettext("_Cancel"));
        dialog.add_response("delete", &gettext("_Delete"));
        dialog.set_response_appearance("delete", adw::ResponseAppearance::Destructive);
        dialog.set_default_response(Some("cancel"));
        dialog.set_close_response("cancel");

        let this = self.clone();
        let error = error.clone();
        let path = path.to_owned();
        dialog.connect_response(None, move |_, response| {
            if response != "delete" {
                return;
            }
            match actions::remove(&error.failure.mailboxes, &path) {
                Ok(()) => {
                    this.inner.journal.write(&format!(
                        "{}: the local copy {} was deleted",
                        this.inner.endpoint,
                        path.display()
                    ));
                    this.say(
                        &gettext("The local copy was deleted. Synchronizing again…"),
                        None,
                    );
                    this.retry(&error);
                }
                Err(failure) => this.say(&failure.to_string(), Some(false)),
            }
        });
        dialog.present();
    }

    /// Follows the runs an action started, and says how they ended; a
    /// success of the failed run settles the error even when it came from
    /// elsewhere (the schedule, "Sync Now", smd-pull by hand).
    pub fn on_event(&self, event: &Event) {
        let Some(error) = self.inner.shown.borrow().clone() else {
            return;
        };
        let Event::Finished(job, report) = event else {
            return;
        };
        if job.endpoint != self.inner.endpoint {
            return;
        }
        let retried = *job == error.job;
        let waiting = self.inner.waiting.get();
        match report.outcome {
            Outcome::Done if retried => {
                self.say(
                    &fill(
                        &gettext("Solved: {endpoint} is synchronized again."),
                        &[("endpoint", &self.inner.endpoint)],
                    ),
                    Some(true),
                );
                // Nothing is left to do here but close the window.
                self.inner.waiting.set(false);
                for (_, button) in self.inner.buttons.borrow().iter() {
                    button.set_sensitive(false);
                }
            }
            // The inverse sync went through; the retry follows.
            Outcome::Done => {}
            Outcome::NeedsPerson if waiting => {
                self.say(
                    &gettext(
                        "The synchronization stopped again; this is what it says now.",
                    ),
                    Some(false),
                );
                self.inner.keep_outcome.set(true);
                self.set_waiting(false);
            }
            Outcome::Busy | Outcome::Transient if waiting => {
                let reason = report
                    .failure
                    .as_ref()
                    .map(|f| explain(f.tags.context, f.tags.cause).heading)
                    .unwrap_or_default();
                self.say(
                    &fill(
                        &gettext(
                            "It did not work this time ({reason}). Try again in a moment.",
                        ),
                        &[("reason", &reason)],
                    ),
                    Some(false),
                );
                self.set_waiting(false);
            }
            Outcome::NeedsPerson | Outcome::Busy | Outcome::Transient => {}
        }
    }
}

fn paragraph(text: &str) -> gtk::Label {
    gtk::Label::builder()
        .label(text)
        .wrap(true)
        .xalign(0.0)
        .build()
}

fn offer_label(offer: &Offer) -> String {
    match offer {
        Offer::ShowFile(_) => gettext("Show File"),
        Offer::MoveAside(_) => gettext("Move Aside"),
        Offer::Remove(_) => gettext("Delete Local Copy"),
        Offer::InverseSync => gettext("Keep My Version"),
        Offer::EditEndpoint => gettext("Edit Endpoint…"),
        Offer::Retry => gettext("Try Again"),
    }
}

/// The mail as a person reads it: the usual header fields and its text.
fn mail_group(path: &Path) -> gtk::Widget {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("The Message"))
        .description(glib::markup_escape_text(&path.display().to_string()).as_str())
        .build();
    let preview = match read_preview(path) {
        Ok(preview) => preview,
        Err(error) => {
            let text = fill(
                &gettext("{path} cannot be read: {error}"),
                &[("path", &path.display()), ("error", &error)],
            );
            group.set_description(Some(glib::markup_escape_text(&text).as_str()));
            return group.upcast();
        }
    };
    for (title, value) in [
        (gettext("From"), &preview.from),
        (gettext("To"), &preview.to),
        (gettext("Cc"), &preview.cc),
        (gettext("Subject"), &preview.subject),
        (gettext("Date"), &preview.date),
    ] {
        if value.is_empty() {
            continue;
        }
        let row = adw::ActionRow::builder()
            .title(title)
            .subtitle(glib::markup_escape_text(value).as_str())
            .css_classes(["property"])
            .build();
        group.add(&row);
    }

    let mut body = preview.body.clone();
    if preview.body_truncated {
        body.push_str("\n…");
    }
    let text = gtk::TextView::builder()
        .editable(false)
        .cursor_visible(false)
        .wrap_mode(gtk::WrapMode::WordChar)
        .monospace(true)
        .top_margin(12)
        .bottom_margin(12)
        .left_margin(12)
        .right_margin(12)
        .build();
    text.buffer().set_text(&body);
    let scrolled = gtk::ScrolledWindow::builder()
        .min_content_height(120)
        .max_content_height(320)
        .propagate_natural_height(true)
        .hscrollbar_policy(gtk::PolicyType::Never)
        .child(&text)
        .css_classes(["card"])
        .margin_top(12)
        .build();
    let container = gtk::Box::new(gtk::Orientation::Vertical, 0);
    container.append(&group);
    container.append(&scrolled);
    container.upcast()
}

fn permissions_group(
    paths: &[std::path::PathBuf],
    mailboxes: &actions::Mailboxes,
) -> gtk::Widget {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Permissions"))
        .description(gettext(
            "Each file and folder must be readable and writable by you.",
        ))
        .build();
    for path in paths {
        match actions::describe_permissions(mailboxes, path) {
            Ok(lines) => {
                for (shown, mode) in lines {
                    let row = adw::ActionRow::builder()
                        .title(
                            glib::markup_escape_text(&shown.display().to_string())
                                .as_str(),
                        )
                        .subtitle(mode)
                        .css_classes(["property"])
                        .build();
                    group.add(&row);
                }
            }
            Err(error) => {
                let row = adw::ActionRow::builder()
                    .title(glib::markup_escape_text(&error.to_string()).as_str())
                    .build();
                group.add(&row);
            }
        }
    }
    group.upcast()
}
