//! The applet, headless and for real: a temporary HOME with two mailboxes
//! synchronized by the engine, stand-ins for the tray host and the
//! notification server on a private session bus, and the applet driven as
//! a person would (tray menu clicks over D-Bus, notification clicks,
//! buttons). It meets a conflict, shows it, resolves it with its buttons,
//! and the mailboxes converge. Every window is saved as a PNG under
//! `target/screenshots/`.
//!
//! GTK may be initialised on one thread only, so this is one binary with
//! its own `main()` (`harness = false`) running the checks in order; they
//! build on each other like a person's session. Run it with
//! `app/run-ui-tests`, which provides Xvfb and the session bus.

// The helpers live in tests/ui/, where cargo does not take them for tests
// of their own.
#[path = "ui/bus.rs"]
mod bus;
#[path = "ui/fixture.rs"]
mod fixture;
#[path = "ui/gtk_util.rs"]
mod gtk_util;

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use adw::prelude::*;
use gtk::gio;

use smd::ssh_failure::SshFailureKind;
use smd_applet::actions::Offer;
use smd_applet::application::{Applet, Options};
use smd_applet::scheduler::LoopOptions;

use bus::Desktop;
use fixture::{engine_bin_dir, screenshot_dir, Fixture, ENDPOINT, USER_COMMENT};
use gtk_util::{
    find_button, find_switch, screenshot, spin, text_of, toplevels, wait_for,
};

const SYNC: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_secs(15);

struct Session {
    fixture: Fixture,
    desktop: Desktop,
    applet: Rc<Applet>,
    shots: PathBuf,
}

type Check = fn(&Session) -> Result<(), String>;

const CHECKS: &[(&str, Check)] = &[
    ("the tray registers with the watcher", tray_registers),
    (
        "the first pull's conflict is reported",
        conflict_is_reported,
    ),
    (
        "preferences switches change GSettings and autostart",
        preferences_switches,
    ),
    (
        "Edit… opens the preferences on the endpoints",
        edit_opens_the_endpoints,
    ),
    (
        "a notification click opens the error window",
        notification_opens_error_window,
    ),
    (
        "Move Aside resolves the conflict",
        move_aside_resolves_the_conflict,
    ),
    ("Sync Now from the tray menu converges", sync_now_converges),
    (
        "a lock held by another run shows busy, not an error",
        held_lock_is_busy,
    ),
    (
        "a delete conflict is replaced, then resolved by deleting",
        delete_conflict,
    ),
    (
        "Keep My Version sends the local version back",
        keep_my_version,
    ),
    (
        "icon only on errors lets panels hide a quiet tray",
        icon_only_on_errors,
    ),
    (
        "the endpoint editor validates and keeps comments",
        endpoint_editor,
    ),
    (
        "closing an editor with unsaved changes asks first",
        unsaved_changes_are_asked_about,
    ),
    (
        "a bad endpoint name is refused with the reason",
        endpoint_names_are_explained,
    ),
    (
        "the schedule editor rewrites only its line",
        schedule_editor,
    ),
    ("the log window shows the logs", log_window),
    ("the About window opens", about_window),
    (
        "a refused ssh login needs you, an unreachable server is retried quietly",
        ssh_failures,
    ),
    ("pause and resume from the tray", pause_and_resume),
    ("quit from the tray", quit_from_tray),
    ("without a tray host the applet says so once", no_tray_host),
];

/// Set inside the private display and bus, so the test runs there.
const INNER: &str = "SMD_UI_TEST_INNER";

fn main() -> ExitCode {
    // Never on the person's own desktop and session bus: a plain `cargo
    // test` starts a virtual display and a private bus first.
    if std::env::var_os(INNER).is_none() {
        return run_isolated();
    }
    match set_up() {
        Ok(session) => run(&session),
        Err(error) => {
            eprintln!("ui: set-up failed: {error}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs this test again under `xvfb-run -a dbus-run-session`.
fn run_isolated() -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        println!("0 passed, 1 failed");
        return ExitCode::FAILURE;
    };
    let status = std::process::Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x1024x24",
            "dbus-run-session",
            "--",
        ])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(INNER, "1")
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!(
                "ui: cannot run xvfb-run ({error}); install xvfb, xauth and dbus \
                 (scripts/install-deps)"
            );
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

fn run(session: &Session) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in CHECKS {
        match check(session) {
            Ok(()) => {
                passed += 1;
                println!("ok     {name}");
            }
            Err(error) => {
                failed += 1;
                println!("FAILED {name}: {error}");
            }
        }
    }
    println!("screenshots in {}", session.shots.display());
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn set_up() -> Result<Session, String> {
    if std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(
            "no display: run app/run-ui-tests (xvfb-run + dbus-run-session)".into(),
        );
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err("no session bus: run app/run-ui-tests (dbus-run-session)".into());
    }
    let bin = engine_bin_dir().ok_or(
        "the engine's programs (smd-server, smd-client, mddiff) are not built: \
         run `cargo build -p smd-engine --bins` or app/run-ui-tests",
    )?;
    let fixture = Fixture::new().map_err(|e| format!("fixture: {e}"))?;

    // The environment, before any thread or GTK starts.
    let schemas = fixture.root.join("schemas");
    let data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
    fs::create_dir_all(&schemas).map_err(|e| e.to_string())?;
    let compiled = std::process::Command::new("glib-compile-schemas")
        .arg("--strict")
        .arg("--targetdir")
        .arg(&schemas)
        .arg(&data)
        .status()
        .map_err(|e| format!("glib-compile-schemas: {e}"))?;
    if !compiled.success() {
        return Err(format!("glib-compile-schemas failed on {}", data.display()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin, fixture.fake_bin()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| e.to_string())?;
    for (name, value) in [
        ("HOME", fixture.home.clone().into_os_string()),
        (
            "XDG_CONFIG_HOME",
            fixture.root.join("config").into_os_string(),
        ),
        ("XDG_DATA_HOME", fixture.root.join("data").into_os_string()),
        (
            "XDG_CACHE_HOME",
            fixture.root.join("cache").into_os_string(),
        ),
        ("GSETTINGS_SCHEMA_DIR", schemas.into_os_string()),
        ("GSETTINGS_BACKEND", "memory".into()),
        ("GTK_A11Y", "none".into()),
        // Any GTK or libadwaita critical fails the run.
        ("G_DEBUG", "fatal-criticals".into()),
        ("LANG", "C.UTF-8".into()),
        ("PATH", path),
    ] {
        std::env::set_var(name, value);
    }

    let desktop = Desktop::start()?;
    adw::init().map_err(|e| format!("GTK: {e}"))?;

    let applet = Applet::new(Options {
        home: fixture.home.clone(),
        loop_options: LoopOptions {
            home: fixture.home.clone(),
            // One run at start, then nothing on its own during the test:
            // every later run is one the checks ask for.
            minute: Duration::from_secs(3600),
            paused: false,
        },
        background: false,
        application_id: smd_applet::config::APP_ID.to_owned(),
    });
    let app = applet.application();
    app.register(None::<&gio::Cancellable>)
        .map_err(|e| format!("register: {e}"))?;
    app.activate();
    Ok(Session {
        fixture,
        desktop,
        applet,
        shots: screenshot_dir(),
    })
}

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}

fn item(session: &Session) -> Result<String, String> {
    session
        .desktop
        .record
        .lock()
        .items
        .first()
        .cloned()
        .ok_or_else(|| "no tray item registered".to_owned())
}

/// Waits for a tray property to read `expected` (the item updates
/// asynchronously).
fn wait_for_property(
    session: &Session,
    name: &str,
    expected: &str,
) -> Result<(), String> {
    let item = item(session)?;
    let mut last = String::new();
    wait_for(&format!("{name} = {expected}"), SHORT, || {
        last = session.desktop.item_string(&item, name).unwrap_or_default();
        last == expected
    })
    .map_err(|e| format!("{e} (last {name}: {last:?})"))
}

fn click_menu(session: &Session, label: &str) -> Result<(), String> {
    let item = item(session)?;
    let menu = session.desktop.menu(&item)?;
    let (id, _) = menu
        .iter()
        .find(|(_, l)| l == label)
        .ok_or_else(|| format!("no menu item {label:?} in {menu:?}"))?;
    session.desktop.click_menu(&item, *id)
}

fn notification_with(session: &Session, summary: &str) -> Result<bus::Notified, String> {
    let mut found = None;
    wait_for(&format!("a notification {summary:?}"), SHORT, || {
        found = session
            .desktop
            .record
            .lock()
            .notifications
            .iter()
            .rev()
            .find(|n| n.summary == summary)
            .cloned();
        found.is_some()
    })
    .map_err(|e| {
        let seen: Vec<String> = session
            .desktop
            .record
            .lock()
            .notifications
            .iter()
            .map(|n| n.summary.clone())
            .collect();
        format!("{e}; seen {seen:?}")
    })?;
    found.ok_or_else(|| "vanished".into())
}

fn has_error(session: &Session) -> bool {
    session
        .applet
        .status()
        .endpoints
        .get(ENDPOINT)
        .is_some_and(|s| s.error.is_some())
}

fn tray_registers(session: &Session) -> Result<(), String> {
    wait_for("the tray item", SHORT, || {
        !session.desktop.record.lock().items.is_empty()
    })?;
    let item = item(session)?;
    let desktop = &session.desktop;
    ensure(desktop.item_string(&item, "Id")? == "smd-applet", || {
        "Id".into()
    })?;
    ensure(
        desktop.item_string(&item, "Category")? == "ApplicationStatus",
        || "Category".into(),
    )?;
    ensure(
        desktop.item_string(&item, "Title")? == "Sync Mail Dir",
        || "Title".into(),
    )?;
    ensure(desktop.item_string(&item, "Menu")? == "/MenuBar", || {
        "Menu".into()
    })?;
    let labels: Vec<String> = desktop.menu(&item)?.into_iter().map(|(_, l)| l).collect();
    let expected = [
        "_Sync Now",
        "_Pause",
        "_Open Window",
        "P_references",
        "_Log",
        "_Quit",
    ];
    ensure(labels == expected, || format!("menu {labels:?}"))
}

fn conflict_is_reported(session: &Session) -> Result<(), String> {
    wait_for("the conflict", SYNC, || has_error(session))?;
    let status = session.applet.status();
    let error = status.endpoints[ENDPOINT].error.clone().ok_or("no error")?;
    ensure(
        (error.failure.tags.context, error.failure.tags.cause)
            == ("mail-addition", "concurrent-mailbox-edit"),
        || format!("unexpected failure {:?}", error.failure.tags),
    )?;

    wait_for_property(session, "Status", "NeedsAttention")?;
    wait_for_property(session, "IconName", "smd-error-symbolic")?;
    let (title, tooltip) = session.desktop.item_tooltip(&item(session)?)?;
    ensure(
        title == "Sync Mail Dir" && tooltip.contains(ENDPOINT),
        || format!("tooltip {title:?} {tooltip:?}"),
    )?;

    let notified =
        notification_with(session, "Two Different Messages Have the Same Name")?;
    ensure(notified.actions.contains(&"show".to_owned()), || {
        format!("actions {:?}", notified.actions)
    })?;
    ensure(notified.expire_timeout == 0, || "not persistent".into())?;
    ensure(notified.app_name == "Sync Mail Dir", || {
        notified.app_name.clone()
    })?;
    let resident = notified
        .hints
        .get("resident")
        .and_then(|v| bool::try_from(v).ok());
    ensure(resident == Some(true), || {
        format!("hints {:?}", notified.hints)
    })?;
    ensure(notified.body.contains(ENDPOINT), || notified.body.clone())?;

    // The push after the failed pull did not run.
    ensure(
        !session.fixture.path("Remote/cur/2.same:2,").exists()
            || fs::read_to_string(session.fixture.path("Remote/cur/2.same:2,"))
                .is_ok_and(|t| t.contains("Server text")),
        || "the push overwrote the server's message".into(),
    )?;

    let main = session.applet.main_window().ok_or("no main window")?;
    let window = main.window();
    let text = text_of(window);
    ensure(text.contains("Your Attention Is Needed"), || text.clone())?;
    ensure(find_button(window, "Show Problem").is_some(), || {
        "no Show Problem button".into()
    })?;
    screenshot(window, &session.shots, "main-window-error")?;
    Ok(())
}

fn preferences_switches(session: &Session) -> Result<(), String> {
    let app = session.applet.application();
    app.activate_action("preferences", None);
    wait_for("the preferences", SHORT, || {
        session
            .applet
            .preferences_window()
            .is_some_and(|w| w.window().is_visible())
    })?;
    let preferences = session.applet.preferences_window().ok_or("none")?;
    let window = preferences.window();
    let settings = gio::Settings::new(smd_applet::config::SCHEMA_ID);

    let notify =
        find_switch(window, "Notify About New Mail").ok_or("no new-mail switch")?;
    ensure(!notify.is_active(), || "on by default".into())?;
    notify.set_active(true);
    ensure(settings.boolean("notify-new-mail"), || {
        "GSettings not set".into()
    })?;

    let start = find_switch(window, "Start at Login").ok_or("no start switch")?;
    start.set_active(true);
    let autostart = session
        .fixture
        .root
        .join("config/autostart/org.syncmaildir.Applet.desktop");
    wait_for("the autostart entry", SHORT, || autostart.exists())?;
    let entry = fs::read_to_string(&autostart).map_err(|e| e.to_string())?;
    ensure(entry.contains("--background"), || entry.clone())?;
    screenshot(window, &session.shots, "preferences")?;
    start.set_active(false);
    wait_for("the autostart entry to go", SHORT, || !autostart.exists())?;
    window.close();
    Ok(())
}

fn edit_opens_the_endpoints(session: &Session) -> Result<(), String> {
    let main = session.applet.main_window().ok_or("no main window")?;
    main.present();
    find_button(main.window(), "Edit…")
        .ok_or("no Edit… button")?
        .emit_clicked();
    wait_for("the preferences", SHORT, || {
        session
            .applet
            .preferences_window()
            .is_some_and(|w| w.window().is_visible())
    })?;
    let preferences = session.applet.preferences_window().ok_or("none")?;
    ensure(preferences.shows_endpoints(), || {
        "not on the endpoints page".into()
    })?;
    ensure(text_of(preferences.window()).contains(ENDPOINT), || {
        "the endpoint is not listed".into()
    })?;
    screenshot(
        preferences.window(),
        &session.shots,
        "preferences-endpoints",
    )?;
    preferences.window().close();
    Ok(())
}

/// The question with this heading, once it is asked.
fn message_dialog(heading: &str) -> Result<adw::MessageDialog, String> {
    let find = || {
        toplevels::<adw::MessageDialog>()
            .into_iter()
            .find(|dialog| dialog.heading().as_deref() == Some(heading))
    };
    wait_for(&format!("the question {heading:?}"), SHORT, || {
        find().is_some()
    })?;
    find().ok_or_else(|| "vanished".into())
}

/// Answers a question as a person does: with a click on a button.
fn answer(dialog: &adw::MessageDialog, label: &str) -> Result<(), String> {
    find_button(dialog, label)
        .ok_or_else(|| format!("no {label:?} button"))?
        .emit_clicked();
    wait_for("the question to go", SHORT, || !dialog.is_visible())
}

const UNSAVED: &str = "Save the Changes?";

fn unsaved_changes_are_asked_about(session: &Session) -> Result<(), String> {
    let app = session.applet.application();
    app.activate_action("edit-endpoint", Some(&ENDPOINT.to_variant()));
    let preferences = session.applet.preferences_window().ok_or("none")?;
    let editor = preferences.editor(ENDPOINT).ok_or("no editor opened")?;
    ensure(preferences.shows_endpoints(), || {
        "not on the endpoints page".into()
    })?;
    let config = session.fixture.path(".smd/config.test");
    let read = || fs::read_to_string(&config).map_err(|e| e.to_string());
    let saved = read()?;

    // Changes that cannot be saved: only discarding or going back.
    let server = editor.row("SERVERNAME").ok_or("no SERVERNAME row")?;
    server.set_text("-bad");
    editor.window().close();
    let dialog = message_dialog(UNSAVED)?;
    ensure(editor.window().is_visible(), || "closed at once".into())?;
    ensure(!dialog.is_response_enabled("save"), || {
        "invalid changes can be saved".into()
    })?;
    answer(&dialog, "_Discard")?;
    wait_for("the editor to close", SHORT, || {
        !editor.window().is_visible()
    })?;
    ensure(read()? == saved, || "discarding wrote the file".into())?;

    // Going back keeps what was typed; saving writes it and closes.
    let editor = preferences.open_endpoint(ENDPOINT);
    let exclude = editor.row("EXCLUDE").ok_or("no EXCLUDE row")?;
    ensure(
        editor
            .row("SERVERNAME")
            .is_some_and(|r| r.text() == "localhost"),
        || "the discarded change came back".into(),
    )?;
    exclude.set_text("Local/spam Local/junk");
    editor.window().close();
    let dialog = message_dialog(UNSAVED)?;
    ensure(dialog.is_response_enabled("save"), || "cannot save".into())?;
    screenshot(&dialog, &session.shots, "confirm-unsaved")?;
    answer(&dialog, "_Cancel")?;
    ensure(editor.window().is_visible(), || "cancel closed it".into())?;
    ensure(exclude.text() == "Local/spam Local/junk", || {
        "the typed text was lost".into()
    })?;
    editor.window().close();
    answer(&message_dialog(UNSAVED)?, "_Save")?;
    wait_for("the editor to close", SHORT, || {
        !editor.window().is_visible()
    })?;
    let after = read()?;
    ensure(after.contains("EXCLUDE=\"Local/spam Local/junk\""), || {
        after.clone()
    })?;
    preferences.window().close();
    Ok(())
}

fn endpoint_names_are_explained(session: &Session) -> Result<(), String> {
    session
        .applet
        .application()
        .activate_action("endpoints", None);
    let preferences = session.applet.preferences_window().ok_or("none")?;
    let row = preferences.new_name_row();
    row.set_text("my/work");
    let said = preferences.name_problem_text();
    ensure(
        said.contains("“/”") && said.contains("letters, digits"),
        || said.clone(),
    )?;
    ensure(row.has_css_class("error"), || "not marked".into())?;
    screenshot(
        preferences.window(),
        &session.shots,
        "endpoint-name-refused",
    )?;
    preferences.create_endpoint("my/work");
    ensure(!session.fixture.path(".smd/config.my").exists(), || {
        "created anyway".into()
    })?;
    row.set_text("-x");
    ensure(
        preferences.name_problem_text().contains("start with “-”"),
        || preferences.name_problem_text(),
    )?;
    // Enter on an empty row says what is missing.
    row.set_text("");
    ensure(preferences.name_problem_text().is_empty(), || {
        preferences.name_problem_text()
    })?;
    preferences.create_endpoint("");
    ensure(preferences.name_problem_text().contains("empty"), || {
        preferences.name_problem_text()
    })?;
    row.set_text("fine");
    ensure(preferences.name_problem_text().is_empty(), || {
        preferences.name_problem_text()
    })?;
    row.set_text("");
    preferences.window().close();
    Ok(())
}

fn notification_opens_error_window(session: &Session) -> Result<(), String> {
    let notified =
        notification_with(session, "Two Different Messages Have the Same Name")?;
    session.desktop.invoke_action(notified.id, "show")?;
    wait_for("the error window", SHORT, || {
        session
            .applet
            .error_window(ENDPOINT)
            .is_some_and(|w| w.window().is_visible())
    })?;
    let error_window = session.applet.error_window(ENDPOINT).ok_or("none")?;
    let window = error_window.window();
    let text = text_of(window);
    for expected in [
        "Two Different Messages Have the Same Name",
        "while receiving mail for test",
        // The mail, decoded: RFC 2047 words in UTF-8 and Latin-1.
        "Renée &lt;renee@example.org&gt;",
        "Café plans",
        "Tue, 2 Dec 2025 09:30:00 +0100",
        "Written here, never synchronized.",
    ] {
        ensure(text.contains(expected), || {
            format!("{expected:?} not in {text}")
        })?;
    }
    let offers: Vec<Offer> = error_window.buttons().into_iter().map(|(o, _)| o).collect();
    let local = session.fixture.path("Local/cur/2.same:2,");
    ensure(
        offers
            == [
                Offer::ShowFile(local.clone()),
                Offer::MoveAside(local),
                Offer::Retry,
            ],
        || format!("offers {offers:?}"),
    )?;
    screenshot(window, &session.shots, "error-window-conflict")?;
    Ok(())
}

fn move_aside_resolves_the_conflict(session: &Session) -> Result<(), String> {
    let error_window = session
        .applet
        .error_window(ENDPOINT)
        .ok_or("no error window")?;
    let notified =
        notification_with(session, "Two Different Messages Have the Same Name")?;
    let button =
        find_button(error_window.window(), "Move Aside").ok_or("no Move Aside")?;
    button.emit_clicked();

    wait_for("the retried pull", SYNC, || {
        error_window.outcome_text().starts_with("Solved")
    })
    .map_err(|e| format!("{e}; outcome {:?}", error_window.outcome_text()))?;

    let fixture = &session.fixture;
    let aside_path = fixture.path("Local/cur/2.same.aside1:2,");
    let aside =
        fs::read_to_string(&aside_path).map_err(|e| format!("the moved message: {e}"))?;
    ensure(aside.contains("Written here"), || aside.clone())?;
    // Where it went, in full: in the window and in the applet's log.
    let aside_path = aside_path.canonicalize().map_err(|e| e.to_string())?;
    let moved = error_window.moved_text();
    ensure(moved.contains(&aside_path.display().to_string()), || {
        format!("{moved:?} does not name {}", aside_path.display())
    })?;
    let journal = fs::read_to_string(fixture.path(".smd/log/applet.log"))
        .map_err(|e| format!("the applet's log: {e}"))?;
    ensure(
        journal.contains(&format!("was moved aside to {}", aside_path.display())),
        || journal.clone(),
    )?;
    let fetched = fs::read_to_string(fixture.path("Local/cur/2.same:2,"))
        .map_err(|e| format!("the fetched message: {e}"))?;
    ensure(fetched.contains("Server text"), || fetched.clone())?;
    ensure(fixture.path("Local/cur/1.server:2,S").exists(), || {
        "the new message was not fetched".into()
    })?;
    ensure(!has_error(session), || "the error stayed".into())?;

    wait_for("the error notification to be withdrawn", SHORT, || {
        session.desktop.record.lock().closed.contains(&notified.id)
    })?;
    // notify-new-mail is on since the preferences check.
    let new_mail = notification_with(session, "2 new messages")?;
    ensure(new_mail.body.contains(ENDPOINT), || new_mail.body.clone())?;
    wait_for_property(session, "Status", "Active")?;
    screenshot(error_window.window(), &session.shots, "error-window-solved")?;
    error_window.window().close();
    Ok(())
}

fn sync_now_converges(session: &Session) -> Result<(), String> {
    click_menu(session, "_Sync Now")?;
    let fixture = &session.fixture;
    wait_for("the mailboxes to converge", SYNC, || {
        fixture.in_sync() && session.applet.status().running.is_none()
    })
    .map_err(|e| {
        format!(
            "{e}: here {:?}, server {:?}",
            fixture.tree("Local").keys().collect::<Vec<_>>(),
            fixture.tree("Remote").keys().collect::<Vec<_>>()
        )
    })?;
    let names: Vec<String> = fixture.tree("Remote").into_keys().collect();
    ensure(
        names == ["cur/1.server:2,S", "cur/2.same.aside1:2,", "cur/2.same:2,"],
        || format!("server has {names:?}"),
    )?;
    wait_for_property(session, "IconName", expected_idle_icon())
}

fn held_lock_is_busy(session: &Session) -> Result<(), String> {
    // pid 1 is alive and is not the applet: the lock is someone else's.
    let lock = session.fixture.path(".smd/lock");
    fs::write(&lock, "1").map_err(|e| e.to_string())?;
    let notified = session.desktop.record.lock().notifications.len();

    session
        .applet
        .application()
        .activate_action("sync-now", None);
    let result = wait_for("the busy state", SYNC, || {
        let status = session.applet.status();
        status.busy && status.running.is_none()
    });
    let _ = fs::remove_file(&lock);
    result?;
    ensure(!has_error(session), || "a held lock became an error".into())?;
    let item = item(session)?;
    let mut tooltip = String::new();
    wait_for("the busy tooltip", SHORT, || {
        tooltip = session
            .desktop
            .item_tooltip(&item)
            .map(|(_, text)| text)
            .unwrap_or_default();
        tooltip.contains("Waiting for another")
    })
    .map_err(|e| format!("{e}: {tooltip:?}"))?;
    ensure(
        session
            .applet
            .error_window(ENDPOINT)
            .is_none_or(|w| !w.window().is_visible()),
        || "an error window opened".into(),
    )?;
    spin(Duration::from_millis(300));
    ensure(
        session.desktop.record.lock().notifications.len() == notified,
        || "a held lock was notified".into(),
    )?;

    // The lock is gone: the next run works and "busy" goes.
    session
        .applet
        .application()
        .activate_action("sync-now", None);
    wait_for("the next run", SYNC, || {
        let status = session.applet.status();
        !status.busy && status.running.is_none()
    })
}

/// Idle, or offline where the container has no network route.
fn expected_idle_icon() -> &'static str {
    if gio::NetworkMonitor::default().is_network_available() {
        "smd-idle-symbolic"
    } else {
        "smd-offline-symbolic"
    }
}

fn delete_conflict(session: &Session) -> Result<(), String> {
    let fixture = &session.fixture;
    let local = fixture.path("Local/cur/1.server:2,S");
    let mut text = fs::read_to_string(&local).map_err(|e| e.to_string())?;
    text.push_str("A note added here.\n");
    fs::write(&local, text).map_err(|e| e.to_string())?;
    fs::remove_file(fixture.path("Remote/cur/1.server:2,S"))
        .map_err(|e| e.to_string())?;

    let app = session.applet.application();
    app.activate_action("sync-now", None);
    wait_for("the delete conflict", SYNC, || has_error(session))?;
    let first = notification_with(session, "A Deleted Message Was Changed Here")?;

    app.activate_action("show-error", Some(&ENDPOINT.to_variant()));
    wait_for("the error window", SHORT, || {
        session
            .applet
            .error_window(ENDPOINT)
            .is_some_and(|w| w.window().is_visible())
    })?;
    let error_window = session.applet.error_window(ENDPOINT).ok_or("none")?;
    let window = error_window.window();
    let labels: Vec<String> = error_window
        .buttons()
        .iter()
        .filter_map(|(_, b)| b.label().map(|l| l.to_string()))
        .collect();
    ensure(
        labels
            == [
                "Show File",
                "Delete Local Copy",
                "Keep My Version",
                "Try Again",
            ],
        || format!("buttons {labels:?}"),
    )?;
    ensure(text_of(window).contains("A note added here."), || {
        "the changed mail is not shown".into()
    })?;

    // The same error again replaces its notification.
    find_button(window, "Try Again")
        .ok_or("no Try Again")?
        .emit_clicked();
    wait_for("the retry to fail again", SYNC, || {
        error_window.outcome_text().contains("stopped again")
    })
    .map_err(|e| format!("{e}; outcome {:?}", error_window.outcome_text()))?;
    let again: Vec<bus::Notified> = {
        let mut again = Vec::new();
        wait_for("the second notification", SHORT, || {
            again = session
                .desktop
                .record
                .lock()
                .notifications
                .iter()
                .filter(|n| n.summary == "A Deleted Message Was Changed Here")
                .cloned()
                .collect();
            again.len() == 2
        })?;
        again
    };
    ensure(
        again[1].replaces_id == first.id && again[1].id == first.id,
        || format!("not replaced: {again:?}"),
    )?;
    screenshot(window, &session.shots, "error-window-delete")?;

    find_button(window, "Delete Local Copy")
        .ok_or("no Delete Local Copy")?
        .emit_clicked();
    let dialog = message_dialog("Delete the Local Copy?")?;
    screenshot(&dialog, &session.shots, "confirm-delete")?;
    ensure(local.exists(), || "deleted before confirming".into())?;
    answer(&dialog, "_Delete")?;

    wait_for("the retried pull", SYNC, || {
        error_window.outcome_text().starts_with("Solved")
    })
    .map_err(|e| format!("{e}; outcome {:?}", error_window.outcome_text()))?;
    ensure(!local.exists(), || "the local copy is still there".into())?;
    ensure(fixture.in_sync(), || "the mailboxes differ".into())?;
    window.close();
    Ok(())
}

fn keep_my_version(session: &Session) -> Result<(), String> {
    let fixture = &session.fixture;
    let local = fixture.path("Local/cur/2.same:2,");
    let mut text = fs::read_to_string(&local).map_err(|e| e.to_string())?;
    text.push_str("Kept here on purpose.\n");
    fs::write(&local, &text).map_err(|e| e.to_string())?;
    fs::remove_file(fixture.path("Remote/cur/2.same:2,")).map_err(|e| e.to_string())?;

    let app = session.applet.application();
    app.activate_action("sync-now", None);
    wait_for("the delete conflict", SYNC, || has_error(session))?;
    app.activate_action("show-error", Some(&ENDPOINT.to_variant()));
    let error_window = session.applet.error_window(ENDPOINT).ok_or("none")?;
    wait_for("the error window", SHORT, || {
        error_window.window().is_visible()
    })?;
    ensure(
        text_of(error_window.window()).contains("Kept here on purpose."),
        || "the changed mail is not shown".into(),
    )?;
    find_button(error_window.window(), "Keep My Version")
        .ok_or("no Keep My Version")?
        .emit_clicked();
    wait_for("the push and the retried pull", SYNC, || {
        error_window.outcome_text().starts_with("Solved")
    })
    .map_err(|e| format!("{e}; outcome {:?}", error_window.outcome_text()))?;
    let server = fs::read_to_string(fixture.path("Remote/cur/2.same:2,"))
        .map_err(|e| format!("the server's copy: {e}"))?;
    ensure(server == text, || server.clone())?;
    ensure(fixture.in_sync(), || "the mailboxes differ".into())?;
    error_window.window().close();
    Ok(())
}

fn icon_only_on_errors(session: &Session) -> Result<(), String> {
    let settings = gio::Settings::new(smd_applet::config::SCHEMA_ID);
    wait_for_property(session, "Status", "Active")?;
    settings
        .set_boolean("icon-only-on-errors", true)
        .map_err(|e| e.to_string())?;
    wait_for_property(session, "Status", "Passive")?;
    settings
        .set_boolean("icon-only-on-errors", false)
        .map_err(|e| e.to_string())?;
    wait_for_property(session, "Status", "Active")
}

fn endpoint_editor(session: &Session) -> Result<(), String> {
    let app = session.applet.application();
    app.activate_action("preferences", None);
    let preferences = session.applet.preferences_window().ok_or("none")?;
    let editor = preferences.open_endpoint(ENDPOINT);

    let server = editor.row("SERVERNAME").ok_or("no SERVERNAME row")?;
    ensure(server.text() == "localhost", || server.text().to_string())?;
    server.set_text("-oProxyCommand=evil");
    ensure(editor.problems_text().contains("cannot start with"), || {
        editor.problems_text()
    })?;
    ensure(!editor.save_button().is_sensitive(), || {
        "Save allowed".into()
    })?;
    let mailbox = editor.row("MAILBOX_LOCAL").ok_or("no MAILBOX_LOCAL row")?;
    mailbox.set_text("../Local");
    ensure(editor.problems_text().contains("must not contain"), || {
        editor.problems_text()
    })?;
    gtk_util::scroll_to_end(editor.widget());
    screenshot(editor.window(), &session.shots, "endpoint-editor-invalid")?;
    server.set_text("localhost");
    mailbox.set_text("Local");
    ensure(editor.problems_text().is_empty(), || editor.problems_text())?;
    // A local sync without -l: refused, with the fix.
    let options = editor.row("SMDCLIENTOPTS").ok_or("no SMDCLIENTOPTS row")?;
    let kept = options.text();
    options.set_text("");
    ensure(
        editor.problems_text().contains("-l in client options"),
        || editor.problems_text(),
    )?;
    options.set_text(&kept);
    ensure(editor.problems_text().is_empty(), || editor.problems_text())?;

    let config = session.fixture.path(".smd/config.test");
    let before = fs::read_to_string(&config).map_err(|e| e.to_string())?;
    editor
        .row("EXCLUDE")
        .ok_or("no EXCLUDE row")?
        .set_text("Local/spam");
    // The check reads the file: not before saving.
    ensure(!editor.check_button().is_sensitive(), || {
        "check allowed with unsaved changes".into()
    })?;
    ensure(
        editor
            .check_button()
            .tooltip_text()
            .is_some_and(|t| t.contains("Save first")),
        || "no Save first tooltip".into(),
    )?;
    editor.save_button().emit_clicked();
    ensure(editor.check_button().is_sensitive(), || {
        "check still disabled after saving".into()
    })?;
    let after = fs::read_to_string(&config).map_err(|e| e.to_string())?;
    ensure(after == format!("{before}EXCLUDE=Local/spam\n"), || {
        after.clone()
    })?;
    ensure(after.starts_with(USER_COMMENT), || after.clone())?;

    editor.check_button().emit_clicked();
    wait_for("the configuration check", SYNC, || {
        text_of(editor.widget()).contains("Every folder maps")
    })
    .map_err(|e| format!("{e}: {}", text_of(editor.widget())))?;
    let table = text_of(editor.widget());
    ensure(table.contains("→ Remote/cur → Local/cur"), || {
        table.clone()
    })?;
    ensure(table.contains("→ Local/cur → Remote/cur"), || {
        table.clone()
    })?;
    gtk_util::scroll_to_end(editor.widget());
    screenshot(editor.window(), &session.shots, "endpoint-editor-checked")?;
    editor.window().close();

    // A new endpoint starts from the engine's commented template.
    preferences.create_endpoint("work");
    let created = session.fixture.path(".smd/config.work");
    let template = fs::read_to_string(&created).map_err(|e| e.to_string())?;
    ensure(template == smd::config::template("work"), || {
        template.clone()
    })?;
    let editor = preferences.open_endpoint("work");
    let server = editor.row("SERVERNAME").ok_or("no SERVERNAME row")?;
    ensure(server.text() == "smd-server-work", || {
        server.text().to_string()
    })?;
    screenshot(editor.window(), &session.shots, "endpoint-editor-new")?;
    editor.window().close();
    Ok(())
}

fn schedule_editor(session: &Session) -> Result<(), String> {
    let preferences = session.applet.preferences_window().ok_or("none")?;
    preferences.show_schedule();
    let window = preferences.window();
    let widgets = gtk_util::descendants(window.upcast_ref());
    let named = |name: &str| {
        widgets
            .iter()
            .find(|w| w.widget_name() == name)
            .cloned()
            .ok_or(format!("no {name}"))
    };
    let pull = named("schedule-pull")?
        .downcast::<gtk::Entry>()
        .map_err(|_| "not an entry")?;
    let problem = named("schedule-problem")?
        .downcast::<gtk::Label>()
        .map_err(|_| "not a label")?;
    ensure(pull.text() == "1", || format!("pull {}", pull.text()))?;
    let path = session.fixture.path(".smd/loop");
    let read = || fs::read_to_string(&path).map_err(|e| e.to_string());
    let before = read()?;
    // Not a number, or more than a day: refused, said, file untouched.
    for bad in ["abc", "", "2000"] {
        pull.set_text(bad);
        ensure(read()? == before, || format!("{bad:?} saved"))?;
        ensure(problem.is_visible() && !problem.label().is_empty(), || {
            format!("no error for {bad:?}")
        })?;
    }
    pull.set_text("5");
    ensure(!problem.is_visible(), || problem.label().to_string())?;
    let text = read()?;
    ensure(
        text == format!("# the applet's schedule\n5 1 {ENDPOINT}\n"),
        || text.clone(),
    )?;
    screenshot(window, &session.shots, "preferences-schedule")?;
    window.close();
    Ok(())
}

fn log_window(session: &Session) -> Result<(), String> {
    session.applet.application().activate_action("log", None);
    let log = session.applet.log_window().ok_or("no log window")?;
    let names = log.file_names();
    for expected in ["applet.log", "client.test.log", "server.test.log"] {
        ensure(names.iter().any(|n| n == expected), || format!("{names:?}"))?;
    }
    // Every line starts with when it happened, in local time.
    let timed = |text: &str| {
        text.lines().all(|line| {
            let stamp: Vec<char> = line.chars().take(21).collect();
            stamp.len() == 21
                && stamp[..4].iter().all(char::is_ascii_digit)
                && stamp[4] == '-'
                && stamp[13] == ':'
                && stamp[19..] == [' ', ' ']
        })
    };
    log.select("applet.log");
    let shown = log.shown_text();
    ensure(timed(&shown), || shown.clone())?;
    ensure(shown.contains("smd-pull -s test: started"), || {
        shown.clone()
    })?;
    ensure(shown.contains("was moved aside to"), || shown.clone())?;
    ensure(log.timing_note().is_empty(), || log.timing_note())?;
    screenshot(log.window(), &session.shots, "log-window")?;

    // The engine's logs have no times: each line gets its run's end.
    log.select("client.test.log");
    let shown = log.shown_text();
    ensure(shown.contains("stats::new-mails"), || shown.clone())?;
    ensure(timed(&shown), || shown.clone())?;
    ensure(log.timing_note().contains("smd 1.3"), || log.timing_note())?;
    screenshot(log.window(), &session.shots, "log-window-client")?;
    log.window().close();
    Ok(())
}

fn about_window(session: &Session) -> Result<(), String> {
    session.applet.application().activate_action("about", None);
    wait_for("the About window", SHORT, || {
        !toplevels::<adw::AboutWindow>().is_empty()
    })?;
    let about = toplevels::<adw::AboutWindow>().pop().ok_or("none")?;
    ensure(about.application_name() == "Sync Mail Dir", || {
        about.application_name().to_string()
    })?;
    // The same addresses and name as the AppStream metainfo.
    let metainfo = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/org.syncmaildir.Applet.metainfo.xml"
    ))
    .map_err(|e| e.to_string())?;
    for (what, value) in [
        ("website", about.website().to_string()),
        ("issues", about.issue_url().to_string()),
        ("developer", about.developer_name().to_string()),
    ] {
        ensure(metainfo.contains(&format!(">{value}<")), || {
            format!("{what} {value} is not in the metainfo")
        })?;
    }
    screenshot(&about, &session.shots, "about")?;
    about.close();
    Ok(())
}

fn ssh_failures(session: &Session) -> Result<(), String> {
    let fixture = &session.fixture;
    let schedule = fixture.path(".smd/loop");
    let kept = fs::read_to_string(&schedule).map_err(|e| e.to_string())?;
    for name in ["denied", "unreachable"] {
        fs::write(
            fixture.path(&format!(".smd/config.{name}")),
            format!("SERVERNAME={name}\nCLIENTNAME=laptop\nMAILBOX=Local\n"),
        )
        .map_err(|e| e.to_string())?;
    }
    fs::write(&schedule, format!("{kept}1 1 denied\n1 1 unreachable\n"))
        .map_err(|e| e.to_string())?;
    let notified_before = session.desktop.record.lock().notifications.len();

    let app = session.applet.application();
    app.activate_action("sync-now", None);
    wait_for("both ssh failures", SYNC, || {
        let status = session.applet.status();
        status.running.is_none()
            && status
                .endpoints
                .get("denied")
                .is_some_and(|s| s.error.is_some())
            && status
                .endpoints
                .get("unreachable")
                .is_some_and(|s| s.trouble.is_some())
    })?;
    let status = session.applet.status();
    let denied = status.endpoints["denied"].error.clone().ok_or("no error")?;
    ensure(
        denied.failure.ssh == Some(SshFailureKind::AuthenticationDenied),
        || format!("{:?}", denied.failure),
    )?;
    let unreachable = &status.endpoints["unreachable"];
    ensure(unreachable.error.is_none(), || {
        "a transient failure stopped".into()
    })?;
    ensure(
        unreachable.trouble.as_ref().and_then(|t| t.ssh)
            == Some(SshFailureKind::ConnectionRefused),
        || format!("{:?}", unreachable.trouble),
    )?;

    // The permanent failure is told, with what to do; the other is not.
    let notice = notification_with(session, "The Server Refused the Login")?;
    ensure(notice.body.contains("ssh-copy-id"), || notice.body.clone())?;
    spin(Duration::from_millis(300));
    let noisy: Vec<String> = session.desktop.record.lock().notifications
        [notified_before..]
        .iter()
        .filter(|n| n.body.contains("unreachable") || n.summary.contains("Reached"))
        .map(|n| n.summary.clone())
        .collect();
    ensure(noisy.is_empty(), || format!("notified {noisy:?}"))?;
    let main = session.applet.main_window().ok_or("no main window")?;
    main.present();
    spin(Duration::from_millis(200));
    let text = text_of(main.window());
    ensure(
        text.contains("Not this time: the server refused the connection"),
        || text.clone(),
    )?;
    screenshot(main.window(), &session.shots, "main-window-ssh")?;

    // From the failure to the endpoint's settings.
    app.activate_action("show-error", Some(&"denied".to_variant()));
    let error_window = session.applet.error_window("denied").ok_or("no window")?;
    wait_for("the error window", SHORT, || {
        error_window.window().is_visible()
    })?;
    let text = text_of(error_window.window());
    ensure(text.contains("Permission denied (publickey)"), || {
        text.clone()
    })?;
    screenshot(error_window.window(), &session.shots, "error-window-ssh")?;
    find_button(error_window.window(), "Edit Endpoint…")
        .ok_or("no Edit Endpoint… button")?
        .emit_clicked();
    let preferences = session.applet.preferences_window().ok_or("none")?;
    wait_for("the endpoint's editor", SHORT, || {
        preferences.editor("denied").is_some()
    })?;
    ensure(preferences.shows_endpoints(), || {
        "not on the endpoints page".into()
    })?;
    let editor = preferences.editor("denied").ok_or("no editor")?;
    ensure(
        editor
            .row("SERVERNAME")
            .is_some_and(|r| r.text() == "denied"),
        || "another endpoint's editor".into(),
    )?;
    editor.window().close();
    preferences.window().close();

    let journal = fs::read_to_string(fixture.path(".smd/log/applet.log"))
        .map_err(|e| e.to_string())?;
    for expected in [
        "smd-pull -s denied: stopped until you act: ssh: the server refused the login",
        "smd-pull -s unreachable: failed, trying again later: ssh: the connection was refused",
    ] {
        ensure(journal.contains(expected), || format!("{expected:?} not in {journal}"))?;
    }

    // Taken out of the schedule, both are forgotten.
    fs::write(&schedule, &kept).map_err(|e| e.to_string())?;
    app.activate_action("sync-now", None);
    wait_for("the endpoints to go", SYNC, || {
        let status = session.applet.status();
        status.running.is_none()
            && !status.endpoints.contains_key("denied")
            && !status.endpoints.contains_key("unreachable")
    })?;
    wait_for("the notice to be withdrawn", SHORT, || {
        session.desktop.record.lock().closed.contains(&notice.id)
    })?;
    for name in ["denied", "unreachable"] {
        let _ = fs::remove_file(fixture.path(&format!(".smd/config.{name}")));
    }
    Ok(())
}

fn pause_and_resume(session: &Session) -> Result<(), String> {
    let settings = gio::Settings::new(smd_applet::config::SCHEMA_ID);
    click_menu(session, "_Pause")?;
    wait_for_property(session, "IconName", "smd-paused-symbolic")?;
    ensure(settings.boolean("paused"), || "paused not saved".into())?;
    let labels: Vec<String> = session
        .desktop
        .menu(&item(session)?)?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    ensure(labels.contains(&"_Resume".to_owned()), || {
        format!("{labels:?}")
    })?;
    let main = session.applet.main_window().ok_or("no main window")?;
    main.present();
    spin(Duration::from_millis(200));
    ensure(text_of(main.window()).contains("Paused"), || {
        "not shown".into()
    })?;
    screenshot(main.window(), &session.shots, "main-window-paused")?;

    // Resuming synchronizes at once, not at the next slot (an hour away
    // in this test).
    let last_success = || {
        session
            .applet
            .status()
            .endpoints
            .get(ENDPOINT)
            .and_then(|s| s.last_success)
    };
    let before = last_success();
    click_menu(session, "_Resume")?;
    wait_for("a sync after resuming", SYNC, || last_success() > before)?;
    wait_for_property(session, "IconName", expected_idle_icon())?;
    ensure(!settings.boolean("paused"), || "still paused".into())
}

fn quit_from_tray(session: &Session) -> Result<(), String> {
    let item = item(session)?;
    click_menu(session, "_Quit")?;
    wait_for("the tray item to leave the bus", SYNC, || {
        session.desktop.has_owner(&item).is_ok_and(|owned| !owned)
    })?;
    wait_for("the windows to close", SHORT, || {
        session
            .applet
            .application()
            .windows()
            .iter()
            .all(|w| !w.is_visible())
    })?;
    wait_for("the sync loop to stop", SYNC, || {
        session.applet.loop_stopped()
    })
}

fn no_tray_host(session: &Session) -> Result<(), String> {
    session.desktop.stop_watcher()?;
    let summary = "Sync Mail Dir Runs in the Background";
    let applet = Applet::new(Options {
        home: session.fixture.home.clone(),
        loop_options: LoopOptions {
            home: session.fixture.home.clone(),
            minute: Duration::from_secs(3600),
            paused: false,
        },
        background: false,
        // The first applet still holds its name and objects on this bus.
        application_id: format!("{}.Test", smd_applet::config::APP_ID),
    });
    let app = applet.application();
    app.register(None::<&gio::Cancellable>)
        .map_err(|e| format!("register: {e}"))?;
    app.activate();

    let notice = notification_with(session, summary)?;
    ensure(notice.actions.contains(&"show".to_owned()), || {
        format!("actions {:?}", notice.actions)
    })?;
    wait_for("the no-tray state", SHORT, || applet.tray_missing())?;
    let main = applet.main_window().ok_or("no main window")?;
    wait_for("the main window", SHORT, || main.window().is_visible())?;
    let text = text_of(main.window());
    ensure(text.contains("shows no tray icons"), || text.clone())?;
    screenshot(main.window(), &session.shots, "main-window-no-tray")?;

    // Said once: another sync does not repeat it.
    app.activate_action("sync-now", None);
    wait_for("a run", SYNC, || {
        applet
            .status()
            .endpoints
            .get(ENDPOINT)
            .is_some_and(|s| s.last_success.is_some())
    })?;
    spin(Duration::from_millis(300));
    let told = session
        .desktop
        .record
        .lock()
        .notifications
        .iter()
        .filter(|n| n.summary == summary)
        .count();
    ensure(told == 1, || format!("told {told} times"))?;
    app.activate_action("quit", None);
    wait_for("the second applet to stop", SYNC, || applet.loop_stopped())
}
