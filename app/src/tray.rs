//! The tray icon: a StatusNotifierItem (ksni) showing the loop's state,
//! with a menu of the things people do from a tray.
//!
//! ksni runs its D-Bus service on its own executor thread (the `async-io`
//! feature), so the item holds only plain data and a channel sender: menu
//! clicks become [`AppAction`]s handled on the GTK main loop, and the GTK
//! side pushes a new [`TrayView`] whenever the state changes. What is
//! shown is computed by [`TrayView::new`], which is pure and tested.

use gtk::glib;

use crate::application::AppAction;
use crate::i18n::{fill, gettext, ngettext};
use crate::status::Overall;

/// The tray's priority, as StatusNotifierItem hosts understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Hosts may hide it ("icon only on errors").
    Passive,
    Active,
    NeedsAttention,
}

/// Everything the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub icon_name: String,
    pub importance: Importance,
    pub title: String,
    /// One line on what is going on.
    pub tooltip: String,
    pub paused: bool,
}

impl TrayView {
    pub fn new(overall: &Overall, paused: bool, icon_only_on_errors: bool) -> TrayView {
        let quiet = if icon_only_on_errors {
            Importance::Passive
        } else {
            Importance::Active
        };
        let (icon, importance, tooltip) = match overall {
            Overall::Error { endpoints } => (
                "smd-error-symbolic",
                Importance::NeedsAttention,
                fill(
                    &ngettext(
                        "A problem with {endpoints} needs your attention",
                        "Problems with {endpoints} need your attention",
                        endpoints.len() as u32,
                    ),
                    &[("endpoints", &endpoints.join(", "))],
                ),
            ),
            Overall::Syncing { job, progress } => {
                let what = match job.direction {
                    smd::schedule::Direction::Pull => {
                        gettext("Receiving mail for {endpoint}")
                    }
                    smd::schedule::Direction::Push => {
                        gettext("Sending mail for {endpoint}")
                    }
                };
                let mut text = fill(&what, &[("endpoint", &job.endpoint)]);
                if let Some(p) = progress.filter(|p| p.commands_total > 0) {
                    text.push_str(" — ");
                    text.push_str(&fill(
                        &gettext("{done} of {total} changes"),
                        &[("done", &p.commands_done), ("total", &p.commands_total)],
                    ));
                }
                ("smd-syncing-symbolic", quiet, text)
            }
            Overall::Paused => (
                "smd-paused-symbolic",
                quiet,
                gettext("Synchronization is paused"),
            ),
            Overall::Offline => (
                "smd-offline-symbolic",
                quiet,
                gettext("Offline: waiting for the network"),
            ),
            Overall::Busy => (
                "smd-idle-symbolic",
                quiet,
                gettext("Waiting for another Sync Mail Dir program to finish"),
            ),
            Overall::Retrying { endpoints } => (
                "smd-offline-symbolic",
                quiet,
                fill(
                    &gettext("The server of {endpoints} cannot be reached; trying again"),
                    &[("endpoints", &endpoints.join(", "))],
                ),
            ),
            Overall::Idle => ("smd-idle-symbolic", quiet, gettext("Mail is in sync")),
        };
        TrayView {
            icon_name: icon.to_owned(),
            importance,
            title: gettext("Sync Mail Dir"),
            tooltip,
            paused,
        }
    }

    /// The menu's items: label and what it does; `None` is a separator.
    pub fn menu(&self) -> Vec<Option<(String, AppAction)>> {
        let pause = if self.paused {
            gettext("_Resume")
        } else {
            gettext("_Pause")
        };
        vec![
            Some((gettext("_Sync Now"), AppAction::SyncNow)),
            Some((pause, AppAction::TogglePause)),
            None,
            Some((gettext("_Open Window"), AppAction::ShowWindow)),
            Some((gettext("P_references"), AppAction::Preferences)),
            Some((gettext("_Log"), AppAction::Log)),
            None,
            Some((gettext("_Quit"), AppAction::Quit)),
        ]
    }
}

/// The StatusNotifierItem.
pub struct Item {
    view: TrayView,
    actions: async_channel::Sender<AppAction>,
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "smd-applet".to_owned()
    }

    fn title(&self) -> String {
        self.view.title.clone()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn status(&self) -> ksni::Status {
        match self.view.importance {
            Importance::Passive => ksni::Status::Passive,
            Importance::Active => ksni::Status::Active,
            Importance::NeedsAttention => ksni::Status::NeedsAttention,
        }
    }

    fn icon_name(&self) -> String {
        self.view.icon_name.clone()
    }

    fn attention_icon_name(&self) -> String {
        "smd-error-symbolic".to_owned()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            icon_name: self.view.icon_name.clone(),
            title: self.view.title.clone(),
            description: self.view.tooltip.clone(),
            icon_pixmap: Vec::new(),
        }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.actions.send_blocking(AppAction::ShowWindow);
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        self.view
            .menu()
            .into_iter()
            .map(|item| match item {
                None => ksni::MenuItem::Separator,
                Some((label, action)) => ksni::menu::StandardItem {
                    label,
                    activate: Box::new(move |item: &mut Item| {
                        // Unbounded: never blocks ksni's thread.
                        let _ = item.actions.send_blocking(action.clone());
                    }),
                    ..Default::default()
                }
                .into(),
            })
            .collect()
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        glib::g_debug!("smd-applet", "The tray host went away: {:?}", reason);
        // Keep the item: the panel may come back (a shell restart).
        true
    }
}

/// The running tray, updated from the GTK main loop.
#[derive(Clone)]
pub struct Tray {
    handle: ksni::Handle<Item>,
}

impl Tray {
    /// Registers the item with the StatusNotifierWatcher. Fails where no
    /// tray host exists (stock GNOME), which the caller tells the person.
    pub async fn start(
        view: TrayView,
        actions: async_channel::Sender<AppAction>,
    ) -> Result<Tray, ksni::Error> {
        use ksni::TrayMethods;
        let item = Item { view, actions };
        // A sandbox cannot own the StatusNotifierItem-PID-N name.
        let handle = item
            .disable_dbus_name(crate::system::is_sandboxed())
            .spawn()
            .await?;
        Ok(Tray { handle })
    }

    pub fn update(&self, view: TrayView) {
        let handle = self.handle.clone();
        glib::spawn_future_local(async move {
            handle
                .update(move |item: &mut Item| {
                    if item.view != view {
                        item.view = view;
                    }
                })
                .await;
        });
    }

    pub fn shutdown(&self) {
        let handle = self.handle.clone();
        glib::spawn_future_local(async move {
            handle.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smd::protocol::client::Progress;
    use smd::schedule::{Direction, Job};

    #[test]
    fn the_view_follows_the_state() {
        let idle = TrayView::new(&Overall::Idle, false, false);
        assert_eq!(idle.icon_name, "smd-idle-symbolic");
        assert_eq!(idle.importance, Importance::Active);

        let job = Job {
            direction: Direction::Pull,
            endpoint: "work".into(),
        };
        let progress = Some(Progress {
            commands_done: 4,
            commands_total: 9,
            bytes_received: 0,
        });
        let syncing = TrayView::new(&Overall::Syncing { job, progress }, false, false);
        assert_eq!(syncing.icon_name, "smd-syncing-symbolic");
        assert_eq!(syncing.tooltip, "Receiving mail for work — 4 of 9 changes");

        let error = TrayView::new(
            &Overall::Error {
                endpoints: vec!["a".into(), "b".into()],
            },
            false,
            true,
        );
        assert_eq!(error.importance, Importance::NeedsAttention);
        assert!(error.tooltip.contains("a, b"));

        assert_eq!(
            TrayView::new(&Overall::Offline, false, false).icon_name,
            "smd-offline-symbolic"
        );
        let paused = TrayView::new(&Overall::Paused, true, true);
        assert_eq!(paused.icon_name, "smd-paused-symbolic");
        // "Icon only on errors": hosts may hide anything but errors.
        assert_eq!(paused.importance, Importance::Passive);
    }

    #[test]
    fn the_menu_offers_pause_or_resume() {
        let labels = |paused| {
            TrayView::new(&Overall::Idle, paused, false)
                .menu()
                .into_iter()
                .flatten()
                .map(|(label, _)| label)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(false),
            [
                "_Sync Now",
                "_Pause",
                "_Open Window",
                "P_references",
                "_Log",
                "_Quit"
            ]
        );
        assert_eq!(labels(true)[1], "_Resume");
    }
}
