//! What the applet watches and asks of the desktop: the network, suspend
//! and resume, autostart and the Background portal. Each is optional:
//! where a service is missing, the applet carries on without it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use gtk::gio;
use gtk::gio::prelude::*;
use gtk::glib;

use crate::config::{APP_ID, ICON_NAME};
use crate::i18n::gettext;

/// Calls `changed` with the network state now and at each change.
pub fn watch_network(changed: impl Fn(bool) + 'static) -> gio::NetworkMonitor {
    let monitor = gio::NetworkMonitor::default();
    changed(monitor.is_network_available());
    monitor.connect_network_changed(move |_, available| changed(available));
    monitor
}

/// Calls `resumed` after the machine wakes from suspend, from logind's
/// `PrepareForSleep(false)` on the system bus. Without a system bus or
/// logind, nothing happens.
pub fn watch_resume(resumed: impl Fn() + 'static) {
    glib::spawn_future_local(async move {
        let connection = match gio::bus_get_future(gio::BusType::System).await {
            Ok(connection) => connection,
            Err(error) => {
                glib::g_debug!(
                    "smd-applet",
                    "No system bus, so no resume detection: {}",
                    error
                );
                return;
            }
        };
        let subscription = connection.subscribe_to_signal(
            Some("org.freedesktop.login1"),
            Some("org.freedesktop.login1.Manager"),
            Some("PrepareForSleep"),
            Some("/org/freedesktop/login1"),
            None,
            gio::DBusSignalFlags::NONE,
            move |signal| {
                if let Some((false,)) = signal.parameters.get::<(bool,)>() {
                    resumed();
                }
            },
        );
        // The subscription lasts as long as the applet.
        std::mem::forget(subscription);
    });
}

/// `~/.config/autostart/org.syncmaildir.Applet.desktop`.
pub fn autostart_path(config_dir: &Path) -> PathBuf {
    config_dir
        .join("autostart")
        .join(format!("{APP_ID}.desktop"))
}

/// The autostart entry: the applet starts in the background at login.
pub fn autostart_entry(program: &str) -> String {
    // Desktop entries quote arguments with double quotes and escape `"`,
    // `` ` ``, `$` and `\` inside them.
    let needs_quotes =
        program.contains(|c: char| c.is_whitespace() || "\"'`$\\".contains(c));
    let exec = if needs_quotes {
        let mut quoted = String::from('"');
        for c in program.chars() {
            if "\"`$\\".contains(c) {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    } else {
        program.to_owned()
    };
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name={name}\n\
         Comment={comment}\n\
         Exec={exec} --background\n\
         Icon={ICON_NAME}\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n",
        name = gettext("Sync Mail Dir"),
        comment = gettext("Keep two Maildir mailboxes in sync over ssh"),
    )
}

/// Writes or removes the autostart entry.
pub fn set_autostart(config_dir: &Path, enabled: bool) -> io::Result<()> {
    let path = autostart_path(config_dir);
    if enabled {
        let program = std::env::current_exe()
            .ok()
            .filter(|exe| !exe.components().any(|c| c.as_os_str() == "target"))
            .map_or_else(
                || "smd-applet".to_owned(),
                |exe| exe.to_string_lossy().into_owned(),
            );
        crate::config_editor::write_atomically(&path, &autostart_entry(&program))
    } else {
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// Whether the applet runs inside Flatpak.
pub fn is_sandboxed() -> bool {
    Path::new("/.flatpak-info").exists()
}

/// The parameters of `RequestBackground`: `(sa{sv})`, no parent window.
pub fn background_request(autostart: bool) -> glib::Variant {
    let options = glib::VariantDict::new(None);
    options.insert("reason", gettext("Synchronize mail in the background"));
    options.insert("autostart", autostart);
    options.insert(
        "commandline",
        vec!["smd-applet".to_owned(), "--background".to_owned()],
    );
    glib::Variant::tuple_from_iter(["".to_variant(), options.end()])
}

/// Asks the Background portal to let the applet run without a window
/// (and, in a sandbox, to start it at login). A missing portal is fine.
pub fn request_background(connection: &gio::DBusConnection, autostart: bool) {
    let parameters = background_request(autostart);
    let call = connection.call_future(
        Some("org.freedesktop.portal.Desktop"),
        "/org/freedesktop/portal/desktop",
        "org.freedesktop.portal.Background",
        "RequestBackground",
        Some(&parameters),
        None,
        gio::DBusCallFlags::NONE,
        5000,
    );
    glib::spawn_future_local(async move {
        if let Err(error) = call.await {
            glib::g_debug!("smd-applet", "No Background portal: {}", error);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostart_entries_quote_odd_paths() {
        let plain = autostart_entry("/usr/bin/smd-applet");
        assert!(plain.contains("\nExec=/usr/bin/smd-applet --background\n"));
        assert!(plain.starts_with("[Desktop Entry]\n"));
        let odd = autostart_entry("/opt/my apps/smd-$x");
        assert!(odd.contains("\nExec=\"/opt/my apps/smd-\\$x\" --background\n"));
    }

    #[test]
    fn the_portal_request_has_the_portal_signature() {
        let request = background_request(true);
        assert_eq!(request.type_().as_str(), "(sa{sv})");
        let options = request.child_value(1);
        let dict = glib::VariantDict::new(Some(&options));
        assert_eq!(dict.lookup::<bool>("autostart").ok().flatten(), Some(true));
    }

    #[test]
    fn autostart_is_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        set_autostart(dir.path(), true).unwrap();
        let path = autostart_path(dir.path());
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains("X-GNOME-Autostart-enabled=true"));
        set_autostart(dir.path(), false).unwrap();
        assert!(!path.exists());
        set_autostart(dir.path(), false).unwrap();
    }
}
