//! Reading a request's body on the edge, the same way for every door that
//! takes one (`POST /publish`, the Pusher HTTP API, Mercure's publish): a
//! declared length over the limit is refused before any byte is read, the
//! body must arrive within `push.request_timeout`, and what goes wrong is
//! the client's error, never a 500.

use axum::body::{to_bytes, Bytes, HttpBody};
use axum::extract::Request;

use super::error::ApiError;
use super::AppState;
use crate::metrics::Limit;

/// The body of `request`, at most `max` bytes; a larger one is refused as
/// 413 naming `limit` (the setting's value the client should know, which
/// may be smaller than what a door reads, such as a form around a message).
pub async fn read(
    state: &AppState,
    request: Request,
    max: usize,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let body = request.into_body();
    if body.size_hint().lower() > max as u64 {
        return Err(ApiError::TooLarge(limit));
    }
    let within = state.hub.config().request_timeout;
    tokio::time::timeout(within, to_bytes(body, max))
        .await
        .map_err(|_| {
            state.hub.metrics().refused(Limit::RequestTimeout);
            ApiError::Timeout(format!(
                "the request body did not arrive within push.request_timeout ({} s)",
                within.as_secs_f64()
            ))
        })?
        .map_err(|e| error(&e, limit))
}

/// A body hyper could not read (bad chunking, cut short) is the client's
/// mistake (400); any other error is the size limit (413).
fn error(e: &axum::Error, limit: usize) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<hyper::Error>() {
            return ApiError::BadRequest("malformed request body".into());
        }
        source = err.source();
    }
    ApiError::TooLarge(limit)
}
