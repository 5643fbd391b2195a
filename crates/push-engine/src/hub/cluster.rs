//! Presence and occupancy for the whole cluster: who is on a presence
//! channel, and which channels have subscribers, on every engine sharing
//! the broker (or on this one, without one).
//!
//! - Presence: [`Hub::presence_join`] and [`Hub::presence_leave`] keep this
//!   engine's connections in [`super::presence`]; a member's first
//!   connection here and its last are told to the broker, which counts
//!   each member's engines and says, atomically, whether that was its
//!   first or last connection anywhere. Only then are the channel's
//!   watchers told: here by this engine (never the connection that caused
//!   it), elsewhere by the broker ([`Hub::presence_notice`]).
//! - Occupancy: [`Hub::run_cluster`] reports this engine's subscriber
//!   count of a channel to the broker a moment after a subscription to it
//!   begins or ends here (and every count every third of
//!   `push.presence_ttl`); the broker says which channels that made
//!   occupied or vacated cluster-wide.
//! - Liveness: the same task refreshes this engine in the broker every
//!   third of `push.presence_ttl`, and removes the members and
//!   subscriptions of engines that did not for `push.presence_ttl` (killed,
//!   cut off), announcing each departure once. An engine the broker forgot
//!   (Redis restarted, or it was itself taken for dead) tells its whole
//!   state again.
//!
//! Every transition is observed by exactly one engine, which sends it as
//! an [`Activity`] to whoever listens ([`Hub::activity`]: Pusher's
//! webhooks), so each is reported once per cluster.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc::UnboundedSender, Notify};
use tokio_util::sync::CancellationToken;

use super::presence::{Change, Member, Watcher};
use super::Hub;
use crate::error::Result;
use crate::message::is_reserved;

/// How long after a subscription begins or ends the counts are reported
/// (arrivals and departures meanwhile go in the same report).
const SETTLE: Duration = Duration::from_millis(20);

/// Channels and their subscriber counts.
pub type Counts = Vec<(Arc<str>, usize)>;

/// A transition of the cluster's state, observed by one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// The channel got its first subscriber anywhere.
    Occupied(Arc<str>),
    /// The channel lost its last subscriber anywhere.
    Vacated(Arc<str>),
    /// A member's first connection on a presence channel, anywhere.
    Joined(Arc<str>, Member),
    /// A member's last connection left a presence channel (its id).
    Left(Arc<str>, String),
}

/// What the cluster side of a hub holds.
#[derive(Debug)]
pub(super) struct Cluster {
    activity: broadcast::Sender<Activity>,
    /// Set when a call to the broker failed: the next refresh tells the
    /// broker this engine's whole state again.
    resync: std::sync::atomic::AtomicBool,
}

impl Cluster {
    /// Activities are buffered up to `buffer` for a listener that falls
    /// behind (it is told how many it missed).
    pub(super) fn new(buffer: usize) -> Cluster {
        Cluster {
            activity: broadcast::channel(buffer.max(1)).0,
            resync: Default::default(),
        }
    }
}

impl Hub {
    fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// The transitions this engine observes (each is observed by one
    /// engine of the cluster). A listener that falls behind by more than
    /// `push.pusher_webhook_queue` is told how many it missed.
    pub fn activity(&self) -> broadcast::Receiver<Activity> {
        self.cluster().activity.subscribe()
    }

    fn emit(&self, activity: Activity) {
        // Nobody listening (no webhooks) is fine.
        let _ = self.cluster().activity.send(activity);
    }

    fn emit_all(&self, activities: Vec<Activity>) {
        for a in activities {
            self.emit(a);
        }
    }

    fn broker_failed(&self) {
        self.cluster().resync.store(true, Ordering::Relaxed);
    }

    /// Connection `watcher` joins presence `channel` as `member`; notices
    /// go to `tx`. Returns the members on the channel, cluster-wide, with
    /// it. The channel's other watchers, on every engine, are told if this
    /// is the member's first connection anywhere.
    pub async fn presence_join(
        &self,
        channel: &str,
        watcher: Watcher,
        member: Member,
        tx: UnboundedSender<Change>,
    ) -> Vec<Member> {
        let presence = self.presence();
        let (here, first_here) = presence.attach(channel, watcher, member.clone(), tx);
        let name: Arc<str> = Arc::from(channel);
        let joined = Change::Joined(name.clone(), member.clone());
        let Some(broker) = self.broker() else {
            if first_here {
                presence.notify(channel, Some(watcher), joined);
                self.emit(Activity::Joined(name, member));
            }
            return here;
        };
        let outcome = match first_here {
            true => broker.presence_join(channel, &member).await,
            false => broker.presence_members(channel).await.map(|m| (false, m)),
        };
        let mut all = match outcome {
            Ok((first, all)) => {
                if first {
                    presence.notify(channel, Some(watcher), joined);
                    self.emit(Activity::Joined(name, member));
                }
                all
            }
            Err(_) => {
                // Served from what this engine knows; the broker is told
                // at the next refresh.
                self.broker_failed();
                if first_here {
                    presence.notify(channel, Some(watcher), joined);
                }
                Vec::new()
            }
        };
        // What the broker said, and this engine's own (the broker may not
        // have seen a connection that joined here a moment ago).
        for m in here {
            if !all.iter().any(|a| a.id == m.id) {
                all.push(m);
            }
        }
        all
    }

    /// Connection `watcher` leaves presence `channel`, if it was on it.
    /// The channel's watchers, on every engine, are told if it was its
    /// member's last connection anywhere.
    pub async fn presence_leave(&self, channel: &str, watcher: Watcher) {
        let presence = self.presence();
        let Some((id, true)) = presence.detach(channel, watcher) else {
            return;
        };
        let name: Arc<str> = Arc::from(channel);
        let left = Change::Left(name.clone(), id.clone());
        let Some(broker) = self.broker() else {
            presence.notify(channel, None, left);
            self.emit(Activity::Left(name, id));
            return;
        };
        match broker.presence_leave(channel, &id).await {
            Ok(true) => {
                presence.notify(channel, None, left);
                self.emit(Activity::Left(name, id));
            }
            Ok(false) => {}
            Err(_) => {
                self.broker_failed();
                presence.notify(channel, None, left);
            }
        }
    }

    /// A presence notice from another engine (through the broker): told
    /// to every watcher of the channel here.
    pub fn presence_notice(&self, change: Change) {
        let channel = match &change {
            Change::Joined(c, _) | Change::Left(c, _) => c.clone(),
        };
        self.presence().notify(&channel, None, change);
    }

    /// The members of presence `channel`, cluster-wide.
    pub async fn presence_members(&self, channel: &str) -> Result<Vec<Member>> {
        let mut here = self.presence().members(channel);
        let Some(broker) = self.broker() else {
            return Ok(here);
        };
        let mut all = broker.presence_members(channel).await?;
        here.retain(|m| !all.iter().any(|a| a.id == m.id));
        all.extend(here);
        Ok(all)
    }

    /// Channels with subscribers whose names start with `prefix`, and how
    /// many subscribers each has, cluster-wide (as last reported by each
    /// engine; reserved channels left out).
    pub async fn occupied_everywhere(&self, prefix: &str) -> Result<Vec<(Arc<str>, usize)>> {
        let Some(broker) = self.broker() else {
            let mut here = self.occupied(prefix);
            here.retain(|(c, _)| !is_reserved(c));
            return Ok(here);
        };
        let mut all = broker.occupied(prefix).await?;
        all.retain(|(c, _)| !is_reserved(c));
        all.sort();
        Ok(all)
    }

    /// How many subscribers `channel` has, cluster-wide.
    pub async fn subscribers_everywhere(&self, channel: &str) -> Result<usize> {
        let Some(broker) = self.broker() else {
            return Ok(self.subscribers(channel));
        };
        let all = broker.occupied(channel).await?;
        let here = self.subscribers(channel);
        let reported = all
            .iter()
            .find(|(c, _)| &**c == channel)
            .map_or(0, |(_, n)| *n);
        // A subscriber here that was not reported yet still counts.
        Ok(reported.max(here))
    }

    /// This engine's subscribers per channel (reserved channels left out).
    fn occupancy_here(&self) -> HashMap<Arc<str>, usize> {
        let mut here: HashMap<Arc<str>, usize> = self.occupied("").into_iter().collect();
        here.retain(|c, _| !is_reserved(c));
        here
    }

    /// Keeps the cluster's view of this engine current until `cancel`:
    /// the subscriber counts of the channels whose subscriptions changed
    /// (a moment after), every count and this engine's liveness every
    /// third of `push.presence_ttl`. On `cancel` this engine's members and
    /// subscriptions leave the broker (announced as departures).
    pub async fn run_cluster(self, cancel: CancellationToken) {
        let period = (self.config().presence_ttl / 3).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let touched = self.inner.stats.occupancy.clone();
        let mut reported: HashMap<Arc<str>, usize> = HashMap::new();
        // The broker does not know this engine at its first refresh: that
        // is no news (and what joined meanwhile is in the broker already).
        let mut started = false;
        loop {
            let beat = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = touched.notify.notified() => {
                    tokio::time::sleep(SETTLE).await;
                    false
                }
                _ = tick.tick() => true,
            };
            // What changed: the channels touched, or every one at a beat.
            let now = match beat {
                true => self.occupancy_here(),
                false => touched
                    .take()
                    .into_iter()
                    .filter(|c| !is_reserved(c))
                    .map(|c| {
                        let n = self.subscribers(&c);
                        (c, n)
                    })
                    .collect(),
            };
            let mut changes: Counts = now
                .iter()
                .filter(|(c, n)| reported.get(*c).copied().unwrap_or(0) != **n)
                .map(|(c, n)| (c.clone(), *n))
                .collect();
            if beat {
                changes.extend(
                    reported
                        .keys()
                        .filter(|c| !now.contains_key(*c))
                        .map(|c| (c.clone(), 0)),
                );
            }
            let Some(broker) = self.broker() else {
                for (channel, n) in &changes {
                    match (reported.contains_key(channel), *n > 0) {
                        (false, true) => self.emit(Activity::Occupied(channel.clone())),
                        (true, false) => self.emit(Activity::Vacated(channel.clone())),
                        _ => {}
                    }
                }
                apply(&mut reported, changes);
                continue;
            };
            if beat {
                match broker.refresh(false).await {
                    Ok((fresh, activities)) => {
                        self.emit_all(activities);
                        let forgotten = fresh && std::mem::replace(&mut started, true);
                        if forgotten || self.cluster().resync.swap(false, Ordering::Relaxed) {
                            let counts: Counts = now.iter().map(|(c, n)| (c.clone(), *n)).collect();
                            match broker.resync(&self.presence().everyone(), &counts).await {
                                Ok(activities) => {
                                    self.emit_all(activities);
                                    reported = now;
                                }
                                Err(_) => self.broker_failed(),
                            }
                            continue;
                        }
                    }
                    Err(_) => continue,
                }
            }
            if changes.is_empty() {
                continue;
            }
            // Not reported: the next beat finds the difference again.
            if let Ok(activities) = broker.occupancy(&changes).await {
                self.emit_all(activities);
                apply(&mut reported, changes);
            }
        }
        if let Some(broker) = self.broker() {
            // Leaving: this engine's members and subscriptions go now,
            // not after push.presence_ttl.
            if let Ok((_, activities)) = broker.refresh(true).await {
                self.emit_all(activities);
            }
        }
    }
}

/// Records reported counts (0: the channel is gone).
fn apply(reported: &mut HashMap<Arc<str>, usize>, changes: Counts) {
    for (channel, n) in changes {
        if n == 0 {
            reported.remove(&channel);
        } else {
            reported.insert(channel, n);
        }
    }
}

/// The channels whose subscriptions changed since the cluster task last
/// looked, and its wake-up. Bounded by the number of channels.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    notify: Notify,
    channels: Mutex<HashSet<Arc<str>>>,
}

impl Touched {
    /// A subscription to `channel` began or ended.
    pub(crate) fn touch(&self, channel: &Arc<str>) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if !channels.contains(channel) {
            channels.insert(channel.clone());
        }
        drop(channels);
        self.notify.notify_one();
    }

    fn take(&self) -> HashSet<Arc<str>> {
        std::mem::take(&mut *self.channels.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
