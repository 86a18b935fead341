//! The preferences: general switches (GSettings), the schedule, and the
//! endpoints with their editors.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use smd::checkconf::CheckReport;
use smd::config::Config;

use crate::config_editor::{check_endpoint_name, endpoint_names, EndpointNameError};
use crate::i18n::{fill, gettext};
use crate::scheduler::LoopHandle;
use crate::settings::{self, Preferences};
use crate::window::{EndpointEditor, ScheduleEditor};

#[derive(Clone)]
pub struct PreferencesWindow {
    inner: Rc<Inner>,
}

struct Inner {
    home: PathBuf,
    engine: LoopHandle,

    window: adw::PreferencesWindow,
    schedule: ScheduleEditor,
    endpoints_page: adw::PreferencesPage,
    endpoints: adw::PreferencesGroup,
    endpoint_rows: RefCell<Vec<adw::ActionRow>>,
    new_name: adw::EntryRow,
    /// Why the name typed cannot be used, and what can.
    name_problem: gtk::Label,
    editors: RefCell<HashMap<String, EndpointEditor>>,
}

impl PreferencesWindow {
    pub fn new(
        app: &adw::Application,
        home: &Path,
        preferences: Rc<Preferences>,
        engine: LoopHandle,
    ) -> PreferencesWindow {
        let window = adw::PreferencesWindow::builder()
            .application(app)
            .title(gettext("Preferences"))
            .default_width(720)
            .default_height(640)
            .hide_on_close(true)
            .search_enabled(false)
            .build();

        window.add(&general_page(&preferences));

        let schedule = ScheduleEditor::new(home, engine.clone());
        window.add(schedule.page());

        let endpoints_page = adw::PreferencesPage::builder()
            .title(gettext("Endpoints"))
            .icon_name("mail-send-receive-symbolic")
            .build();
        let endpoints = adw::PreferencesGroup::builder()
            .title(gettext("Endpoints"))
            .description(gettext(
                "Each endpoint is a pair of mailboxes, here and on a server, described \
                 by a file ~/.smd/config.NAME.",
            ))
            .build();
        endpoints_page.add(&endpoints);
        let new_group = adw::PreferencesGroup::builder()
            .title(gettext("New Endpoint"))
            .build();
        let new_name = adw::EntryRow::builder()
            .title(gettext("Name of the new endpoint, then press Enter"))
            .show_apply_button(true)
            .build();
        new_group.add(&new_name);
        let name_problem = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .margin_top(6)
            .visible(false)
            .css_classes(["error"])
            .build();
        new_group.add(&name_problem);
        endpoints_page.add(&new_group);
        window.add(&endpoints_page);

        let preferences_window = PreferencesWindow {
            inner: Rc::new(Inner {
                home: home.to_owned(),
                engine,
                window,
                schedule,
                endpoints_page,
                endpoints,
                endpoint_rows: RefCell::new(Vec::new()),
                new_name: new_name.clone(),
                name_problem,
                editors: RefCell::new(HashMap::new()),
            }),
        };
        let weak = Rc::downgrade(&preferences_window.inner);
        new_name.connect_apply(move |row| {
            if let Some(inner) = weak.upgrade() {
                PreferencesWindow { inner }.create_endpoint(&row.text());
            }
        });
        let weak = Rc::downgrade(&preferences_window.inner);
        new_name.connect_changed(move |row| {
            if let Some(inner) = weak.upgrade() {
                // Nothing typed yet is no mistake: Enter says so.
                let problem = check_endpoint_name(row.text().trim())
                    .err()
                    .filter(|problem| *problem != EndpointNameError::Empty);
                PreferencesWindow { inner }.show_name_problem(problem);
            }
        });
        preferences_window.refresh();
        preferences_window
    }

    pub fn window(&self) -> &adw::PreferencesWindow {
        &self.inner.window
    }

    pub fn present(&self) {
        self.refresh();
        self.inner.window.present();
    }

    /// Shows the schedule page.
    pub fn show_schedule(&self) {
        self.present();
        self.inner
            .window
            .set_visible_page(self.inner.schedule.page());
    }

    /// Shows the page of the endpoints.
    pub fn show_endpoints(&self) {
        self.present();
        self.inner
            .window
            .set_visible_page(&self.inner.endpoints_page);
    }

    /// Whether the page of the endpoints is the one shown.
    pub fn shows_endpoints(&self) -> bool {
        self.inner.window.visible_page().as_ref() == Some(&self.inner.endpoints_page)
    }

    /// Shows the page of the endpoints and the editor of `name` over it.
    pub fn edit_endpoint(&self, name: &str) -> EndpointEditor {
        self.show_endpoints();
        self.open_endpoint(name)
    }

    /// The editor of `name`, if one is open.
    pub fn editor(&self, name: &str) -> Option<EndpointEditor> {
        self.inner
            .editors
            .borrow()
            .get(name)
            .filter(|editor| editor.window().is_visible())
            .cloned()
    }

    /// An open editor holding changes not saved, if any.
    pub fn unsaved_editor(&self) -> Option<EndpointEditor> {
        self.inner
            .editors
            .borrow()
            .values()
            .find(|editor| editor.window().is_visible() && editor.has_unsaved_changes())
            .cloned()
    }

    /// Reads the endpoints and the schedule again.
    pub fn refresh(&self) {
        let inner = &self.inner;
        inner.schedule.reload();
        for row in inner.endpoint_rows.borrow_mut().drain(..) {
            inner.endpoints.remove(&row);
        }
        for name in endpoint_names(&inner.home) {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&name).as_str())
                .subtitle(
                    glib::markup_escape_text(
                        &Config::path_for(&inner.home, &name).display().to_string(),
                    )
                    .as_str(),
                )
                .activatable(true)
                .build();
            row.add_suffix(&gtk::Image::from_icon_name("go-next-symbolic"));
            let weak = Rc::downgrade(&self.inner);
            let endpoint = name.clone();
            row.connect_activated(move |_| {
                if let Some(inner) = weak.upgrade() {
                    PreferencesWindow { inner }.open_endpoint(&endpoint);
                }
            });
            inner.endpoints.add(&row);
            inner.endpoint_rows.borrow_mut().push(row);
        }
    }

    /// Shows the editor of `name`: the one open, with what was typed in
    /// it, or a new one read from its file.
    pub fn open_endpoint(&self, name: &str) -> EndpointEditor {
        let inner = &self.inner;
        if let Some(open) = self.editor(name) {
            open.present();
            return open;
        }
        let editor =
            EndpointEditor::new(&inner.window, &inner.home, name, inner.engine.clone());
        // The latest editor of an endpoint gets its check results.
        inner
            .editors
            .borrow_mut()
            .insert(name.to_owned(), editor.clone());
        editor.present();
        editor
    }

    /// The row where a new endpoint's name is typed.
    pub fn new_name_row(&self) -> &adw::EntryRow {
        &self.inner.new_name
    }

    /// What is said about the name typed: empty when it is fine.
    pub fn name_problem_text(&self) -> String {
        let label = &self.inner.name_problem;
        if label.is_visible() {
            label.label().to_string()
        } else {
            String::new()
        }
    }

    fn show_name_problem(&self, problem: Option<EndpointNameError>) {
        let (row, label) = (&self.inner.new_name, &self.inner.name_problem);
        match problem {
            Some(problem) => {
                row.add_css_class("error");
                label.set_label(&problem.to_string());
                label.set_visible(true);
            }
            None => {
                row.remove_css_class("error");
                label.set_visible(false);
            }
        }
    }

    /// Writes the template of a new endpoint and opens its editor; a name
    /// that cannot be used is refused, saying why.
    pub fn create_endpoint(&self, name: &str) {
        let inner = &self.inner;
        let name = name.trim();
        if let Err(problem) = check_endpoint_name(name) {
            self.show_name_problem(Some(problem));
            return;
        }
        let exists = Config::path_for(&inner.home, name).exists();
        if !exists {
            if let Err(error) = Config::write_template(&inner.home, name) {
                let toast = adw::Toast::new(&fill(
                    &gettext("The endpoint could not be created: {error}"),
                    &[("error", &error)],
                ));
                inner.window.add_toast(toast);
                return;
            }
        }
        inner.new_name.set_text("");
        self.refresh();
        self.open_endpoint(name);
    }

    /// A configuration check finished.
    pub fn on_checked(&self, name: &str, result: &Result<CheckReport, String>) {
        if let Some(editor) = self.inner.editors.borrow().get(name) {
            editor.on_checked(result);
        }
    }
}

fn general_page(preferences: &Rc<Preferences>) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("General"))
        .icon_name("emblem-system-symbolic")
        .build();
    let group = |title: String| {
        let group = adw::PreferencesGroup::builder().title(title).build();
        page.add(&group);
        group
    };
    group(gettext("Notifications")).add(&switch_row(
        preferences,
        settings::NOTIFY_NEW_MAIL,
        gettext("Notify About New Mail"),
        gettext("Problems that need you are always notified"),
    ));
    group(gettext("Tray Icon")).add(&switch_row(
        preferences,
        settings::ICON_ONLY_ON_ERRORS,
        gettext("Show the Icon Only on Errors"),
        gettext("Panels that support it hide the icon while all is well"),
    ));
    group(gettext("Startup")).add(&switch_row(
        preferences,
        settings::START_AT_LOGIN,
        gettext("Start at Login"),
        gettext("Synchronize in the background from the moment you log in"),
    ));
    page
}

/// A switch kept in step with a boolean preference, both ways.
fn switch_row(
    preferences: &Rc<Preferences>,
    key: &'static str,
    title: String,
    subtitle: String,
) -> adw::ActionRow {
    let switch = gtk::Switch::builder()
        .valign(gtk::Align::Center)
        .active(preferences.boolean(key))
        .build();
    let row = adw::ActionRow::builder()
        .title(title)
        .subtitle(subtitle)
        .activatable_widget(&switch)
        .build();
    row.add_suffix(&switch);

    let weak = Rc::downgrade(preferences);
    switch.connect_active_notify(move |switch| {
        if let Some(preferences) = weak.upgrade() {
            preferences.set_boolean(key, switch.is_active());
        }
    });
    let weak_switch = switch.downgrade();
    let weak = Rc::downgrade(preferences);
    preferences.connect_changed(move |changed| {
        // Changed elsewhere (gsettings, the tray): show it. Setting the
        // value the preference already has changes nothing, so this does
        // not loop.
        if let (Some(switch), Some(preferences)) = (weak_switch.upgrade(), weak.upgrade())
        {
            if changed == key {
                switch.set_active(preferences.boolean(key));
            }
        }
    });
    row
}
