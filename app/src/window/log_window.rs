//! The log window: the files of `~/.smd/log/` and the text of the one
//! chosen, each line with its time, refreshed on demand.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use adw::prelude::*;

use crate::i18n::{fill, gettext};
use crate::log_viewer::{
    entries, list_logs, local_time_text, log_dir, read_log, show_entries, LogFile, Timing,
};

#[derive(Clone)]
pub struct LogWindow {
    inner: Rc<Inner>,
}

struct Inner {
    home: PathBuf,
    window: adw::Window,
    list: gtk::ListBox,
    text: gtk::TextView,
    /// Says where the times come from when the file has none.
    timing_note: gtk::Label,
    title: adw::WindowTitle,
    files: RefCell<Vec<LogFile>>,
    selected: RefCell<Option<String>>,
}

impl LogWindow {
    pub fn new(app: &adw::Application, home: &Path) -> LogWindow {
        let window = adw::Window::builder()
            .application(app)
            .title(gettext("Log"))
            .default_width(860)
            .default_height(560)
            .hide_on_close(true)
            .build();

        let title =
            adw::WindowTitle::new(&gettext("Log"), &log_dir(home).display().to_string());
        let header = adw::HeaderBar::builder().title_widget(&title).build();
        let refresh = gtk::Button::builder()
            .icon_name("view-refresh-symbolic")
            .tooltip_text(gettext("Reload"))
            .build();
        header.pack_start(&refresh);

        let list = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::Single)
            .css_classes(["navigation-sidebar"])
            .build();
        let list_scroll = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .min_content_width(220)
            .child(&list)
            .build();
        let text = gtk::TextView::builder()
            .editable(false)
            .cursor_visible(false)
            .monospace(true)
            .wrap_mode(gtk::WrapMode::WordChar)
            .left_margin(12)
            .right_margin(12)
            .top_margin(12)
            .bottom_margin(12)
            .build();
        let text_scroll = gtk::ScrolledWindow::builder()
            .hexpand(true)
            .vexpand(true)
            .child(&text)
            .build();
        let timing_note = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .margin_top(6)
            .margin_bottom(6)
            .margin_start(12)
            .margin_end(12)
            .visible(false)
            .css_classes(["dim-label"])
            .name("timing-note")
            .build();
        let text_side = gtk::Box::new(gtk::Orientation::Vertical, 0);
        text_side.append(&timing_note);
        text_side.append(&text_scroll);
        let paned = gtk::Paned::builder()
            .orientation(gtk::Orientation::Horizontal)
            .start_child(&list_scroll)
            .end_child(&text_side)
            .shrink_start_child(false)
            .position(240)
            .build();

        let layout = gtk::Box::new(gtk::Orientation::Vertical, 0);
        layout.append(&header);
        layout.append(&paned);
        window.set_content(Some(&layout));

        let log = LogWindow {
            inner: Rc::new(Inner {
                home: home.to_owned(),
                window,
                list: list.clone(),
                text,
                timing_note,
                title,
                files: RefCell::new(Vec::new()),
                selected: RefCell::new(None),
            }),
        };
        let weak = Rc::downgrade(&log.inner);
        refresh.connect_clicked(move |_| {
            if let Some(inner) = weak.upgrade() {
                LogWindow { inner }.refresh();
            }
        });
        let weak = Rc::downgrade(&log.inner);
        list.connect_row_selected(move |_, row| {
            let (Some(inner), Some(row)) = (weak.upgrade(), row) else {
                return;
            };
            let name = inner
                .files
                .borrow()
                .get(row.index() as usize)
                .map(|file| file.name.clone());
            *inner.selected.borrow_mut() = name;
            LogWindow { inner }.show_selected();
        });
        log
    }

    pub fn window(&self) -> &adw::Window {
        &self.inner.window
    }

    pub fn present(&self) {
        self.inner.window.present();
    }

    /// The text shown now (for the UI test).
    pub fn shown_text(&self) -> String {
        let buffer = self.inner.text.buffer();
        buffer
            .text(&buffer.start_iter(), &buffer.end_iter(), false)
            .to_string()
    }

    /// What is said about the times shown, when anything is.
    pub fn timing_note(&self) -> String {
        let note = &self.inner.timing_note;
        if note.is_visible() {
            note.label().to_string()
        } else {
            String::new()
        }
    }

    /// The names of the listed files.
    pub fn file_names(&self) -> Vec<String> {
        self.inner
            .files
            .borrow()
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// Shows the log named `name`, if listed.
    pub fn select(&self, name: &str) {
        let index = self
            .inner
            .files
            .borrow()
            .iter()
            .position(|f| f.name == name);
        if let Some(row) = index.and_then(|i| self.inner.list.row_at_index(i as i32)) {
            self.inner.list.select_row(Some(&row));
        }
    }

    /// Lists the files again and reloads the one shown.
    pub fn refresh(&self) {
        let inner = &self.inner;
        let files = list_logs(&inner.home);
        let keep = inner.selected.borrow().clone();
        // GTK 4.8 has no ListBox::remove_all.
        while let Some(child) = inner.list.first_child() {
            inner.list.remove(&child);
        }
        for file in &files {
            let label = gtk::Label::builder()
                .label(&file.name)
                .xalign(0.0)
                .margin_top(6)
                .margin_bottom(6)
                .build();
            inner.list.append(&label);
        }
        *inner.files.borrow_mut() = files;
        let wanted =
            keep.or_else(|| self.inner.files.borrow().first().map(|f| f.name.clone()));
        match wanted {
            Some(name) => {
                *inner.selected.borrow_mut() = Some(name.clone());
                self.select(&name);
                self.show_selected();
            }
            None => inner.text.buffer().set_text(&gettext(
                "No log yet: the logs appear after the first synchronization.",
            )),
        }
    }

    fn show_selected(&self) {
        let inner = &self.inner;
        let Some(name) = inner.selected.borrow().clone() else {
            return;
        };
        let path = log_dir(&inner.home).join(&name);
        inner.title.set_subtitle(&path.display().to_string());
        let (text, truncated) = match read_log(&path) {
            Ok(read) => read,
            Err(error) => {
                inner.timing_note.set_visible(false);
                inner.text.buffer().set_text(&fill(
                    &gettext("{path} cannot be read: {error}"),
                    &[("path", &path.display()), ("error", &error)],
                ));
                return;
            }
        };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let (lines, timing) = entries(&text, modified);
        let mut shown = show_entries(&lines, &local_time_text);
        if truncated {
            shown = format!("{}\n{shown}", gettext("[…] (only the end is shown)"));
        }
        let buffer = inner.text.buffer();
        buffer.set_text(&shown);
        // The newest lines are at the end: show them first.
        let end = buffer.mark("log-end").unwrap_or_else(|| {
            buffer.create_mark(Some("log-end"), &buffer.end_iter(), false)
        });
        buffer.move_mark(&end, &buffer.end_iter());
        inner.text.scroll_mark_onscreen(&end);
        inner.timing_note.set_visible(timing == Timing::FileChanged);
        inner.timing_note.set_label(&gettext(
            "This log keeps the format of smd 1.3, which has no times: each line \
             shows when its run ended, the last change of the file.",
        ));
    }
}
