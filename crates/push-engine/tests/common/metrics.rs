//! Helpers for the metrics tests (metrics.rs, metrics_access.rs): a scrape
//! of `/metrics` and the value of one series in it.

use push_engine::metrics::prometheus;

use super::*;

/// `GET /metrics` from loopback: 200 in the 0.0.4 text format.
pub async fn scrape(server: &Server) -> String {
    let r = get(server.addr, "/metrics").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(prometheus::CONTENT_TYPE));
    assert!(prometheus::CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
    r.text()
}

/// The value of one series (`name` or `name{labels}`) in a scrape.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap_or_else(|e| panic!("{series}: {e}"))
}

pub fn connections(text: &str, transport: &str) -> f64 {
    value(
        text,
        &format!("push_connections{{transport=\"{transport}\"}}"),
    )
}
