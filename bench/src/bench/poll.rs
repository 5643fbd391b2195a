//! The load generator's long-poll subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{record, Options, Seen, Shared};

/// A long-poll subscriber: push's `since` cursor, or nchan's
/// Last-Modified/ETag answered with If-Modified-Since/If-None-Match.
pub(super) async fn subscriber(
    o: &Options,
    path: &str,
    shared: &Shared,
    seen: &Mutex<Seen>,
    connected: &AtomicU64,
) -> Result<(), String> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build_http();
    let mut cursor = String::new();
    let (mut modified, mut etag) = (String::new(), String::new());
    let mut first = true;
    while !shared.stop.load(Ordering::Relaxed) {
        let nchan = o.server == "nchan";
        let uri = if nchan {
            format!("http://{}{}", o.addr, path)
        } else if first {
            // Learn the cursor at once, then wait.
            format!("http://{}{}?timeout=0", o.addr, path)
        } else {
            format!("http://{}{}?timeout=30&since={}", o.addr, path, cursor)
        };
        let mut req = hyper::Request::get(uri);
        if nchan && !modified.is_empty() {
            req = req
                .header("if-modified-since", &modified)
                .header("if-none-match", &etag);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(Duration::from_secs(60), client.request(req))
            .await
            .map_err(|_| "poll timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if first {
            connected.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
        if nchan {
            if status == 200 {
                record(shared, seen, o.channels, &body);
            }
            if let (Some(m), Some(e)) = (headers.get("last-modified"), headers.get("etag")) {
                modified = m.to_str().unwrap_or("").to_owned();
                etag = e.to_str().unwrap_or("").to_owned();
            }
            if status != 200 && status != 304 && status != 408 {
                return Err(format!("poll answered {status}"));
            }
        } else {
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            for m in v["messages"].as_array().into_iter().flatten() {
                record(
                    shared,
                    seen,
                    o.channels,
                    m["data"].as_str().unwrap_or("").as_bytes(),
                );
            }
            cursor = v["cursor"].as_str().unwrap_or("").to_owned();
        }
    }
    Ok(())
}
