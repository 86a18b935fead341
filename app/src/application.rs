//! The application: owns the loop thread, the tray, the notifications and
//! the windows, and routes the loop's events between them.
//!
//! Everything the person can do is a GAction of the application (typed as
//! [`AppAction`]), so the tray menu, notification buttons, window buttons
//! and keyboard shortcuts all go through the same few handlers.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use adw::prelude::*;
use gtk::{gio, glib};

use crate::config::APP_ID;
use crate::i18n::gettext;
use crate::journal::Journal;
use crate::notifications::{no_tray_notice, notice_for, Notifier, Topic};
use crate::scheduler::{self, Command, Event, LoopHandle, LoopOptions};
use crate::settings::{self, Preferences};
use crate::status::{Effect, Status};
use crate::system;
use crate::tray::{Tray, TrayView};
use crate::window::{show_about, ErrorWindow, LogWindow, MainWindow, PreferencesWindow};

/// How long quitting waits for a running sync to end before leaving it
/// (the engine is crash-safe; the lock of a dead process is taken over).
const QUIT_GRACE: Duration = Duration::from_secs(20);

/// Everything the person can ask for, from any of the applet's surfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAction {
    SyncNow,
    TogglePause,
    ShowWindow,
    Preferences,
    /// The preferences, on the page of the endpoints.
    Endpoints,
    /// The editor of this endpoint, over the preferences.
    EditEndpoint(String),
    Log,
    About,
    /// Show the error of this endpoint.
    ShowError(String),
    Quit,
}

impl AppAction {
    /// The name of its GAction in the `app.` group.
    pub fn name(&self) -> &'static str {
        match self {
            AppAction::SyncNow => "sync-now",
            AppAction::TogglePause => "pause",
            AppAction::ShowWindow => "show-window",
            AppAction::Preferences => "preferences",
            AppAction::Endpoints => "endpoints",
            AppAction::EditEndpoint(_) => "edit-endpoint",
            AppAction::Log => "log",
            AppAction::About => "about",
            AppAction::ShowError(_) => "show-error",
            AppAction::Quit => "quit",
        }
    }

    pub fn activate(&self, app: &impl IsA<gio::ActionGroup>) {
        match self {
            AppAction::ShowError(endpoint) | AppAction::EditEndpoint(endpoint) => {
                app.activate_action(self.name(), Some(&endpoint.to_variant()))
            }
            _ => app.activate_action(self.name(), None),
        }
    }
}

/// How the applet is started.
#[derive(Debug, Clone)]
pub struct Options {
    pub home: PathBuf,
    pub loop_options: LoopOptions,
    /// Do not show the window at start (autostart at login).
    pub background: bool,
    /// The application id on the session bus: [`APP_ID`], except for a
    /// development build or the UI test's second applet.
    pub application_id: String,
}

impl Options {
    /// From the command line and the environment: `--background` only.
    pub fn from_args(args: &[String]) -> Result<Options, String> {
        let mut background = false;
        for arg in args {
            match arg.as_str() {
                "--background" => background = true,
                other => return Err(other.to_owned()),
            }
        }
        let home = glib::home_dir();
        Ok(Options {
            loop_options: LoopOptions::for_home(home.clone()),
            home,
            background,
            application_id: APP_ID.to_owned(),
        })
    }
}

#[derive(Default)]
struct Windows {
    main: Option<MainWindow>,
    errors: HashMap<String, ErrorWindow>,
    preferences: Option<PreferencesWindow>,
    log: Option<LogWindow>,
}

/// The running applet.
pub struct Applet {
    app: adw::Application,
    options: Options,
    preferences: Rc<Preferences>,
    engine: RefCell<Option<LoopHandle>>,
    status: RefCell<Status>,
    tray: RefCell<Option<Tray>>,
    /// Set once registering the tray failed: there is no tray host.
    tray_missing: Cell<bool>,
    notifier: Rc<Notifier>,
    actions: async_channel::Sender<AppAction>,
    windows: RefCell<Windows>,
    network: RefCell<Option<gio::NetworkMonitor>>,
    hold: RefCell<Option<gio::ApplicationHoldGuard>>,
    /// The first activation honours `--background`; later ones (starting
    /// the applet again) show the window.
    activated: Cell<bool>,
    quitting: Cell<bool>,
    loop_stopped: Cell<bool>,
}

impl Applet {
    pub fn new(options: Options) -> Rc<Applet> {
        // One applet per session: starting it again shows the running
        // one's window.
        let app = adw::Application::builder()
            .application_id(options.application_id.as_str())
            .build();
        let (actions, action_receiver) = async_channel::unbounded();
        let applet = Rc::new(Applet {
            app,
            options,
            preferences: Preferences::load(),
            engine: RefCell::new(None),
            status: RefCell::new(Status::default()),
            tray: RefCell::new(None),
            tray_missing: Cell::new(false),
            notifier: Notifier::new(actions.clone()),
            actions,
            windows: RefCell::new(Windows::default()),
            network: RefCell::new(None),
            hold: RefCell::new(None),
            activated: Cell::new(false),
            quitting: Cell::new(false),
            loop_stopped: Cell::new(false),
        });

        let weak = Rc::downgrade(&applet);
        applet.app.connect_startup(move |_| {
            if let Some(applet) = weak.upgrade() {
                applet.startup();
            }
        });
        let weak = Rc::downgrade(&applet);
        applet.app.connect_activate(move |_| {
            if let Some(applet) = weak.upgrade() {
                applet.activate();
            }
        });

        // Tray menu and notification clicks arrive from other threads.
        let weak = Rc::downgrade(&applet);
        glib::spawn_future_local(async move {
            while let Ok(action) = action_receiver.recv().await {
                let Some(applet) = weak.upgrade() else {
                    break;
                };
                action.activate(&applet.app);
            }
        });
        applet
    }

    pub fn application(&self) -> &adw::Application {
        &self.app
    }

    pub fn home(&self) -> &Path {
        &self.options.home
    }

    /// The state as shown (for the UI test).
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Whether the loop thread has ended (after quitting).
    pub fn loop_stopped(&self) -> bool {
        self.loop_stopped.get()
    }

    /// Whether the tray could not be registered.
    pub fn tray_missing(&self) -> bool {
        self.tray_missing.get()
    }

    pub fn main_window(&self) -> Option<MainWindow> {
        self.windows.borrow().main.clone()
    }

    pub fn error_window(&self, endpoint: &str) -> Option<ErrorWindow> {
        self.windows.borrow().errors.get(endpoint).cloned()
    }

    pub fn preferences_window(&self) -> Option<PreferencesWindow> {
        self.windows.borrow().preferences.clone()
    }

    pub fn log_window(&self) -> Option<LogWindow> {
        self.windows.borrow().log.clone()
    }

    /// Runs the GTK main loop until the applet quits.
    pub fn run(self: &Rc<Self>) -> ExitCode {
        let program = std::env::args()
            .next()
            .unwrap_or_else(|| "smd-applet".into());
        let code = self.app.run_with_args(&[program]);
        if code == glib::ExitCode::SUCCESS {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    fn send(&self, command: Command) {
        if let Some(engine) = self.engine.borrow().as_ref() {
            engine.send(command);
        }
    }

    fn startup(self: &Rc<Self>) {
        // The applet lives in the tray: closing its windows must not quit.
        *self.hold.borrow_mut() = Some(self.app.hold());
        add_build_tree_icons();
        self.install_actions();

        let (events, event_receiver) = async_channel::unbounded();
        let mut loop_options = self.options.loop_options.clone();
        loop_options.paused |= self.preferences.boolean(settings::PAUSED);
        match scheduler::spawn(loop_options, events) {
            Ok(engine) => *self.engine.borrow_mut() = Some(engine),
            Err(error) => {
                glib::g_critical!("smd-applet", "Cannot start the sync loop: {}", error);
            }
        }
        if self.preferences.boolean(settings::PAUSED) {
            self.status.borrow_mut().paused = true;
        }
        let weak = Rc::downgrade(self);
        glib::spawn_future_local(async move {
            while let Ok(event) = event_receiver.recv().await {
                let Some(applet) = weak.upgrade() else {
                    break;
                };
                applet.on_event(&event);
            }
        });

        self.start_tray();
        self.watch_system();
        self.watch_preferences();
    }

    fn activate(self: &Rc<Self>) {
        let first = !self.activated.replace(true);
        if first && self.options.background {
            return;
        }
        self.show_main_window();
    }

    fn install_actions(self: &Rc<Self>) {
        let simple = |name: &str, handler: fn(&Rc<Applet>)| {
            let action = gio::SimpleAction::new(name, None);
            let weak = Rc::downgrade(self);
            action.connect_activate(move |_, _| {
                if let Some(applet) = weak.upgrade() {
                    handler(&applet);
                }
            });
            self.app.add_action(&action);
        };
        simple("sync-now", |applet| applet.send(Command::SyncNow));
        simple("show-window", |applet| applet.show_main_window());
        simple("preferences", |applet| {
            applet.show_preferences();
        });
        simple("endpoints", |applet| {
            if let Some(preferences) = applet.show_preferences() {
                preferences.show_endpoints();
            }
        });
        simple("log", |applet| applet.show_log());
        simple("about", |applet| {
            let parent = applet.main_window().map(|w| w.window().clone().upcast());
            show_about(parent.as_ref());
        });
        simple("quit", |applet| applet.quit());

        let paused = self.preferences.boolean(settings::PAUSED);
        let pause = gio::SimpleAction::new_stateful("pause", None, &paused.to_variant());
        let weak = Rc::downgrade(self);
        pause.connect_activate(move |action, _| {
            let paused = !action
                .state()
                .and_then(|s| s.get::<bool>())
                .unwrap_or(false);
            action.set_state(&paused.to_variant());
            if let Some(applet) = weak.upgrade() {
                applet.preferences.set_boolean(settings::PAUSED, paused);
                applet.send(if paused {
                    Command::Pause
                } else {
                    Command::Resume
                });
            }
        });
        self.app.add_action(&pause);

        let show_error =
            gio::SimpleAction::new("show-error", Some(glib::VariantTy::STRING));
        let weak = Rc::downgrade(self);
        show_error.connect_activate(move |_, parameter| {
            let endpoint = parameter.and_then(|p| p.get::<String>());
            if let (Some(applet), Some(endpoint)) = (weak.upgrade(), endpoint) {
                applet.show_error(&endpoint);
            }
        });
        self.app.add_action(&show_error);

        let edit_endpoint =
            gio::SimpleAction::new("edit-endpoint", Some(glib::VariantTy::STRING));
        let weak = Rc::downgrade(self);
        edit_endpoint.connect_activate(move |_, parameter| {
            let endpoint = parameter.and_then(|p| p.get::<String>());
            if let (Some(applet), Some(endpoint)) = (weak.upgrade(), endpoint) {
                if let Some(preferences) = applet.show_preferences() {
                    preferences.edit_endpoint(&endpoint);
                }
            }
        });
        self.app.add_action(&edit_endpoint);

        self.app.set_accels_for_action("app.quit", &["<Control>q"]);
        self.app
            .set_accels_for_action("app.preferences", &["<Control>comma"]);
        self.app
            .set_accels_for_action("app.sync-now", &["<Control>r", "F5"]);
    }

    fn start_tray(self: &Rc<Self>) {
        let view = self.tray_view();
        let actions = self.actions.clone();
        let weak = Rc::downgrade(self);
        glib::spawn_future_local(async move {
            let result = Tray::start(view, actions).await;
            let Some(applet) = weak.upgrade() else {
                return;
            };
            match result {
                Ok(tray) => {
                    // The state may have moved on while registering.
                    tray.update(applet.tray_view());
                    *applet.tray.borrow_mut() = Some(tray);
                }
                Err(error) => {
                    glib::g_message!("smd-applet", "No tray icon: {}", error);
                    applet.tray_missing.set(true);
                    // Said once, then the window and notifications carry on.
                    applet.notifier.show(no_tray_notice());
                    if let Some(connection) = applet.app.dbus_connection() {
                        let autostart = system::is_sandboxed()
                            && applet.preferences.boolean(settings::START_AT_LOGIN);
                        system::request_background(&connection, autostart);
                    }
                    applet.refresh();
                }
            }
        });
    }

    fn watch_system(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let monitor = system::watch_network(move |online| {
            if let Some(applet) = weak.upgrade() {
                applet.send(Command::Network(online));
            }
        });
        *self.network.borrow_mut() = Some(monitor);
        let weak = Rc::downgrade(self);
        system::watch_resume(move || {
            if let Some(applet) = weak.upgrade() {
                applet.send(Command::Resumed);
            }
        });
    }

    fn watch_preferences(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.preferences.connect_changed(move |key| {
            let Some(applet) = weak.upgrade() else {
                return;
            };
            match key {
                settings::START_AT_LOGIN => applet.apply_autostart(),
                settings::PAUSED => {
                    let paused = applet.preferences.boolean(settings::PAUSED);
                    if let Some(action) = applet.app.lookup_action("pause") {
                        action.change_state(&paused.to_variant());
                    }
                    applet.send(if paused {
                        Command::Pause
                    } else {
                        Command::Resume
                    });
                }
                _ => applet.refresh(),
            }
        });
    }

    fn apply_autostart(&self) {
        let enabled = self.preferences.boolean(settings::START_AT_LOGIN);
        if system::is_sandboxed() {
            if let Some(connection) = self.app.dbus_connection() {
                system::request_background(&connection, enabled);
            }
        } else if let Err(error) =
            system::set_autostart(&glib::user_config_dir(), enabled)
        {
            glib::g_warning!(
                "smd-applet",
                "Cannot change the autostart entry: {}",
                error
            );
        }
    }

    fn tray_view(&self) -> TrayView {
        let status = self.status.borrow();
        TrayView::new(
            &status.overall(),
            status.paused,
            self.preferences.boolean(settings::ICON_ONLY_ON_ERRORS),
        )
    }

    fn on_event(self: &Rc<Self>, event: &Event) {
        let notify_new_mail = self.preferences.boolean(settings::NOTIFY_NEW_MAIL);
        let effects =
            self.status
                .borrow_mut()
                .apply(event, notify_new_mail, SystemTime::now());
        for effect in &effects {
            self.notify(effect);
        }

        let error_windows: Vec<ErrorWindow> =
            self.windows.borrow().errors.values().cloned().collect();
        for window in error_windows {
            window.on_event(event);
        }
        if let Event::Schedule(Ok(names)) = event {
            // Errors of endpoints no longer scheduled are gone: so are
            // their windows (their "Try Again" would run nothing).
            let stale: Vec<ErrorWindow> = {
                let mut windows = self.windows.borrow_mut();
                let gone: Vec<String> = windows
                    .errors
                    .keys()
                    .filter(|name| !names.contains(name))
                    .cloned()
                    .collect();
                gone.iter()
                    .filter_map(|name| windows.errors.remove(name))
                    .collect()
            };
            for window in stale {
                window.window().destroy();
            }
        }
        if let Event::Checked(name, result) = event {
            if let Some(preferences) = self.preferences_window() {
                preferences.on_checked(name, result);
            }
        }
        if let Event::Stopped = event {
            self.loop_stopped.set(true);
            if self.quitting.get() {
                self.hold.borrow_mut().take();
                self.app.quit();
            }
        }
        self.refresh();
    }

    fn notify(&self, effect: &Effect) {
        match effect {
            Effect::Resolved { endpoint } => {
                let connection = self.app.dbus_connection();
                self.notifier
                    .withdraw(&Topic::Error(endpoint.clone()), connection.clone());
                self.notifier
                    .withdraw(&Topic::Trouble(endpoint.clone()), connection);
            }
            effect => {
                if let Some(notice) = notice_for(effect, &self.status.borrow()) {
                    self.notifier.show(notice);
                }
            }
        }
    }

    /// Pushes the state to the tray and the windows.
    fn refresh(&self) {
        if let Some(tray) = self.tray.borrow().as_ref() {
            tray.update(self.tray_view());
        }
        let status = self.status.borrow();
        let windows = self.windows.borrow();
        // A hidden main window is brought up to date when shown.
        if let Some(main) = windows.main.as_ref().filter(|m| m.window().is_visible()) {
            main.update(&status, self.tray_missing.get());
        }
        for (endpoint, window) in &windows.errors {
            if let Some(error) = status
                .endpoints
                .get(endpoint)
                .and_then(|s| s.error.as_ref())
            {
                window.show_error(error);
            }
        }
    }

    fn show_main_window(self: &Rc<Self>) {
        let existing = self.windows.borrow().main.clone();
        let window = existing.unwrap_or_else(|| {
            let window = MainWindow::new(&self.app, &self.preferences);
            self.windows.borrow_mut().main = Some(window.clone());
            window
        });
        window.update(&self.status.borrow(), self.tray_missing.get());
        window.present();
    }

    fn show_error(self: &Rc<Self>, endpoint: &str) {
        let error = self
            .status
            .borrow()
            .endpoints
            .get(endpoint)
            .and_then(|state| state.error.clone());
        let Some(error) = error else {
            // Settled meanwhile: the main window says so.
            self.show_main_window();
            return;
        };
        let Some(engine) = self.engine.borrow().clone() else {
            return;
        };
        let existing = self.windows.borrow().errors.get(endpoint).cloned();
        let window = existing.unwrap_or_else(|| {
            let journal = Journal::in_home(self.home());
            let window = ErrorWindow::new(&self.app, endpoint, engine, journal);
            self.windows
                .borrow_mut()
                .errors
                .insert(endpoint.to_owned(), window.clone());
            window
        });
        window.show_error(&error);
        window.present();
    }

    /// Shows the preferences, made on first use.
    fn show_preferences(self: &Rc<Self>) -> Option<PreferencesWindow> {
        let engine = self.engine.borrow().clone()?;
        let existing = self.windows.borrow().preferences.clone();
        let window = existing.unwrap_or_else(|| {
            let window = PreferencesWindow::new(
                &self.app,
                self.home(),
                Rc::clone(&self.preferences),
                engine,
            );
            self.windows.borrow_mut().preferences = Some(window.clone());
            window
        });
        window.present();
        Some(window)
    }

    fn show_log(self: &Rc<Self>) {
        let existing = self.windows.borrow().log.clone();
        let window = existing.unwrap_or_else(|| {
            let window = LogWindow::new(&self.app, self.home());
            self.windows.borrow_mut().log = Some(window.clone());
            window
        });
        window.refresh();
        window.present();
    }

    /// Stops the loop (after the run in progress), then quits. Changes not
    /// saved in an endpoint editor are asked about first, one editor at a
    /// time; going back to editing stops the quitting.
    fn quit(self: &Rc<Self>) {
        if self.quitting.get() {
            return;
        }
        let unsaved = self
            .preferences_window()
            .and_then(|preferences| preferences.unsaved_editor());
        if let Some(editor) = unsaved {
            editor.present();
            let weak = Rc::downgrade(self);
            editor.ask_about_unsaved(move || {
                if let Some(applet) = weak.upgrade() {
                    applet.quit();
                }
            });
            return;
        }
        self.quitting.set(true);
        if let Some(tray) = self.tray.borrow_mut().take() {
            tray.shutdown();
        }
        for window in self.app.windows() {
            window.set_visible(false);
        }
        match self.engine.borrow().as_ref() {
            Some(engine) => engine.send(Command::Quit),
            None => self.app.quit(),
        }
        // The hold stays until the loop has stopped (or the grace ends):
        // without it GApplication would quit as soon as no window is left.
        let app = self.app.clone();
        glib::timeout_add_local_once(QUIT_GRACE, move || app.quit());
    }
}

/// Running from a build tree, the icons of `data/` are not installed:
/// add their folders to the theme (as unthemed icons) so windows and
/// screenshots show them.
fn add_build_tree_icons() {
    let icons = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/icons/hicolor"
    ));
    let Some(display) = gtk::gdk::Display::default() else {
        return;
    };
    let theme = gtk::IconTheme::for_display(&display);
    for folder in ["scalable/apps", "symbolic/apps", "symbolic/status"] {
        let folder = icons.join(folder);
        if folder.is_dir() {
            theme.add_search_path(folder);
        }
    }
}

/// What `smd-applet --help` prints.
pub fn usage() -> String {
    gettext(
        "Usage: smd-applet [--background]\n\
         Keeps mail synchronized from the desktop, following ~/.smd/loop.\n\
         \n\
         Options:\n  \
         --background  do not show the window at start (used at login)\n  \
         -h, --help    show this help and exit\n  \
         --version     show the version and exit",
    )
}

/// The `smd-applet` program.
pub fn main() -> ExitCode {
    crate::i18n::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        println!("smd-applet {}", crate::config::VERSION);
        return ExitCode::SUCCESS;
    }
    let options = match Options::from_args(&args) {
        Ok(options) => options,
        Err(unknown) => {
            eprintln!(
                "{}",
                crate::i18n::fill(
                    &gettext("smd-applet: unknown argument “{argument}”; see smd-applet --help"),
                    &[("argument", &unknown)],
                )
            );
            return ExitCode::from(2);
        }
    };
    glib::set_application_name(&gettext("Sync Mail Dir"));
    Applet::new(options).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_every_option() {
        let text = usage();
        for option in ["--background", "--help", "-h", "--version"] {
            assert!(text.contains(option), "{option}");
        }
    }

    #[test]
    fn arguments() {
        assert!(Options::from_args(&[]).is_ok_and(|o| !o.background));
        assert!(Options::from_args(&["--background".into()]).is_ok_and(|o| o.background));
        assert_eq!(
            Options::from_args(&["-x".into()]).map(|o| o.background),
            Err("-x".into())
        );
    }
}
