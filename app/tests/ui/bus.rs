//! Stand-ins for the desktop's D-Bus services, on the private session bus
//! of `dbus-run-session`: a StatusNotifierWatcher that records the items
//! registered with it, and a notification server that records every
//! notification and can "click" one. Plus the client calls the checks use
//! to read the tray back as a panel would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};
use zbus::{connection, interface, Connection};

/// One `Notify` call.
#[derive(Debug, Clone)]
pub struct Notified {
    /// The id the stand-in answered.
    pub id: u32,
    pub replaces_id: u32,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub hints: HashMap<String, OwnedValue>,
    pub expire_timeout: i32,
}

/// What the stand-ins saw.
#[derive(Debug, Default)]
pub struct Record {
    pub items: Vec<String>,
    pub notifications: Vec<Notified>,
    pub closed: Vec<u32>,
    next_id: u32,
}

#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Record>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Record> {
        // A check that panicked holding the lock must not hide the others.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Watcher {
    record: Shared,
}

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        // An item may register by object path (sandboxed), then its
        // address is its unique name plus that path.
        let item = if service.starts_with('/') {
            let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
            format!("{sender}{service}")
        } else {
            service.to_owned()
        };
        self.record.lock().items.push(item.clone());
        let _ = Watcher::status_notifier_item_registered(&emitter, &item).await;
    }

    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        self.record.lock().items.clone()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(
        emitter: &SignalEmitter<'_>,
    ) -> zbus::Result<()>;
}

struct Notifications {
    record: Shared,
}

#[interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let mut record = self.record.lock();
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            record.next_id += 1;
            record.next_id
        };
        record.notifications.push(Notified {
            id,
            replaces_id,
            app_name,
            summary,
            body,
            actions,
            hints,
            expire_timeout,
        });
        id
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        self.record.lock().closed.push(id);
        let _ = Notifications::notification_closed(&emitter, id, 3).await;
    }

    async fn get_capabilities(&self) -> Vec<String> {
        ["actions", "body", "persistence"]
            .map(String::from)
            .to_vec()
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        (
            "stand-in".into(),
            "smd-applet tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// The running stand-ins and a client connection for the checks.
pub struct Desktop {
    pub record: Shared,
    server: Connection,
    client: Connection,
}

impl Desktop {
    pub fn start() -> Result<Desktop, String> {
        zbus::block_on(async {
            let record = Shared::default();
            let server = connection::Builder::session()
                .and_then(|b| b.name("org.kde.StatusNotifierWatcher"))
                .and_then(|b| b.name("org.freedesktop.Notifications"))
                .and_then(|b| {
                    b.serve_at(
                        "/StatusNotifierWatcher",
                        Watcher {
                            record: record.clone(),
                        },
                    )
                })
                .and_then(|b| {
                    b.serve_at(
                        "/org/freedesktop/Notifications",
                        Notifications {
                            record: record.clone(),
                        },
                    )
                })
                .map_err(|e| format!("stand-in set-up: {e}"))?
                .build()
                .await
                .map_err(|e| format!("stand-in connection: {e}"))?;
            let client = Connection::session()
                .await
                .map_err(|e| format!("client connection: {e}"))?;
            Ok(Desktop {
                record,
                server,
                client,
            })
        })
    }

    /// Leaves the bus as a tray host, as on a desktop without one.
    pub fn stop_watcher(&self) -> Result<(), String> {
        zbus::block_on(self.server.release_name("org.kde.StatusNotifierWatcher"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// "Clicks" an action of a notification, as a notification server does.
    pub fn invoke_action(&self, id: u32, action: &str) -> Result<(), String> {
        zbus::block_on(self.server.emit_signal(
            None::<&str>,
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "ActionInvoked",
            &(id, action),
        ))
        .map_err(|e| e.to_string())
    }

    /// A property of the registered tray item, read over D-Bus.
    pub fn item_property(&self, item: &str, name: &str) -> Result<OwnedValue, String> {
        zbus::block_on(async {
            let reply = self
                .client
                .call_method(
                    Some(item),
                    "/StatusNotifierItem",
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &("org.kde.StatusNotifierItem", name),
                )
                .await
                .map_err(|e| format!("Get {name}: {e}"))?;
            reply
                .body()
                .deserialize::<OwnedValue>()
                .map_err(|e| format!("Get {name}: {e}"))
        })
    }

    pub fn item_string(&self, item: &str, name: &str) -> Result<String, String> {
        let value = self.item_property(item, name)?;
        match &*value {
            Value::Str(text) => Ok(text.to_string()),
            Value::ObjectPath(path) => Ok(path.to_string()),
            other => Err(format!("{name} is not a string: {other:?}")),
        }
    }

    /// The tooltip's title and description.
    pub fn item_tooltip(&self, item: &str) -> Result<(String, String), String> {
        let value = self.item_property(item, "ToolTip")?;
        let Value::Structure(fields) = &*value else {
            return Err(format!("ToolTip is not a structure: {value:?}"));
        };
        match fields.fields() {
            [_, _, Value::Str(title), Value::Str(description)] => {
                Ok((title.to_string(), description.to_string()))
            }
            other => Err(format!("unexpected ToolTip {other:?}")),
        }
    }

    /// The menu's items, as (id, label), read with dbusmenu's GetLayout.
    pub fn menu(&self, item: &str) -> Result<Vec<(i32, String)>, String> {
        zbus::block_on(async {
            let reply = self
                .client
                .call_method(
                    Some(item),
                    "/MenuBar",
                    Some("com.canonical.dbusmenu"),
                    "GetLayout",
                    &(0i32, -1i32, Vec::<String>::new()),
                )
                .await
                .map_err(|e| format!("GetLayout: {e}"))?;
            let body = reply.body();
            let body = body
                .deserialize::<zbus::zvariant::Structure>()
                .map_err(|e| format!("GetLayout: {e}"))?;
            let layout = body
                .fields()
                .get(1)
                .ok_or("GetLayout: no layout in the reply")?;
            let mut items = Vec::new();
            collect_items(layout, &mut items);
            Ok(items)
        })
    }

    /// Clicks a menu item, as a panel does.
    pub fn click_menu(&self, item: &str, id: i32) -> Result<(), String> {
        zbus::block_on(self.client.call_method(
            Some(item),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "Event",
            &(id, "clicked", Value::from(""), 0u32),
        ))
        .map(|_| ())
        .map_err(|e| format!("Event: {e}"))
    }

    /// Whether a bus name has an owner.
    pub fn has_owner(&self, name: &str) -> Result<bool, String> {
        zbus::block_on(async {
            let proxy = zbus::fdo::DBusProxy::new(&self.client)
                .await
                .map_err(|e| e.to_string())?;
            let name = zbus::names::BusName::try_from(name).map_err(|e| e.to_string())?;
            proxy.name_has_owner(name).await.map_err(|e| e.to_string())
        })
    }
}

/// Walks a dbusmenu layout `(i a{sv} av)`, collecting labelled items.
fn collect_items(value: &Value<'_>, items: &mut Vec<(i32, String)>) {
    match value {
        Value::Value(inner) => collect_items(inner, items),
        Value::Structure(structure) => {
            if let [Value::I32(id), Value::Dict(props), Value::Array(children)] =
                structure.fields()
            {
                let label = props.iter().find_map(|(key, value)| {
                    let is_label = matches!(key, Value::Str(k) if k.as_str() == "label");
                    match value {
                        Value::Str(text) if is_label => Some(text.to_string()),
                        Value::Value(inner) if is_label => match &**inner {
                            Value::Str(text) => Some(text.to_string()),
                            _ => None,
                        },
                        _ => None,
                    }
                });
                if let Some(label) = label {
                    items.push((*id, label));
                }
                for child in children.iter() {
                    collect_items(child, items);
                }
            }
        }
        _ => {}
    }
}
