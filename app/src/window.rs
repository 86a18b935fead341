//! The applet's windows, one per file.

mod about;
mod endpoint_editor;
mod error_window;
mod log_window;
mod main_window;
mod preferences_window;
mod schedule_editor;

pub use about::show_about;
pub use endpoint_editor::EndpointEditor;
pub use error_window::ErrorWindow;
pub use log_window::LogWindow;
pub use main_window::MainWindow;
pub use preferences_window::PreferencesWindow;
pub use schedule_editor::ScheduleEditor;
