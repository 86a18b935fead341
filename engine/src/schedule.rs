//! What `smd-loop` runs and when: the `~/.smd/loop` schedule, the minute
//! slots, and the rule that decides whether a failed run is retried.
//!
//! The schedule has one line per endpoint, `PULL_MINUTES PUSH_MINUTES
//! NAME`; lines starting with `#` are comments. A minute counter starts at
//! 1, and at each minute `smd-pull -s NAME` runs when the counter is a
//! multiple of PULL_MINUTES, then `smd-push -s NAME` likewise (0 never
//! runs), line by line in file order.
//!
//! A failure that says, in its `TAGS:` line, that no one needs to act and
//! that retrying may help is retried at that command's next slot; a second
//! failure in a row, or any other failure, stops the loop.

use std::collections::HashSet;
use std::fmt;

/// The file `smd-loop -t` writes when there is none.
pub const TEMPLATE: &str = "\
# smd-loop schedule: which endpoints to synchronize, and how often.
#
# One line per endpoint: PULL_MINUTES PUSH_MINUTES ENDPOINT
# smd-loop runs `smd-pull -s ENDPOINT` every PULL_MINUTES minutes and
# `smd-push -s ENDPOINT` every PUSH_MINUTES minutes; 0 means never.
# Lines starting with # are comments.
#
# pull-minutes push-minutes endpoint
  3            10           default
";

/// One direction of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Pull,
    Push,
}

impl Direction {
    /// The program that syncs in this direction.
    pub fn program(self) -> &'static str {
        match self {
            Direction::Pull => "smd-pull",
            Direction::Push => "smd-push",
        }
    }
}

/// One run of `smd-pull` or `smd-push` for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    pub direction: Direction,
    pub endpoint: String,
}

impl fmt::Display for Job {
    /// The command line, as logged and shown with `-v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -s {}", self.direction.program(), self.endpoint)
    }
}

/// One line of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Minutes between pulls; 0 never pulls.
    pub pull_minutes: u64,
    /// Minutes between pushes; 0 never pushes.
    pub push_minutes: u64,
    pub endpoint: String,
}

/// A line of the schedule that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// 1-based.
    pub line_number: usize,
    pub line: String,
    pub reason: &'static str,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} ('{}'): {}; each line must read PULL_MINUTES PUSH_MINUTES \
             ENDPOINT, or start with # to be a comment",
            self.line_number,
            self.line.trim(),
            self.reason
        )
    }
}

impl std::error::Error for ScheduleError {}

/// The whole `~/.smd/loop`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    pub entries: Vec<Entry>,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let error = |reason| ScheduleError {
                line_number: index + 1,
                line: line.to_owned(),
                reason,
            };

            if line.trim_start().starts_with('#') {
                return Err(error("a comment must have its # in the first column"));
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [pull, push, endpoint] = fields.as_slice() else {
                return Err(error("it does not have exactly three fields"));
            };
            let minutes = |field: &str| field.parse::<u64>().ok();
            let (Some(pull_minutes), Some(push_minutes)) = (minutes(pull), minutes(push))
            else {
                return Err(error("the minutes must be whole numbers, 0 for never"));
            };
            if endpoint.starts_with('-') {
                return Err(error("an endpoint name cannot start with '-'"));
            }
            entries.push(Entry {
                pull_minutes,
                push_minutes,
                endpoint: (*endpoint).to_owned(),
            });
        }
        Ok(Schedule { entries })
    }

    /// The jobs whose slot is this minute, in the order they run.
    pub fn due(&self, minute: u64) -> Vec<Job> {
        let is_due = |every: u64| every > 0 && minute % every == 0;
        self.jobs(|entry, direction| match direction {
            Direction::Pull => is_due(entry.pull_minutes),
            Direction::Push => is_due(entry.push_minutes),
        })
    }

    /// Every job that runs at all: what "sync now" runs.
    pub fn all(&self) -> Vec<Job> {
        self.jobs(|entry, direction| match direction {
            Direction::Pull => entry.pull_minutes > 0,
            Direction::Push => entry.push_minutes > 0,
        })
    }

    fn jobs(&self, wanted: impl Fn(&Entry, Direction) -> bool) -> Vec<Job> {
        let mut jobs = Vec::new();
        for entry in &self.entries {
            for direction in [Direction::Pull, Direction::Push] {
                if wanted(entry, direction) {
                    jobs.push(Job {
                        direction,
                        endpoint: entry.endpoint.clone(),
                    });
                }
            }
        }
        jobs
    }
}

/// What to do after a job ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It worked.
    Done,
    /// A transient failure: try again at the job's next slot.
    RetryLater,
    /// Stop the loop and show the job's output.
    Stop,
}

/// The jobs whose last run failed in a way worth one retry.
#[derive(Debug, Default)]
pub struct Retries {
    pending: HashSet<Job>,
}

impl Retries {
    /// Judges a run of `job` that succeeded or not, given its output.
    pub fn judge(&mut self, job: &Job, succeeded: bool, output: &str) -> Verdict {
        if succeeded {
            self.pending.remove(job);
            return Verdict::Done;
        }
        if is_retriable(output) && self.pending.insert(job.clone()) {
            return Verdict::RetryLater;
        }
        Verdict::Stop
    }
}

/// Whether some `TAGS:` line of `output` says that no one needs to act
/// (`human-intervention(avoidable)`) and suggests a `retry`.
pub fn is_retriable(output: &str) -> bool {
    output.lines().any(|line| {
        let Some((_, tags)) = line.split_once("TAGS:") else {
            return false;
        };
        tags.contains("human-intervention(avoidable)")
            && suggested_actions(tags).contains(&"retry")
    })
}

/// The actions in `suggested-actions(...)`: words at the top level of the
/// parentheses, so `run(kill 1)` is one action. Quotes and backslashes
/// protect parentheses and blanks inside paths.
fn suggested_actions(tags: &str) -> Vec<&str> {
    const OPENING: &str = "suggested-actions(";
    let Some(at) = tags.find(OPENING) else {
        return Vec::new();
    };
    let list = &tags[at + OPENING.len()..];

    let mut actions = Vec::new();
    let mut depth = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (index, c) in list.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            _ if quoted => {}
            '(' => depth += 1,
            ')' if depth == 0 => {
                actions.push(&list[start..index]);
                break;
            }
            ')' => depth -= 1,
            ' ' if depth == 0 => {
                actions.push(&list[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    actions.retain(|action| !action.is_empty());
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(direction: Direction, endpoint: &str) -> Job {
        Job {
            direction,
            endpoint: endpoint.to_owned(),
        }
    }

    #[test]
    fn the_template_is_a_valid_schedule() {
        let schedule = Schedule::parse(TEMPLATE).unwrap();
        assert_eq!(
            schedule.entries,
            [Entry {
                pull_minutes: 3,
                push_minutes: 10,
                endpoint: "default".into()
            }]
        );
    }

    #[test]
    fn comments_blank_lines_and_spacing() {
        let schedule =
            Schedule::parse("# c\n\n \t\n  1\t0   work  \n2 5 home\n").unwrap();
        assert_eq!(schedule.entries.len(), 2);
        assert_eq!(schedule.entries[0].endpoint, "work");
        assert_eq!(schedule.entries[0].push_minutes, 0);
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        for (text, reason) in [
            ("1 2\n", "three fields"),
            ("1 2 a b\n", "three fields"),
            ("x 2 a\n", "whole numbers"),
            ("-1 2 a\n", "whole numbers"),
            ("1 2 -v\n", "start with '-'"),
            ("  # indented comment\n", "first column"),
        ] {
            let error = Schedule::parse(&format!("# ok\n{text}")).unwrap_err();
            assert_eq!(error.line_number, 2, "{text:?}");
            assert!(error.to_string().contains(reason), "{error}");
        }
    }

    #[test]
    fn slots_follow_the_minute_counter_in_file_order() {
        let schedule = Schedule::parse("2 3 a\n1 0 b\n0 0 c\n").unwrap();
        let names = |minute| {
            schedule
                .due(minute)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(1), ["smd-pull -s b"]);
        assert_eq!(names(2), ["smd-pull -s a", "smd-pull -s b"]);
        assert_eq!(names(3), ["smd-push -s a", "smd-pull -s b"]);
        assert_eq!(
            names(6),
            ["smd-pull -s a", "smd-push -s a", "smd-pull -s b"]
        );
        assert_eq!(
            schedule.all(),
            [
                job(Direction::Pull, "a"),
                job(Direction::Push, "a"),
                job(Direction::Pull, "b")
            ]
        );
    }

    const RETRY: &str = "default: smd-server@host: TAGS: error::context(ssh) \
                         probable-cause(network) human-intervention(avoidable) \
                         suggested-actions(retry)\n";

    #[test]
    fn retriable_failures_need_avoidable_and_retry_on_one_tags_line() {
        assert!(is_retriable(RETRY));
        assert!(is_retriable(
            "x: smd-client@localhost: TAGS: error::context(receive) probable-cause(network) \
             human-intervention(avoidable) suggested-actions(run(mv -n \"a b)\" c) retry)"
        ));
        assert!(!is_retriable(
            "TAGS: error::context(x) probable-cause(y) human-intervention(necessary) \
             suggested-actions(retry)"
        ));
        assert!(!is_retriable(
            "TAGS: error::context(x) probable-cause(y) human-intervention(avoidable) \
             suggested-actions(run(retry))"
        ));
        assert!(!is_retriable(
            "human-intervention(avoidable) suggested-actions(retry) without a tag"
        ));
    }

    #[test]
    fn one_retry_then_stop() {
        let mut retries = Retries::default();
        let pull = job(Direction::Pull, "a");
        let push = job(Direction::Push, "a");

        assert_eq!(retries.judge(&pull, false, RETRY), Verdict::RetryLater);
        assert_eq!(retries.judge(&push, false, RETRY), Verdict::RetryLater);
        assert_eq!(retries.judge(&pull, true, ""), Verdict::Done);
        assert_eq!(retries.judge(&pull, false, RETRY), Verdict::RetryLater);
        assert_eq!(retries.judge(&push, false, RETRY), Verdict::Stop);
    }

    #[test]
    fn other_failures_stop_at_once() {
        let mut retries = Retries::default();
        let pull = job(Direction::Pull, "a");
        assert_eq!(retries.judge(&pull, false, "ERROR: bad\n"), Verdict::Stop);
    }
}
