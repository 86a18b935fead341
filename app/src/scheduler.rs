//! The sync loop, in a background thread: what `smd-loop` does, for the
//! applet.
//!
//! The thread reads `~/.smd/loop` (the same file and format as smd-loop),
//! runs the engine's pull and push at the minutes it asks for, and reports
//! typed [`Event`]s to the GTK main loop over an async channel; the GTK
//! side sends [`Command`]s back. Each run takes `~/.smd/lock` like the
//! command-line tools, so a manual smd-pull and the applet never overlap:
//! a held lock means "busy", retried at the job's next slot.
//!
//! All runs happen on this one thread. That matters: the lock file holds
//! a pid, so two runs of the same process would not exclude each other.
//!
//! The decisions (which jobs are due, what a failure means for the next
//! ones) are in [`Planner`] and [`classify`], pure and tested; the thread
//! only waits, runs and reports.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use smd::checkconf::{self, CheckReport};
use smd::config::Config;
use smd::lock::Lock;
use smd::schedule::{Direction, Job, Schedule};
use smd::ssh_failure::SshFailureKind;
use smd::sync::{self, SyncEvent, SyncOptions, SyncOutcome};
use smd::tags::{Stats, Tags};

use gtk::glib;

use crate::actions::{Mailboxes, Side};
use crate::journal::Journal;

/// What the GTK side asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run every job of the schedule once, now (also when paused, and
    /// also for endpoints stopped by an error: the person asked).
    SyncNow,
    /// Run one job now: a retry or an inverse sync from the error window.
    Run(Job),
    Pause,
    Resume,
    /// Whether the network is up.
    Network(bool),
    /// The machine woke up from suspend: catch up once.
    Resumed,
    /// Read `~/.smd/loop` again (it was edited).
    ReloadSchedule,
    /// Check an endpoint's configuration (smd-check-conf).
    Check(String),
    Quit,
}

/// What the loop reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// The schedule was read: its endpoints, or why it cannot be used.
    Schedule(Result<Vec<String>, String>),
    Paused(bool),
    Online(bool),
    Started(Job),
    Progress(Job, SyncEvent),
    Finished(Job, Report),
    Checked(String, Result<CheckReport, String>),
    /// The thread ended (after [`Command::Quit`]).
    Stopped,
}

/// How a run ended, for deciding what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Another smd program holds the lock: try at the next slot, quietly.
    Busy,
    /// Likely to work later with no one acting (network, a mailbox being
    /// changed meanwhile).
    Transient,
    /// A person must decide: the endpoint stops until then.
    NeedsPerson,
}

/// A finished run, all typed.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub failure: Option<FailureReport>,
    /// The local client's counters: pulls only, so new-mail counts never
    /// come from the server's side.
    pub stats: Option<Stats>,
}

/// A failure as the error window needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReport {
    /// Whose failure it is: a remote one's paths are the server's.
    pub side: Side,
    /// The technical text (engine message, or the remote side's errors).
    pub message: String,
    pub tags: Tags,
    /// The endpoint's local mailboxes, for checking action paths.
    pub mailboxes: Mailboxes,
    /// Why ssh could not run the other side, when that is what failed.
    pub ssh: Option<SshFailureKind>,
}

/// Reads a finished run: which side failed, why, and what it means.
pub fn classify(outcome: &SyncOutcome, mailboxes: &Mailboxes) -> Report {
    if outcome.exit_code == 0 {
        return Report {
            outcome: Outcome::Done,
            failure: None,
            stats: outcome.stats.clone(),
        };
    }
    let report =
        |side: Side, message: String, tags: Tags, ssh: Option<SshFailureKind>| Report {
            outcome: outcome_of(&tags),
            failure: Some(FailureReport {
                side,
                message,
                tags,
                mailboxes: mailboxes.clone(),
                ssh,
            }),
            stats: outcome.stats.clone(),
        };
    let remote_text = || {
        let lines: Vec<&str> = outcome
            .report
            .iter()
            .map(String::as_str)
            .filter(|line| !line.contains("TAGS:"))
            .collect();
        lines.join("\n")
    };
    // ssh could not run the other side: the engine knows whether that is
    // worth retrying (its report keeps smd 1.3's "network" either way).
    // It failed here, and names no path on either side.
    if let Some(ssh) = &outcome.ssh_failure {
        let message = match (&outcome.failure, ssh.kind) {
            // The engine's sentence says what to install where.
            (Some(local), SshFailureKind::RemoteProgramMissing) => local.message.clone(),
            _ if !ssh.said.trim().is_empty() => ssh.said.clone(),
            _ => remote_text(),
        };
        return report(Side::Local, message, ssh.kind.tags(), Some(ssh.kind));
    }
    let (side, message, tags) = match (&outcome.failure, &outcome.remote_tags) {
        // The local side only saw the connection drop, or the other side's
        // scan fail: the other side's own report says why.
        (Some(local), Some(remote))
            if local.tags.cause == "network" || local.tags.context == "mddiff" =>
        {
            (Side::Remote, remote_text(), remote.clone())
        }
        (Some(local), _) => (Side::Local, local.message.clone(), local.tags.clone()),
        (None, Some(remote)) => (Side::Remote, remote_text(), remote.clone()),
        // Nobody said anything: ssh most likely could not connect, which
        // is what smd-pull assumes too.
        (None, None) => (Side::Remote, remote_text(), Tags::retry("ssh", "network")),
    };
    report(side, message, tags, None)
}

/// What a failure with these tags means for the next runs.
fn outcome_of(tags: &Tags) -> Outcome {
    if tags.cause == "another-instance-is-running" {
        Outcome::Busy
    } else if tags.is_retriable() {
        Outcome::Transient
    } else {
        Outcome::NeedsPerson
    }
}

/// The loop's decisions, without threads or clocks.
#[derive(Debug, Default)]
pub struct Planner {
    schedule: Schedule,
    /// The last minute slot run; 0 before the first.
    minute: u64,
    paused: bool,
    online: bool,
    /// A catch-up after suspend waits for the network.
    catch_up_pending: bool,
    /// Endpoints stopped by an error that needs a person.
    blocked: BTreeSet<String>,
    /// Endpoints whose last run failed in a way worth retrying.
    in_trouble: BTreeSet<String>,
}

impl Planner {
    pub fn new(schedule: Schedule) -> Planner {
        Planner {
            schedule,
            online: true,
            ..Planner::default()
        }
    }

    /// Takes a new schedule. Endpoints no longer in it are forgotten
    /// (their errors too); the jobs of endpoints that were added are
    /// returned, to run at once (not before the first slot, which runs
    /// everything anyway).
    pub fn set_schedule(
        &mut self,
        schedule: Schedule,
        needs_network: &dyn Fn(&str) -> bool,
    ) -> Vec<Job> {
        let before: BTreeSet<String> = self
            .schedule
            .entries
            .iter()
            .map(|e| e.endpoint.clone())
            .collect();
        self.schedule = schedule;
        let now: BTreeSet<String> = self
            .schedule
            .entries
            .iter()
            .map(|e| e.endpoint.clone())
            .collect();
        self.blocked.retain(|name| now.contains(name));
        self.in_trouble.retain(|name| now.contains(name));
        if self.minute == 0 {
            return Vec::new();
        }
        let added: Vec<Job> = self
            .schedule
            .all()
            .into_iter()
            .filter(|job| !before.contains(&job.endpoint))
            .collect();
        self.runnable(added, needs_network)
    }

    /// Whether `endpoint` is in the schedule (jobs of others are not run).
    pub fn is_scheduled(&self, endpoint: &str) -> bool {
        self.schedule.entries.iter().any(|e| e.endpoint == endpoint)
    }

    /// Pauses or resumes. Resuming returns the jobs of every endpoint not
    /// waiting for a person, to run at once: the person expects "Resume"
    /// to synchronize, not to wait for the next slot, which may be an
    /// hour away. Offline, they wait for the network instead. Resuming
    /// when not paused returns nothing, so a repeated command runs nothing
    /// twice.
    pub fn set_paused(
        &mut self,
        paused: bool,
        needs_network: &dyn Fn(&str) -> bool,
    ) -> Vec<Job> {
        let resuming = self.paused && !paused;
        self.paused = paused;
        // Before the first slot: that slot runs everything anyway.
        if !resuming || self.minute == 0 {
            return Vec::new();
        }
        self.resumed(needs_network)
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn is_online(&self) -> bool {
        self.online
    }

    pub fn is_blocked(&self, endpoint: &str) -> bool {
        self.blocked.contains(endpoint)
    }

    /// The jobs of the next minute slot. As with smd-loop the counter
    /// starts at 1, and slots where nothing would run are skipped until the
    /// first job has run, so the first runs start at once whatever their
    /// frequency. Paused: nothing. Offline: only endpoints that need no
    /// network. Endpoints waiting for a person are left out.
    pub fn tick(&mut self, needs_network: &dyn Fn(&str) -> bool) -> Vec<Job> {
        self.minute += 1;
        if self.minute == 1 {
            let longest = self
                .schedule
                .entries
                .iter()
                .flat_map(|e| [e.pull_minutes, e.push_minutes])
                .max()
                .unwrap_or(0);
            while self.schedule.due(self.minute).is_empty() && self.minute < longest {
                self.minute += 1;
            }
        }
        let due = self.schedule.due(self.minute);
        self.runnable(due, needs_network)
    }

    fn runnable(&self, jobs: Vec<Job>, needs_network: &dyn Fn(&str) -> bool) -> Vec<Job> {
        if self.paused {
            return Vec::new();
        }
        jobs.into_iter()
            .filter(|job| !self.blocked.contains(&job.endpoint))
            .filter(|job| self.online || !needs_network(&job.endpoint))
            .collect()
    }

    /// "Sync now": everything, once; the person asked, so stopped
    /// endpoints are tried again too.
    pub fn sync_now(&mut self) -> Vec<Job> {
        self.blocked.clear();
        self.schedule.all()
    }

    /// After suspend: everything not stopped, at once, or when the network
    /// is back.
    pub fn resumed(&mut self, needs_network: &dyn Fn(&str) -> bool) -> Vec<Job> {
        if !self.online {
            self.catch_up_pending = true;
            return Vec::new();
        }
        self.runnable(self.schedule.all(), needs_network)
    }

    /// The network came or went. Returns a pending catch-up, or when the
    /// network is back, the jobs of endpoints whose last run failed in a
    /// transient way: the network was likely why.
    pub fn set_online(
        &mut self,
        online: bool,
        needs_network: &dyn Fn(&str) -> bool,
    ) -> Vec<Job> {
        let back = online && !self.online;
        self.online = online;
        if online && std::mem::take(&mut self.catch_up_pending) {
            return self.runnable(self.schedule.all(), needs_network);
        }
        if !back {
            return Vec::new();
        }
        let retries = self
            .schedule
            .all()
            .into_iter()
            .filter(|job| self.in_trouble.contains(&job.endpoint))
            .collect();
        self.runnable(retries, needs_network)
    }

    /// Records how a run of `job` ended.
    pub fn finished(&mut self, job: &Job, outcome: Outcome) {
        match outcome {
            Outcome::Done => {
                self.blocked.remove(&job.endpoint);
                self.in_trouble.remove(&job.endpoint);
            }
            Outcome::NeedsPerson => {
                self.blocked.insert(job.endpoint.clone());
                self.in_trouble.remove(&job.endpoint);
            }
            // The job's next slot is its retry, or the network's return.
            // TODO: retry sooner than the next slot (1, 2, 4... minutes)
            // when the schedule's interval is long, so a blip does not
            // cost an hour of mail.
            Outcome::Transient => {
                self.in_trouble.insert(job.endpoint.clone());
            }
            Outcome::Busy => {}
        }
    }
}

/// How the loop thread is set up.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub home: PathBuf,
    /// 60 seconds, except in tests.
    pub minute: Duration,
    /// Start paused (the person paused before quitting, or a test).
    pub paused: bool,
}

impl LoopOptions {
    /// The real setting: a minute is 60 seconds unless
    /// `SMD_LOOP_MINUTE_SECONDS` (smd-loop's test knob) says otherwise.
    pub fn for_home(home: PathBuf) -> LoopOptions {
        let minute = std::env::var("SMD_LOOP_MINUTE_SECONDS")
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .map_or(Duration::from_secs(60), Duration::from_secs_f64);
        LoopOptions {
            home,
            minute,
            paused: false,
        }
    }
}

/// The GTK side's end of the loop.
#[derive(Debug, Clone)]
pub struct LoopHandle {
    commands: mpsc::Sender<Command>,
}

impl LoopHandle {
    /// Sends a command; a loop that already ended ignores it.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}

/// Starts the loop thread.
pub fn spawn(
    options: LoopOptions,
    events: async_channel::Sender<Event>,
) -> std::io::Result<LoopHandle> {
    let (commands, receiver) = mpsc::channel();
    thread::Builder::new()
        .name("smd-loop".into())
        .spawn(move || {
            let mut worker = Worker::new(options, events);
            worker.run(&receiver);
        })?;
    Ok(LoopHandle { commands })
}

struct Worker {
    home: PathBuf,
    minute: Duration,
    events: async_channel::Sender<Event>,
    journal: Journal,
    planner: Planner,
    /// The schedule file's text last read, to report changes only.
    schedule_text: Option<Result<String, String>>,
}

impl Worker {
    fn new(options: LoopOptions, events: async_channel::Sender<Event>) -> Worker {
        let mut planner = Planner::new(Schedule::default());
        // Before the first slot nothing is returned, whatever it is.
        planner.set_paused(options.paused, &|_| true);
        Worker {
            journal: Journal::in_home(&options.home),
            home: options.home,
            minute: options.minute,
            events,
            planner,
            schedule_text: None,
        }
    }

    fn emit(&self, event: Event) {
        // The GTK side is gone only when the applet quits.
        let _ = self.events.send_blocking(event);
    }

    fn run(&mut self, commands: &mpsc::Receiver<Command>) {
        self.keep_journal_short();
        self.journal.write("the applet's sync loop started");
        let _ = self.reload();
        let mut next_tick = Instant::now();
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match commands.recv_timeout(wait) {
                Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {
                    self.keep_journal_short();
                    let added = self.reload();
                    self.run_all(added);
                    let jobs = self.planner.tick(&|name| needs_network(&self.home, name));
                    self.run_all(jobs);
                    next_tick = (next_tick + self.minute).max(Instant::now());
                }
            }
        }
        self.journal.write("the applet's sync loop stopped");
        self.emit(Event::Stopped);
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::SyncNow => {
                self.journal.write("synchronizing everything now, as asked");
                let _ = self.reload();
                let jobs = self.planner.sync_now();
                self.run_all(jobs);
            }
            Command::Run(job) => {
                // A retry from an error window: only while scheduled.
                let added = self.reload();
                self.run_all(added);
                if self.planner.is_scheduled(&job.endpoint) {
                    self.run_one(&job);
                }
            }
            Command::Pause | Command::Resume => {
                let paused = command == Command::Pause;
                if paused != self.planner.is_paused() {
                    self.journal
                        .write(if paused { "paused" } else { "resumed" });
                }
                let jobs = self
                    .planner
                    .set_paused(paused, &|name| needs_network(&self.home, name));
                self.emit(Event::Paused(paused));
                self.run_all(jobs);
            }
            Command::Network(online) => {
                if online != self.planner.is_online() {
                    self.journal.write(if online {
                        "the network is back"
                    } else {
                        "the network is gone"
                    });
                }
                self.emit(Event::Online(online));
                let jobs = self
                    .planner
                    .set_online(online, &|name| needs_network(&self.home, name));
                self.run_all(jobs);
            }
            Command::Resumed => {
                self.journal.write("the computer woke up");
                let jobs = self
                    .planner
                    .resumed(&|name| needs_network(&self.home, name));
                self.run_all(jobs);
            }
            Command::ReloadSchedule => {
                let added = self.reload();
                self.run_all(added);
            }
            Command::Check(name) => {
                let result = self.check(&name);
                self.emit(Event::Checked(name, result));
            }
            Command::Quit => {}
        }
    }

    /// Sets a long journal aside; checked at each slot, since the applet
    /// may run for months.
    fn keep_journal_short(&self) {
        if let Err(error) = self.journal.set_aside_if_long() {
            glib::g_warning!(
                "smd-applet",
                "Cannot set {} aside: {}",
                self.journal.path().display(),
                error
            );
        }
    }

    /// Reads `~/.smd/loop`, reporting it when it changed; returns the jobs
    /// of endpoints just added, to run at once.
    #[must_use]
    fn reload(&mut self) -> Vec<Job> {
        let path = schedule_path(&self.home);
        let text = match fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(String::new())
            }
            Err(error) => Err(format!("{}: {error}", path.display())),
        };
        if self.schedule_text.as_ref() == Some(&text) {
            return Vec::new();
        }
        let parsed = text.clone().and_then(|t| {
            Schedule::parse(&t).map_err(|e| format!("{}: {e}", path.display()))
        });
        self.schedule_text = Some(text);
        match parsed {
            Ok(schedule) => {
                let mut names: Vec<String> = schedule
                    .entries
                    .iter()
                    .map(|e| e.endpoint.clone())
                    .collect();
                names.dedup();
                let home = self.home.clone();
                let added = self
                    .planner
                    .set_schedule(schedule, &|name| needs_network(&home, name));
                self.emit(Event::Schedule(Ok(names)));
                added
            }
            // A broken file keeps the last good schedule running.
            Err(message) => {
                self.emit(Event::Schedule(Err(message)));
                Vec::new()
            }
        }
    }

    /// Runs a batch of jobs in order. As with smd-loop, an error that
    /// needs a person stops the rest of its endpoint's batch: a push
    /// after a failed pull could undo what the person has to decide.
    fn run_all(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            if !self.planner.is_blocked(&job.endpoint) {
                self.run_one(&job);
            }
        }
    }

    fn run_one(&mut self, job: &Job) {
        self.journal.write(&format!("{job}: started"));
        self.emit(Event::Started(job.clone()));
        let report = self.run_job(job);
        self.journal.write(&journal_entry(job, &report));
        self.planner.finished(job, report.outcome);
        self.emit(Event::Finished(job.clone(), report));
    }

    fn run_job(&self, job: &Job) -> Report {
        let config = match Config::load(&self.home, &job.endpoint) {
            Ok(config) => config,
            Err(error) => return config_failure(error.to_string()),
        };
        let mailboxes = Mailboxes::of(&self.home, &config);
        let direction = match job.direction {
            Direction::Pull => sync::Direction::Pull,
            Direction::Push => sync::Direction::Push,
        };
        let mut report_progress = |event: SyncEvent| {
            self.emit(Event::Progress(job.clone(), event));
        };
        let outcome = sync::run_sync(
            &self.home,
            &config,
            direction,
            &SyncOptions::default(),
            &mut report_progress,
        );
        let mut report = classify(&outcome, &mailboxes);
        if job.direction == Direction::Push {
            report.stats = None;
        }
        report
    }

    /// smd-check-conf, under the same lock as the runs.
    fn check(&self, name: &str) -> Result<CheckReport, String> {
        let config = Config::load(&self.home, name).map_err(|e| e.to_string())?;
        let _lock =
            Lock::acquire(&Lock::path_in(&self.home)).map_err(|e| e.to_string())?;
        checkconf::check(&self.home, &config).map_err(|failure| failure.message)
    }
}

/// How a run ended, for the journal: a line, then the failure's own words
/// indented below it.
pub fn journal_entry(job: &Job, report: &Report) -> String {
    let mut entry = match (report.outcome, &report.failure) {
        (Outcome::Done, _) => match &report.stats {
            Some(stats) => format!(
                "{job}: done, {} new, {} deleted",
                stats.new_mails, stats.deleted_mails
            ),
            None => format!("{job}: done"),
        },
        (Outcome::Busy, _) => {
            format!("{job}: another smd program holds the lock; trying at the next turn")
        }
        (Outcome::Transient, failure) => format!(
            "{job}: failed, trying again later: {}",
            failure.as_ref().map_or_else(String::new, failure_summary)
        ),
        (Outcome::NeedsPerson, failure) => format!(
            "{job}: stopped until you act: {}",
            failure.as_ref().map_or_else(String::new, failure_summary)
        ),
    };
    if let Some(failure) = &report.failure {
        for line in failure.message.lines().filter(|l| !l.trim().is_empty()) {
            entry.push_str("\n  ");
            entry.push_str(line);
        }
    }
    entry
}

/// A failure in a few words: what ssh met, or the context and probable
/// cause.
fn failure_summary(failure: &FailureReport) -> String {
    match failure.ssh {
        Some(ssh) => format!("ssh: {ssh}"),
        None => format!("{} ({})", failure.tags.cause, failure.tags.context),
    }
}

/// Whether syncing `endpoint` needs the network: all but local syncs (and
/// an endpoint whose config cannot be read, which will report that).
fn needs_network(home: &Path, endpoint: &str) -> bool {
    Config::load(home, endpoint).map_or(true, |config| !config.is_local())
}

/// `~/.smd/loop`.
pub fn schedule_path(home: &Path) -> PathBuf {
    home.join(".smd").join("loop")
}

fn config_failure(message: String) -> Report {
    Report {
        outcome: Outcome::NeedsPerson,
        failure: Some(FailureReport {
            side: Side::Local,
            message,
            tags: Tags::new("config", "unknown", true),
            mailboxes: Mailboxes::default(),
            ssh: None,
        }),
        stats: None,
    }
}

/// The job in the other direction, for "keep my version".
pub fn inverse(job: &Job) -> Job {
    Job {
        direction: match job.direction {
            Direction::Pull => Direction::Push,
            Direction::Push => Direction::Pull,
        },
        endpoint: job.endpoint.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smd::protocol::Failure;
    use smd::tags::Action;

    fn job(direction: Direction, endpoint: &str) -> Job {
        Job {
            direction,
            endpoint: endpoint.to_owned(),
        }
    }

    fn names(jobs: &[Job]) -> Vec<String> {
        jobs.iter().map(ToString::to_string).collect()
    }

    fn planner(text: &str) -> Planner {
        Planner::new(Schedule::parse(text).unwrap())
    }

    const NETWORK: &dyn Fn(&str) -> bool = &|_| true;

    #[test]
    fn first_runs_start_at_once_then_follow_the_minutes() {
        let mut planner = planner("3 10 work\n0 5 home\n");
        // Minutes 1 and 2 have nothing: skipped, minute 3 runs at once.
        assert_eq!(names(&planner.tick(NETWORK)), ["smd-pull -s work"]);
        assert!(planner.tick(NETWORK).is_empty());
        assert_eq!(names(&planner.tick(NETWORK)), ["smd-push -s home"]);
        assert_eq!(names(&planner.tick(NETWORK)), ["smd-pull -s work"]);

        let mut empty = planner_with_nothing();
        assert!(empty.tick(NETWORK).is_empty());
    }

    fn planner_with_nothing() -> Planner {
        planner("# nothing\n0 0 off\n")
    }

    #[test]
    fn pause_offline_and_errors_hold_jobs_back() {
        let mut planner = planner("1 1 remote\n1 0 local\n");
        let needs_network = |name: &str| name == "remote";

        planner.set_paused(true, &needs_network);
        assert!(planner.tick(&needs_network).is_empty());
        planner.set_paused(false, &needs_network);

        assert!(planner.set_online(false, &needs_network).is_empty());
        assert_eq!(names(&planner.tick(&needs_network)), ["smd-pull -s local"]);
        planner.set_online(true, &needs_network);

        planner.finished(&job(Direction::Pull, "remote"), Outcome::NeedsPerson);
        assert!(planner.is_blocked("remote"));
        assert_eq!(names(&planner.tick(&needs_network)), ["smd-pull -s local"]);
        // Transient trouble and a busy lock retry at the next slot.
        planner.finished(&job(Direction::Pull, "local"), Outcome::Busy);
        planner.finished(&job(Direction::Pull, "local"), Outcome::Transient);
        assert_eq!(names(&planner.tick(&needs_network)), ["smd-pull -s local"]);

        // Sync now is the person asking: everything, stopped or not.
        assert_eq!(planner.sync_now().len(), 3);
        assert!(!planner.is_blocked("remote"));
    }

    #[test]
    fn schedule_changes_forget_removed_endpoints_and_start_added_ones() {
        let mut planner = planner("1 1 a\n");
        // Before the first slot: the first slot runs everything anyway.
        assert!(planner
            .set_schedule(Schedule::parse("1 1 a\n").unwrap(), NETWORK)
            .is_empty());
        planner.tick(NETWORK);
        planner.finished(&job(Direction::Pull, "a"), Outcome::NeedsPerson);
        assert!(planner.is_blocked("a"));
        let added = planner.set_schedule(Schedule::parse("5 0 b\n").unwrap(), NETWORK);
        assert_eq!(names(&added), ["smd-pull -s b"]);
        assert!(!planner.is_blocked("a"));
        assert!(!planner.is_scheduled("a"));
        assert!(planner.is_scheduled("b"));
        // Added back later: it starts at once, no error remembered.
        let added =
            planner.set_schedule(Schedule::parse("5 0 b\n1 1 a\n").unwrap(), NETWORK);
        assert_eq!(names(&added), ["smd-pull -s a", "smd-push -s a"]);
        // Paused: nothing runs at once.
        planner.set_paused(true, NETWORK);
        assert!(planner
            .set_schedule(Schedule::parse("1 1 c\n").unwrap(), NETWORK)
            .is_empty());
    }

    #[test]
    fn a_success_unblocks_an_endpoint() {
        let mut planner = planner("1 1 a\n");
        planner.finished(&job(Direction::Pull, "a"), Outcome::NeedsPerson);
        assert!(planner.tick(NETWORK).is_empty());
        planner.finished(&job(Direction::Pull, "a"), Outcome::Done);
        assert_eq!(planner.tick(NETWORK).len(), 2);
    }

    #[test]
    fn resuming_synchronizes_at_once() {
        let mut planner = planner("60 60 a\n60 0 b\n");
        planner.tick(NETWORK);
        assert!(planner.set_paused(true, NETWORK).is_empty());
        assert!(planner.tick(NETWORK).is_empty());

        planner.finished(&job(Direction::Pull, "b"), Outcome::NeedsPerson);
        let jobs = planner.set_paused(false, NETWORK);
        assert_eq!(names(&jobs), ["smd-pull -s a", "smd-push -s a"]);
        // Resume sent twice (the menu and the setting both say so): once.
        assert!(planner.set_paused(false, NETWORK).is_empty());

        // Offline, the jobs wait for the network.
        planner.set_paused(true, NETWORK);
        planner.set_online(false, NETWORK);
        assert!(planner.set_paused(false, NETWORK).is_empty());
        assert_eq!(planner.set_online(true, NETWORK).len(), 2);

        // Started paused, resumed before the first slot: the slot runs it.
        let mut fresh = planner_with_nothing();
        fresh.set_paused(true, NETWORK);
        assert!(fresh.set_paused(false, NETWORK).is_empty());
    }

    #[test]
    fn transient_trouble_is_retried_when_the_network_is_back() {
        let mut planner = planner("60 60 a\n60 60 b\n");
        planner.tick(NETWORK);
        planner.finished(&job(Direction::Pull, "a"), Outcome::Transient);
        // Still online: no reason to think it works better now.
        assert!(planner.set_online(true, NETWORK).is_empty());
        planner.set_online(false, NETWORK);
        let back = planner.set_online(true, NETWORK);
        assert_eq!(names(&back), ["smd-pull -s a", "smd-push -s a"]);

        planner.set_online(false, NETWORK);
        planner.finished(&job(Direction::Pull, "a"), Outcome::Done);
        assert!(planner.set_online(true, NETWORK).is_empty());
    }

    #[test]
    fn resume_from_suspend_catches_up_when_online() {
        let mut planner = planner("10 20 a\n");
        assert_eq!(planner.resumed(NETWORK).len(), 2);
        planner.set_online(false, NETWORK);
        assert!(planner.resumed(NETWORK).is_empty());
        assert_eq!(planner.set_online(true, NETWORK).len(), 2);
        assert!(planner.set_online(true, NETWORK).is_empty());
    }

    fn outcome(
        exit_code: i32,
        failure: Option<Failure>,
        remote_tags: Option<Tags>,
    ) -> SyncOutcome {
        SyncOutcome {
            exit_code,
            report: vec![
                "smd-server: ERROR: remote trouble".to_owned(),
                "x: smd-server@h: TAGS: error::context(a)".to_owned(),
            ],
            failure,
            stats: Some(Stats {
                new_mails: 2,
                ..Stats::default()
            }),
            remote_tags,
            ssh_failure: None,
        }
    }

    fn ssh_outcome(kind: SshFailureKind, said: &str) -> SyncOutcome {
        use smd::ssh_failure::SshFailure;
        let network =
            Failure::new("connection closed", Tags::retry("handshake", "network"));
        SyncOutcome {
            ssh_failure: Some(SshFailure {
                kind,
                said: said.to_owned(),
            }),
            ..outcome(1, Some(network), None)
        }
    }

    #[test]
    fn ssh_failures_retry_quietly_or_need_a_person() {
        let none = Mailboxes::default();
        let refused = classify(
            &ssh_outcome(
                SshFailureKind::ConnectionRefused,
                "ssh: connect to host mail port 22: Connection refused",
            ),
            &none,
        );
        assert_eq!(refused.outcome, Outcome::Transient);
        let failure = refused.failure.unwrap();
        assert_eq!(failure.ssh, Some(SshFailureKind::ConnectionRefused));
        assert_eq!(failure.side, Side::Local);
        assert!(failure.message.contains("Connection refused"));

        let denied = classify(
            &ssh_outcome(
                SshFailureKind::AuthenticationDenied,
                "me@mail: Permission denied (publickey).",
            ),
            &none,
        );
        assert_eq!(denied.outcome, Outcome::NeedsPerson);
        let failure = denied.failure.clone().unwrap();
        assert_eq!(failure.tags.cause, "authentication-failed");
        assert_eq!(failure.message, "me@mail: Permission denied (publickey).");

        // For a missing program the engine's own sentence is the better one.
        let mut missing = ssh_outcome(SshFailureKind::RemoteProgramMissing, "sh: 1: x");
        missing.failure = Some(Failure::new(
            "smd-server was not found on mail: install smd-rs there",
            Tags::new("ssh", "remote-program-missing", true),
        ));
        let failure = classify(&missing, &none).failure.unwrap();
        assert!(failure.message.starts_with("smd-server was not found"));
        assert!(journal_entry(&job(Direction::Pull, "a"), &denied)
            .starts_with("smd-pull -s a: stopped until you act: ssh: the server refused the login\n"));
    }

    #[test]
    fn runs_are_classified_from_typed_tags() {
        let none = Mailboxes::default();
        let done = classify(&outcome(0, None, None), &none);
        assert_eq!(done.outcome, Outcome::Done);
        assert_eq!(done.stats.unwrap().new_mails, 2);

        let conflict = Tags::new("mail-addition", "concurrent-mailbox-edit", true).with(
            Action::MoveAside {
                from: "/h/Mail/cur/a".into(),
                to: "/h/Mail/cur/a.aside1".into(),
            },
        );
        let local = classify(
            &outcome(
                1,
                Some(Failure::new("unable to update", conflict.clone())),
                None,
            ),
            &none,
        );
        assert_eq!(local.outcome, Outcome::NeedsPerson);
        let failure = local.failure.unwrap();
        assert_eq!(
            (failure.side, failure.tags),
            (Side::Local, conflict.clone())
        );

        let lock = Tags::new("locking", "another-instance-is-running", true)
            .with(Action::Kill(12));
        let busy = classify(&outcome(1, Some(Failure::new("held", lock)), None), &none);
        assert_eq!(busy.outcome, Outcome::Busy);

        let network = Failure::new("closed", Tags::retry("receive", "network"));
        let transient = classify(&outcome(1, Some(network.clone()), None), &none);
        assert_eq!(transient.outcome, Outcome::Transient);

        // The server's reason beats the local "connection closed".
        let remote = classify(&outcome(1, Some(network), Some(conflict.clone())), &none);
        let failure = remote.failure.unwrap();
        assert_eq!(remote.outcome, Outcome::NeedsPerson);
        assert_eq!(failure.side, Side::Remote);
        assert_eq!(failure.message, "smd-server: ERROR: remote trouble");

        // The server's scan failed: its own tags name the folder to fix.
        let scan = Failure::new(
            "the other side failed to scan its mailbox",
            Tags::new("mddiff", "unknown", true),
        );
        let unreadable = Tags::new("mddiff", "bad-directory-permission", true)
            .with(Action::DisplayPermissions("/srv/Mail/.X".into()));
        let remote = classify(&outcome(1, Some(scan), Some(unreadable.clone())), &none);
        let failure = remote.failure.unwrap();
        assert_eq!((failure.side, failure.tags), (Side::Remote, unreadable));

        // Nothing said at all: ssh could not connect.
        let silent = classify(&outcome(1, None, None), &none);
        assert_eq!(silent.outcome, Outcome::Transient);
        assert_eq!(silent.failure.unwrap().tags.context, "ssh");
    }

    #[test]
    fn runs_are_journaled_with_the_failure_s_words() {
        let pull = job(Direction::Pull, "a");
        let none = Mailboxes::default();
        let done = classify(&outcome(0, None, None), &none);
        assert_eq!(
            journal_entry(&pull, &done),
            "smd-pull -s a: done, 2 new, 0 deleted"
        );

        let conflict = Tags::new("mail-addition", "concurrent-mailbox-edit", true);
        let failed = classify(
            &outcome(
                1,
                Some(Failure::new("unable to add\nsecond", conflict)),
                None,
            ),
            &none,
        );
        assert_eq!(
            journal_entry(&pull, &failed),
            "smd-pull -s a: stopped until you act: concurrent-mailbox-edit \
             (mail-addition)\n  unable to add\n  second"
        );
        let silent = classify(&outcome(1, None, None), &none);
        assert!(journal_entry(&pull, &silent)
            .starts_with("smd-pull -s a: failed, trying again later: network (ssh)\n"));
    }

    #[test]
    fn inverse_jobs() {
        assert_eq!(
            inverse(&job(Direction::Pull, "a")),
            job(Direction::Push, "a")
        );
    }
}
