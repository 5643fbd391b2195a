//! Presence and occupancy in Redis, for `hub::cluster`: which members each
//! engine has on each presence channel, how many subscribers each engine
//! has on each channel, and which engines are alive. The keys and the
//! rules are in `presence.lua`, which every script here starts with; each
//! script is atomic, so exactly one engine observes each transition.
//!
//! Arrivals and departures are published on `p:presence`, which every
//! engine's pub/sub connection listens to ([`receive`]).

use std::sync::{Arc, LazyLock};

use redis::{Script, Value};
use serde::Deserialize;

use super::redis::Redis;
use crate::error::{Error, Result};
use crate::hub::presence::{Change, Member};
use crate::hub::{Activity, Hub};

const COMMON: &str = include_str!("presence.lua");

/// One script: `presence.lua`'s functions, then its body.
fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

struct Scripts {
    join: Script,
    leave: Script,
    members: Script,
    occupancy: Script,
    occupied: Script,
    refresh: Script,
    resync: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    join: script(include_str!("presence_join.lua")),
    leave: script(include_str!("presence_leave.lua")),
    members: script(include_str!("presence_members.lua")),
    occupancy: script(include_str!("occupancy.lua")),
    occupied: script(include_str!("occupied.lua")),
    refresh: script(include_str!("refresh.lua")),
    resync: script(include_str!("resync.lua")),
});

fn bad(what: &str) -> Error {
    Error::Broker(format!("unexpected reply from {what}"))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn info(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// `{id, info, id, info, …}`.
fn members(values: &[Value], what: &str) -> Result<Vec<Member>> {
    values
        .chunks(2)
        .map(|pair| match pair {
            [id, i] => Ok(Member {
                id: text(id).ok_or_else(|| bad(what))?,
                info: info(text(i).ok_or_else(|| bad(what))?),
            }),
            _ => Err(bad(what)),
        })
        .collect()
}

/// Transitions as the scripts return them: triples `kind, channel,
/// member`, and a fourth, the info, after a `j`.
fn activities(values: &[Value], what: &str) -> Result<Vec<Activity>> {
    let mut out = Vec::new();
    let mut rest = values;
    while !rest.is_empty() {
        let field = |i: usize| rest.get(i).and_then(text).ok_or_else(|| bad(what));
        let kind = field(0)?;
        let channel: Arc<str> = Arc::from(field(1)?);
        let member = field(2)?;
        let (activity, used) = match kind.as_str() {
            "j" => (
                Activity::Joined(
                    channel,
                    Member {
                        id: member,
                        info: info(field(3)?),
                    },
                ),
                4,
            ),
            "l" => (Activity::Left(channel, member), 3),
            "o" => (Activity::Occupied(channel), 3),
            "v" => (Activity::Vacated(channel), 3),
            _ => return Err(bad(what)),
        };
        out.push(activity);
        rest = &rest[used..];
    }
    Ok(out)
}

fn array(v: Value, what: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        _ => Err(bad(what)),
    }
}

impl Redis {
    async fn run(&self, invocation: redis::ScriptInvocation<'_>) -> Result<Value> {
        let mut con = self.connection().await?.con;
        self.timed(invocation.invoke_async(&mut con)).await
    }

    pub async fn presence_join(
        &self,
        channel: &str,
        member: &Member,
    ) -> Result<(bool, Vec<Member>)> {
        let mut inv = SCRIPTS.join.prepare_invoke();
        inv.arg(self.prefix())
            .arg(self.engine())
            .arg(channel)
            .arg(&member.id)
            .arg(member.info.as_deref().unwrap_or(""))
            .arg(self.presence_topic());
        let reply = array(self.run(inv).await?, "presence_join.lua")?;
        let (first, rest) = reply
            .split_first()
            .ok_or_else(|| bad("presence_join.lua"))?;
        let first = matches!(first, Value::Int(1));
        Ok((first, members(rest, "presence_join.lua")?))
    }

    pub async fn presence_leave(&self, channel: &str, id: &str) -> Result<bool> {
        let mut inv = SCRIPTS.leave.prepare_invoke();
        inv.arg(self.prefix())
            .arg(self.engine())
            .arg(channel)
            .arg(id)
            .arg(self.presence_topic());
        Ok(matches!(self.run(inv).await?, Value::Int(1)))
    }

    pub async fn presence_members(&self, channel: &str) -> Result<Vec<Member>> {
        let mut inv = SCRIPTS.members.prepare_invoke();
        inv.arg(self.prefix()).arg(channel);
        let reply = array(self.run(inv).await?, "presence_members.lua")?;
        members(&reply, "presence_members.lua")
    }

    pub async fn occupancy(&self, counts: &[(Arc<str>, usize)]) -> Result<Vec<Activity>> {
        let mut out = Vec::new();
        for batch in counts.chunks(500) {
            let mut inv = SCRIPTS.occupancy.prepare_invoke();
            inv.arg(self.prefix()).arg(self.engine());
            for (channel, n) in batch {
                inv.arg(&**channel).arg(*n);
            }
            let reply = array(self.run(inv).await?, "occupancy.lua")?;
            out.extend(activities(&reply, "occupancy.lua")?);
        }
        Ok(out)
    }

    pub async fn occupied(&self, prefix: &str) -> Result<Vec<(Arc<str>, usize)>> {
        let mut inv = SCRIPTS.occupied.prepare_invoke();
        inv.arg(self.prefix()).arg(prefix).arg("prefix");
        let reply = array(self.run(inv).await?, "occupied.lua")?;
        reply
            .chunks(2)
            .map(|pair| {
                let c = pair.first().and_then(text);
                let n = pair.get(1).and_then(text).and_then(|n| n.parse().ok());
                match (c, n) {
                    (Some(c), Some(n)) => Ok((Arc::from(c), n)),
                    _ => Err(bad("occupied.lua")),
                }
            })
            .collect()
    }

    pub async fn refresh(&self, retire: bool) -> Result<(bool, Vec<Activity>)> {
        let mut inv = SCRIPTS.refresh.prepare_invoke();
        inv.arg(self.prefix())
            .arg(self.engine())
            .arg(self.presence_ttl().as_millis().min(u64::MAX as u128) as u64)
            .arg(self.presence_topic())
            .arg(if retire { "1" } else { "0" });
        let reply = array(self.run(inv).await?, "refresh.lua")?;
        let (fresh, rest) = reply.split_first().ok_or_else(|| bad("refresh.lua"))?;
        Ok((
            matches!(fresh, Value::Int(1)),
            activities(rest, "refresh.lua")?,
        ))
    }

    pub async fn resync(
        &self,
        members: &[(Arc<str>, Member)],
        counts: &[(Arc<str>, usize)],
    ) -> Result<Vec<Activity>> {
        let mut inv = SCRIPTS.resync.prepare_invoke();
        inv.arg(self.prefix())
            .arg(self.engine())
            .arg(self.presence_topic())
            .arg(members.len());
        for (channel, m) in members {
            inv.arg(&**channel)
                .arg(&m.id)
                .arg(m.info.as_deref().unwrap_or(""));
        }
        for (channel, n) in counts {
            inv.arg(&**channel).arg(*n);
        }
        let reply = array(self.run(inv).await?, "resync.lua")?;
        activities(&reply, "resync.lua")
    }
}

/// A notice as the scripts publish it.
#[derive(Deserialize)]
struct Notice {
    k: String,
    e: String,
    c: String,
    m: String,
    #[serde(default)]
    i: String,
}

/// An arrival or departure published by an engine: told to this engine's
/// watchers of the channel, unless this engine published it (it told its
/// own already, all but the connection that caused it).
pub fn receive(hub: &Hub, broker: &Redis, payload: &[u8]) {
    let Ok(n) = serde_json::from_slice::<Notice>(payload) else {
        eprintln!("push: ignored a malformed presence notice on Redis");
        return;
    };
    if n.e == broker.engine() {
        return;
    }
    let channel: Arc<str> = Arc::from(n.c);
    let change = match n.k.as_str() {
        "j" => Change::Joined(
            channel,
            Member {
                id: n.m,
                info: info(n.i),
            },
        ),
        "l" => Change::Left(channel, n.m),
        _ => return,
    };
    hub.presence_notice(change);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_the_transitions_scripts_return() {
        let got = activities(
            &[
                b("j"),
                b("presence-a"),
                b("u1"),
                b("{\"n\":1}"),
                b("l"),
                b("presence-a"),
                b("u2"),
                b("o"),
                b("x"),
                b(""),
                b("v"),
                b("y"),
                b(""),
            ],
            "t",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Activity::Joined(
                    "presence-a".into(),
                    Member {
                        id: "u1".into(),
                        info: Some("{\"n\":1}".into())
                    }
                ),
                Activity::Left("presence-a".into(), "u2".into()),
                Activity::Occupied("x".into()),
                Activity::Vacated("y".into()),
            ]
        );
        assert!(activities(&[b("q"), b("c"), b("")], "t").is_err());
        assert!(activities(&[b("j"), b("c"), b("m")], "t").is_err());
        assert!(members(&[b("a")], "t").is_err());
    }
}
