//! Driving GTK from the test: turning the main loop until something
//! happens, finding widgets as a person would (by their text), and
//! screenshots.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adw::prelude::*;
use gtk::glib;

/// Turns the main loop until `ready` holds.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let context = glib::MainContext::default();
    let deadline = Instant::now() + timeout;
    loop {
        while context.iteration(false) {}
        if ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Turns the main loop for a while (rendering, D-Bus round trips).
pub fn spin(duration: Duration) {
    let _ = wait_for("nothing", duration, || false);
}

/// Every widget below `root`, depth first, root included.
pub fn descendants(root: &gtk::Widget) -> Vec<gtk::Widget> {
    let mut found = vec![root.clone()];
    let mut child = root.first_child();
    while let Some(widget) = child {
        found.extend(descendants(&widget));
        child = widget.next_sibling();
    }
    found
}

/// All the text of the labels and text views below `root`, one a line.
pub fn text_of(root: &impl IsA<gtk::Widget>) -> String {
    descendants(root.upcast_ref())
        .iter()
        .filter_map(|w| {
            if let Some(label) = w.downcast_ref::<gtk::Label>() {
                return Some(label.label().to_string());
            }
            let view = w.downcast_ref::<gtk::TextView>()?;
            let buffer = view.buffer();
            Some(
                buffer
                    .text(&buffer.start_iter(), &buffer.end_iter(), false)
                    .to_string(),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn find_button(root: &impl IsA<gtk::Widget>, label: &str) -> Option<gtk::Button> {
    descendants(root.upcast_ref()).into_iter().find_map(|w| {
        let button = w.downcast::<gtk::Button>().ok()?;
        (button.label().as_deref() == Some(label)).then_some(button)
    })
}

/// The switch of the row titled `title`.
pub fn find_switch(root: &impl IsA<gtk::Widget>, title: &str) -> Option<gtk::Switch> {
    descendants(root.upcast_ref()).into_iter().find_map(|w| {
        let row = w.downcast::<adw::ActionRow>().ok()?;
        if row.title() != title {
            return None;
        }
        descendants(row.upcast_ref())
            .into_iter()
            .find_map(|w| w.downcast::<gtk::Switch>().ok())
    })
}

/// Scrolls every scrolled window below `root` to its end, once laid out.
pub fn scroll_to_end(root: &impl IsA<gtk::Widget>) {
    spin(Duration::from_millis(200));
    for widget in descendants(root.upcast_ref()) {
        if let Ok(scrolled) = widget.downcast::<gtk::ScrolledWindow>() {
            let adjustment = scrolled.vadjustment();
            adjustment.set_value(adjustment.upper() - adjustment.page_size());
        }
    }
}

/// The visible toplevel windows of a type.
pub fn toplevels<T: IsA<gtk::Widget>>() -> Vec<T> {
    let list = gtk::Window::list_toplevels();
    list.into_iter()
        .filter(|w| w.is_visible())
        .filter_map(|w| w.downcast::<T>().ok())
        .collect()
}

/// Renders a window to `DIR/NAME.png` as GTK draws it.
pub fn screenshot(
    widget: &impl IsA<gtk::Widget>,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, String> {
    let widget = widget.upcast_ref::<gtk::Widget>();
    wait_for(
        &format!("{name} to be shown"),
        Duration::from_secs(10),
        || widget.is_mapped() && widget.width() > 0 && widget.height() > 0,
    )?;
    // Let layout and rendering settle.
    spin(Duration::from_millis(300));

    let (width, height) = (widget.width(), widget.height());
    let paintable = gtk::WidgetPaintable::new(Some(widget));
    let snapshot = gtk::Snapshot::new();
    paintable.snapshot(&snapshot, f64::from(width), f64::from(height));
    let node = snapshot
        .to_node()
        .ok_or_else(|| format!("{name}: nothing was drawn"))?;
    let renderer = widget
        .native()
        .and_then(|native| native.renderer())
        .ok_or_else(|| format!("{name}: no renderer"))?;
    let bounds = gtk::graphene::Rect::new(0.0, 0.0, width as f32, height as f32);
    let texture = renderer.render_texture(&node, Some(&bounds));
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.png"));
    texture
        .save_to_png(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
