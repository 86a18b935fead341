//! `smd-applet`: the desktop side of Sync Mail Dir.
//!
//! It runs the sync loop of `~/.smd/loop` in a background thread (the
//! engine, not the command-line tools), shows its state in a tray icon
//! and notifications, and helps with errors that need a person.
//!
//! - [`scheduler`]: the loop thread and its pure decisions;
//! - [`status`]: the loop's events turned into what is shown;
//! - [`tray`], [`notifications`]: the StatusNotifierItem and the
//!   desktop notifications;
//! - [`errors`], [`actions`], [`mail_preview`]: the error window's
//!   sentences, its safe local actions and its readable mail;
//! - [`config_editor`], [`log_viewer`], [`journal`]: the files behind the
//!   preferences and the log window, and the applet's own log;
//! - [`application`] and [`window`]: the GTK side.
//!
//! Tests: the pure modules have unit tests (`cargo test -p smd-applet
//! --lib`, no display needed); `tests/ui.rs` drives the whole applet
//! through a real sync, headless (`app/run-ui-tests`).

pub mod actions;
pub mod application;
pub mod config;
pub mod config_editor;
pub mod errors;
pub mod i18n;
pub mod journal;
pub mod log_viewer;
pub mod mail_preview;
pub mod notifications;
pub mod scheduler;
pub mod settings;
pub mod status;
pub mod system;
pub mod tray;
pub mod window;

pub use application::main;
