//! The figures in the Prometheus text exposition format, version 0.0.4
//! (`GET /metrics`). Every metric is listed in docs/operations.md (a test keeps them in step).

use std::fmt::Write;

use super::{BrokerState, EngineStats, Limit, Metrics, Transport, LATENCY_BOUNDS};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `le` label of each bucket, as Prometheus clients write them.
const LE: [&str; LATENCY_BOUNDS.len()] = [
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
];

/// The figures (`stats`, with the latencies and counts `m` recorded) as a
/// scrape answer.
pub fn render(stats: &EngineStats, m: &Metrics) -> String {
    let latency = Transport::ALL.map(|t| (t, m.latency(t)));
    let mut out = Text(String::with_capacity(8192));

    out.family(
        "push_connections",
        "gauge",
        "Open connections by transport (poll: long-polls waiting; ipc: worker processes on push.socket).",
    );
    for t in Transport::ALL {
        out.sample(
            "push_connections",
            &[("transport", t.as_str())],
            m.connections(t),
        );
    }
    out.single(
        "push_listen_connections",
        "gauge",
        "Open TCP connections on push.listen, every transport, from accept to close (bounded by push.max_connections).",
        m.listen_connections(),
    );
    out.single(
        "push_subscriptions",
        "gauge",
        "Live subscriptions to channels (a connection to several channels holds several).",
        stats.hub.subscribers,
    );
    out.single(
        "push_channels",
        "gauge",
        "Channels held.",
        stats.hub.channels,
    );
    out.single(
        "push_publications_total",
        "counter",
        "Messages published.",
        stats.hub.publications,
    );
    out.family(
        "push_deliveries_total",
        "counter",
        "Messages handed to clients' sockets (WebSocket frames, SSE events, long-poll answers, messages to workers).",
    );
    for (t, l) in &latency {
        out.sample(
            "push_deliveries_total",
            &[("transport", t.as_str())],
            l.count(),
        );
    }
    out.family(
        "push_delivery_latency_seconds",
        "histogram",
        "Time from publication to the message being handed to the client's socket.",
    );
    for (t, l) in &latency {
        let mut cumulative = 0;
        for (i, n) in l.buckets.iter().enumerate() {
            cumulative += n;
            let le = LE.get(i).copied().unwrap_or("+Inf");
            out.sample(
                "push_delivery_latency_seconds_bucket",
                &[("transport", t.as_str()), ("le", le)],
                cumulative,
            );
        }
        out.sample(
            "push_delivery_latency_seconds_sum",
            &[("transport", t.as_str())],
            l.sum.as_secs_f64(),
        );
        out.sample(
            "push_delivery_latency_seconds_count",
            &[("transport", t.as_str())],
            cumulative,
        );
    }
    out.single(
        "push_direct_writes_total",
        "counter",
        "Deliveries written to the socket by the publisher itself (idle SSE streams and WebSockets of one channel), without waking the connection's task.",
        stats.direct_writes,
    );
    out.single(
        "push_slow_disconnects_total",
        "counter",
        "Connections cut off because their queue stayed full for push.keepalive (WebSocket close 4008, SSE push-slow).",
        stats.slow_disconnects,
    );
    out.single(
        "push_drops_total",
        "counter",
        "Connections dropped because the peer took no writes for twice push.keepalive.",
        stats.drops,
    );
    out.family(
        "push_refused_total",
        "counter",
        "Clients refused by a limit, labelled with the setting's name.",
    );
    for limit in Limit::ALL {
        out.sample(
            "push_refused_total",
            &[("limit", limit.as_str())],
            m.refusals(limit),
        );
    }
    out.single(
        "push_queued_bytes",
        "gauge",
        "Bytes queued for connections (their push.max_queue_bytes budgets in use).",
        stats.queued_bytes,
    );
    out.single(
        "push_lost_total",
        "counter",
        "Loss signals: subscribers told that messages after their cursor are gone.",
        stats.hub.lost,
    );
    out.single(
        "push_lagged_total",
        "counter",
        "Times a subscriber fell behind the channel buffer and caught up from history.",
        stats.hub.lagged,
    );
    out.single(
        "push_history_messages",
        "gauge",
        "Messages held in channel histories.",
        stats.hub.history_messages,
    );
    out.single(
        "push_history_bytes",
        "gauge",
        "Bytes held in channel histories.",
        stats.hub.history_bytes,
    );
    out.single(
        "push_collected_channels_total",
        "counter",
        "Idle channels collected.",
        stats.hub.collected,
    );
    out.family(
        "push_broker_state",
        "gauge",
        "The broker's state: 1 for the current one.",
    );
    for state in BrokerState::ALL {
        out.sample(
            "push_broker_state",
            &[("state", state.as_str())],
            u64::from(state == stats.broker),
        );
    }
    out.single(
        "push_broker_reconnects_total",
        "counter",
        "Times the broker reconnected.",
        stats.broker_reconnects,
    );
    out.family(
        "push_webhooks_total",
        "counter",
        "Webhook requests sent (2xx) and failed (each attempt), and events dropped (queue full, or every attempt failed).",
    );
    for outcome in super::Webhook::ALL {
        out.sample(
            "push_webhooks_total",
            &[("outcome", outcome.as_str())],
            m.webhooks(outcome),
        );
    }
    out.single(
        "push_ready",
        "gauge",
        "1 when ready for traffic (memory broker, or broker connected with current subscriptions; not shutting down).",
        u64::from(stats.ready),
    );
    out.0
}

/// A value as the format writes it.
trait Value {
    fn write(&self, out: &mut String);
}

impl Value for u64 {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    fn write(&self, out: &mut String) {
        // Rust writes floats in plain decimal notation, which the format
        // accepts (it is Go's ParseFloat).
        let _ = write!(out, "{self}");
    }
}

struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// A label value needs no escaping here: they are all fixed strings.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Value) {
        self.0.push_str(name);
        for (i, (k, v)) in labels.iter().enumerate() {
            self.0.push(if i == 0 { '{' } else { ',' });
            let _ = write!(self.0, "{k}=\"{v}\"");
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
        self.0.push(' ');
        value.write(&mut self.0);
        self.0.push('\n');
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HubStats;

    /// Every line is a comment (`# HELP` / `# TYPE` of the family that
    /// follows) or a sample `name{labels} value` of a declared family.
    #[test]
    fn the_output_is_well_formed() {
        let m = Metrics::new();
        let hub = HubStats {
            channels: 1,
            publications: 1,
            ..Default::default()
        };
        let text = render(&EngineStats::new(hub, &m, false), &m);
        let mut declared: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["gauge", "counter", "histogram"].contains(&kind), "{line}");
                assert!(
                    !declared.iter().any(|(n, _)| n == name),
                    "{name} declared once"
                );
                declared.push((name.into(), kind.into()));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
            let name = series.split('{').next().unwrap();
            let (family, kind) = declared.last().expect("a family before its samples");
            let ok = match kind.as_str() {
                "histogram" => [
                    format!("{family}_bucket"),
                    format!("{family}_sum"),
                    format!("{family}_count"),
                ]
                .contains(&name.to_owned()),
                _ => name == family,
            };
            assert!(ok, "{line} in family {family}");
            if kind == "counter" {
                assert!(family.ends_with("_total"), "{family}");
            }
        }
        assert!(text.contains("push_publications_total 1\n"), "{text}");
        assert!(text.contains("push_broker_state{state=\"memory\"} 1\n"));
        assert!(text.contains("push_ready 1\n"));
        assert!(text.contains("push_listen_connections 0\n"));
        assert!(text.contains("push_refused_total{limit=\"request_timeout\"} 0\n"));
        assert!(text
            .contains("push_delivery_latency_seconds_bucket{transport=\"sse\",le=\"+Inf\"} 0\n"));
    }
}
