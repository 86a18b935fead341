//! The person's preferences, in GSettings (`org.syncmaildir.applet`, the
//! schema and path smd 1.3's applet used, so settings carry over).
//!
//! `gio::Settings::new` aborts the process when the schema is not
//! installed (running from a build tree, a broken install), so the schema
//! and each key are looked up first; whatever is missing lives in memory
//! for this run, and the applet works the same.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gtk::gio;
use gtk::gio::prelude::*;
use gtk::glib;

use crate::config::{SCHEMA_ID, SCHEMA_PATH};

pub const NOTIFY_NEW_MAIL: &str = "notify-new-mail";
pub const ICON_ONLY_ON_ERRORS: &str = "icon-only-on-errors";
pub const START_AT_LOGIN: &str = "start-at-login";
pub const PAUSED: &str = "paused";
pub const WINDOW_WIDTH: &str = "window-width";
pub const WINDOW_HEIGHT: &str = "window-height";

/// Defaults of the keys, used when the schema lacks them.
const BOOL_DEFAULTS: [(&str, bool); 4] = [
    (NOTIFY_NEW_MAIL, false),
    (ICON_ONLY_ON_ERRORS, false),
    (START_AT_LOGIN, false),
    (PAUSED, false),
];
const INT_DEFAULTS: [(&str, i32); 2] = [(WINDOW_WIDTH, 720), (WINDOW_HEIGHT, 540)];

type Listener = Box<dyn Fn(&str)>;

/// The preferences, with change notification.
pub struct Preferences {
    settings: Option<gio::Settings>,
    memory: RefCell<HashMap<&'static str, i32>>,
    listeners: RefCell<Vec<Listener>>,
}

impl Preferences {
    /// Opens the settings, or memory-only ones when the schema is missing.
    pub fn load() -> Rc<Preferences> {
        let settings = gio::SettingsSchemaSource::default()
            .and_then(|source| source.lookup(SCHEMA_ID, true))
            .map(|schema| match schema.path() {
                Some(_) => gio::Settings::new(SCHEMA_ID),
                // A relocatable copy of the schema: give it smd 1.3's path.
                None => gio::Settings::with_path(SCHEMA_ID, SCHEMA_PATH),
            });
        if settings.is_none() {
            glib::g_warning!(
                "smd-applet",
                "The settings schema {} is not installed: preferences last until the applet quits",
                SCHEMA_ID
            );
        }
        let preferences = Rc::new(Preferences {
            settings,
            memory: RefCell::new(HashMap::new()),
            listeners: RefCell::new(Vec::new()),
        });
        if let Some(settings) = &preferences.settings {
            let weak = Rc::downgrade(&preferences);
            settings.connect_changed(None, move |_, key| {
                if let Some(preferences) = weak.upgrade() {
                    preferences.changed(key);
                }
            });
        }
        preferences
    }

    /// The settings object when it has `key`.
    fn backed(&self, key: &str) -> Option<&gio::Settings> {
        self.settings.as_ref().filter(|settings| {
            settings
                .settings_schema()
                .is_some_and(|schema| schema.has_key(key))
        })
    }

    pub fn boolean(&self, key: &'static str) -> bool {
        match self.backed(key) {
            Some(settings) => settings.boolean(key),
            None => self.memory.borrow().get(key).map_or_else(
                || {
                    BOOL_DEFAULTS
                        .iter()
                        .find(|(k, _)| *k == key)
                        .is_some_and(|(_, v)| *v)
                },
                |value| *value != 0,
            ),
        }
    }

    pub fn set_boolean(&self, key: &'static str, value: bool) {
        if self.boolean(key) == value {
            return;
        }
        match self.backed(key) {
            Some(settings) => {
                if let Err(error) = settings.set_boolean(key, value) {
                    glib::g_warning!("smd-applet", "Cannot save {}: {}", key, error);
                }
            }
            None => {
                self.memory.borrow_mut().insert(key, i32::from(value));
                self.changed(key);
            }
        }
    }

    pub fn int(&self, key: &'static str) -> i32 {
        match self.backed(key) {
            Some(settings) => settings.int(key),
            None => self.memory.borrow().get(key).copied().unwrap_or_else(|| {
                INT_DEFAULTS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(0, |(_, v)| *v)
            }),
        }
    }

    pub fn set_int(&self, key: &'static str, value: i32) {
        match self.backed(key) {
            Some(settings) => {
                // Out of the schema's range: keep the old value.
                let _ = settings.set_int(key, value);
            }
            None => {
                self.memory.borrow_mut().insert(key, value);
            }
        }
    }

    /// Calls `listener` with the key whenever a preference changes, here
    /// or from outside (gsettings, dconf-editor).
    pub fn connect_changed(&self, listener: impl Fn(&str) + 'static) {
        self.listeners.borrow_mut().push(Box::new(listener));
    }

    fn changed(&self, key: &str) {
        for listener in self.listeners.borrow().iter() {
            listener(key);
        }
    }
}
