//! Per-process cursors for `push_get_message()` without an explicit last id:
//! each channel continues where the previous call stopped. Bounded: past
//! `capacity` channels the least recently used cursor is forgotten (that
//! channel's next call then waits for the next publication).

use std::collections::HashMap;

use crate::message::Id;

#[derive(Debug)]
pub struct Cursors {
    capacity: usize,
    tick: u64,
    map: HashMap<String, (Id, u64)>,
}

/// Channels whose cursor a process remembers.
pub const DEFAULT_CAPACITY: usize = 1024;

impl Default for Cursors {
    fn default() -> Self {
        Cursors::new(DEFAULT_CAPACITY)
    }
}

impl Cursors {
    pub fn new(capacity: usize) -> Self {
        Cursors {
            capacity: capacity.max(1),
            tick: 0,
            map: HashMap::new(),
        }
    }

    pub fn get(&mut self, channel: &str) -> Option<Id> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(channel).map(|(id, used)| {
            *used = tick;
            *id
        })
    }

    pub fn set(&mut self, channel: &str, id: Id) {
        self.tick += 1;
        if !self.map.contains_key(channel) && self.map.len() >= self.capacity {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        self.map.insert(channel.to_owned(), (id, self.tick));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Id {
        Id {
            epoch: 1,
            offset: n,
        }
    }

    #[test]
    fn remembers_and_evicts_the_least_recently_used() {
        let mut c = Cursors::new(2);
        c.set("a", id(1));
        c.set("b", id(2));
        assert_eq!(c.get("a"), Some(id(1)));
        c.set("c", id(3));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("b"), None, "b was least recently used");
        assert_eq!(c.get("a"), Some(id(1)));
        c.set("a", id(9));
        assert_eq!(c.get("a"), Some(id(9)));
    }
}
