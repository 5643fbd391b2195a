//! `push-loadgen soak`: mixed load against a running engine for a while —
//! WebSocket, SSE and long-poll subscribers that connect, check what they
//! receive and leave, over and over; publishers over HTTP and WebSocket —
//! with hostile clients mixed in (garbage, slow heads, oversized bodies,
//! bad frames and cursors, ping floods, garbage on the local socket).
//! Samples the engine's RSS, open fds and threads from /proc at the start,
//! during and after (once every client has left and a sweep has passed),
//! prints a table and exits non-zero if RSS or fds did not return near
//! their baseline, a well-behaved client saw an error, or a hostile one
//! was not refused as it should be.
//!
//! ```text
//! push-loadgen soak --addr HOST:PORT --socket PATH --pid PID [--duration S]
//!     [--channels C] [--ws N] [--sse N] [--poll N] [--rate R] [--hostile N] [--settle S]
//! ```

mod good;
mod hostile;
mod net;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub addr: String,
    pub socket: String,
    pub pid: u32,
    pub duration: Duration,
    pub channels: usize,
    pub ws: usize,
    pub sse: usize,
    pub poll: usize,
    /// Publications per second over HTTP.
    pub rate: f64,
    pub hostile: usize,
    /// Wait after every client left, before the last sample (a sweep).
    pub settle: Duration,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            addr: "127.0.0.1:8080".into(),
            socket: "/tmp/push.sock".into(),
            pid: 0,
            duration: Duration::from_secs(1800),
            channels: 8,
            ws: 40,
            sse: 40,
            poll: 20,
            rate: 100.0,
            hostile: 8,
            settle: Duration::from_secs(6),
        };
        let num = |v: &str, flag: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag} takes a number"))
        };
        while let Some(flag) = args.next() {
            let v = args.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => o.addr = v,
                "--socket" => o.socket = v,
                "--pid" => o.pid = num(&v, &flag)? as u32,
                "--duration" => o.duration = Duration::from_secs_f64(num(&v, &flag)?),
                "--channels" => o.channels = (num(&v, &flag)? as usize).max(1),
                "--ws" => o.ws = num(&v, &flag)? as usize,
                "--sse" => o.sse = num(&v, &flag)? as usize,
                "--poll" => o.poll = num(&v, &flag)? as usize,
                "--rate" => o.rate = num(&v, &flag)?,
                "--hostile" => o.hostile = num(&v, &flag)? as usize,
                "--settle" => o.settle = Duration::from_secs_f64(num(&v, &flag)?),
                other => return Err(format!("unknown flag {other}")),
            }
        }
        if o.pid == 0 {
            return Err("--pid (the engine's process) is required".into());
        }
        Ok(o)
    }
}

/// Counts of one kind of client.
#[derive(Default)]
pub struct Count {
    /// Sessions (connections) completed.
    pub sessions: AtomicU64,
    /// Messages received (or published, for publishers).
    pub messages: AtomicU64,
    /// Well-behaved: errors. Hostile: outcomes other than the refusal due.
    pub errors: AtomicU64,
}

/// What every client task shares.
pub struct Shared {
    pub o: Options,
    pub stop: AtomicBool,
    pub counts: Vec<(&'static str, Count)>,
    /// The first errors, for the report.
    pub notes: Mutex<Vec<String>>,
}

impl Shared {
    pub fn count(&self, kind: &str) -> &Count {
        &self
            .counts
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("a known kind")
            .1
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn ok(&self, kind: &str, messages: u64) {
        let c = self.count(kind);
        c.sessions.fetch_add(1, Ordering::Relaxed);
        c.messages.fetch_add(messages, Ordering::Relaxed);
    }

    pub fn error(&self, kind: &str, what: impl Into<String>) {
        self.count(kind).errors.fetch_add(1, Ordering::Relaxed);
        let mut notes = self.notes.lock().unwrap();
        if notes.len() < 20 {
            notes.push(format!("{kind}: {}", what.into()));
        }
    }
}

pub const GOOD: &[&str] = &["ws", "sse", "poll", "publish", "ws-chat"];

/// One reading of the engine's process.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_kb: u64,
    fds: u64,
    threads: u64,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        rss_kb: field("VmRSS:"),
        fds,
        threads: field("Threads:"),
    }
}

pub async fn run(o: Options) -> Result<bool, String> {
    if sample(o.pid).rss_kb == 0 {
        return Err(format!("no process {} to watch", o.pid));
    }
    let counts = GOOD
        .iter()
        .chain(hostile::KINDS)
        .map(|k| (*k, Count::default()))
        .collect();
    let shared = Arc::new(Shared {
        o: o.clone(),
        stop: AtomicBool::new(false),
        counts,
        notes: Mutex::new(Vec::new()),
    });
    let baseline = sample(o.pid);
    let started = Instant::now();
    // A warm-up round of the same load, then a pause: the allocator keeps
    // memory it was given for reuse, so "near the baseline" afterwards is
    // measured against this warm level (a leak grows past it).
    let warm_up = (o.duration / 10).clamp(Duration::from_secs(5), Duration::from_secs(60));
    let mut during = baseline;
    load(&shared, warm_up, &mut during).await?;
    let warm_idle = net::wait_idle(&o.addr, Duration::from_secs(60), true).await;
    tokio::time::sleep(o.settle).await;
    let warm = sample(o.pid);
    load(&shared, o.duration.saturating_sub(warm_up), &mut during).await?;
    // Every client has left once the engine counts no connection (PHP
    // workers included); then a sweep collects idle channels.
    let idle = warm_idle.and(net::wait_idle(&o.addr, Duration::from_secs(60), false).await);
    tokio::time::sleep(o.settle).await;
    let after = sample(o.pid);
    let samples = Samples {
        baseline,
        warm,
        during,
        after,
    };
    Ok(report(&shared, started.elapsed(), samples, idle))
}

/// Runs every client for `span`, keeping the highest readings in `during`.
async fn load(shared: &Arc<Shared>, span: Duration, during: &mut Sample) -> Result<(), String> {
    let o = &shared.o;
    shared.stop.store(false, Ordering::Relaxed);
    let mut tasks = good::spawn(shared);
    tasks.extend(hostile::spawn(shared));
    let started = Instant::now();
    while started.elapsed() < span {
        tokio::time::sleep(Duration::from_secs(1).min(span)).await;
        let s = sample(o.pid);
        if s.rss_kb == 0 {
            return Err("the engine's process is gone".into());
        }
        during.rss_kb = during.rss_kb.max(s.rss_kb);
        during.fds = during.fds.max(s.fds);
        during.threads = during.threads.max(s.threads);
        if started.elapsed().as_secs() % 60 == 59 {
            eprintln!(
                "soak: rss {:.1} MB  fds {}  errors {}",
                s.rss_kb as f64 / 1024.0,
                s.fds,
                shared.notes.lock().unwrap().len()
            );
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    Ok(())
}

struct Samples {
    baseline: Sample,
    warm: Sample,
    during: Sample,
    after: Sample,
}

fn report(shared: &Shared, took: Duration, s: Samples, idle: Result<(), String>) -> bool {
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "soak: {:.0} s against pid {}",
        took.as_secs_f64(),
        shared.o.pid
    );
    println!();
    println!("| engine | RSS MB | open fds | threads |");
    println!("|---|---:|---:|---:|");
    for (name, x) in [
        ("baseline (idle, before any load)", s.baseline),
        ("after the warm-up round (idle)", s.warm),
        ("during (highest)", s.during),
        ("after (idle, a sweep later)", s.after),
    ] {
        println!(
            "| {name} | {:.1} | {} | {} |",
            mb(x.rss_kb),
            x.fds,
            x.threads
        );
    }
    println!();
    println!("| clients | sessions | messages | errors (hostile: not refused as due) |");
    println!("|---|---:|---:|---:|");
    let mut good_errors = 0;
    let mut bad_outcomes = 0;
    for (kind, c) in &shared.counts {
        let (s, m, e) = (
            c.sessions.load(Ordering::Relaxed),
            c.messages.load(Ordering::Relaxed),
            c.errors.load(Ordering::Relaxed),
        );
        let hostile = !GOOD.contains(kind);
        let label = if hostile {
            format!("hostile: {kind}")
        } else {
            kind.to_string()
        };
        println!("| {label} | {s} | {m} | {e} |");
        if hostile {
            bad_outcomes += e;
        } else {
            good_errors += e;
        }
    }
    for note in shared.notes.lock().unwrap().iter() {
        println!("note: {note}");
    }
    // What was held for connections must be gone: fds and threads back to
    // the baseline, RSS back near the warm level (within 10% or 8 MB).
    let rss_limit = s.warm.rss_kb + (s.warm.rss_kb / 10).max(8 * 1024);
    let mut pass = true;
    let mut fail = |why: String| {
        println!("FAIL: {why}");
        pass = false;
    };
    if let Err(e) = idle {
        fail(e);
    }
    if s.after.rss_kb > rss_limit {
        fail(format!(
            "RSS after {:.1} MB, over {:.1} MB (the warm level + max(10%, 8 MB))",
            mb(s.after.rss_kb),
            mb(rss_limit)
        ));
    }
    if s.after.fds > s.baseline.fds + 2 {
        fail(format!(
            "{} fds open after, {} at the start",
            s.after.fds, s.baseline.fds
        ));
    }
    if s.after.threads > s.baseline.threads {
        fail(format!(
            "{} threads after, {} at the start",
            s.after.threads, s.baseline.threads
        ));
    }
    if good_errors > 0 {
        fail(format!("{good_errors} errors seen by well-behaved clients"));
    }
    if bad_outcomes > 0 {
        fail(format!("{bad_outcomes} hostile clients not refused as due"));
    }
    if pass {
        println!("PASS");
    }
    pass
}
