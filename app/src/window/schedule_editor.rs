//! The schedule page of the preferences: how often each endpoint is
//! pulled and pushed, saved to `~/.smd/loop` as soon as it changes, with
//! the person's comments and other lines kept.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use crate::config_editor::{
    endpoint_names, parse_minutes, write_atomically, LoopText, MAX_MINUTES,
};
use crate::i18n::{fill, gettext};
use crate::scheduler::{schedule_path, Command, LoopHandle};

#[derive(Clone)]
pub struct ScheduleEditor {
    inner: Rc<Inner>,
}

struct Inner {
    home: PathBuf,
    engine: LoopHandle,

    page: adw::PreferencesPage,
    entries: adw::PreferencesGroup,
    rows: RefCell<Vec<adw::ActionRow>>,
    candidates: gtk::StringList,
    add: gtk::Button,
    problem: gtk::Label,

    text: RefCell<LoopText>,
}

impl ScheduleEditor {
    pub fn new(home: &Path, engine: LoopHandle) -> ScheduleEditor {
        let page = adw::PreferencesPage::builder()
            .title(gettext("Schedule"))
            .icon_name("alarm-symbolic")
            .build();

        let entries = adw::PreferencesGroup::builder()
            .title(gettext("Synchronized Endpoints"))
            .description(gettext(
                "How often each endpoint receives mail from its server (pull) and sends \
                 changes to it (push), in minutes; 0 means never. Changes apply at once, \
                 and an endpoint added here synchronizes right away.",
            ))
            .build();
        page.add(&entries);

        let candidates = gtk::StringList::new(&[]);
        let dropdown = gtk::DropDown::builder()
            .model(&candidates)
            .valign(gtk::Align::Center)
            .build();
        let add = gtk::Button::builder()
            .label(gettext("Add"))
            .valign(gtk::Align::Center)
            .build();
        let add_row = adw::ActionRow::builder()
            .title(gettext("Add an Endpoint to the Schedule"))
            .build();
        add_row.add_suffix(&dropdown);
        add_row.add_suffix(&add);
        let add_group = adw::PreferencesGroup::new();
        add_group.add(&add_row);
        page.add(&add_group);

        let problem = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .visible(false)
            .css_classes(["error"])
            .build();
        let problem_group = adw::PreferencesGroup::new();
        problem_group.add(&problem);
        page.add(&problem_group);

        let editor = ScheduleEditor {
            inner: Rc::new(Inner {
                home: home.to_owned(),
                engine,
                page,
                entries,
                rows: RefCell::new(Vec::new()),
                candidates,
                add: add.clone(),
                problem,
                text: RefCell::new(LoopText::parse("")),
            }),
        };
        let weak = Rc::downgrade(&editor.inner);
        add.connect_clicked(glib::clone!(
            #[weak]
            dropdown,
            move |_| {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let editor = ScheduleEditor { inner };
                let chosen = dropdown
                    .selected_item()
                    .and_downcast::<gtk::StringObject>()
                    .map(|s| s.string().to_string());
                if let Some(name) = chosen {
                    editor.inner.text.borrow_mut().set(&name, 5, 15);
                    editor.save();
                    editor.reload_rows();
                }
            }
        ));
        editor.reload();
        editor
    }

    pub fn page(&self) -> &adw::PreferencesPage {
        &self.inner.page
    }

    /// Reads `~/.smd/loop` again; a missing file starts from smd-loop's
    /// commented template, without its example line.
    pub fn reload(&self) {
        let path = schedule_path(&self.inner.home);
        let text = match fs::read_to_string(&path) {
            Ok(text) => LoopText::parse(&text),
            Err(_) => {
                let mut template = LoopText::parse(smd::schedule::TEMPLATE);
                template.remove("default");
                template
            }
        };
        *self.inner.text.borrow_mut() = text;
        self.reload_rows();
    }

    fn reload_rows(&self) {
        let inner = &self.inner;
        for row in inner.rows.borrow_mut().drain(..) {
            inner.entries.remove(&row);
        }
        let entries = inner.text.borrow().entries();
        for (endpoint, pull, push) in &entries {
            let row = self.entry_row(endpoint, *pull, *push);
            inner.entries.add(&row);
            inner.rows.borrow_mut().push(row);
        }

        let scheduled: Vec<&String> = entries.iter().map(|(name, _, _)| name).collect();
        let names: Vec<String> = endpoint_names(&inner.home)
            .into_iter()
            .filter(|name| !scheduled.contains(&name))
            .collect();
        let strs: Vec<&str> = names.iter().map(String::as_str).collect();
        inner
            .candidates
            .splice(0, inner.candidates.n_items(), &strs);
        inner.add.set_sensitive(!names.is_empty());
        self.show_problem();
    }

    fn entry_row(&self, endpoint: &str, pull: u64, push: u64) -> adw::ActionRow {
        let row = adw::ActionRow::builder()
            .title(glib::markup_escape_text(endpoint).as_str())
            .subtitle(glib::markup_escape_text(&fill(
                &gettext("Minutes between runs, from 0 to {max}; 0 means never"),
                &[("max", &MAX_MINUTES)],
            )))
            .build();
        let field = |value: u64, name: &str, tooltip: String| {
            gtk::Entry::builder()
                .text(value.to_string())
                .width_chars(5)
                .max_width_chars(6)
                .input_purpose(gtk::InputPurpose::Digits)
                .valign(gtk::Align::Center)
                .tooltip_text(tooltip)
                .name(name)
                .build()
        };
        let pull_field = field(pull, "schedule-pull", gettext("Minutes between pulls"));
        let push_field = field(push, "schedule-push", gettext("Minutes between pushes"));
        let problem = gtk::Label::builder()
            .wrap(true)
            .max_width_chars(24)
            .xalign(1.0)
            .visible(false)
            .name("schedule-problem")
            .css_classes(["error"])
            .build();
        row.add_suffix(&problem);
        row.add_suffix(&gtk::Label::new(Some(&gettext("pull"))));
        row.add_suffix(&pull_field);
        row.add_suffix(&gtk::Label::new(Some(&gettext("push"))));
        row.add_suffix(&push_field);
        let remove = gtk::Button::builder()
            .icon_name("user-trash-symbolic")
            .tooltip_text(gettext("Remove from the Schedule"))
            .valign(gtk::Align::Center)
            .css_classes(["flat"])
            .build();
        row.add_suffix(&remove);

        // A field that does not hold a valid number is marked, with the
        // reason beside it; the file keeps its last good value meanwhile.
        let changed = {
            let weak = Rc::downgrade(&self.inner);
            let endpoint = endpoint.to_owned();
            let (pull_field, push_field) = (pull_field.clone(), push_field.clone());
            move || {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let mut reasons = Vec::new();
                let mut read = |field: &gtk::Entry| match parse_minutes(&field.text()) {
                    Ok(minutes) => {
                        field.remove_css_class("error");
                        Some(minutes)
                    }
                    Err(reason) => {
                        field.add_css_class("error");
                        reasons.push(reason);
                        None
                    }
                };
                let (pull, push) = (read(&pull_field), read(&push_field));
                problem.set_label(&reasons.join("\n"));
                problem.set_visible(!reasons.is_empty());
                let (Some(pull), Some(push)) = (pull, push) else {
                    return;
                };
                let unchanged =
                    inner.text.borrow().entries().iter().any(|(name, p, q)| {
                        *name == endpoint && (*p, *q) == (pull, push)
                    });
                if unchanged {
                    return;
                }
                inner.text.borrow_mut().set(&endpoint, pull, push);
                ScheduleEditor { inner }.save();
            }
        };
        let changed = Rc::new(changed);
        let on_pull = Rc::clone(&changed);
        pull_field.connect_changed(move |_| on_pull());
        push_field.connect_changed(move |_| changed());

        let weak = Rc::downgrade(&self.inner);
        let name = endpoint.to_owned();
        remove.connect_clicked(move |_| {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            inner.text.borrow_mut().remove(&name);
            let editor = ScheduleEditor { inner };
            editor.save();
            // Not from inside the row's own handler: the row goes away.
            glib::idle_add_local_once(move || editor.reload_rows());
        });
        row
    }

    /// Writes the file and tells the loop.
    fn save(&self) {
        let path = schedule_path(&self.inner.home);
        let text = self.inner.text.borrow().to_text();
        if let Err(error) = write_atomically(&path, &text) {
            self.say(&fill(
                &gettext("The schedule could not be saved: {error}"),
                &[("error", &error)],
            ));
            return;
        }
        self.inner.engine.send(Command::ReloadSchedule);
        self.show_problem();
    }

    fn show_problem(&self) {
        match self.inner.text.borrow().check() {
            Ok(_) => self.say(""),
            Err(error) => self.say(&fill(
                &gettext("A line of ~/.smd/loop is not understood, so the loop keeps using the last good schedule: {error}"),
                &[("error", &error)],
            )),
        }
    }

    fn say(&self, text: &str) {
        self.inner.problem.set_label(text);
        self.inner.problem.set_visible(!text.is_empty());
    }
}
