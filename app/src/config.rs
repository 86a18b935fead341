//! Names shared with data/, po/ and flatpak/: the application id, the
//! settings schema and the text domain. Meson or a packager may override
//! the locale folder at build time; plain `cargo build` works without.

pub const APP_ID: &str = "org.syncmaildir.Applet";
pub const ICON_NAME: &str = "org.syncmaildir.Applet";
pub const SYMBOLIC_ICON_NAME: &str = "org.syncmaildir.Applet-symbolic";

/// The schema id and path smd 1.3's applet used, so settings carry over.
pub const SCHEMA_ID: &str = "org.syncmaildir.applet";
pub const SCHEMA_PATH: &str = "/apps/smd-applet/";

pub const GETTEXT_PACKAGE: &str = "smd-applet";
pub const LOCALEDIR: &str = match option_env!("LOCALEDIR") {
    Some(dir) => dir,
    None => "/usr/share/locale",
};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the project lives, for the About window.
pub const WEBSITE: &str = "https://github.com/syncmaildir/smd-rs";
/// Where problems are reported (as in the AppStream metainfo).
pub const ISSUES: &str = "https://github.com/syncmaildir/smd-rs/issues";
