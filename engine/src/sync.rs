//! `smd-pull` and `smd-push`: one sync of an endpoint, with the local half
//! in this process and the remote half over ssh.
//!
//! A pull runs `smd-server` on the server and the client here; a push runs
//! the server here and `smd-client` on the server. The remote command
//! lines are those smd 1.3 sends, so either side may be smd 1.3. Each
//! side's log lines go to `~/.smd/log/{client,server}.NAME.log`, from which
//! the final report is made, exactly as smd 1.3's scripts did, so tools
//! that parse that report keep working.
//!
//! A stop asked for by a signal (see `interrupt`) ends the connection, so
//! that the local side ends the run as after a dropped connection.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::hooks::{self, HookFailed};
use crate::interrupt;
use crate::lock::{Lock, LockError};
use crate::protocol::client::{run_client, ClientOptions, Progress};
use crate::protocol::server::{serve, ServerExit, ServerOptions};
use crate::protocol::wire;
use crate::protocol::Failure;
use crate::ssh_failure::SshFailure;
use crate::tags::{Action, Stats, Tags};
use crate::workarea;

/// Which way mail flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the server to here.
    Pull,
    /// From here to the server.
    Push,
}

impl Direction {
    pub fn command(self) -> &'static str {
        match self {
            Direction::Pull => "smd-pull",
            Direction::Push => "smd-push",
        }
    }

    fn inverse(self) -> Direction {
        match self {
            Direction::Pull => Direction::Push,
            Direction::Push => Direction::Pull,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Direction::Pull => "pull",
            Direction::Push => "push",
        }
    }

    /// The programs on each side: (local, remote).
    fn programs(self) -> (&'static str, &'static str) {
        match self {
            Direction::Pull => ("smd-client", "smd-server"),
            Direction::Push => ("smd-server", "smd-client"),
        }
    }
}

/// How to run one sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    pub verbose: bool,
    /// Print the tag lines of both sides at the end.
    pub show_tags: bool,
    pub dry_run: bool,
    /// Do not propagate deletions.
    pub no_delete: bool,
    /// Let this run delete more than the deletion guard allows.
    pub allow_mass_delete: bool,
}

/// What a sync reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// The remote side is being started.
    Connecting,
    /// Changes are being applied (pull) or served (push).
    Applying(Progress),
}

/// How a sync ended.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The exit code of smd-pull/smd-push: 0, 1, or a failing hook's.
    pub exit_code: i32,
    /// The report smd 1.3 printed on stdout, line by line.
    pub report: Vec<String>,
    /// The local side's failure, typed, when it failed.
    pub failure: Option<Failure>,
    /// The local client's counters (pull only).
    pub stats: Option<Stats>,
    /// What the remote side reported, read from its log: paths in it are
    /// the server's, never to be acted on here.
    pub remote_tags: Option<Tags>,
    /// Why ssh could not run the other side, when it is known: the report
    /// keeps smd 1.3's words, this tells transient trouble from what a
    /// person must fix.
    pub ssh_failure: Option<SshFailure>,
}

/// Runs one sync of `config` in `direction`.
pub fn run_sync(
    home: &Path,
    config: &Config,
    direction: Direction,
    options: &SyncOptions,
    events: &mut dyn FnMut(SyncEvent),
) -> SyncOutcome {
    let lock = match Lock::acquire(&Lock::path_in(home)) {
        Ok(lock) => lock,
        Err(error) => return lock_refused(&error),
    };
    let outcome =
        Run::new(home, config, direction, options).and_then(|run| run.execute(events));
    drop(lock);
    outcome.unwrap_or_else(|message| SyncOutcome {
        exit_code: 1,
        report: vec![message.clone()],
        failure: Some(Failure::new(message, Tags::new("setup", "unknown", true))),
        stats: None,
        remote_tags: None,
        ssh_failure: None,
    })
}

/// The report for a lock held by another run.
pub fn lock_refused(error: &LockError) -> SyncOutcome {
    let mut report = vec!["Already running.".to_owned(), error.to_string()];
    let tags = match error {
        LockError::Held { path, pid } => {
            Tags::new("locking", "another-instance-is-running", true)
                .with(Action::Kill(*pid))
                .with(Action::Remove(path.clone()))
        }
        LockError::Io { .. } => Tags::new("locking", "bad-permissions", true),
    };
    report.push(format!("any: smd-pushpull@localhost: TAGS: {tags}"));
    SyncOutcome {
        exit_code: 1,
        report,
        failure: Some(Failure::new(error.to_string(), tags)),
        stats: None,
        remote_tags: None,
        ssh_failure: None,
    }
}

/// How the two halves of a run ended: whether both succeeded, the local
/// failure, the client's counters, and why ssh failed if it did.
type Halves = (bool, Option<Failure>, Option<Stats>, Option<SshFailure>);

struct Run<'a> {
    home: &'a Path,
    config: &'a Config,
    direction: Direction,
    options: &'a SyncOptions,
    client_log: PathBuf,
    server_log: PathBuf,
}

impl<'a> Run<'a> {
    fn new(
        home: &'a Path,
        config: &'a Config,
        direction: Direction,
        options: &'a SyncOptions,
    ) -> Result<Run<'a>, String> {
        let log_dir = home.join(".smd").join("log");
        fs::create_dir_all(&log_dir)
            .map_err(|e| format!("unable to create {}: {e}", log_dir.display()))?;
        hooks::create_hook_dirs(home)
            .map_err(|e| format!("unable to create the hook folders: {e}"))?;
        Ok(Run {
            home,
            config,
            direction,
            options,
            client_log: log_dir.join(format!("client.{}.log", config.name)),
            server_log: log_dir.join(format!("server.{}.log", config.name)),
        })
    }

    fn execute(self, events: &mut dyn FnMut(SyncEvent)) -> Result<SyncOutcome, String> {
        let open_log = |path: &Path| {
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .map_err(|e| format!("unable to write the log {}: {e}", path.display()))
        };
        let client_log = open_log(&self.client_log)?;
        let server_log = open_log(&self.server_log)?;

        let name = &self.config.name;
        let what = self.direction.word();
        if let Err(failed) =
            hooks::run_hooks(self.home, "pre", what, name, 0, &client_log)
        {
            let _ = hooks::run_hooks(self.home, "post", what, name, 1, &client_log);
            return Ok(self.hook_failed(&failed));
        }

        events(SyncEvent::Connecting);
        let (local_ok, failure, stats, ssh_failure) =
            match self.sync(&client_log, server_log, events) {
                Ok(result) => result,
                Err(failure) => {
                    crate::cli::report_failure(&mut &client_log, &failure);
                    (false, Some(failure), None, None)
                }
            };
        let exit_code = if local_ok { 0 } else { 1 };

        if let Err(failed) =
            hooks::run_hooks(self.home, "post", what, name, exit_code, &client_log)
        {
            // As with smd 1.3, a failing post hook ends the run with its
            // code instead of the report; unlike it, we say so.
            return Ok(SyncOutcome {
                exit_code: failed.code,
                report: vec![format!(
                    "the hook {} failed with exit code {}",
                    failed.hook.display(),
                    failed.code
                )],
                failure,
                stats,
                remote_tags: self.remote_tags(),
                ssh_failure,
            });
        }

        Ok(SyncOutcome {
            exit_code,
            report: self.report(exit_code, failure.as_ref()),
            failure,
            stats,
            remote_tags: self.remote_tags(),
            ssh_failure,
        })
    }

    fn hook_failed(&self, failed: &HookFailed) -> SyncOutcome {
        let message = format!(
            "the hook {} failed with exit code {}",
            failed.hook.display(),
            failed.code
        );
        SyncOutcome {
            exit_code: failed.code,
            report: vec![message.clone()],
            failure: Some(Failure::new(
                message,
                Tags::new("hook", "hook-failed", true),
            )),
            stats: None,
            remote_tags: None,
            ssh_failure: None,
        }
    }

    /// Runs both halves.
    fn sync(
        &self,
        client_log: &File,
        server_log: File,
        events: &mut dyn FnMut(SyncEvent),
    ) -> Result<Halves, Failure> {
        let config = self.config;
        let mail_base = match self.direction {
            Direction::Push if config.translator_lr.is_some() => {
                Some(workarea::build(self.home, config)?)
            }
            _ => None,
        };

        let setup =
            |message: String| Failure::new(message, Tags::new("setup", "unknown", true));
        if let Some(signal) = interrupt::requested() {
            return Err(interrupt::stopped(signal));
        }
        let mut remote = self.spawn_remote(server_log).map_err(setup)?;
        let remote_out = remote.stdout.take().expect("stdout is piped");
        let remote_in = remote.stdin.take().expect("stdin is piped");
        wire::widen_pipe(&remote_out);
        wire::widen_pipe(&remote_in);
        let unwatchable = |error: io::Error| {
            setup(format!("unable to watch the connection's pipes: {error}"))
        };
        let remote_out = Stoppable::new(remote_out).map_err(unwatchable)?;
        let remote_in = Stoppable::new(remote_in).map_err(unwatchable)?;
        let traffic = self
            .config
            .debug
            .then(|| self.traffic_logs())
            .transpose()
            .map_err(setup)?;
        let (mut reader, mut writer) = wire_up(remote_out, remote_in, traffic);
        let mut log = client_log;

        let connected = AtomicBool::new(true);
        let (local_ok, mut failure, stats, would_fetch) = thread::scope(|scope| {
            if interrupt::is_installed() {
                scope.spawn(|| hang_up_when_asked(&remote, &connected));
            }
            let result = match self.direction {
                Direction::Pull => {
                    let options = self.client_options();
                    let outcome = run_client(
                        &options,
                        &mut reader,
                        &mut writer,
                        &mut log,
                        &mut |p| events(SyncEvent::Applying(p)),
                    );
                    let ok = outcome.failure.is_none();
                    (
                        ok,
                        outcome.failure,
                        Some(outcome.stats),
                        outcome.would_fetch,
                    )
                }
                Direction::Push => {
                    let options = self.server_options(mail_base);
                    let outcome = serve(&options, &mut reader, &mut writer, &mut log);
                    let ok = outcome.exit == ServerExit::Done;
                    (ok, outcome.failure, None, Vec::new())
                }
            };

            let _ = writer.flush();
            drop(writer);
            drop(reader);
            connected.store(false, Ordering::SeqCst);
            result
        });
        // A remote side that did its part is let finish (a server renames
        // its db-files after DONE); after a stop it is not waited for.
        let remote_status = match interrupt::requested() {
            Some(_) if !local_ok => hang_up(&mut remote),
            _ => wait_briefly(&mut remote),
        };
        let ssh_failure = if config.is_local() {
            None
        } else {
            // ssh's own words went to the server log, as its stderr.
            let said = fs::read(&self.server_log).unwrap_or_default();
            SshFailure::from_exit(remote_status, &String::from_utf8_lossy(&said))
        };

        // The shell's "command not found": say so instead of blaming the
        // network, since retrying will not help.
        if remote_status == Some(127) {
            let program = self.direction.programs().1;
            failure = Some(Failure::new(
                format!(
                    "{program} was not found on {}: install smd-rs there, in a folder on \
                     the PATH of non-interactive ssh sessions",
                    config.server_name
                ),
                Tags::new("ssh", "remote-program-missing", true),
            ));
        }
        // A stop that came in time to end the run is its explanation: the
        // local side only saw the connection drop.
        let completed = local_ok && remote_status == Some(0);
        if let Some(signal) = interrupt::requested().filter(|_| !completed) {
            failure = Some(interrupt::stopped(signal));
        }
        // This side finished, then the connection went (ssh's 255, or our
        // own program killed): nothing is lost, and the next handshake
        // completes what the other side missed.
        if local_ok && failure.is_none() && matches!(remote_status, None | Some(255)) {
            failure = Some(Failure::new(
                "the connection to the other side was lost as the synchronization \
                 ended; run it again to complete it",
                Tags::retry("network", "network"),
            ));
        }
        log_outcome(
            log,
            failure.as_ref(),
            stats.as_ref(),
            self.options.dry_run,
            &would_fetch,
        );
        Ok((completed, failure, stats, ssh_failure))
    }

    fn client_options(&self) -> ClientOptions {
        let config = self.config;
        ClientOptions {
            home: self.home.to_owned(),
            endpoint: config.client_name.clone(),
            mailboxes: config.mailbox_remote.clone(),
            dry_run: self.options.dry_run,
            verbose: self.options.verbose || config.debug,
            local_sync: config.client_options.iter().any(|o| o == "-l"),
            translator: config.translator_rl.clone(),
            rename_only: false,
            override_db: None,
            delete_guard_percent: self.delete_guard(),
            local_mailboxes: config.mailbox_local.clone(),
        }
    }

    fn server_options(&self, mail_base: Option<PathBuf>) -> ServerOptions {
        let config = self.config;
        ServerOptions {
            home: self.home.to_owned(),
            endpoint: config.client_name.clone(),
            mailboxes: config.mailbox_remote.clone(),
            excludes: config.exclude_local.clone(),
            dry_run: self.options.dry_run,
            no_delete: self.options.no_delete
                || config.server_options.iter().any(|o| o == "-n"),
            no_move: config.server_options.iter().any(|o| o == "--no-move"),
            stop_after_diff: false,
            override_db: None,
            mail_base,
            delete_guard_percent: self.delete_guard(),
        }
    }

    fn delete_guard(&self) -> Option<u32> {
        let percent = self.config.delete_guard_percent;
        (!self.options.allow_mass_delete && percent < 100).then_some(percent)
    }

    /// The remote command's words, as smd 1.3 sends them.
    fn remote_words(&self) -> Vec<String> {
        let config = self.config;
        let mut words = Vec::new();
        let mut child_options = Vec::new();
        if self.options.verbose || config.debug {
            child_options.push("-v".to_owned());
        }
        if self.options.dry_run {
            child_options.push("-d".to_owned());
        }
        match self.direction {
            Direction::Pull => {
                words.push("smd-server".to_owned());
                for exclude in &config.exclude_remote {
                    words.push("--exclude".to_owned());
                    words.push(exclude.clone());
                }
                words.extend(child_options);
                words.extend(config.server_options.iter().cloned());
                if self.options.no_delete {
                    words.push("-n".to_owned());
                }
            }
            Direction::Push => {
                words.push("smd-client".to_owned());
                words.extend(child_options);
                words.extend(config.client_options.iter().cloned());
            }
        }
        words.push(config.client_name.clone());
        words.extend(config.mailbox_remote.iter().cloned());
        words
    }

    fn spawn_remote(&self, server_log: File) -> Result<Child, String> {
        let mut command = remote_command(self.home, self.config, &self.remote_words());
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(server_log))
            .spawn()
            .map_err(|error| {
                format!("unable to run {:?}: {error}", command.get_program())
            })
    }

    fn traffic_logs(&self) -> Result<(File, File), String> {
        let log_dir = self.home.join(".smd").join("log");
        let open = |name: String| {
            File::create(log_dir.join(&name))
                .map_err(|e| format!("unable to write {name}: {e}"))
        };
        Ok((
            open(format!("c2s.{}.log", self.config.name))?,
            open(format!("s2c.{}.log", self.config.name))?,
        ))
    }

    /// The remote side's error tags, if it logged any.
    fn remote_tags(&self) -> Option<Tags> {
        let text = fs::read(&self.server_log).ok()?;
        String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|line| line.strip_prefix("TAGS: "))
            .find_map(Tags::parse)
    }

    /// The report smd 1.3 printed: INFO lines when verbose, ERROR lines on
    /// failure, TAGS lines when asked, placeholders substituted. The local
    /// side's `failure` stands in for its log when that could not be
    /// written (a full disk).
    fn report(&self, exit_code: i32, failure: Option<&Failure>) -> Vec<String> {
        let read = |path: &Path| {
            fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let (server_text, mut client_text) =
            (read(&self.server_log), read(&self.client_log));
        if let Some(failure) = failure.filter(|_| !client_text.contains("TAGS: ")) {
            client_text.push_str(&format!("ERROR: {failure}\nTAGS: {}\n", failure.tags));
        }
        let (local, remote) = self.direction.programs();
        let inverse = self.direction.inverse().command();
        let name = &self.config.name;
        let substitute = |line: &str| {
            line.replace("@@INVERSECOMMAND@@", inverse)
                .replace("@@ENDPOINT@@", name)
        };
        let lines_with = |text: &str, prefix: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with(prefix))
                .map(str::to_owned)
                .collect()
        };

        let mut report = Vec::new();
        if self.options.verbose {
            for line in lines_with(&server_text, "INFO:")
                .iter()
                .chain(&lines_with(&client_text, "INFO:"))
            {
                report.push(line.trim_start_matches("INFO: ").to_owned());
            }
        }
        // Mail a side left out (unreadable, not a file, a symlink loop):
        // the person must hear of it, even when the run succeeded.
        for line in lines_with(&server_text, "WARNING:") {
            report.push(format!("{remote}: {line}"));
        }
        for line in lines_with(&client_text, "WARNING:") {
            report.push(format!("{local}: {line}"));
        }
        if exit_code != 0 {
            for line in lines_with(&server_text, "ERROR") {
                report.push(substitute(&format!("{remote}: {line}")));
            }
            for line in lines_with(&client_text, "ERROR") {
                report.push(substitute(&format!("{local}: {line}")));
            }
            for line in lines_with(&server_text, "ssh:") {
                report.push(format!("{remote}: ERROR: {line}"));
            }
        }
        if self.options.show_tags || self.options.verbose || self.options.dry_run {
            let server_tags = lines_with(&server_text, "TAGS");
            let mut client_tags = lines_with(&client_text, "TAGS");
            let server = &self.config.server_name;

            // When the other side never spoke (ssh could not connect, or
            // the remote program is missing), the local side only saw a
            // closed connection: what ssh said is the better report.
            let never_connected = server_tags.is_empty()
                && !client_tags.is_empty()
                && client_tags.iter().all(|line| {
                    Tags::parse(line.trim_start_matches("TAGS: "))
                        .is_some_and(|t| t.context == "handshake" && t.cause == "network")
                });
            if never_connected {
                client_tags.clear();
            }
            for line in &server_tags {
                report.push(substitute(&format!("{name}: {remote}@{server}: {line}")));
            }
            for line in &client_tags {
                report.push(substitute(&format!("{name}: {local}@localhost: {line}")));
            }
            if server_tags.is_empty() && client_tags.is_empty() {
                // Nothing said why: most likely ssh could not connect.
                report.extend(
                    server_text
                        .lines()
                        .chain(client_text.lines().filter(|l| !l.starts_with("TAGS")))
                        .map(str::to_owned),
                );
                report.push(format!(
                    "{name}: {remote}@{server}: TAGS: {}",
                    Tags::retry("ssh", "network")
                ));
            }
        }
        report
    }
}

/// How often the stop watch looks for a request.
const STOP_POLL: Duration = Duration::from_millis(50);

/// How long the remote side's process has to go after SIGTERM: in a local
/// sync it is our own program, which first puts in place what it received.
const HANG_UP_GRACE: Duration = Duration::from_secs(10);

/// Ends the connection once a stop is asked for, while `connected`: SIGTERM
/// to the remote side's process (ssh, or our own program in a local sync).
/// The local side then fails at its next read or write, as after a dropped
/// connection, which is safe at any point.
///
/// TODO: work that does not touch the connection does not see the stop:
/// the scan of a push (in `protocol::server`), the workarea's translator,
/// and a pull's translator (up to its 30 s answer timeout). A stop waits
/// for them, seconds on a large mailbox; they should poll
/// `interrupt::requested()` between folders.
fn hang_up_when_asked(remote: &Child, connected: &AtomicBool) {
    while connected.load(Ordering::SeqCst) {
        if interrupt::requested().is_some() {
            interrupt::terminate(remote);
            return;
        }
        thread::sleep(STOP_POLL);
    }
}

/// Ends the remote side after a stop (the local side may have seen the
/// request first): SIGTERM, then SIGKILL if it lingers. Returns its exit
/// code, `None` when a signal ended it.
fn hang_up(remote: &mut Child) -> Option<i32> {
    interrupt::terminate(remote);
    let deadline = Instant::now() + HANG_UP_GRACE;
    loop {
        match remote.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => thread::sleep(STOP_POLL),
            _ => {
                let _ = remote.kill();
                let _ = remote.wait();
                return None;
            }
        }
    }
}

/// One of the remote side's pipes, given up on as soon as a stop is asked
/// for, even when nothing moves on it: a process that inherited it (an ssh
/// connection master) may keep it open after ssh itself is gone.
///
/// When a stop can be asked for, the pipe is made non-blocking and waited
/// for only when it is busy, so a flowing transfer costs nothing more.
struct Stoppable<S>(S);

impl<S: AsRawFd> Stoppable<S> {
    fn new(pipe: S) -> io::Result<Self> {
        if interrupt::is_installed() {
            set_non_blocking(pipe.as_raw_fd())?;
        }
        Ok(Stoppable(pipe))
    }

    /// Runs `attempt` until the pipe is not busy, waiting for it (and for
    /// a stop request) in between.
    fn when_ready(
        &mut self,
        events: libc::c_short,
        mut attempt: impl FnMut(&mut S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        interrupt::check()?;
        loop {
            match attempt(&mut self.0) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    interrupt::wait_ready(self.0.as_raw_fd(), events, tick())?;
                }
                done => return done,
            }
        }
    }
}

impl<S: Read + AsRawFd> Read for Stoppable<S> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.when_ready(libc::POLLIN, |pipe| pipe.read(buffer))
    }
}

impl<S: Write + AsRawFd> Write for Stoppable<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.when_ready(libc::POLLOUT, |pipe| pipe.write(data))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[allow(unsafe_code)]
fn set_non_blocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller keeps open; F_GETFL and
    // F_SETFL only read and change its status flags.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            flags
        } else {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK)
        }
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn tick() -> i32 {
    i32::try_from(STOP_POLL.as_millis()).unwrap_or(50)
}

/// Writes the local side's end as a child would: ERROR and TAGS lines,
/// or the stats.
fn log_outcome(
    mut log: &File,
    failure: Option<&Failure>,
    stats: Option<&Stats>,
    dry_run: bool,
    would_fetch: &[Vec<u8>],
) {
    match failure {
        Some(failure) => crate::cli::report_failure(&mut log, failure),
        None => {
            if let Some(stats) = stats {
                let _ = writeln!(log, "TAGS: {stats}");
                if dry_run && !would_fetch.is_empty() {
                    let names: Vec<String> = would_fetch
                        .iter()
                        .map(|n| String::from_utf8_lossy(n).into_owned())
                        .collect();
                    let _ = writeln!(
                        log,
                        "TAGS: stats::mail-transferred({})",
                        names.join(" , ")
                    );
                }
            }
        }
    }
}

type Reader = BufReader<Box<dyn Read + Send>>;
type Writer = BufWriter<Box<dyn Write + Send>>;

/// Buffers the remote streams, copying the traffic to the debug logs when
/// asked.
fn wire_up(
    from_remote: impl Read + Send + 'static,
    to_remote: impl Write + Send + 'static,
    traffic: Option<(File, File)>,
) -> (Reader, Writer) {
    let (reader, writer): (Box<dyn Read + Send>, Box<dyn Write + Send>) = match traffic {
        None => (Box::new(from_remote), Box::new(to_remote)),
        Some((to_log, from_log)) => (
            Box::new(TeeRead {
                inner: from_remote,
                copy: from_log,
            }),
            Box::new(TeeWrite {
                inner: to_remote,
                copy: to_log,
            }),
        ),
    };
    (
        BufReader::with_capacity(256 * 1024, reader),
        BufWriter::with_capacity(64 * 1024, writer),
    )
}

struct TeeRead<R> {
    inner: R,
    copy: File,
}

impl<R: Read> Read for TeeRead<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let _ = self.copy.write_all(&buffer[..read]);
        Ok(read)
    }
}

struct TeeWrite<W> {
    inner: W,
    copy: File,
}

impl<W: Write> Write for TeeWrite<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(data)?;
        let _ = self.copy.write_all(&data[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Waits for the remote side to end once its streams are closed; one that
/// lingers is stopped.
/// Returns its exit code, `None` when it had to be stopped or died of a
/// signal.
fn wait_briefly(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The command running `words` on the server: through ssh (no tty, no
/// password prompt, words quoted for the remote shell only when needed),
/// or, for a local sync, our own program of that name in `home`.
pub fn remote_command(home: &Path, config: &Config, words: &[String]) -> Command {
    if config.is_local() {
        let mut command = Command::new(sibling_program(&words[0]));
        command.args(&words[1..]).current_dir(home);
        command
    } else {
        let mut command = Command::new("ssh");
        let remote: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        command
            .args(["-o", "BatchMode=yes", "-T", "--", &config.server_name])
            .arg(remote.join(" "));
        command
    }
}

/// Our program of that name installed beside the running one, else the
/// one on PATH.
pub fn sibling_program(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Quotes a word for the remote shell only when it needs it: mailbox names
/// travel `%20`-encoded, so most words go as they are, as with smd 1.3.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,%+@".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("Mail/My%20Mail"), "Mail/My%20Mail");
        assert_eq!(shell_quote("lap-top"), "lap-top");
        assert_eq!(shell_quote("a;rm -rf ~"), "'a;rm -rf ~'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("Mail/*spam*"), "'Mail/*spam*'");
    }
}
