//! The main window: the loop's state at a glance, one row per endpoint,
//! and the way to everything else (the only way on a desktop without a
//! tray).

use std::time::SystemTime;

use adw::prelude::*;
use gtk::{gio, glib};

use crate::errors::{explain, reason_line, retrying_status, substitute};
use crate::i18n::{fill, gettext};
use crate::settings::{self, Preferences};
use crate::status::{EndpointState, Overall, Status};
use crate::tray::TrayView;

#[derive(Clone)]
pub struct MainWindow {
    window: adw::ApplicationWindow,
    pause: gtk::ToggleButton,

    state_icon: gtk::Image,
    state_title: gtk::Label,
    state_detail: gtk::Label,
    note: gtk::Label,
    note_card: gtk::Box,

    endpoints: adw::PreferencesGroup,
    rows: std::rc::Rc<std::cell::RefCell<Vec<adw::ActionRow>>>,
}

impl MainWindow {
    pub fn new(
        app: &adw::Application,
        preferences: &std::rc::Rc<Preferences>,
    ) -> MainWindow {
        let window = adw::ApplicationWindow::builder()
            .application(app)
            .title(gettext("Sync Mail Dir"))
            .icon_name(crate::config::ICON_NAME)
            .default_width(preferences.int(settings::WINDOW_WIDTH))
            .default_height(preferences.int(settings::WINDOW_HEIGHT))
            .hide_on_close(true)
            .build();

        let header = adw::HeaderBar::new();
        let sync_now = gtk::Button::builder()
            .icon_name("view-refresh-symbolic")
            .tooltip_text(gettext("Synchronize Now"))
            .action_name("app.sync-now")
            .build();
        let pause = gtk::ToggleButton::builder()
            .icon_name("media-playback-pause-symbolic")
            .tooltip_text(gettext("Pause Synchronization"))
            .action_name("app.pause")
            .build();
        header.pack_start(&sync_now);
        header.pack_start(&pause);

        let menu = gio::Menu::new();
        menu.append(Some(&gettext("_Preferences")), Some("app.preferences"));
        menu.append(Some(&gettext("_Log")), Some("app.log"));
        menu.append(Some(&gettext("_About Sync Mail Dir")), Some("app.about"));
        menu.append(Some(&gettext("_Quit")), Some("app.quit"));
        let menu_button = gtk::MenuButton::builder()
            .icon_name("open-menu-symbolic")
            .menu_model(&menu)
            .tooltip_text(gettext("Main Menu"))
            .primary(true)
            .build();
        header.pack_end(&menu_button);

        let state_icon = gtk::Image::builder().pixel_size(64).build();
        let state_title = gtk::Label::builder()
            .wrap(true)
            .justify(gtk::Justification::Center)
            .css_classes(["title-1"])
            .build();
        let state_detail = gtk::Label::builder()
            .wrap(true)
            .justify(gtk::Justification::Center)
            .css_classes(["dim-label"])
            .build();
        let state = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .halign(gtk::Align::Center)
            .build();
        state.append(&state_icon);
        state.append(&state_title);
        state.append(&state_detail);

        let note = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .margin_top(12)
            .margin_bottom(12)
            .margin_start(12)
            .margin_end(12)
            .build();
        let note_card = gtk::Box::builder()
            .css_classes(["card"])
            .visible(false)
            .build();
        note_card.append(&note);

        let endpoints = adw::PreferencesGroup::builder()
            .title(gettext("Endpoints"))
            .build();
        let edit = gtk::Button::builder()
            .label(gettext("Edit…"))
            .action_name("app.endpoints")
            .valign(gtk::Align::Center)
            .css_classes(["flat"])
            .build();
        endpoints.set_header_suffix(Some(&edit));

        let content = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(24)
            .margin_top(24)
            .margin_bottom(24)
            .margin_start(12)
            .margin_end(12)
            .build();
        content.append(&state);
        content.append(&note_card);
        content.append(&endpoints);

        let clamp = adw::Clamp::builder()
            .maximum_size(600)
            .child(&content)
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&clamp)
            .build();
        let layout = gtk::Box::new(gtk::Orientation::Vertical, 0);
        layout.append(&header);
        layout.append(&scrolled);
        window.set_content(Some(&layout));

        // Remember the size for the next start.
        let weak = std::rc::Rc::downgrade(preferences);
        window.connect_close_request(move |window| {
            if let Some(preferences) = weak.upgrade() {
                preferences.set_int(settings::WINDOW_WIDTH, window.width());
                preferences.set_int(settings::WINDOW_HEIGHT, window.height());
            }
            glib::Propagation::Proceed
        });

        MainWindow {
            window,
            pause,
            state_icon,
            state_title,
            state_detail,
            note,
            note_card,
            endpoints,
            rows: Default::default(),
        }
    }

    pub fn window(&self) -> &adw::ApplicationWindow {
        &self.window
    }

    pub fn present(&self) {
        self.window.present();
    }

    /// Shows `status`.
    pub fn update(&self, status: &Status, tray_missing: bool) {
        let overall = status.overall();
        let view = TrayView::new(&overall, status.paused, false);
        self.state_icon.set_icon_name(Some(&view.icon_name));
        let nothing_scheduled = status.endpoints.is_empty() && overall == Overall::Idle;
        if nothing_scheduled {
            // "Up to date" would be a false comfort: nothing syncs at all.
            self.state_title.set_label(&gettext("Nothing Scheduled"));
            self.state_detail
                .set_label(&gettext("No mailbox is synchronized yet"));
        } else {
            self.state_title.set_label(&headline(&overall));
            self.state_detail.set_label(&view.tooltip);
        }
        self.pause.set_tooltip_text(Some(&if status.paused {
            gettext("Resume Synchronization")
        } else {
            gettext("Pause Synchronization")
        }));

        let mut notes = Vec::new();
        if let Some(problem) = &status.schedule_problem {
            notes.push(fill(
                &gettext("The schedule ~/.smd/loop has a mistake, so the last good one is used: {problem}"),
                &[("problem", problem)],
            ));
        }
        if tray_missing {
            notes.push(gettext(
                "Your desktop shows no tray icons: Sync Mail Dir keeps working in the \
                 background, and this window shows its state.",
            ));
        }
        self.note.set_label(&notes.join("\n\n"));
        self.note_card.set_visible(!notes.is_empty());

        for row in self.rows.borrow_mut().drain(..) {
            self.endpoints.remove(&row);
        }
        if status.endpoints.is_empty() {
            self.endpoints.set_description(Some(&gettext(
                "No endpoint is scheduled yet. Add one in the preferences, and give it \
                 minutes in the schedule.",
            )));
        } else {
            self.endpoints.set_description(None);
        }
        for (name, state) in &status.endpoints {
            let row = endpoint_row(name, state);
            self.endpoints.add(&row);
            self.rows.borrow_mut().push(row);
        }
    }
}

fn headline(overall: &Overall) -> String {
    match overall {
        Overall::Error { .. } => gettext("Your Attention Is Needed"),
        Overall::Syncing { .. } => gettext("Synchronizing…"),
        Overall::Paused => gettext("Paused"),
        Overall::Offline => gettext("Offline"),
        Overall::Busy => gettext("Waiting"),
        Overall::Retrying { .. } => gettext("Trying Again Soon"),
        Overall::Idle => gettext("Up to Date"),
    }
}

fn endpoint_row(name: &str, state: &EndpointState) -> adw::ActionRow {
    let row = adw::ActionRow::builder()
        .title(glib::markup_escape_text(name).as_str())
        .build();
    if let Some(error) = &state.error {
        let explanation = explain(error.failure.tags.context, error.failure.tags.cause);
        row.set_subtitle(&glib::markup_escape_text(&with_reason(
            &explanation.heading,
            &substitute(&error.failure.message, &error.job),
        )));
        row.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
        let show = gtk::Button::builder()
            .label(gettext("Show Problem"))
            .valign(gtk::Align::Center)
            .css_classes(["suggested-action"])
            .action_name("app.show-error")
            .action_target(&name.to_variant())
            .build();
        row.add_suffix(&show);
    } else if let Some(trouble) = &state.trouble {
        // Calm: this is retried without anyone acting.
        row.set_subtitle(&glib::markup_escape_text(&retrying_status(trouble)));
        row.add_prefix(&gtk::Image::from_icon_name("network-offline-symbolic"));
    } else if let Some(when) = state.last_success {
        row.set_subtitle(&fill(
            &gettext("Synchronized {when}"),
            &[("when", &describe_time(when))],
        ));
        row.add_prefix(&gtk::Image::from_icon_name("emblem-ok-symbolic"));
    } else {
        row.set_subtitle(&gettext("Not synchronized yet"));
    }
    row
}

/// The heading, then the failure's own reason when it has one.
fn with_reason(heading: &str, message: &str) -> String {
    match reason_line(message) {
        Some(reason) => fill(
            &gettext("{heading}: {reason}"),
            &[("heading", &heading), ("reason", &reason)],
        ),
        None => heading.to_owned(),
    }
}

/// "at 14:05", in the local time zone.
fn describe_time(when: SystemTime) -> String {
    let seconds = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    glib::DateTime::from_unix_local(seconds)
        .and_then(|time| time.format("%X"))
        .map_or_else(
            |_| String::new(),
            |text| fill(&gettext("at {time}"), &[("time", &text)]),
        )
}
