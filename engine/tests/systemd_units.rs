//! The systemd user units of `data/systemd` start our programs by name,
//! found through their `ExecSearchPath=`, so that they work wherever the
//! programs were installed. No systemd runs here, so this test follows
//! its documented rules (systemd.exec(5), systemd.unit(5)): `%h` is the
//! home folder, repeated `ExecSearchPath=` lines add to the list, the first
//! folder of the list that holds the program wins, and the list is the
//! service's PATH. The real programs are installed as `cargo install`
//! puts them, and as a package would, and each service must start them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The folder holding the binaries under test.
fn built() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_smd-pull"))
        .parent()
        .expect("the binaries live in a folder")
        .to_owned()
}

fn units() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/systemd")
}

/// What a service runs: its search path, with `home` for `%h`, and its
/// command line.
struct Service {
    search: Vec<PathBuf>,
    command: Vec<String>,
}

impl Service {
    fn read(name: &str, home: &Path) -> Service {
        let text = fs::read_to_string(units().join(name)).unwrap();
        let expand = |value: &str| {
            value
                .replace("%h", &home.display().to_string())
                .replace("%%", "%")
        };
        let mut search = Vec::new();
        let mut command = Vec::new();
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("ExecSearchPath=") {
                search.extend(expand(value).split(':').map(PathBuf::from));
            } else if let Some(value) = line.strip_prefix("ExecStart=") {
                command = expand(value)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
            }
        }
        assert!(!command.is_empty(), "{name} runs nothing");
        Service { search, command }
    }

    /// The program systemd would run: an absolute path as it is, else the
    /// first executable of that name in the search path.
    fn program(&self) -> Option<PathBuf> {
        let name = &self.command[0];
        if name.starts_with('/') {
            return Some(PathBuf::from(name));
        }
        self.search
            .iter()
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    }

    /// Runs it as the user manager would: in HOME, with the search path
    /// as PATH and nothing else from our environment.
    fn run(&self, home: &Path) -> (Option<i32>, String) {
        let program = self.program().expect("the program is found");
        let path = std::env::join_paths(&self.search).unwrap();
        let output = Command::new(program)
            .args(&self.command[1..])
            .env_clear()
            .env("HOME", home)
            .env("PATH", path)
            .current_dir(home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text)
    }
}

/// Copies our programs into `dir`, as an install does.
fn install(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    for program in [
        "smd-pull",
        "smd-push",
        "smd-loop",
        "smd-server",
        "smd-client",
    ] {
        fs::copy(built().join(program), dir.join(program)).unwrap();
    }
}

#[test]
fn every_service_names_its_program_instead_of_a_path() {
    let home = tempfile::tempdir().unwrap();
    for name in ["smd-pull.service", "smd-push.service", "smd-loop.service"] {
        let service = Service::read(name, home.path());
        assert!(
            !service.command[0].contains('/'),
            "{name} runs {}: that holds for one install only",
            service.command[0]
        );
        for wanted in [
            home.path().join(".cargo/bin"),
            home.path().join(".local/bin"),
            PathBuf::from("/usr/local/bin"),
            PathBuf::from("/usr/bin"),
        ] {
            assert!(
                service.search.contains(&wanted),
                "{name} does not search {}",
                wanted.display()
            );
        }
    }
}

/// `cargo install --path engine` puts the programs in ~/.cargo/bin, and
/// `cargo install --root ~/.local` in ~/.local/bin: the units, copied to
/// ~/.config/systemd/user as they are, start them from there. Each runs
/// in a HOME of its own with no config, so that it only writes the
/// template (and never tries to reach a server).
#[test]
fn the_services_start_the_programs_of_a_personal_install() {
    for folder in [".cargo/bin", ".local/bin"] {
        for (name, program, says, writes) in [
            (
                "smd-pull.service",
                "smd-pull",
                "No config file found",
                ".smd/config.default",
            ),
            (
                "smd-push.service",
                "smd-push",
                "No config file found",
                ".smd/config.default",
            ),
            (
                "smd-loop.service",
                "smd-loop",
                "a template was written",
                ".smd/loop",
            ),
        ] {
            let home = tempfile::tempdir().unwrap();
            let home = home.path();
            install(&home.join(folder));

            let service = Service::read(name, home);
            assert_eq!(service.program(), Some(home.join(folder).join(program)));
            let (code, output) = service.run(home);
            assert_eq!(code, Some(1), "{name}: {output}");
            assert!(output.contains(says), "{name}: {output}");
            assert!(home.join(writes).is_file(), "{name}: {output}");
        }
    }
}

/// A personal install comes before the system's, as in a login shell's
/// PATH; with none, the packaged folders are searched.
#[test]
fn a_personal_install_comes_before_the_system_one() {
    let home = tempfile::tempdir().unwrap();
    let service = Service::read("smd-pull.service", home.path());
    let position = |dir: PathBuf| service.search.iter().position(|d| *d == dir).unwrap();
    assert!(position(home.path().join(".cargo/bin")) < position("/usr/local/bin".into()));
    assert!(position("/usr/local/bin".into()) < position("/usr/bin".into()));
}
