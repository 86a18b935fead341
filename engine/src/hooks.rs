//! User hooks: every executable in `~/.smd/hooks/{pre,post}-{pull,push}.d/`
//! runs, in name order, with `pre|post pull|push NAME STATUS`, its output
//! appended to the client log.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A hook that failed, and its exit code (which becomes the run's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailed {
    pub hook: PathBuf,
    pub code: i32,
}

/// Runs the hooks for `when` (`pre`/`post`) and `what` (`pull`/`push`),
/// stopping at the first that fails.
pub fn run_hooks(
    home: &Path,
    when: &str,
    what: &str,
    name: &str,
    status: i32,
    log: &File,
) -> Result<(), HookFailed> {
    let dir = home
        .join(".smd")
        .join("hooks")
        .join(format!("{when}-{what}.d"));
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut hooks: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    hooks.sort();

    for hook in hooks.into_iter().filter(|h| is_executable(h)) {
        let output =
            |log: &File| log.try_clone().map_or_else(|_| Stdio::null(), Stdio::from);
        let status = Command::new(&hook)
            .args([when, what, name, &status.to_string()])
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(output(log))
            .stderr(output(log))
            .status();
        let code = match status {
            Ok(status) if status.success() => continue,
            Ok(status) => status.code().unwrap_or(1),
            Err(_) => 1,
        };
        return Err(HookFailed { hook, code });
    }
    Ok(())
}

/// Creates the hook folders, so that users find where hooks go.
pub fn create_hook_dirs(home: &Path) -> std::io::Result<()> {
    for when in ["pre", "post"] {
        for what in ["pull", "push"] {
            fs::create_dir_all(home.join(".smd/hooks").join(format!("{when}-{what}.d")))?;
        }
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
