//! The applet's picture of the loop, built from the loop's events: what
//! the tray, the main window and the notifications show, and which
//! notifications an event calls for. No GTK here, so it is tested as is.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use smd::protocol::client::Progress;
use smd::schedule::{Direction, Job};
use smd::sync::SyncEvent;

use crate::scheduler::{Event, FailureReport, Outcome, Report};

/// How long transient trouble lasts before the person hears of it, once:
/// a blip or a short outage is retried quietly, with a calm status only,
/// but a server out of reach for this long deserves a word.
pub const TROUBLE_NOTICE_AFTER: Duration = Duration::from_secs(60 * 60);

/// An error that waits for a person, and the run that met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorState {
    pub job: Job,
    pub failure: FailureReport,
}

/// What is known of one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointState {
    pub last_success: Option<SystemTime>,
    pub error: Option<ErrorState>,
    /// The last transient failure while they keep coming.
    pub trouble: Option<FailureReport>,
    /// When the transient failures began.
    pub trouble_since: Option<SystemTime>,
    /// The person was told of this streak of failures.
    trouble_told: bool,
    /// Messages the last pull fetched.
    pub new_mails: u64,
}

/// A notification (or withdrawal) an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    NewMail {
        endpoint: String,
        count: u64,
    },
    /// An error needs a person: shown until dealt with.
    Error {
        endpoint: String,
    },
    /// Synchronizing has failed for [`TROUBLE_NOTICE_AFTER`]: said once.
    Trouble {
        endpoint: String,
    },
    /// The error of this endpoint went away.
    Resolved {
        endpoint: String,
    },
}

/// What the tray shows, most important first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overall {
    Error {
        endpoints: Vec<String>,
    },
    Syncing {
        job: Job,
        progress: Option<Progress>,
    },
    Paused,
    Offline,
    /// Another smd program held the lock at the last attempt.
    Busy,
    /// The last runs of some endpoint failed in a transient way.
    Retrying {
        endpoints: Vec<String>,
    },
    Idle,
}

/// The whole picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub paused: bool,
    pub online: bool,
    pub running: Option<(Job, Option<Progress>)>,
    pub endpoints: BTreeMap<String, EndpointState>,
    /// Why `~/.smd/loop` cannot be used, if so.
    pub schedule_problem: Option<String>,
    pub busy: bool,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            paused: false,
            online: true,
            running: None,
            endpoints: BTreeMap::new(),
            schedule_problem: None,
            busy: false,
        }
    }
}

impl Status {
    /// Takes an event in; returns the notifications it calls for.
    /// `notify_new_mail` is the person's preference.
    pub fn apply(
        &mut self,
        event: &Event,
        notify_new_mail: bool,
        now: SystemTime,
    ) -> Vec<Effect> {
        match event {
            Event::Schedule(Ok(names)) => {
                self.schedule_problem = None;
                // An endpoint taken out of the schedule is no longer run,
                // so its error (or trouble) is no longer anyone's to fix.
                let mut effects = Vec::new();
                self.endpoints.retain(|name, state| {
                    let keep = names.contains(name);
                    if !keep && (state.error.is_some() || state.trouble.is_some()) {
                        effects.push(Effect::Resolved {
                            endpoint: name.clone(),
                        });
                    }
                    keep
                });
                if let Some((job, _)) = &self.running {
                    if !names.contains(&job.endpoint) {
                        // Its run still ends with a Finished event.
                        self.endpoints.entry(job.endpoint.clone()).or_default();
                    }
                }
                for name in names {
                    self.endpoints.entry(name.clone()).or_default();
                }
                effects
            }
            Event::Schedule(Err(problem)) => {
                self.schedule_problem = Some(problem.clone());
                Vec::new()
            }
            Event::Paused(paused) => {
                self.paused = *paused;
                Vec::new()
            }
            Event::Online(online) => {
                self.online = *online;
                Vec::new()
            }
            Event::Started(job) => {
                self.running = Some((job.clone(), None));
                Vec::new()
            }
            Event::Progress(job, SyncEvent::Applying(progress)) => {
                self.running = Some((job.clone(), Some(*progress)));
                Vec::new()
            }
            Event::Progress(job, SyncEvent::Connecting) => {
                self.running = Some((job.clone(), None));
                Vec::new()
            }
            Event::Finished(job, report) => {
                self.running = None;
                self.finished(job, report, notify_new_mail, now)
            }
            Event::Checked(..) | Event::Stopped => Vec::new(),
        }
    }

    fn finished(
        &mut self,
        job: &Job,
        report: &Report,
        notify_new_mail: bool,
        now: SystemTime,
    ) -> Vec<Effect> {
        let endpoint = job.endpoint.clone();
        let state = self.endpoints.entry(endpoint.clone()).or_default();
        let mut effects = Vec::new();
        self.busy = report.outcome == Outcome::Busy;

        match (report.outcome, &report.failure) {
            (Outcome::Done, _) => {
                state.last_success = Some(now);
                state.trouble = None;
                state.trouble_since = None;
                if std::mem::take(&mut state.trouble_told) {
                    // Its notice is out of date.
                    effects.push(Effect::Resolved {
                        endpoint: endpoint.clone(),
                    });
                }
                // Only a success of the run that failed settles its error.
                if state.error.as_ref().is_some_and(|e| e.job == *job) {
                    state.error = None;
                    effects.push(Effect::Resolved {
                        endpoint: endpoint.clone(),
                    });
                }
                if job.direction == Direction::Pull {
                    let count = report.stats.as_ref().map_or(0, |s| s.new_mails);
                    state.new_mails = count;
                    if notify_new_mail && count > 0 {
                        effects.push(Effect::NewMail { endpoint, count });
                    }
                }
            }
            (Outcome::Busy, _) => {}
            (Outcome::Transient, failure) => {
                state.trouble = failure.clone();
                let since = *state.trouble_since.get_or_insert(now);
                let lasting = now
                    .duration_since(since)
                    .is_ok_and(|lasted| lasted >= TROUBLE_NOTICE_AFTER);
                if lasting && !state.trouble_told {
                    state.trouble_told = true;
                    effects.push(Effect::Trouble { endpoint });
                }
            }
            (Outcome::NeedsPerson, Some(failure)) => {
                state.error = Some(ErrorState {
                    job: job.clone(),
                    failure: failure.clone(),
                });
                effects.push(Effect::Error { endpoint });
            }
            (Outcome::NeedsPerson, None) => {}
        }
        effects
    }

    /// The endpoints waiting for a person.
    pub fn errors(&self) -> Vec<(&String, &ErrorState)> {
        self.endpoints
            .iter()
            .filter_map(|(name, state)| state.error.as_ref().map(|e| (name, e)))
            .collect()
    }

    pub fn overall(&self) -> Overall {
        let errors: Vec<String> =
            self.errors().into_iter().map(|(n, _)| n.clone()).collect();
        if !errors.is_empty() {
            return Overall::Error { endpoints: errors };
        }
        if let Some((job, progress)) = &self.running {
            return Overall::Syncing {
                job: job.clone(),
                progress: *progress,
            };
        }
        if self.paused {
            return Overall::Paused;
        }
        if !self.online {
            return Overall::Offline;
        }
        if self.busy {
            return Overall::Busy;
        }
        let retrying: Vec<String> = self
            .endpoints
            .iter()
            .filter(|(_, state)| state.trouble.is_some())
            .map(|(name, _)| name.clone())
            .collect();
        if !retrying.is_empty() {
            return Overall::Retrying {
                endpoints: retrying,
            };
        }
        Overall::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Mailboxes, Side};
    use smd::tags::{Stats, Tags};

    fn job(direction: Direction, endpoint: &str) -> Job {
        Job {
            direction,
            endpoint: endpoint.to_owned(),
        }
    }

    fn done(new_mails: u64) -> Report {
        Report {
            outcome: Outcome::Done,
            failure: None,
            stats: Some(Stats {
                new_mails,
                ..Stats::default()
            }),
        }
    }

    fn failed(outcome: Outcome, tags: Tags) -> Report {
        Report {
            outcome,
            failure: Some(FailureReport {
                side: Side::Local,
                message: "technical".into(),
                tags,
                mailboxes: Mailboxes::default(),
                ssh: None,
            }),
            stats: None,
        }
    }

    fn feed(status: &mut Status, event: Event) -> Vec<Effect> {
        status.apply(&event, true, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn a_run_shows_as_syncing_with_progress_then_idle() {
        let mut status = Status::default();
        let pull = job(Direction::Pull, "a");
        feed(&mut status, Event::Schedule(Ok(vec!["a".into()])));
        assert_eq!(status.overall(), Overall::Idle);
        feed(&mut status, Event::Started(pull.clone()));
        let progress = Progress {
            commands_done: 3,
            commands_total: 10,
            bytes_received: 5,
        };
        feed(
            &mut status,
            Event::Progress(pull.clone(), SyncEvent::Applying(progress)),
        );
        assert_eq!(
            status.overall(),
            Overall::Syncing {
                job: pull.clone(),
                progress: Some(progress)
            }
        );
        let effects = feed(&mut status, Event::Finished(pull, done(0)));
        assert!(effects.is_empty());
        assert_eq!(status.overall(), Overall::Idle);
        assert!(status.endpoints["a"].last_success.is_some());
    }

    #[test]
    fn new_mail_is_told_only_for_pulls_and_when_wanted() {
        let mut status = Status::default();
        let effects = feed(
            &mut status,
            Event::Finished(job(Direction::Pull, "a"), done(2)),
        );
        assert_eq!(
            effects,
            [Effect::NewMail {
                endpoint: "a".into(),
                count: 2
            }]
        );
        assert!(feed(
            &mut status,
            Event::Finished(job(Direction::Push, "a"), done(2))
        )
        .is_empty());
        let quiet = status.apply(
            &Event::Finished(job(Direction::Pull, "a"), done(2)),
            false,
            SystemTime::UNIX_EPOCH,
        );
        assert!(quiet.is_empty());
    }

    #[test]
    fn errors_need_a_person_until_the_same_run_succeeds() {
        let mut status = Status::default();
        let pull = job(Direction::Pull, "a");
        let conflict = Tags::new("mail-addition", "concurrent-mailbox-edit", true);
        let effects = feed(
            &mut status,
            Event::Finished(pull.clone(), failed(Outcome::NeedsPerson, conflict)),
        );
        assert_eq!(
            effects,
            [Effect::Error {
                endpoint: "a".into()
            }]
        );
        assert_eq!(
            status.overall(),
            Overall::Error {
                endpoints: vec!["a".into()]
            }
        );
        // Errors outrank a run in progress and pause.
        feed(&mut status, Event::Paused(true));
        feed(&mut status, Event::Started(job(Direction::Push, "b")));
        assert!(matches!(status.overall(), Overall::Error { .. }));

        // A push succeeding does not settle the pull's conflict.
        assert!(feed(
            &mut status,
            Event::Finished(job(Direction::Push, "a"), done(0))
        )
        .is_empty());
        let effects = feed(&mut status, Event::Finished(pull, done(1)));
        assert_eq!(
            effects,
            [
                Effect::Resolved {
                    endpoint: "a".into()
                },
                Effect::NewMail {
                    endpoint: "a".into(),
                    count: 1
                }
            ]
        );
        assert_eq!(status.overall(), Overall::Paused);
    }

    #[test]
    fn transient_trouble_is_quiet_and_told_once_when_it_lasts() {
        let mut status = Status::default();
        let pull = job(Direction::Pull, "a");
        let network = || failed(Outcome::Transient, Tags::retry("ssh", "network"));
        let minutes = |m: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(60 * m);
        let at = |status: &mut Status, minute: u64, report: Report| {
            status.apply(
                &Event::Finished(pull.clone(), report),
                true,
                minutes(minute),
            )
        };

        // Retried quietly: a calm status, no notice, for the first hour.
        let mut told = Vec::new();
        for minute in [0, 1, 5, 30, 59] {
            told.extend(at(&mut status, minute, network()));
        }
        assert!(told.is_empty(), "{told:?}");
        assert_eq!(
            status.overall(),
            Overall::Retrying {
                endpoints: vec!["a".into()]
            }
        );
        assert_eq!(status.endpoints["a"].trouble_since, Some(minutes(0)));
        // An hour: said once.
        for minute in [60, 61, 200] {
            told.extend(at(&mut status, minute, network()));
        }
        let trouble = Effect::Trouble {
            endpoint: "a".into(),
        };
        assert_eq!(told, std::slice::from_ref(&trouble));

        // A success ends the streak and takes its notice back.
        let effects = at(&mut status, 201, done(0));
        assert_eq!(
            effects,
            [Effect::Resolved {
                endpoint: "a".into()
            }]
        );
        assert_eq!(status.overall(), Overall::Idle);
        assert!(at(&mut status, 300, network()).is_empty());
        assert_eq!(at(&mut status, 360, network()), [trouble]);
    }

    #[test]
    fn errors_of_endpoints_taken_out_of_the_schedule_are_cleared() {
        let mut status = Status::default();
        feed(
            &mut status,
            Event::Schedule(Ok(vec!["a".into(), "b".into()])),
        );
        let conflict = Tags::new("mail-addition", "concurrent-mailbox-edit", true);
        feed(
            &mut status,
            Event::Finished(
                job(Direction::Pull, "a"),
                failed(Outcome::NeedsPerson, conflict),
            ),
        );
        feed(
            &mut status,
            Event::Finished(
                job(Direction::Pull, "b"),
                failed(Outcome::Transient, Tags::retry("ssh", "network")),
            ),
        );
        assert!(matches!(status.overall(), Overall::Error { .. }));
        let effects = feed(&mut status, Event::Schedule(Ok(vec!["b".into()])));
        assert_eq!(
            effects,
            [Effect::Resolved {
                endpoint: "a".into()
            }]
        );
        assert!(status.errors().is_empty());
        assert!(matches!(status.overall(), Overall::Retrying { .. }));
        let effects = feed(&mut status, Event::Schedule(Ok(Vec::new())));
        assert_eq!(
            effects,
            [Effect::Resolved {
                endpoint: "b".into()
            }]
        );
        assert_eq!(status.overall(), Overall::Idle);
        assert!(status.endpoints.is_empty());
    }

    #[test]
    fn busy_offline_and_schedule_problems() {
        let mut status = Status::default();
        let lock = Tags::new("locking", "another-instance-is-running", true);
        feed(
            &mut status,
            Event::Finished(job(Direction::Pull, "a"), failed(Outcome::Busy, lock)),
        );
        assert_eq!(status.overall(), Overall::Busy);
        assert!(status.errors().is_empty());
        feed(&mut status, Event::Online(false));
        assert_eq!(status.overall(), Overall::Offline);
        feed(&mut status, Event::Schedule(Err("line 2: bad".into())));
        assert_eq!(status.schedule_problem.as_deref(), Some("line 2: bad"));
        feed(&mut status, Event::Schedule(Ok(vec!["b".into()])));
        assert!(status.schedule_problem.is_none());
        assert_eq!(status.endpoints.keys().collect::<Vec<_>>(), ["b"]);
    }
}
