//! Crash safety of a real sync.
//!
//! `smd-server` and `smd-client` run as real processes, each with its own
//! HOME, joined by a relay in this test: two threads copy the bytes
//! server->client and client->server and count them. The relay SIGKILLs
//! the server, the client or both:
//! - at a byte offset of one direction, taken from the transcript of a
//!   clean run of the same scenario, so that kills land on every phase of
//!   the protocol: handshake, diff lines, each request, each data chunk
//!   (its header, first byte, middle, last byte), COMMIT, the db delta and
//!   DONE. Either as soon as that many bytes went through (the receiver
//!   may be anywhere in handling them) or only once the sender wrote more
//!   (the sender has moved on);
//! - when a given line from the client (`COMMIT`, `DONE`, `dbfile`) comes
//!   in, before it is passed on: this pins the moments around the commit,
//!   in particular "the client renamed its db and sent DONE, the server
//!   never got it", and works in later runs whose streams differ;
//! - at a random time into the run.
//!
//! The relay may hold the stream a few ms before killing ("settle"), so
//! that the receiver has handled everything it got. Some trials kill two
//! or three runs in a row before the run that must converge.
//!
//! After every kill, both sides must be valid:
//! - every message under a final name on the client (in `cur/` or `new/`)
//!   is byte-identical to the client's own message of that name before the
//!   run or to the server's message of that name: nothing truncated,
//!   nothing half-applied, nothing invented (files in `tmp/` are allowed);
//! - no message the two sides share has vanished from the client, and no
//!   message has more copies than either side's tree accounts for;
//! - nothing on the server under the mailbox was modified, added or removed;
//! - each db-file is either the old one or the new one, never something
//!   else, and the server is never ahead of the client; a `.new` db is
//!   always the complete new one.
//!
//! Then a run without kill must converge: both sides exit 0, the client's
//! messages equal the server's (same names, same bytes; `tmp/` and empty
//! folders ignored), the db-files are byte-identical, equal to the clean
//! run's, and no `.new` db is left behind.
//!
//! The last tests here are not about kills: they pin a defect of a plain
//! run found while building these scenarios (see their comments).
//!
//! Environment: `SMD_KILL_SEED=N` replays a seed (printed on failure),
//! `SMD_KILL_ONLY=ID,ID` runs only those trials, `SMD_KILL_KEEP=1` keeps the
//! folders of failed trials, `SMD_KILL_SCALE=F` multiplies the number of
//! trials.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SERVER: &str = env!("CARGO_BIN_EXE_smd-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_smd-client");
const ENDPOINT: &str = "kill-test";
const MAILBOX: &str = "Mail";
/// `$HOME/.smd/<endpoint>__<mailbox>.db.txt`, on both sides.
const DB: &str = ".smd/kill-test__Mail.db.txt";
/// A run that has not ended by then is hung: a failure of its own.
const HANG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Randomness: a seeded xorshift, so that a failure can be replayed.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

fn seed() -> u64 {
    match std::env::var("SMD_KILL_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.expect("SMD_KILL_SEED is a number")
        }
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

fn scale() -> f64 {
    std::env::var("SMD_KILL_SCALE")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1.0)
}

fn only() -> Option<Vec<usize>> {
    let text = std::env::var("SMD_KILL_ONLY").ok()?;
    Some(
        text.split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// Kill points.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ServerToClient,
    ClientToServer,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ServerToClient => "server->client",
            Direction::ClientToServer => "client->server",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Server,
    Client,
    Both,
}

impl fmt::Display for Victim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Victim::Server => "the server",
            Victim::Client => "the client",
            Victim::Both => "both sides",
        })
    }
}

#[derive(Debug, Clone)]
enum Trigger {
    /// Once exactly `offset` bytes went this way (none after them).
    Byte {
        direction: Direction,
        offset: u64,
        /// See [`Stop::arrival`].
        arrival: bool,
        /// What the clean run had at that offset.
        what: String,
    },
    /// Before the first line from the client starting with `prefix`,
    /// once its first bytes came.
    Line { prefix: &'static str },
    /// This long after both processes started.
    Time { after: Duration },
}

#[derive(Debug, Clone)]
struct Kill {
    trigger: Trigger,
    victim: Victim,
    /// How long the relay holds the stream before killing.
    settle: Duration,
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.trigger {
            Trigger::Byte {
                direction,
                offset,
                arrival: false,
                what,
            } => write!(
                f,
                "kill {} once {offset} bytes went {direction} ({what}), settle {} ms",
                self.victim,
                self.settle.as_millis()
            ),
            Trigger::Byte {
                direction,
                offset,
                arrival: true,
                what,
            } => write!(
                f,
                "kill {} when more than {offset} bytes came {direction} ({what}), \
                 settle {} ms",
                self.victim,
                self.settle.as_millis()
            ),
            Trigger::Line { prefix } => write!(
                f,
                "kill {} when the client's line {prefix:?} comes, settle {} ms",
                self.victim,
                self.settle.as_millis()
            ),
            Trigger::Time { after } => write!(
                f,
                "kill {} {} us after the start",
                self.victim,
                after.as_micros()
            ),
        }
    }
}

/// One trial: start from the scenario's template, run with each kill in
/// turn (checking after each), then run to completion.
#[derive(Debug, Clone)]
struct Trial {
    id: usize,
    kills: Vec<Kill>,
    /// The db-files the first kill must leave, when it is certain.
    expect: Option<DbPair>,
}

impl fmt::Display for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trial {}:", self.id)?;
        for (n, kill) in self.kills.iter().enumerate() {
            if n > 0 {
                f.write_str(";")?;
            }
            write!(f, " run {}: {kill}", n + 1)?;
        }
        Ok(())
    }
}

/// A place in a clean run's transcript worth killing at.
#[derive(Debug, Clone)]
struct Mark {
    direction: Direction,
    offset: u64,
    /// The offset of the next mark (or the end), for jitter.
    next: u64,
    what: String,
}

fn line_end(stream: &[u8], from: usize) -> Option<usize> {
    stream[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| from + at + 1)
}

fn first_word(line: &[u8]) -> String {
    let word = line
        .split(|&b| b == b' ' || b == b'\n')
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(word).into_owned()
}

/// Marks of the server->client stream: each line up to `END`, then each
/// chunk (header, first byte, middle, last byte); the last chunk is the db
/// delta.
fn server_marks(stream: &[u8]) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut push = |offset: usize, what: String| {
        marks.push(Mark {
            direction: Direction::ServerToClient,
            offset: offset as u64,
            next: 0,
            what,
        })
    };
    let mut at = 0;
    let mut line_no = 0;
    loop {
        let end = line_end(stream, at).expect("a clean run's diff ends with END");
        line_no += 1;
        let line = &stream[at..end];
        push(at, format!("line {line_no}: {}", first_word(line)));
        if line.len() > 4 {
            push(at + line.len() / 2, format!("middle of line {line_no}"));
        }
        at = end;
        if line == b"END\n" {
            break;
        }
    }
    let mut chunks = Vec::new();
    while at < stream.len() {
        let end = line_end(stream, at).expect("a chunk header");
        let header = std::str::from_utf8(&stream[at..end - 1]).expect("ascii header");
        let len: usize = header
            .strip_prefix("chunk ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a chunk header: {header}"));
        chunks.push((at, end, len));
        at = end + len;
    }
    assert_eq!(
        at,
        stream.len(),
        "the server->client stream ends with a chunk"
    );
    let count = chunks.len();
    for (n, (start, body, len)) in chunks.into_iter().enumerate() {
        let name = if n + 1 == count {
            "delta".to_owned()
        } else {
            format!("chunk {}", n + 1)
        };
        push(start, format!("{name} header"));
        push(start + 3, format!("inside {name} header"));
        push(body, format!("{name} first byte"));
        if len > 2 {
            push(body + len / 2, format!("{name} middle"));
            push(body + len - 1, format!("{name} last byte"));
        }
    }
    push(stream.len(), "whole stream (delta sent)".to_owned());
    finish_marks(marks, stream.len())
}

/// Marks of the client->server stream: each line, and its middle.
fn client_marks(stream: &[u8]) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut at = 0;
    let mut line_no = 0;
    while at < stream.len() {
        let end = line_end(stream, at).expect("the client sends whole lines");
        line_no += 1;
        let word = first_word(&stream[at..end]);
        let mark = |offset: usize, what: String| Mark {
            direction: Direction::ClientToServer,
            offset: offset as u64,
            next: 0,
            what,
        };
        marks.push(mark(at, format!("line {line_no}: {word}")));
        marks.push(mark(
            at + (end - at) / 2,
            format!("middle of line {line_no}: {word}"),
        ));
        at = end;
    }
    marks.push(Mark {
        direction: Direction::ClientToServer,
        offset: stream.len() as u64,
        next: 0,
        what: "whole stream (DONE sent)".to_owned(),
    });
    finish_marks(marks, stream.len())
}

fn finish_marks(mut marks: Vec<Mark>, len: usize) -> Vec<Mark> {
    marks.sort_by_key(|m| m.offset);
    marks.dedup_by_key(|m| m.offset);
    for i in 0..marks.len() {
        marks[i].next = marks.get(i + 1).map_or(len as u64, |m| m.offset);
    }
    marks
}

fn find_mark<'a>(marks: &'a [Mark], what: &str) -> &'a Mark {
    marks
        .iter()
        .find(|m| m.what.ends_with(what))
        .unwrap_or_else(|| panic!("no mark {what:?} in the clean run"))
}

fn at_mark(mark: &Mark, arrival: bool, victim: Victim, settle_ms: u64) -> Kill {
    Kill {
        trigger: Trigger::Byte {
            direction: mark.direction,
            offset: mark.offset,
            arrival,
            what: mark.what.clone(),
        },
        victim,
        settle: Duration::from_millis(settle_ms),
    }
}

fn random_victim(rng: &mut Rng) -> Victim {
    match rng.below(10) {
        0..=3 => Victim::Server,
        4..=7 => Victim::Client,
        _ => Victim::Both,
    }
}

/// A kill at a mark, perhaps a little after it.
fn random_byte_kill(rng: &mut Rng, mark: &Mark) -> Kill {
    let arrival = rng.chance(50);
    let mut kill = at_mark(mark, arrival, random_victim(rng), 0);
    let room = mark.next.saturating_sub(mark.offset);
    if room > 1 && rng.chance(30) {
        let extra = 1 + rng.below(room - 1);
        if let Trigger::Byte { offset, what, .. } = &mut kill.trigger {
            *offset += extra;
            *what = format!("{what} +{extra}");
        }
    }
    if rng.chance(40) {
        kill.settle = Duration::from_millis(1 + rng.below(4));
    }
    kill
}

fn random_time_kill(rng: &mut Rng, clean_run: Duration) -> Kill {
    let span = (clean_run.as_micros() as u64 * 5 / 4).max(1000);
    Kill {
        trigger: Trigger::Time {
            after: Duration::from_micros(rng.below(span)),
        },
        victim: random_victim(rng),
        settle: Duration::ZERO,
    }
}

/// How many trials of each kind a scenario gets.
struct Budget {
    sampled: usize,
    timed: usize,
    chains: usize,
}

/// The trials of a scenario: the named protocol moments with each victim,
/// then kills at sampled marks, at random times, and chains of kills.
fn plan(scenario: &Scenario, rng: &mut Rng, budget: &Budget) -> Vec<Trial> {
    let server = server_marks(&scenario.s2c);
    let client = client_marks(&scenario.c2s);
    let mut kills: Vec<(Vec<Kill>, Option<DbPair>)> = Vec::new();

    // The commit phase, point by point.
    let line = |prefix: &'static str, victim: Victim, settle_ms: u64| Kill {
        trigger: Trigger::Line { prefix },
        victim,
        settle: Duration::from_millis(settle_ms),
    };
    let delta_header = find_mark(&server, "delta header");
    let delta_first = find_mark(&server, "delta first byte");
    let delta_all = find_mark(&server, "whole stream (delta sent)");
    let done_sent = find_mark(&client, "whole stream (DONE sent)");
    // DONE reaches the relay: the client has renamed its db, the server
    // has not (it never gets DONE): the next handshake must catch up.
    let done_held = DbPair {
        server: DbState::Old,
        server_new: true,
        client: DbState::New,
    };
    // COMMIT reaches the relay: the server has its `.new` db, neither side
    // has changed its db.
    let commit_held = DbPair {
        server: DbState::Old,
        server_new: true,
        client: DbState::Old,
    };
    for victim in [Victim::Server, Victim::Client, Victim::Both] {
        for settle in [0, 5] {
            let sent = |mark| vec![at_mark(mark, false, victim, settle)];
            kills.push((vec![line("DONE", victim, settle)], Some(done_held)));
            kills.push((vec![line("COMMIT", victim, settle)], Some(commit_held)));
            kills.push((sent(delta_header), None));
            kills.push((sent(delta_first), None));
            kills.push((sent(delta_all), None));
        }
        kills.push((vec![at_mark(done_sent, false, victim, 0)], None));
    }
    // Killed at DONE twice in a row, at DONE then inside the recovering
    // handshake, at DONE then at COMMIT, and the other way round.
    for chain in [
        ["DONE", "DONE"],
        ["DONE", "dbfile"],
        ["DONE", "COMMIT"],
        ["COMMIT", "DONE"],
    ] {
        for victim in [Victim::Server, Victim::Client, Victim::Both] {
            let kill = chain.map(|prefix| line(prefix, victim, 5)).to_vec();
            kills.push((kill, None));
        }
    }

    let mut all: Vec<&Mark> = server.iter().chain(client.iter()).collect();
    rng.shuffle(&mut all);
    for mark in all.iter().cycle().take(budget.sampled) {
        kills.push((vec![random_byte_kill(rng, mark)], None));
    }
    for _ in 0..budget.timed {
        kills.push((vec![random_time_kill(rng, scenario.clean_run)], None));
    }
    for _ in 0..budget.chains {
        let len = 2 + rng.below(2) as usize;
        let chain = (0..len)
            .map(|_| {
                if rng.chance(50) {
                    random_time_kill(rng, scenario.clean_run)
                } else {
                    let mark = all[rng.below(all.len() as u64) as usize];
                    random_byte_kill(rng, mark)
                }
            })
            .collect();
        kills.push((chain, None));
    }

    kills
        .into_iter()
        .enumerate()
        .map(|(id, (kills, expect))| Trial { id, kills, expect })
        .collect()
}

// ---------------------------------------------------------------------------
// Running a sync through the relay.

/// The children, index 0 the server and 1 the client.
type Children = Arc<Mutex<Vec<Child>>>;

fn kill(children: &Children, victim: Victim) {
    let mut children = children.lock().unwrap();
    if matches!(victim, Victim::Server | Victim::Both) {
        let _ = children[0].kill();
    }
    if matches!(victim, Victim::Client | Victim::Both) {
        let _ = children[1].kill();
    }
}

struct Pumped {
    forwarded: u64,
    transcript: Vec<u8>,
}

/// Where a relay thread stops.
#[derive(Debug, Clone, Copy)]
enum StopAt {
    /// After exactly this many bytes; with `arrival`, only once more data
    /// (or the end of the stream) came: the sender has moved on.
    Offset { offset: u64, arrival: bool },
    /// Before the first line starting with this, once its start came.
    Line(&'static [u8]),
}

/// Where a relay thread stops, and whom it kills then.
#[derive(Debug, Clone, Copy)]
struct Stop {
    at: StopAt,
    victim: Victim,
    settle: Duration,
}

impl Stop {
    /// How many of the `pending` bytes (read, not yet forwarded) to
    /// forward now, and whether to kill after forwarding them.
    fn decide(
        &self,
        pending: &[u8],
        forwarded: u64,
        line_start: bool,
        eof: bool,
    ) -> (usize, bool) {
        match self.at {
            StopAt::Offset { offset, arrival } => {
                let room = offset - forwarded;
                if room > 0 {
                    ((room as usize).min(pending.len()), false)
                } else {
                    (0, !arrival || !pending.is_empty() || eof)
                }
            }
            StopAt::Line(prefix) => {
                for at in 0..pending.len() {
                    let starts_line = if at == 0 {
                        line_start
                    } else {
                        pending[at - 1] == b'\n'
                    };
                    if !starts_line {
                        continue;
                    }
                    let rest = &pending[at..];
                    if rest.starts_with(prefix) {
                        return (at, true);
                    }
                    if rest.len() < prefix.len() && prefix.starts_with(rest) && !eof {
                        // Perhaps the line: wait for more of it.
                        return (at, false);
                    }
                }
                (pending.len(), false)
            }
        }
    }
}

/// Copies `from` to `to` until either end closes; with `stop`, forwards
/// the bytes before the stopping point, waits, kills and closes both ends.
fn pump(
    mut from: ChildStdout,
    mut to: ChildStdin,
    stop: Option<Stop>,
    children: Children,
    record: bool,
) -> Pumped {
    let mut pumped = Pumped {
        forwarded: 0,
        transcript: Vec::new(),
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut line_start = true;
    let mut eof = false;
    let mut buffer = vec![0u8; 4096];
    loop {
        let (forward, fire) = match &stop {
            Some(stop) => stop.decide(&pending, pumped.forwarded, line_start, eof),
            None => (pending.len(), false),
        };
        if forward > 0 {
            if to.write_all(&pending[..forward]).is_err() {
                break;
            }
            if record {
                pumped.transcript.extend_from_slice(&pending[..forward]);
            }
            pumped.forwarded += forward as u64;
            line_start = pending[forward - 1] == b'\n';
            pending.drain(..forward);
        }
        if let (true, Some(stop)) = (fire, &stop) {
            if !stop.settle.is_zero() {
                thread::sleep(stop.settle);
            }
            kill(&children, stop.victim);
            break;
        }
        if forward > 0 {
            continue;
        }
        if eof {
            break;
        }
        match from.read(&mut buffer) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => eof = true,
            Ok(read) => pending.extend_from_slice(&buffer[..read]),
        }
    }
    pumped
}

struct RunOutcome {
    server: ExitStatus,
    client: ExitStatus,
    s2c: Pumped,
    c2s: Pumped,
    hung: bool,
    elapsed: Duration,
}

impl RunOutcome {
    fn statuses(&self) -> String {
        format!(
            "server {}, client {}",
            describe(self.server),
            describe(self.client)
        )
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(9)) => "killed".to_owned(),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "?".to_owned(),
    }
}

fn spawn(program: &str, home: &Path, err: &Path) -> Child {
    Command::new(program)
        .arg(ENDPOINT)
        .arg(MAILBOX)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(File::create(err).expect("stderr log"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

/// One sync, server HOME `a`, client HOME `b`, stderr into `logs`.
fn run_pair(
    a: &Path,
    b: &Path,
    logs: &Path,
    kill_at: Option<&Kill>,
    record: bool,
) -> RunOutcome {
    let started = Instant::now();
    let mut server = spawn(SERVER, a, &logs.join("server.err"));
    let mut client = spawn(CLIENT, b, &logs.join("client.err"));
    let server_out = server.stdout.take().unwrap();
    let server_in = server.stdin.take().unwrap();
    let client_out = client.stdout.take().unwrap();
    let client_in = client.stdin.take().unwrap();
    let children: Children = Arc::new(Mutex::new(vec![server, client]));

    let stop_for = |direction: Direction| {
        let kill = kill_at?;
        let at = match &kill.trigger {
            Trigger::Byte {
                direction: d,
                offset,
                arrival,
                ..
            } if *d == direction => StopAt::Offset {
                offset: *offset,
                arrival: *arrival,
            },
            Trigger::Line { prefix } if direction == Direction::ClientToServer => {
                StopAt::Line(prefix.as_bytes())
            }
            _ => return None,
        };
        Some(Stop {
            at,
            victim: kill.victim,
            settle: kill.settle,
        })
    };
    let s2c = {
        let (stop, children) = (stop_for(Direction::ServerToClient), children.clone());
        thread::spawn(move || pump(server_out, client_in, stop, children, record))
    };
    let c2s = {
        let (stop, children) = (stop_for(Direction::ClientToServer), children.clone());
        thread::spawn(move || pump(client_out, server_in, stop, children, record))
    };
    let timer = match kill_at {
        Some(Kill {
            trigger: Trigger::Time { after },
            victim,
            ..
        }) => {
            let (after, victim, children) = (*after, *victim, children.clone());
            Some(thread::spawn(move || {
                thread::sleep(after.saturating_sub(started.elapsed()));
                kill(&children, victim);
            }))
        }
        _ => None,
    };
    let (done, watch) = mpsc::channel::<()>();
    let watchdog = {
        let children = children.clone();
        thread::spawn(move || {
            let hung = watch.recv_timeout(HANG).is_err();
            if hung {
                kill(&children, Victim::Both);
            }
            hung
        })
    };

    let s2c = s2c.join().expect("relay thread");
    let c2s = c2s.join().expect("relay thread");
    let _ = done.send(());
    let hung = watchdog.join().expect("watchdog thread");
    if let Some(timer) = timer {
        timer.join().expect("timer thread");
    }
    let mut children = children.lock().unwrap();
    let server = children[0].wait().expect("wait for the server");
    let client = children[1].wait().expect("wait for the client");
    RunOutcome {
        server,
        client,
        s2c,
        c2s,
        hung,
        elapsed: started.elapsed(),
    }
}

// ---------------------------------------------------------------------------
// Trees and checks.

/// Relative path (bytes) -> content.
type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// The files below `root`: with `mail_only`, just the messages (regular
/// files directly in a `cur` or `new` folder, `tmp` folders not entered).
fn read_tree(root: &Path, mail_only: bool) -> Tree {
    fn walk(dir: &Path, rel: &mut Vec<u8>, mail_only: bool, out: &mut Tree) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let is_mail_dir = matches!(
            dir.file_name().map(|n| n.as_bytes()),
            Some(b"cur") | Some(b"new")
        );
        for entry in entries {
            let entry = entry.expect("readable folder");
            let name = entry.file_name();
            let kind = entry.file_type().expect("file type");
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if kind.is_dir() {
                if !(mail_only && name.as_bytes() == b"tmp") {
                    walk(&entry.path(), rel, mail_only, out);
                }
            } else if !mail_only || (kind.is_file() && is_mail_dir) {
                out.insert(rel.clone(), fs::read(entry.path()).unwrap_or_default());
            }
            rel.truncate(len);
        }
    }
    let mut out = Tree::new();
    walk(root, &mut Vec::new(), mail_only, &mut out);
    out
}

/// Recreates the folders of `from` in `to`, with hard links to its files.
///
/// Neither program may write a message or db-file in place (the server
/// never writes mail; the client and the db code write a new file and
/// rename it), so linking is safe and cheap; [`run_scenario`] checks at the
/// end that the template is unchanged, which any write in place would break.
fn link_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a folder");
    for entry in fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            link_tree(&entry.path(), &target);
        } else {
            fs::hard_link(entry.path(), &target).expect("link a file");
        }
    }
}

/// How many times each content appears.
fn contents(tree: &Tree) -> HashMap<&[u8], usize> {
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for content in tree.values() {
        *counts.entry(content.as_slice()).or_default() += 1;
    }
    counts
}

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn sorted_lines(db: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = db
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort_unstable();
    lines
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A prepared starting point and what a clean run from it does.
struct Scenario {
    name: &'static str,
    /// Holds `A` (server HOME) and `B` (client HOME).
    template: PathBuf,
    /// Every file of the template, to check that no trial changed it.
    template_files: Tree,
    /// Every file below the server's mailbox, tmp included.
    server_files: Tree,
    /// The server's messages.
    server_mail: Tree,
    /// The client's messages before the run.
    client_before: Tree,
    /// The server's db before the run (None: none yet).
    old_db: Option<Vec<u8>>,
    /// The db both sides have after a clean run.
    new_db: Vec<u8>,
    s2c: Vec<u8>,
    c2s: Vec<u8>,
    clean_run: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DbState {
    Old,
    New,
}

/// The db-files after a kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DbPair {
    server: DbState,
    /// The server has a `.new` db.
    server_new: bool,
    client: DbState,
}

impl fmt::Display for DbPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = |s: DbState| match s {
            DbState::Old => "old",
            DbState::New => "new",
        };
        write!(
            f,
            "server {}{}, client {}",
            state(self.server),
            if self.server_new { " (+ .new)" } else { "" },
            state(self.client)
        )
    }
}

impl Scenario {
    /// Classifies a db-file found after a kill.
    fn db_state(&self, side: &str, path: &Path) -> Result<DbState, String> {
        let found = fs::read(path).ok();
        let is_old = match (&found, &self.old_db) {
            (None, None) => true,
            (Some(found), None) => found.is_empty(),
            (Some(found), Some(old)) => found == old,
            (None, Some(_)) => false,
        };
        if is_old {
            return Ok(DbState::Old);
        }
        match &found {
            Some(found) if sorted_lines(found) == sorted_lines(&self.new_db) => {
                Ok(DbState::New)
            }
            Some(found) => Err(format!(
                "the {side}'s db-file is neither the old nor the new one ({} bytes, old {} \
                 bytes, new {} bytes)",
                found.len(),
                self.old_db.as_ref().map_or(0, Vec::len),
                self.new_db.len()
            )),
            None => Err(format!("the {side}'s db-file vanished")),
        }
    }

    fn check_server_untouched(&self, a: &Path) -> Result<(), String> {
        let now = read_tree(&a.join(MAILBOX), false);
        if now == self.server_files {
            return Ok(());
        }
        let changed: Vec<String> = now
            .keys()
            .chain(self.server_files.keys())
            .filter(|k| now.get(*k) != self.server_files.get(*k))
            .take(5)
            .map(|k| show(k))
            .collect();
        Err(format!("the server's mailbox was modified: {changed:?}"))
    }

    /// The state after a kill is one a sync may pass through.
    fn check_after_kill(&self, a: &Path, b: &Path) -> Result<DbPair, String> {
        self.check_server_untouched(a)?;
        let client = read_tree(&b.join(MAILBOX), true);

        // Every message is either the client's old one or the server's one.
        for (name, content) in &client {
            let old = self.client_before.get(name);
            let new = self.server_mail.get(name);
            if old == Some(content) || new == Some(content) {
                continue;
            }
            let hint = match new.or(old) {
                Some(expected) if expected.starts_with(content) => {
                    format!("truncated: {} of {} bytes", content.len(), expected.len())
                }
                Some(_) => "different bytes".to_owned(),
                None => "a name neither side had".to_owned(),
            };
            return Err(format!(
                "the client has an invalid message {} ({hint})",
                show(name)
            ));
        }

        // Nothing both sides had is lost, nothing is duplicated.
        let count = contents;
        let (before, server, after) = (
            count(&self.client_before),
            count(&self.server_mail),
            count(&client),
        );
        for (content, _) in server.iter().filter(|(c, _)| before.contains_key(*c)) {
            if !after.contains_key(content) {
                let name = self
                    .server_mail
                    .iter()
                    .find(|(_, c)| c.as_slice() == *content)
                    .map_or(String::new(), |(n, _)| show(n));
                return Err(format!(
                    "the client lost a message it had and the server still has \
                     (server name {name})"
                ));
            }
        }
        for (content, &n) in &after {
            let allowed = before
                .get(content)
                .copied()
                .unwrap_or(0)
                .max(server.get(content).copied().unwrap_or(0));
            if n > allowed {
                let names: Vec<String> = client
                    .iter()
                    .filter(|(_, c)| c.as_slice() == *content)
                    .map(|(n, _)| show(n))
                    .collect();
                return Err(format!(
                    "the client has {n} copies of a message where {allowed} are expected: \
                     {names:?}"
                ));
            }
        }

        // The db-files: old or new, the server never ahead of the client,
        // a `.new` always complete.
        let server_db = self.db_state("server", &a.join(DB))?;
        let client_db = self.db_state("client", &b.join(DB))?;
        if server_db == DbState::New && client_db == DbState::Old {
            return Err(
                "the server renamed its new db-file but the client did not".into()
            );
        }
        for (side, home) in [("server", a), ("client", b)] {
            let new = with_suffix(&home.join(DB), ".new");
            if let Ok(found) = fs::read(&new) {
                if sorted_lines(&found) != sorted_lines(&self.new_db) {
                    return Err(format!(
                        "the {side}'s {} is not the complete new db ({} bytes, expected {})",
                        new.display(),
                        found.len(),
                        self.new_db.len()
                    ));
                }
            }
        }
        for suffix in [".mtime", ".mtime.new"] {
            let path = with_suffix(&a.join(DB), suffix);
            if let Ok(text) = fs::read(&path) {
                if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
                    return Err(format!(
                        "the server's {} is not a time: {:?}",
                        path.display(),
                        show(&text)
                    ));
                }
            }
        }
        Ok(DbPair {
            server: server_db,
            server_new: with_suffix(&a.join(DB), ".new").exists(),
            client: client_db,
        })
    }

    /// The state after a complete run: both sides equal.
    fn check_converged(&self, a: &Path, b: &Path) -> Result<(), String> {
        self.check_server_untouched(a)?;
        let client = read_tree(&b.join(MAILBOX), true);
        if client != self.server_mail {
            let missing: Vec<String> = self
                .server_mail
                .keys()
                .filter(|k| !client.contains_key(*k))
                .take(5)
                .map(|k| show(k))
                .collect();
            let extra: Vec<String> = client
                .keys()
                .filter(|k| !self.server_mail.contains_key(*k))
                .take(5)
                .map(|k| show(k))
                .collect();
            let different: Vec<String> = client
                .iter()
                .filter(|(k, v)| self.server_mail.get(*k).is_some_and(|s| s != *v))
                .take(5)
                .map(|(k, _)| show(k))
                .collect();
            return Err(format!(
                "the client's messages differ from the server's: missing {missing:?}, \
                 extra {extra:?}, different {different:?}"
            ));
        }
        let server_db = fs::read(a.join(DB)).map_err(|e| format!("server db: {e}"))?;
        let client_db = fs::read(b.join(DB)).map_err(|e| format!("client db: {e}"))?;
        if server_db != client_db {
            return Err(format!(
                "the db-files differ ({} bytes on the server, {} on the client)",
                server_db.len(),
                client_db.len()
            ));
        }
        if sorted_lines(&server_db) != sorted_lines(&self.new_db) {
            return Err("the db-file is not the clean run's".into());
        }
        for (side, home, suffixes) in [
            ("server", a, &[".new", ".mtime.new"][..]),
            ("client", b, &[".new"][..]),
        ] {
            for suffix in suffixes {
                let path = with_suffix(&home.join(DB), suffix);
                if path.exists() {
                    return Err(format!(
                        "the {side} left {} after a complete run",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

fn log_tail(logs: &Path) -> String {
    let mut text = String::new();
    for side in ["server", "client"] {
        let log = fs::read(logs.join(format!("{side}.err"))).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(4)..] {
            text.push_str(&format!("\n      {side}: {line}"));
        }
    }
    text
}

/// Exit codes a side may end with when its peer dies.
fn acceptable_exit(status: ExitStatus, codes: &[i32]) -> bool {
    match (status.code(), status.signal()) {
        (Some(code), _) => codes.contains(&code),
        (None, Some(9)) => true,
        _ => false,
    }
}

const SERVER_CODES: &[i32] = &[0, 3, 4, 5, 6, 7];
const CLIENT_CODES: &[i32] = &[0, 1, 3, 4, 5, 6];

#[derive(Default)]
struct Tally {
    runs: usize,
    killed: usize,
    missed: usize,
    run_time: Duration,
    link_time: Duration,
    check_time: Duration,
    cleanup_time: Duration,
    leftovers: usize,
    smd_leftovers: usize,
    /// How often each db state was seen after a kill.
    db_states: BTreeMap<String, usize>,
}

/// Runs one trial in `dir`; `Err` describes the first broken promise.
fn trial(
    scenario: &Scenario,
    trial: &Trial,
    dir: &Path,
    tally: &mut Tally,
) -> Result<(), String> {
    let clock = Instant::now();
    link_tree(&scenario.template, dir);
    tally.link_time += clock.elapsed();
    let (a, b) = (dir.join("A"), dir.join("B"));
    for (n, kill_at) in trial.kills.iter().enumerate() {
        let logs = dir.join(format!("run{}", n + 1));
        fs::create_dir_all(&logs).unwrap();
        let outcome = run_pair(&a, &b, &logs, Some(kill_at), false);
        tally.runs += 1;
        tally.run_time += outcome.elapsed;
        let context = |what: String| {
            format!(
                "after run {} ({}; {} and {} bytes relayed): {what}{}",
                n + 1,
                outcome.statuses(),
                outcome.s2c.forwarded,
                outcome.c2s.forwarded,
                log_tail(&logs)
            )
        };
        if outcome.hung {
            return Err(context("the run hung".into()));
        }
        if outcome.server.signal() == Some(9) || outcome.client.signal() == Some(9) {
            tally.killed += 1;
        } else {
            tally.missed += 1;
        }
        if !acceptable_exit(outcome.server, SERVER_CODES)
            || !acceptable_exit(outcome.client, CLIENT_CODES)
        {
            return Err(context("a side ended in an unexpected way".into()));
        }
        let clock = Instant::now();
        let dbs = scenario.check_after_kill(&a, &b).map_err(context)?;
        *tally.db_states.entry(dbs.to_string()).or_default() += 1;
        if let Some(expected) = trial.expect.filter(|_| n == 0) {
            if dbs != expected {
                return Err(context(format!(
                    "the db-files are \"{dbs}\" where \"{expected}\" is certain"
                )));
            }
        }
        tally.check_time += clock.elapsed();
    }

    let logs = dir.join("final");
    fs::create_dir_all(&logs).unwrap();
    let outcome = run_pair(&a, &b, &logs, None, false);
    tally.runs += 1;
    tally.run_time += outcome.elapsed;
    let context = |what: String| {
        format!(
            "after the final run ({}): {what}{}",
            outcome.statuses(),
            log_tail(&logs)
        )
    };
    if outcome.hung || !outcome.server.success() || !outcome.client.success() {
        return Err(context("the run after the kills did not succeed".into()));
    }
    let clock = Instant::now();
    scenario.check_converged(&a, &b).map_err(context)?;
    tally.check_time += clock.elapsed();
    for folder in FOLDERS {
        let tmp = b.join(folder).join("tmp");
        tally.leftovers += fs::read_dir(tmp).map_or(0, |d| d.count());
    }
    for home in [&a, &b] {
        tally.smd_leftovers += fs::read_dir(home.join(".smd")).map_or(0, |dir| {
            dir.filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    e.file_name().as_bytes().windows(5).any(|w| w == b".tmp-")
                })
            })
            .count()
        });
    }
    Ok(())
}

/// Builds a scenario's template with `build(A, B)` and does a clean run
/// from a copy of it, recording both streams.
fn prepare(
    name: &'static str,
    base: &Path,
    build: impl FnOnce(&Path, &Path),
) -> Scenario {
    let template = base.join(format!("{name}-template"));
    let (a, b) = (template.join("A"), template.join("B"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    build(&a, &b);

    let clean = base.join(format!("{name}-clean"));
    link_tree(&template, &clean);
    let (ca, cb) = (clean.join("A"), clean.join("B"));
    let outcome = run_pair(&ca, &cb, &clean, None, true);
    assert!(
        outcome.server.success() && outcome.client.success() && !outcome.hung,
        "{name}: the clean run failed ({}){}",
        outcome.statuses(),
        log_tail(&clean)
    );
    // Two more clean runs, for a steadier measure of a run's length.
    let mut clean_run = outcome.elapsed;
    for n in 0..2 {
        let again = base.join(format!("{name}-clean{n}"));
        link_tree(&template, &again);
        let timed = run_pair(&again.join("A"), &again.join("B"), &again, None, false);
        assert!(timed.server.success() && timed.client.success());
        clean_run = clean_run.min(timed.elapsed);
        let _ = fs::remove_dir_all(&again);
    }
    let server_db = fs::read(ca.join(DB)).unwrap();
    assert_eq!(
        server_db,
        fs::read(cb.join(DB)).unwrap(),
        "{name}: db-files differ after the clean run"
    );
    let scenario = Scenario {
        name,
        server_files: read_tree(&a.join(MAILBOX), false),
        server_mail: read_tree(&a.join(MAILBOX), true),
        client_before: read_tree(&b.join(MAILBOX), true),
        old_db: fs::read(a.join(DB)).ok(),
        new_db: server_db,
        s2c: outcome.s2c.transcript,
        c2s: outcome.c2s.transcript,
        clean_run,
        template_files: read_tree(&template, false),
        template,
    };
    scenario
        .check_converged(&ca, &cb)
        .unwrap_or_else(|e| panic!("{name}: the clean run did not converge: {e}"));
    let _ = fs::remove_dir_all(&clean);
    scenario
}

/// Plans and runs a scenario's trials; panics listing every failure.
fn run_scenario(scenario: &Scenario, base: &Path, budget: Budget) {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let trials = plan(scenario, &mut rng, &budget);
    let only = only();
    let keep = std::env::var_os("SMD_KILL_KEEP").is_some();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    // Removing a trial's folder waits on the disk: do it beside the next
    // trial.
    let (trash, bin) = mpsc::channel::<PathBuf>();
    let cleaner = thread::spawn(move || {
        let mut time = Duration::ZERO;
        for dir in bin {
            let clock = Instant::now();
            let _ = fs::remove_dir_all(dir);
            time += clock.elapsed();
        }
        time
    });
    for t in &trials {
        if only.as_ref().is_some_and(|ids| !ids.contains(&t.id)) {
            continue;
        }
        let dir = base.join(format!("{}-{}", scenario.name, t.id));
        match trial(scenario, t, &dir, &mut tally) {
            Ok(()) => trash.send(dir).expect("the cleaner runs"),
            Err(error) => {
                let kept = if keep {
                    format!(" [kept in {}]", dir.display())
                } else {
                    trash.send(dir).expect("the cleaner runs");
                    String::new()
                };
                failures.push(format!("  {t}{kept}\n    {error}"));
            }
        }
    }
    drop(trash);
    tally.cleanup_time = cleaner.join().expect("the cleaner thread");
    if read_tree(&scenario.template, false) != scenario.template_files {
        failures.push(
            "  the template changed: a program wrote into a file in place instead of \
             replacing it"
                .to_owned(),
        );
    }
    let runs = tally.runs.max(1) as u32;
    eprintln!(
        "{}: seed {seed:#x}: {} trials, {} kill runs ({} killed a process, {} ended \
         first), {} runs in all, {:.1?} per run, clean run {:.1?}, {} stray files left \
         in the client's tmp/ folders; time: {:.1?} total, {:.1?} in runs, {:.1?} \
         linking the template, {:.1?} checking, {:.1?} cleaning up; db-files after \
         a kill: {:?}; {} stray temporary files in the .smd folders",
        scenario.name,
        trials.len(),
        tally.killed + tally.missed,
        tally.killed,
        tally.missed,
        tally.runs,
        tally.run_time / runs,
        scenario.clean_run,
        tally.leftovers,
        started.elapsed(),
        tally.run_time,
        tally.link_time,
        tally.check_time,
        tally.cleanup_time,
        tally.db_states,
        tally.smd_leftovers,
    );
    if !failures.is_empty() {
        let shown = failures.len().min(25);
        panic!(
            "{}: {} of {} trials failed (seed {seed:#x}; replay with SMD_KILL_SEED={seed:#x} \
             SMD_KILL_ONLY=<id>):\n{}{}",
            scenario.name,
            failures.len(),
            trials.len(),
            failures[..shown].join("\n"),
            if shown < failures.len() {
                format!("\n  ... and {} more", failures.len() - shown)
            } else {
                String::new()
            }
        );
    }
}

// ---------------------------------------------------------------------------
// Mailboxes.

/// The folders of the test mailbox: the inbox and Maildir++ subfolders,
/// one with a space in its name.
const FOLDERS: &[&str] = &["Mail", "Mail/.Sent", "Mail/.Lists.rust", "Mail/.Old Stuff"];

fn make_maildirs(home: &Path) {
    for folder in FOLDERS {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(home.join(folder).join(sub)).unwrap();
        }
    }
}

/// A message of about `size` bytes, unique to `id`.
fn message(id: usize, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(id as u64 + 7);
    let mut text = format!(
        "From: sender{id}@example.org\nTo: me@example.org\nSubject: message {id}\n\
         Message-ID: <{id}.{}@kill.test>\n\n",
        rng.next()
    )
    .into_bytes();
    const WORDS: &[&str] = &[
        "mail", "sync", "maildir", "kill", "crash", "durable", "rename", "fsync", "the",
        "a", "of", "server", "client", "message", "header", "body",
    ];
    let mut column = 0;
    while text.len() < size {
        let word = WORDS[rng.below(WORDS.len() as u64) as usize];
        text.extend_from_slice(word.as_bytes());
        column += word.len() + 1;
        if column > 70 {
            text.push(b'\n');
            column = 0;
        } else {
            text.push(b' ');
        }
    }
    text.extend_from_slice(format!("\n-- \nmessage {id}\n").as_bytes());
    text
}

fn mail_name(id: usize, flags: &str) -> String {
    format!("{}.M{id}P4242.killtest:2,{flags}", 1_700_000_000 + id)
}

/// Where message `id` lives in the "before" state.
fn home_of(id: usize) -> (&'static str, &'static str) {
    match id % 10 {
        0..=3 => ("Mail", if id % 20 == 3 { "new" } else { "cur" }),
        4..=5 => ("Mail/.Sent", "cur"),
        6..=8 => ("Mail/.Lists.rust", "cur"),
        _ => ("Mail/.Old Stuff", "cur"),
    }
}

const SMALL: usize = 150;
/// The big messages: ids and sizes.
const BIG: &[(usize, usize)] = &[(1000, 70_000), (1001, 150_000), (1002, 300_000)];

fn before_path(home: &Path, id: usize) -> PathBuf {
    let (folder, sub) = home_of(id);
    let flags = if sub == "new" { "" } else { "S" };
    home.join(folder).join(sub).join(mail_name(id, flags))
}

/// The "before" state: 150 small messages and 3 big ones in 4 folders.
fn fill_before(home: &Path) {
    make_maildirs(home);
    for id in 0..SMALL {
        fs::write(before_path(home, id), message(id, 200 + (id * 37) % 1800)).unwrap();
    }
    for &(id, size) in BIG {
        fs::write(before_path(home, id), message(id, size)).unwrap();
    }
}

/// Every kind of change, applied to the server's mailbox.
fn apply_changes(home: &Path) {
    let path = |id| before_path(home, id);
    let rename = |from: PathBuf, to: PathBuf| fs::rename(from, to).unwrap();
    let flagged = |id: usize, flags: &str| {
        let (folder, _) = home_of(id);
        home.join(folder).join("cur").join(mail_name(id, flags))
    };

    // ADD: new messages in every folder, in cur/ and new/, and a big one.
    for id in 200..218 {
        let (folder, _) = home_of(id);
        let sub = if id % 3 == 0 { "new" } else { "cur" };
        let name = mail_name(id, if sub == "new" { "" } else { "S" });
        fs::write(
            home.join(folder).join(sub).join(name),
            message(id, 300 + id),
        )
        .unwrap();
    }
    fs::write(
        home.join("Mail/cur").join(mail_name(1003, "S")),
        message(1003, 200_000),
    )
    .unwrap();

    // MOVE: flag changes (new/ -> cur/, S -> RS), one of a big message, and
    // moves to another folder.
    for id in (1..40).step_by(3).chain([3, 23]) {
        rename(path(id), flagged(id, "RS"));
    }
    rename(path(1001), flagged(1001, "FS"));
    for id in [44, 46] {
        rename(
            path(id),
            home.join("Mail/.Old Stuff/cur").join(mail_name(id, "S")),
        );
    }

    // COPY: the same message under a second name, elsewhere.
    for id in [50, 52, 54, 56] {
        let copy = home
            .join("Mail/.Lists.rust/cur")
            .join(mail_name(id + 5000, "S"));
        fs::copy(path(id), copy).unwrap();
    }

    // DELETE.
    for id in (60..80).step_by(2) {
        fs::remove_file(path(id)).unwrap();
    }

    // REPLACEHEADER: a header line added, body kept, same name; one big.
    for id in [81, 83, 85, 87, 89, 1000] {
        let mut text = b"X-Label: edited\n".to_vec();
        text.extend_from_slice(&fs::read(path(id)).unwrap());
        fs::write(path(id), text).unwrap();
    }

    // REPLACE: the body changed, same name.
    for id in [91, 93, 95, 97, 99] {
        let mut text = fs::read(path(id)).unwrap();
        text.extend_from_slice(b"P.S. edited body\n");
        fs::write(path(id), text).unwrap();
    }

    // COPYBODY: a new message with the body of a message that stays.
    for id in [101, 103] {
        let text = fs::read(path(id)).unwrap();
        let mut copy = b"X-Resent: yes\n".to_vec();
        copy.extend_from_slice(&text);
        fs::write(
            home.join("Mail/.Sent/cur").join(mail_name(id + 6000, "S")),
            copy,
        )
        .unwrap();
    }
}

/// Syncs `a` to `b` without kills, for building a template.
fn plain_sync(a: &Path, b: &Path, logs: &Path) {
    let outcome = run_pair(a, b, logs, None, false);
    assert!(
        outcome.server.success() && outcome.client.success(),
        "a plain sync failed ({}){}",
        outcome.statuses(),
        log_tail(logs)
    );
}

fn diff_verbs(s2c: &[u8]) -> Vec<String> {
    let mut verbs: Vec<String> = s2c
        .split(|&b| b == b'\n')
        .skip(2)
        .take_while(|line| *line != b"END")
        .map(first_word)
        .collect();
    verbs.sort();
    verbs.dedup();
    verbs
}

fn workspace() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("smd-kill-")
        .tempdir()
        .expect("a temporary folder")
}

// ---------------------------------------------------------------------------
// The tests.

fn budget(sampled: usize, timed: usize, chains: usize) -> Budget {
    let scale = scale();
    let scaled = |n: usize| ((n as f64) * scale).round() as usize;
    Budget {
        sampled: scaled(sampled),
        timed: scaled(timed),
        chains: scaled(chains),
    }
}

/// A first sync (the client has nothing, not even a db) killed everywhere.
#[test]
fn first_sync_survives_kills_anywhere() {
    let base = workspace();
    let scenario = prepare("first-sync", base.path(), |a, _b| fill_before(a));
    assert_eq!(diff_verbs(&scenario.s2c), ["ADD"]);
    run_scenario(&scenario, base.path(), budget(170, 40, 15));
}

/// An incremental sync with every kind of change, killed everywhere.
#[test]
fn incremental_sync_survives_kills_anywhere() {
    let base = workspace();
    let scenario = prepare("incremental", base.path(), |a, b| {
        fill_before(a);
        make_maildirs(b);
        let logs = a.parent().unwrap();
        plain_sync(a, b, logs);
        // The server trusts files older than its last scan (whole
        // seconds): change them in a later second. (Each trial copies the
        // template, which makes the server rehash everything anyway.)
        thread::sleep(Duration::from_millis(1100));
        apply_changes(a);
    });
    assert_eq!(
        diff_verbs(&scenario.s2c),
        [
            "ADD",
            "COPY",
            "COPYBODY",
            "DELETE",
            "MOVE",
            "REPLACE",
            "REPLACEHEADER"
        ]
    );
    run_scenario(&scenario, base.path(), budget(170, 40, 15));
}

/// A message whose header changed and that was renamed at the same time
/// (a mail client rewriting it under a new name) is `COPYBODY old new` plus
/// `DELETE old`: one run must apply it, without a kill.
///
/// The client answers COPYBODY by asking for the new header and splicing
/// it onto the local body of `old`, but it reads `old` only when the answer
/// arrives, which with pipelined requests is after it executed the later
/// `DELETE old`: the splice finds no file, the run stops with exit 3 and a
/// "check its permissions" error that needs a human (the next run fetches
/// the whole message and converges).
#[test]
fn header_change_with_rename_syncs_in_one_run() {
    let base = workspace();
    let (a, b) = (base.path().join("A"), base.path().join("B"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    make_maildirs(&a);
    for id in 0..3 {
        fs::write(a.join("Mail/cur").join(mail_name(id, "")), message(id, 300)).unwrap();
    }
    plain_sync(&a, &b, base.path());

    let old = a.join("Mail/cur").join(mail_name(0, ""));
    let mut edited = b"X-Label: edited\n".to_vec();
    edited.extend_from_slice(&fs::read(&old).unwrap());
    fs::write(a.join("Mail/cur").join(mail_name(0, "S")), edited).unwrap();
    fs::remove_file(&old).unwrap();

    let outcome = run_pair(&a, &b, base.path(), None, true);
    let diff = String::from_utf8_lossy(&outcome.s2c.transcript).into_owned();
    assert!(
        diff.contains("\nCOPYBODY ") && diff.contains("\nDELETE "),
        "the diff is not COPYBODY plus DELETE:\n{diff}"
    );
    assert!(
        outcome.server.success() && outcome.client.success(),
        "the sync failed ({}){}",
        outcome.statuses(),
        log_tail(base.path())
    );
    assert_eq!(
        read_tree(&b.join(MAILBOX), true),
        read_tree(&a.join(MAILBOX), true)
    );
}

/// The same with a flag change: the old message is both the source of a
/// `COPYBODY` (the edited copy) and of a `MOVE` (its renamed self). When
/// the scan meets the copy first, the client must still apply both; it
/// renames the source away before splicing from it, as above.
#[test]
fn header_copy_with_flag_change_syncs_in_one_run() {
    let base = workspace();
    let (a, b) = (base.path().join("A"), base.path().join("B"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    make_maildirs(&a);
    let cur = a.join("Mail/cur");
    for id in 0..8 {
        fs::write(cur.join(mail_name(id, "")), message(id, 300)).unwrap();
    }
    plain_sync(&a, &b, base.path());

    for id in 0..8 {
        let old = cur.join(mail_name(id, ""));
        let mut edited = b"X-Label: edited\n".to_vec();
        edited.extend_from_slice(&fs::read(&old).unwrap());
        fs::write(cur.join(mail_name(id + 100, "")), edited).unwrap();
        fs::rename(&old, cur.join(mail_name(id, "S"))).unwrap();
    }

    let outcome = run_pair(&a, &b, base.path(), None, true);
    let diff = String::from_utf8_lossy(&outcome.s2c.transcript).into_owned();
    assert!(
        diff.contains("\nCOPYBODY ") && diff.contains("\nMOVE "),
        "the diff is not COPYBODY plus MOVE:\n{diff}"
    );
    assert!(
        outcome.server.success() && outcome.client.success(),
        "the sync failed ({}){}",
        outcome.statuses(),
        log_tail(base.path())
    );
    assert_eq!(
        read_tree(&b.join(MAILBOX), true),
        read_tree(&a.join(MAILBOX), true)
    );
}
