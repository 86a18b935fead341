//! `smd-loop`: runs `smd-pull` and `smd-push` for each endpoint of
//! `~/.smd/loop` at the minutes it asks for, retrying a transient failure
//! once, until something needs a person. A drop-in replacement of smd
//! 1.3's script; the schedule and the retry rule live in `smd::schedule`.
//! New: SIGUSR1 runs every endpoint's pull and push at once ("sync now"),
//! and SIGTERM or SIGINT stop it at once, the command running included,
//! with exit status 0.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smd::cli::home;
use smd::getopt::{self, Spec};
use smd::interrupt;
use smd::lock::{Lock, LockError};
use smd::schedule::{Job, Retries, Schedule, Verdict, TEMPLATE};
use smd::tags::{Action, Tags};

/// Writes a line to stderr. A closed stderr (`smd-loop 2>&1 | head`) must
/// not end the loop, so a failed write is ignored.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn tell_raw(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(text.as_bytes());
}

const SPECS: &[Spec] = &[
    Spec {
        long: "verbose",
        short: Some('v'),
        takes_value: false,
    },
    Spec {
        long: "template-only",
        short: Some('t'),
        takes_value: false,
    },
    Spec {
        long: "help",
        short: Some('h'),
        takes_value: false,
    },
];

const USAGE: &str = "\
Usage: smd-loop [-v] [-t]

Runs smd-pull and smd-push for the endpoints listed in ~/.smd/loop, one
line each: PULL_MINUTES PUSH_MINUTES ENDPOINT (0 minutes: never; lines
starting with # are comments). The first runs start at once. A failure
reported as transient (a TAGS line with human-intervention(avoidable) and
suggested-actions(retry)) is retried at that command's next turn; a second
failure in a row, or any other failure, prints the command's output and
stops smd-loop with exit status 1. The output of successful runs is
printed as it comes.

Options:
  -v, --verbose         say on stderr what runs and what will be retried
  -t, --template-only   only write a template ~/.smd/loop if there is none
  -h, --help            show this help

Signals:
  SIGUSR1               synchronize now: run every endpoint's pull and push
                        (those not set to 0), then go on with the schedule
  SIGTERM, SIGINT       stop: the command running now, if any, gets SIGTERM
                        and ends cleanly (the mail received whole stays, its
                        lock is released), then smd-loop exits with 0; a
                        second SIGINT (Ctrl-C) ends it at once

Files:
  ~/.smd/loop           the schedule; a commented template is written, and
                        smd-loop exits with 1, when it is missing
  ~/.smd/loop.lock      the pid of the running smd-loop (one per user)
  ~/.smd/log/loop.log   what ran and how it ended

Environment:
  SMD_BIN_DIR           where smd-pull and smd-push are; by default the
                        folder of smd-loop itself, then PATH
";

/// How often a wait checks for signals.
const POLL: Duration = Duration::from_millis(50);

/// How long a command asked to stop may take before it is killed: a stop
/// runs the post hooks, and gives the other side a few seconds to go.
const STOP_GRACE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args = match getopt::parse(SPECS, std::env::args_os().skip(1)) {
        Ok(args) if args.operands.is_empty() => args,
        Ok(args) => {
            let extra = args.operands[0].to_string_lossy();
            return usage(&format!("unexpected argument '{extra}'"));
        }
        Err(error) => return usage(&error.to_string()),
    };
    if args.has("help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(args.has("verbose"), args.has("template-only")) {
        Ok(code) => code,
        Err(error) => {
            tell!("smd-loop: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(verbose: bool, template_only: bool) -> Result<ExitCode, String> {
    let smd_dir = home()?.join(".smd");
    let config = smd_dir.join("loop");

    if !config.exists() {
        write_template(&config)?;
        println!(
            "smd-loop: there was no {}: a template was written.",
            config.display()
        );
        println!("Edit it to list your endpoints, then start smd-loop again.");
        return Ok(ExitCode::FAILURE);
    }
    if template_only {
        return Ok(ExitCode::SUCCESS);
    }
    let schedule = read_schedule(&config)?;
    let minute = minute_length()?;

    let lock_path = smd_dir.join("loop.lock");
    let _lock = match Lock::acquire(&lock_path) {
        Ok(lock) => lock,
        Err(LockError::Held { pid, path }) => {
            report_held_lock(pid, &path);
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error.to_string()),
    };
    let log = Log::create(&smd_dir.join("log").join("loop.log"))?;
    let runner = Runner::new(&smd_dir)?;
    signals::install().map_err(|error| format!("unable to handle signals: {error}"))?;

    let mut looper = Loop {
        config,
        schedule,
        last_reload_error: None,
        retries: Retries::default(),
        runner,
        log,
        verbose,
        minute,
    };
    Ok(looper.run())
}

fn usage(error: &str) -> ExitCode {
    tell!("smd-loop: {error}");
    tell_raw(USAGE);
    ExitCode::FAILURE
}

fn write_template(config: &Path) -> Result<(), String> {
    let written = config
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(config, TEMPLATE));
    written.map_err(|error| format!("unable to write {}: {error}", config.display()))
}

fn read_schedule(config: &Path) -> Result<Schedule, String> {
    let text = fs::read_to_string(config)
        .map_err(|error| format!("unable to read {}: {error}", config.display()))?;
    Schedule::parse(&text).map_err(|error| format!("{}: {error}", config.display()))
}

/// A minute is 60 seconds. Tests shorten it with SMD_LOOP_MINUTE_SECONDS
/// (a decimal number of seconds), so that a schedule of several minutes
/// runs in a second; it is deliberately left out of --help.
fn minute_length() -> Result<Duration, String> {
    let Some(value) = std::env::var_os("SMD_LOOP_MINUTE_SECONDS") else {
        return Ok(Duration::from_secs(60));
    };
    value
        .to_str()
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            "SMD_LOOP_MINUTE_SECONDS must be a positive number of seconds".into()
        })
}

/// Says who holds the lock, on stdout where the applet reads the tags.
fn report_held_lock(pid: u32, path: &Path) {
    let tags = Tags::new("locking", "another-instance-is-running", true);
    let remove = Action::Remove(path.to_owned());
    println!(
        "smd-loop: another smd-loop (pid {pid}) is running; if it is not, remove {} \
         and start again.",
        path.display()
    );
    println!(
        "any: smd-loop@localhost: TAGS: {tags}suggested-actions(run(kill {pid}) {remove})"
    );
}

/// The running loop.
struct Loop {
    config: PathBuf,
    schedule: Schedule,
    /// The last complaint about the schedule file, not to repeat it every
    /// minute.
    last_reload_error: Option<String>,
    retries: Retries,
    runner: Runner,
    log: Log,
    verbose: bool,
    minute: Duration,
}

/// Why the loop ends.
enum Stopped {
    /// A signal asked for it: a success.
    Requested,
    /// A command failed in a way that needs a person.
    Failed,
}

impl Loop {
    /// Runs the schedule until a failure or a signal stops it.
    fn run(&mut self) -> ExitCode {
        self.log.write("starting");
        let outcome = self.run_minutes();
        self.log.write("exiting");
        match outcome {
            Ok(never) => match never {},
            Err(Stopped::Requested) => ExitCode::SUCCESS,
            Err(Stopped::Failed) => ExitCode::FAILURE,
        }
    }

    /// Stops when a signal asked to.
    fn check_stop(&mut self) -> Result<(), Stopped> {
        match interrupt::requested() {
            Some(signal) => {
                self.log.write(&format!("stopped by {}", signal.name()));
                Err(Stopped::Requested)
            }
            None => Ok(()),
        }
    }

    fn run_minutes(&mut self) -> Result<std::convert::Infallible, Stopped> {
        let mut minute = 1u64;
        // Until the first command has run, minutes pass without waiting,
        // so that the first runs start at once, whatever their frequency.
        let mut started = false;
        loop {
            for job in self.schedule.due(minute) {
                self.perform(&job)?;
                started = true;
            }
            minute += 1;

            // Nothing will ever run: wait anyway, rather than spin, for the
            // schedule to change or for a signal.
            let idle = self.schedule.all().is_empty();
            if started || idle {
                self.wait_a_minute()?;
                self.reload();
            }
        }
    }

    /// Waits a minute, running everything when asked to sync now.
    fn wait_a_minute(&mut self) -> Result<(), Stopped> {
        let deadline = Instant::now() + self.minute;
        loop {
            self.check_stop()?;
            if signals::take_sync_now() {
                self.sync_now()?;
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            thread::sleep((deadline - now).min(POLL));
        }
    }

    fn sync_now(&mut self) -> Result<(), Stopped> {
        if self.verbose {
            tell!("smd-loop: synchronizing now, as asked by SIGUSR1");
        }
        self.log.write("synchronizing now (SIGUSR1)");
        self.reload();
        for job in self.schedule.all() {
            self.perform(&job)?;
        }
        Ok(())
    }

    /// Reads the schedule again, so that edits apply without a restart;
    /// a broken file leaves the previous schedule in force.
    fn reload(&mut self) {
        match read_schedule(&self.config) {
            Ok(schedule) => {
                self.schedule = schedule;
                self.last_reload_error = None;
            }
            Err(error) if self.last_reload_error.as_ref() != Some(&error) => {
                tell!("smd-loop: {error}; keeping the previous schedule");
                self.log
                    .write(&format!("{error}; keeping the previous schedule"));
                self.last_reload_error = Some(error);
            }
            Err(_) => {}
        }
    }

    fn perform(&mut self, job: &Job) -> Result<(), Stopped> {
        self.check_stop()?;
        if self.verbose {
            tell!("smd-loop: {job}");
        }
        self.log.write(&job.to_string());

        let (succeeded, output) = match self.runner.run(job) {
            Ok(result) => result,
            Err(error) => {
                let program = job.direction.program();
                let message = format!(
                    "unable to run {program} ({error}); install it next to smd-loop \
                     or on PATH"
                );
                tell!("smd-loop: {message}");
                self.log.write(&message);
                return Err(Stopped::Failed);
            }
        };

        // A command stopped on our request failed as asked: no news, and
        // nothing to retry.
        if interrupt::requested().is_some() {
            if succeeded {
                show(&output);
                self.log.write("completed successfully");
            } else {
                self.log.output(&output);
            }
            return self.check_stop();
        }

        match self.retries.judge(job, succeeded, &output) {
            Verdict::Done => {
                show(&output);
                self.log.write("completed successfully");
                Ok(())
            }
            Verdict::RetryLater => {
                if self.verbose {
                    tell!("smd-loop: warning: {job} failed; it will be retried");
                }
                self.log
                    .write("transient failure, retrying at its next turn");
                self.log.output(&output);
                Ok(())
            }
            Verdict::Stop => {
                show(&output);
                tell!("smd-loop: {job} failed; stopping");
                self.log.write("failure that needs attention, stopping");
                self.log.output(&output);
                Err(Stopped::Failed)
            }
        }
    }
}

/// Prints a command's output on stdout, where the applet reads the tags.
fn show(output: &str) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(output.as_bytes());
    let _ = stdout.flush();
}

/// Runs smd-pull and smd-push, collecting stdout and stderr together, in
/// order, as one text.
struct Runner {
    /// An unlinked file: unlike a pipe, it cannot fill up, and it cannot
    /// keep us waiting for a grandchild (an ssh master) that holds it open.
    capture: File,
}

impl Runner {
    fn new(smd_dir: &Path) -> Result<Runner, String> {
        let path = smd_dir.join(format!("loop.output.{}", std::process::id()));
        let capture = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|error| format!("unable to create {}: {error}", path.display()))?;
        let _ = fs::remove_file(&path);
        Ok(Runner { capture })
    }

    /// Runs `PROGRAM -s ENDPOINT`; says whether it succeeded, and what it
    /// printed.
    fn run(&mut self, job: &Job) -> io::Result<(bool, String)> {
        self.capture.set_len(0)?;
        self.capture.seek(SeekFrom::Start(0))?;

        // Both streams share one file offset, as `>file 2>&1` does.
        let child = Command::new(locate(job.direction.program()))
            .arg("-s")
            .arg(&job.endpoint)
            .stdin(Stdio::null())
            .stdout(self.capture.try_clone()?)
            .stderr(self.capture.try_clone()?)
            .spawn()?;
        let status = wait_or_stop(child)?;

        let mut output = Vec::new();
        self.capture.seek(SeekFrom::Start(0))?;
        self.capture.read_to_end(&mut output)?;
        Ok((
            status.success(),
            String::from_utf8_lossy(&output).into_owned(),
        ))
    }
}

/// Waits for a command; when a stop is asked for, passes it on as SIGTERM,
/// on which smd-pull and smd-push end their run cleanly, and kills the
/// command if it is still there after STOP_GRACE.
fn wait_or_stop(mut child: std::process::Child) -> io::Result<ExitStatus> {
    let mut asked_at: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        match asked_at {
            None if interrupt::requested().is_some() => {
                interrupt::terminate(&child);
                asked_at = Some(Instant::now());
            }
            Some(at) if at.elapsed() > STOP_GRACE => {
                child.kill()?;
                return child.wait();
            }
            _ => {}
        }
        thread::sleep(POLL);
    }
}

/// `SMD_BIN_DIR/NAME` if set; else NAME next to smd-loop (the copy that
/// came with it); else NAME, looked up on PATH.
fn locate(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("SMD_BIN_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join(name);
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    match sibling {
        Some(sibling) if sibling.is_file() => sibling,
        _ => PathBuf::from(name),
    }
}

/// `~/.smd/log/loop.log`, started afresh by each smd-loop.
struct Log {
    file: File,
}

impl Log {
    fn create(path: &Path) -> Result<Log, String> {
        let file = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| File::create(path))
            .map_err(|error| format!("unable to write {}: {error}", path.display()))?;
        Ok(Log { file })
    }

    /// A line with the time; a log that cannot be written is no reason to
    /// stop synchronizing.
    fn write(&mut self, message: &str) {
        let _ = writeln!(self.file, "{}: {message}", timestamp(SystemTime::now()));
    }

    /// A command's output, marked as such.
    fn output(&mut self, output: &str) {
        for line in output.lines() {
            let _ = writeln!(self.file, "output: {line}");
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
fn timestamp(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counting in
/// 400-year eras that start on March 1st so that leap days come last.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468; // from 0000-03-01 to 1970-01-01
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / 146_096)
        / 365;
    let day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// SIGUSR1, turned into a flag the loop polls while it waits; the signals
/// that stop it are `smd::interrupt`'s.
mod signals {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};

    use smd::interrupt;

    static SYNC_NOW: AtomicBool = AtomicBool::new(false);

    extern "C" fn request_sync_now(_signal: libc::c_int) {
        SYNC_NOW.store(true, Ordering::SeqCst);
    }

    /// SIGUSR1 asks to sync now; SIGTERM, SIGINT and SIGHUP to stop, so
    /// that the lock is removed on the way out.
    pub fn install() -> io::Result<()> {
        interrupt::on_signal(libc::SIGUSR1, request_sync_now)?;
        interrupt::install()
    }

    /// Whether a sync-now was asked since the last call.
    pub fn take_sync_now() -> bool {
        SYNC_NOW.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |seconds| timestamp(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(at(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }
}
