//! Desktop notifications (notify-rust): new mail, and errors that need a
//! person.
//!
//! Each topic (new mail of an endpoint, the error of an endpoint, ...) has
//! one notification at a time: a repeated error replaces its notification
//! (the server's id is kept and sent as `replaces_id`) instead of piling
//! up, and a settled error's notification is withdrawn. What a
//! notification says is decided by [`notice_for`], which is pure.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread;

use gtk::gio;
use gtk::glib;
use notify_rust::{Hint, Notification, Timeout};

use crate::application::AppAction;
use crate::config::{APP_ID, ICON_NAME};
use crate::errors::{explain, short_reason};
use crate::i18n::{fill, gettext, ngettext};
use crate::status::{Effect, Status};

/// What a notification is about; one notification per topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    NewMail(String),
    Error(String),
    Trouble(String),
    NoTray,
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub topic: Topic,
    pub summary: String,
    pub body: String,
    /// Stays until dealt with.
    pub persistent: bool,
    /// A button: its label and what it does.
    pub action: Option<(String, AppAction)>,
}

/// The notice an effect calls for, if any.
pub fn notice_for(effect: &Effect, status: &Status) -> Option<Notice> {
    match effect {
        Effect::NewMail { endpoint, count } => Some(Notice {
            topic: Topic::NewMail(endpoint.clone()),
            summary: fill(
                &ngettext(
                    "{count} new message",
                    "{count} new messages",
                    u32::try_from(*count).unwrap_or(u32::MAX),
                ),
                &[("count", count)],
            ),
            body: fill(
                &gettext("Received for {endpoint}."),
                &[("endpoint", endpoint)],
            ),
            persistent: false,
            action: None,
        }),
        Effect::Error { endpoint } => {
            let error = status.endpoints.get(endpoint)?.error.as_ref()?;
            let explanation =
                explain(error.failure.tags.context, error.failure.tags.cause);
            Some(Notice {
                topic: Topic::Error(endpoint.clone()),
                summary: explanation.heading,
                body: fill(
                    &gettext("Synchronizing {endpoint} stopped. {explanation}"),
                    &[("endpoint", endpoint), ("explanation", &explanation.body)],
                ),
                persistent: true,
                action: Some((
                    gettext("Show Problem"),
                    AppAction::ShowError(endpoint.clone()),
                )),
            })
        }
        Effect::Trouble { endpoint } => {
            let trouble = status.endpoints.get(endpoint)?.trouble.as_ref()?;
            Some(Notice {
                topic: Topic::Trouble(endpoint.clone()),
                summary: explain(trouble.tags.context, trouble.tags.cause).heading,
                body: fill(
                    &gettext(
                        "Synchronizing {endpoint} has not worked for an hour: {reason}. \
                         The applet keeps trying, and will not tell you again.",
                    ),
                    &[("endpoint", endpoint), ("reason", &short_reason(trouble))],
                ),
                persistent: false,
                action: None,
            })
        }
        Effect::Resolved { .. } => None,
    }
}

/// The notice for a desktop without a tray.
pub fn no_tray_notice() -> Notice {
    Notice {
        topic: Topic::NoTray,
        summary: gettext("Sync Mail Dir Runs in the Background"),
        body: gettext(
            "Your desktop shows no tray icons, so there is none for Sync Mail Dir. \
             It keeps synchronizing, tells you about problems with notifications, \
             and its window opens from the applications menu.",
        ),
        persistent: false,
        action: Some((gettext("Open Window"), AppAction::ShowWindow)),
    }
}

/// Sends notifications and remembers their ids.
pub struct Notifier {
    ids: RefCell<HashMap<Topic, u32>>,
    /// Notification ids a thread waits on for a click.
    waiting: Arc<Mutex<HashSet<u32>>>,
    actions: async_channel::Sender<AppAction>,
}

impl Notifier {
    pub fn new(actions: async_channel::Sender<AppAction>) -> Rc<Notifier> {
        Rc::new(Notifier {
            ids: RefCell::new(HashMap::new()),
            waiting: Arc::new(Mutex::new(HashSet::new())),
            actions,
        })
    }

    /// Shows `notice`, replacing the one of the same topic.
    pub fn show(self: &Rc<Self>, notice: Notice) {
        let mut notification = Notification::new();
        notification
            .appname(&gettext("Sync Mail Dir"))
            .summary(&notice.summary)
            .body(&notice.body)
            .icon(ICON_NAME)
            .hint(Hint::DesktopEntry(APP_ID.to_owned()));
        if notice.persistent {
            notification
                .hint(Hint::Resident(true))
                .timeout(Timeout::Never);
        }
        if let Some((label, _)) = &notice.action {
            // "default" is a click on the notification itself.
            notification.action("default", label).action("show", label);
        }
        if let Some(id) = self.ids.borrow().get(&notice.topic) {
            notification.id(*id);
        }

        let this = Rc::clone(self);
        glib::spawn_future_local(async move {
            match notification.show_async().await {
                Ok(handle) => {
                    let id = handle.id();
                    this.ids.borrow_mut().insert(notice.topic.clone(), id);
                    if let Some((_, action)) = notice.action {
                        this.wait_for_click(handle, id, action);
                    }
                }
                Err(error) => {
                    glib::g_warning!(
                        "smd-applet",
                        "Cannot show a notification: {}",
                        error
                    );
                }
            }
        });
    }

    /// Waits, in a thread, for a click on a notification; one waiter per
    /// notification id, since a replaced notification keeps its id.
    fn wait_for_click(
        &self,
        handle: notify_rust::NotificationHandle,
        id: u32,
        action: AppAction,
    ) {
        let waiting = Arc::clone(&self.waiting);
        let Ok(mut ids) = waiting.lock() else {
            return;
        };
        if !ids.insert(id) {
            return;
        }
        drop(ids);
        let actions = self.actions.clone();
        let spawned = thread::Builder::new()
            .name("smd-notification".into())
            .spawn(move || {
                handle.wait_for_action(|invoked| {
                    if invoked != "__closed" {
                        let _ = actions.send_blocking(action);
                    }
                });
                if let Ok(mut ids) = waiting.lock() {
                    ids.remove(&id);
                }
            });
        if let Err(error) = spawned {
            glib::g_warning!(
                "smd-applet",
                "Cannot wait for notification clicks: {}",
                error
            );
        }
    }

    /// Closes the notification of `topic`, if one is shown.
    pub fn withdraw(&self, topic: &Topic, connection: Option<gio::DBusConnection>) {
        let Some(id) = self.ids.borrow_mut().remove(topic) else {
            return;
        };
        let Some(connection) = connection else {
            return;
        };
        let call = connection.call_future(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "CloseNotification",
            Some(&(id,).into()),
            None,
            gio::DBusCallFlags::NONE,
            5000,
        );
        glib::spawn_future_local(async move {
            if let Err(error) = call.await {
                glib::g_debug!(
                    "smd-applet",
                    "Cannot close notification {}: {}",
                    id,
                    error
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Mailboxes, Side};
    use crate::scheduler::{Event, FailureReport, Outcome, Report};
    use smd::schedule::{Direction, Job};
    use smd::tags::Tags;
    use std::time::SystemTime;

    #[test]
    fn notices_say_what_happened() {
        let mut status = Status::default();
        let new_mail = Effect::NewMail {
            endpoint: "work".into(),
            count: 3,
        };
        let notice = notice_for(&new_mail, &status).unwrap();
        assert_eq!(notice.summary, "3 new messages");
        assert_eq!(notice.topic, Topic::NewMail("work".into()));
        assert!(!notice.persistent);

        let error = Effect::Error {
            endpoint: "work".into(),
        };
        assert_eq!(notice_for(&error, &status), None);
        let report = Report {
            outcome: Outcome::NeedsPerson,
            failure: Some(FailureReport {
                side: Side::Local,
                message: "m".into(),
                tags: Tags::new("delete-message", "concurrent-mailbox-edit", true),
                mailboxes: Mailboxes::default(),
                ssh: None,
            }),
            stats: None,
        };
        let job = Job {
            direction: Direction::Pull,
            endpoint: "work".into(),
        };
        status.apply(&Event::Finished(job, report), false, SystemTime::UNIX_EPOCH);
        let notice = notice_for(&error, &status).unwrap();
        assert_eq!(notice.summary, "A Deleted Message Was Changed Here");
        assert!(notice.persistent);
        assert_eq!(
            notice.action,
            Some(("Show Problem".into(), AppAction::ShowError("work".into())))
        );
        assert!(notice_for(
            &Effect::Resolved {
                endpoint: "work".into()
            },
            &status
        )
        .is_none());
    }

    #[test]
    fn lasting_trouble_is_told_with_its_reason() {
        use smd::ssh_failure::SshFailureKind;
        let mut status = Status::default();
        let trouble = Effect::Trouble {
            endpoint: "work".into(),
        };
        assert_eq!(notice_for(&trouble, &status), None);
        let report = Report {
            outcome: Outcome::Transient,
            failure: Some(FailureReport {
                side: Side::Local,
                message: "ssh: connect to host mail port 22: Connection timed out".into(),
                tags: Tags::retry("ssh", "network"),
                mailboxes: Mailboxes::default(),
                ssh: Some(SshFailureKind::TimedOut),
            }),
            stats: None,
        };
        let job = Job {
            direction: Direction::Pull,
            endpoint: "work".into(),
        };
        status.apply(&Event::Finished(job, report), false, SystemTime::UNIX_EPOCH);
        let notice = notice_for(&trouble, &status).unwrap();
        assert_eq!(notice.summary, "The Server Could Not Be Reached");
        assert!(
            notice.body.contains("did not answer in time"),
            "{}",
            notice.body
        );
        assert!(!notice.persistent);
    }
}
