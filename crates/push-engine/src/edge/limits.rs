//! The limits of `push.listen` that count: connections in all
//! (`push.max_connections`), connections and waiting long-polls per client
//! address (`push.max_connections_per_ip`, `push.max_poll_waiters_per_ip`),
//! and a WebSocket client's publishing rate (`push.client_publish_rate`).
//!
//! Every count is held by an RAII guard ([`Admitted`], [`Held`]), so each
//! way out of a connection or a wait counts it out, and a client address
//! leaves the table when its count reaches zero: nothing grows with the
//! number of addresses ever seen.
//!
//! A client address is an IPv4 address or an IPv6 /64 (one host often
//! holds a whole /64). Loopback peers are exempt from the per-address
//! limits: they are local processes, or a reverse proxy on this host that
//! carries every client (limit those in the proxy).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{timeout, Instant};

use crate::config::Config;
use crate::metrics::{Limit, Metrics};

/// Refused connections answered at once; beyond that a refused connection
/// is closed without an answer (a flood gets no task per connection).
const ANSWERING: usize = 256;
/// How long a refusal's answer may take, and how long the request it did
/// not read is then drained (so that closing does not reset the answer
/// away before the client reads it).
const LINGER: Duration = Duration::from_secs(1);

/// The counting limits of one server.
#[derive(Debug)]
pub struct Limits {
    metrics: Arc<Metrics>,
    max_connections: u64,
    connections: Arc<PerIp>,
    poll_waiters: Arc<PerIp>,
    answering: Arc<Semaphore>,
}

/// Put on the requests of a connection accepted over `push.max_connections`
/// to be refused in its protocol's own terms (a Pusher WebSocket: close
/// 4100, which pusher-js backs off from); any other request on it is
/// answered 503 as [`Refusal::Full`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverCapacity(pub usize);

/// Why a connection is refused before its request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `push.max_connections` are open: 503.
    Full(usize),
    /// `push.max_connections_per_ip` are open from this address: 429.
    PerIp(usize),
}

impl Refusal {
    /// The whole HTTP answer.
    pub fn answer(self) -> Vec<u8> {
        let (status, body) = self.parts();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// The status line's code and reason, and the JSON body.
    pub fn parts(self) -> (&'static str, String) {
        let (status, error) = match self {
            Refusal::Full(max) => (
                "503 Service Unavailable",
                format!("too many connections: push.max_connections ({max}) are open"),
            ),
            Refusal::PerIp(max) => (
                "429 Too Many Requests",
                format!(
                    "too many connections from this address: push.max_connections_per_ip is {max}"
                ),
            ),
        };
        (status, serde_json::json!({ "error": error }).to_string())
    }

    fn limit(self) -> Limit {
        match self {
            Refusal::Full(_) => Limit::Connections,
            Refusal::PerIp(_) => Limit::ConnectionsPerIp,
        }
    }
}

impl Limits {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Arc<Limits> {
        Arc::new(Limits {
            metrics,
            max_connections: config.max_connections as u64,
            connections: PerIp::new(config.max_connections_per_ip),
            poll_waiters: PerIp::new(config.max_poll_waiters_per_ip),
            answering: Arc::new(Semaphore::new(ANSWERING)),
        })
    }

    /// Counts in a connection from `ip`, or says why it is refused.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refusal> {
        let open = self.metrics.listen_opened();
        // Counted in first: dropping it counts out on every way below.
        let mut admitted = Admitted {
            metrics: self.metrics.clone(),
            _per_ip: None,
        };
        if open > self.max_connections {
            return Err(Refusal::Full(self.max_connections as usize));
        }
        match self.connections.take(ip) {
            Some(held) => {
                admitted._per_ip = Some(held);
                Ok(admitted)
            }
            None => Err(Refusal::PerIp(self.connections.max)),
        }
    }

    /// A place among the refusals being answered (at most 256 at once),
    /// for a connection over `push.max_connections` served only to be
    /// refused ([`OverCapacity`]); `None` when they are all taken (close
    /// it without an answer). Counts the refusal.
    pub fn answering(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.metrics.refused(Limit::Connections);
        self.answering.clone().try_acquire_owned().ok()
    }

    /// Answers a refused connection (without reading its request), then
    /// closes it; counts the refusal.
    pub fn refuse(&self, mut stream: TcpStream, refusal: Refusal) {
        self.metrics.refused(refusal.limit());
        let Ok(permit) = self.answering.clone().try_acquire_owned() else {
            return; // dropped: closed without an answer
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = timeout(LINGER, async {
                stream.write_all(&refusal.answer()).await?;
                stream.shutdown().await
            })
            .await;
            let mut sink = [0u8; 1024];
            let _ = timeout(LINGER, async {
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        });
    }

    /// Counts in a long-poll about to wait for a client at `ip`; `None`
    /// when `push.max_poll_waiters_per_ip` of them already wait.
    pub fn poll_waiter(&self, ip: IpAddr) -> Option<Held> {
        let held = self.poll_waiters.take(ip);
        if held.is_none() {
            self.metrics.refused(Limit::PollWaitersPerIp);
        }
        held
    }

    /// `push.max_poll_waiters_per_ip`.
    pub fn max_poll_waiters_per_ip(&self) -> usize {
        self.poll_waiters.max
    }

    /// Client addresses with an open connection or a waiting long-poll
    /// (loopback not counted).
    pub fn addresses(&self) -> usize {
        self.connections.len() + self.poll_waiters.len()
    }
}

/// A connection counted in [`Metrics::listen_connections`] (and per
/// address) until dropped.
#[derive(Debug)]
#[must_use = "the connection is counted out when this is dropped"]
pub struct Admitted {
    metrics: Arc<Metrics>,
    _per_ip: Option<Held>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.metrics.listen_closed();
    }
}

/// Counts per client address, each bounded by `max`.
#[derive(Debug)]
struct PerIp {
    max: usize,
    /// A std mutex: held for one map operation, never across an await.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One count of a client address, given back when dropped (`None` inside
/// for exempt addresses).
#[derive(Debug)]
#[must_use = "the count is given back when this is dropped"]
pub struct Held(Option<(Arc<PerIp>, IpAddr)>);

impl PerIp {
    fn new(max: usize) -> Arc<PerIp> {
        Arc::new(PerIp {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Nothing panics while the lock is held; never panic for a poison.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Held> {
        let Some(key) = client_key(ip) else {
            return Some(Held(None));
        };
        let mut counts = self.lock();
        let count = counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Held(Some((self.clone(), key))))
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some((per_ip, key)) = self.0.take() else {
            return;
        };
        let mut counts = per_ip.lock();
        if let Some(count) = counts.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

/// The address a client is counted under: IPv4 (also when mapped into
/// IPv6), or the /64 of an IPv6 address; `None` for loopback (exempt).
fn client_key(ip: IpAddr) -> Option<IpAddr> {
    match ip.to_canonical() {
        ip if ip.is_loopback() => None,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            Some(IpAddr::V6(Ipv6Addr::from(prefix)))
        }
        v4 => Some(v4),
    }
}

/// A token bucket: `rate` per second, in bursts of up to `rate`.
#[derive(Debug)]
pub struct Rate {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Rate {
    /// A full bucket.
    pub fn new(rate: usize) -> Rate {
        Rate {
            rate: rate as f64,
            tokens: rate as f64,
            at: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(tweak: impl FnOnce(&mut Config)) -> Arc<Limits> {
        let mut config = Config::default();
        tweak(&mut config);
        Limits::new(&config, Arc::new(Metrics::new()))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_in_all_are_bounded_and_counted_out() {
        let l = limits(|c| c.max_connections = 2);
        let a = l.admit(ip("192.0.2.1")).unwrap();
        let b = l.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(l.admit(ip("192.0.2.9")).unwrap_err(), Refusal::Full(2));
        assert_eq!(
            l.metrics.listen_connections(),
            2,
            "a refusal is counted out"
        );
        drop(a);
        let c = l.admit(ip("192.0.2.9")).unwrap();
        drop((b, c));
        assert_eq!(l.metrics.listen_connections(), 0);
        assert_eq!(l.addresses(), 0, "no address left behind");
    }

    #[test]
    fn per_address_counts_are_bounded_loopback_exempt() {
        let l = limits(|c| c.max_connections_per_ip = 2);
        let held: Vec<_> = (0..2).map(|_| l.admit(ip("192.0.2.1")).unwrap()).collect();
        assert_eq!(l.admit(ip("192.0.2.1")).unwrap_err(), Refusal::PerIp(2));
        assert_eq!(
            l.admit(ip("::ffff:192.0.2.1")).unwrap_err(),
            Refusal::PerIp(2),
            "an IPv4-mapped address is the IPv4 address"
        );
        let other = l.admit(ip("192.0.2.2")).unwrap();
        let local: Vec<_> = (0..10)
            .map(|i| {
                l.admit(ip(["127.0.0.1", "127.1.2.3", "::1"][i % 3]))
                    .unwrap()
            })
            .collect();
        assert_eq!(l.addresses(), 2, "loopback is not counted");
        drop(held);
        let again = l.admit(ip("192.0.2.1")).unwrap();
        drop((again, other, local));
        assert_eq!(l.addresses(), 0);
        assert_eq!(l.metrics.listen_connections(), 0);
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let l = limits(|c| c.max_connections_per_ip = 1);
        let a = l.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            l.admit(ip("2001:db8:1:2:ffff::7")).unwrap_err(),
            Refusal::PerIp(1)
        );
        let b = l.admit(ip("2001:db8:1:3::1")).unwrap();
        drop((a, b));
        assert_eq!(l.addresses(), 0);
    }

    #[test]
    fn poll_waiters_per_address() {
        let l = limits(|c| c.max_poll_waiters_per_ip = 1);
        let a = l.poll_waiter(ip("192.0.2.1")).unwrap();
        assert!(l.poll_waiter(ip("192.0.2.1")).is_none());
        assert_eq!(l.metrics.refusals(Limit::PollWaitersPerIp), 1);
        let local: Vec<_> = (0..5).map(|_| l.poll_waiter(ip("::1")).unwrap()).collect();
        drop((a, local));
        assert_eq!(l.addresses(), 0);
        assert!(l.poll_waiter(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn refusals_answer_json() {
        let text = String::from_utf8(Refusal::PerIp(3).answer()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            v["error"],
            "too many connections from this address: push.max_connections_per_ip is 3"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_allows_a_burst_then_refills() {
        let mut r = Rate::new(4);
        assert!((0..4).all(|_| r.take()), "a burst of the rate");
        assert!(!r.take());
        tokio::time::advance(Duration::from_millis(250)).await;
        assert!(r.take(), "one more after 1/rate s");
        assert!(!r.take());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..10).filter(|_| r.take()).count(),
            4,
            "never more than the burst"
        );
    }
}
