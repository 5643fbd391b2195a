//! Presence: who is on a channel. A protocol adapter (Pusher's presence
//! channels) says which member each of its connections speaks for; the
//! hub keeps the members of each channel, counts their connections, and
//! tells the channel's other watchers when a member arrives (its first
//! connection) or leaves (its last).
//!
//! This file holds one engine's view: its own connections and where their
//! notices go. Without a shared broker that is the whole story
//! ([`Presence::join`], [`Presence::leave`]); with one, `hub::cluster`
//! counts each member's engines in the broker, which decides "first" and
//! "last" cluster-wide, and uses [`Presence::attach`], [`Presence::detach`]
//! and [`Presence::notify`] here.
//!
//! The lock is a `std::sync::Mutex`: it is never held across an `.await`,
//! and notices are sent on unbounded queues, which never wait (a watcher
//! receives at most one notice per member arrival or departure).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::UnboundedSender;

/// A member of a presence channel: an id, and what the application says
/// of it (JSON text, kept as given).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub id: String,
    pub info: Option<String>,
}

/// What a watcher of a channel is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A member's first connection joined.
    Joined(Arc<str>, Member),
    /// A member's last connection left (its id).
    Left(Arc<str>, String),
}

/// A connection's id as its adapter names it.
pub type Watcher = u64;

#[derive(Debug, Default)]
pub struct Presence {
    rooms: Mutex<HashMap<Arc<str>, Room>>,
}

#[derive(Debug, Default)]
struct Room {
    /// Member id → (the member as its first connection described it,
    /// connections).
    members: HashMap<String, (Member, usize)>,
    /// Each connection on the channel: the member it speaks for and where
    /// its notices go. In joining order.
    watchers: Vec<(Watcher, String, UnboundedSender<Change>)>,
}

impl Room {
    fn notify(&mut self, except: Option<Watcher>, change: &Change) {
        // A watcher whose connection ended is dropped here (and by `leave`).
        self.watchers
            .retain(|(w, _, tx)| Some(*w) == except || tx.send(change.clone()).is_ok());
    }

    fn list(&self) -> Vec<Member> {
        let mut seen: Vec<Member> = Vec::with_capacity(self.members.len());
        // The order members arrived in, as their connections did.
        for (_, id, _) in &self.watchers {
            if !seen.iter().any(|m| &m.id == id) {
                if let Some((m, _)) = self.members.get(id) {
                    seen.push(m.clone());
                }
            }
        }
        seen
    }
}

impl Presence {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `watcher` joins `channel` as `member`; its notices go to
    /// `tx`. Returns the members now on the channel (with it). The others
    /// are told if this is the member's first connection. A connection
    /// that joins again is moved, not counted twice.
    pub fn join(
        &self,
        channel: &str,
        watcher: Watcher,
        member: Member,
        tx: UnboundedSender<Change>,
    ) -> Vec<Member> {
        let (members, first) = self.attach(channel, watcher, member.clone(), tx);
        if first {
            self.notify(
                channel,
                Some(watcher),
                Change::Joined(Arc::from(channel), member),
            );
        }
        members
    }

    /// Connection `watcher` leaves `channel` (if it was on it). The others
    /// are told if it was its member's last connection.
    pub fn leave(&self, channel: &str, watcher: Watcher) {
        if let Some((id, true)) = self.detach(channel, watcher) {
            self.notify(channel, Some(watcher), Change::Left(Arc::from(channel), id));
        }
    }

    /// [`Presence::join`] without telling anyone: returns the members on
    /// the channel here, and whether this is the member's first
    /// connection here.
    pub fn attach(
        &self,
        channel: &str,
        watcher: Watcher,
        member: Member,
        tx: UnboundedSender<Change>,
    ) -> (Vec<Member>, bool) {
        // A connection that joins again is moved (adapters do not do
        // that; it is told here, never counted twice).
        self.leave(channel, watcher);
        let mut rooms = self.lock();
        let name: Arc<str> = match rooms.get_key_value(channel) {
            Some((k, _)) => k.clone(),
            None => Arc::from(channel),
        };
        let room = rooms.entry(name).or_default();
        let id = member.id.clone();
        room.watchers.push((watcher, id.clone(), tx));
        let first = match room.members.get_mut(&id) {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                room.members.insert(id, (member, 1));
                true
            }
        };
        (room.list(), first)
    }

    /// [`Presence::leave`] without telling anyone: the member connection
    /// `watcher` spoke for, and whether it was its last connection here
    /// (`None` if it was not on the channel).
    pub fn detach(&self, channel: &str, watcher: Watcher) -> Option<(String, bool)> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(channel)?;
        let at = room.watchers.iter().position(|(w, _, _)| *w == watcher)?;
        let (_, id, _) = room.watchers.remove(at);
        let last = match room.members.get_mut(&id) {
            Some((_, n)) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                room.members.remove(&id);
                true
            }
        };
        if room.watchers.is_empty() {
            rooms.remove(channel);
        }
        Some((id, last))
    }

    /// Tells every watcher of `channel` here but `except` of `change`.
    pub fn notify(&self, channel: &str, except: Option<Watcher>, change: Change) {
        let mut rooms = self.lock();
        if let Some(room) = rooms.get_mut(channel) {
            room.notify(except, &change);
        }
    }

    /// Every (channel, member) with a connection here, for a broker that
    /// lost track of this engine.
    pub fn everyone(&self) -> Vec<(Arc<str>, Member)> {
        let rooms = self.lock();
        let mut out = Vec::new();
        for (name, room) in rooms.iter() {
            for (m, _) in room.members.values() {
                out.push((name.clone(), m.clone()));
            }
        }
        out
    }

    /// Whether `id` has a connection on `channel` here.
    pub fn has(&self, channel: &str, id: &str) -> bool {
        self.lock()
            .get(channel)
            .is_some_and(|r| r.members.contains_key(id))
    }

    /// The members on `channel`, in the order they arrived.
    pub fn members(&self, channel: &str) -> Vec<Member> {
        self.lock().get(channel).map(Room::list).unwrap_or_default()
    }

    /// How many members are on `channel`.
    pub fn count(&self, channel: &str) -> usize {
        self.lock().get(channel).map_or(0, |r| r.members.len())
    }
}
