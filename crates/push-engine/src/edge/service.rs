//! What every request passes through around the router: the origin check
//! and CORS, and the JSON shape of axum's own error answers.
//!
//! A hand-written service, not axum middleware: `Router::layer` and
//! `middleware::from_fn` box a future per request (and keep it while a
//! long-poll waits); this one wraps the router's future in place and boxes
//! only on the rare path that rewrites an axum error answer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::Router;
use pin_project_lite::pin_project;
use tower::Service;

use super::error::{json_errors, wants_json, ApiError};
use super::AppState;
use crate::config::Patterns;

/// The router with the origin check, CORS and JSON errors around it.
#[derive(Clone)]
pub struct Edge {
    router: Router,
    state: AppState,
}

impl Edge {
    pub fn new(router: Router, state: AppState) -> Edge {
        Edge { router, state }
    }
}

impl<B> Service<Request<B>> for Edge
where
    Router: Service<
        Request<B>,
        Response = Response,
        Error = Infallible,
        Future = RouteFuture<Infallible>,
    >,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> EdgeFuture {
        let config = self.state.hub.config();
        // The Mercure hub (and its metadata) has a list of its own.
        let path = req.uri().path();
        let hub = config.mercure
            && (path.starts_with(super::mercure::PATH) || path == super::mercure::metadata::PATH);
        let (origins, setting) = if hub && config.mercure_cors_origins != Patterns::None {
            (&config.mercure_cors_origins, "push.mercure_cors_origins")
        } else {
            (&config.allowed_origins, "push.allowed_origins")
        };
        let cors = match req.headers().get(header::ORIGIN) {
            None => None,
            Some(o) => {
                let allowed = o.to_str().is_ok_and(|o| origins.allows(o));
                if !allowed {
                    let refused = ApiError::Forbidden(format!("origin not allowed: see {setting}"));
                    return EdgeFuture::ready(refused.into_response());
                }
                Some(Cors {
                    // A copy: the header's bytes are a slice of hyper's read
                    // buffer, which a long-poll would otherwise pin while it
                    // waits (hyper then takes another).
                    origin: HeaderValue::from_bytes(o.as_bytes()).unwrap_or_else(|_| o.clone()),
                    credentials: matches!(origins, Patterns::List(_)),
                    hub,
                })
            }
        };
        match cors {
            Some(cors) if req.method() == Method::OPTIONS => {
                EdgeFuture::ready(cors.mark(preflight(hub)))
            }
            cors => EdgeFuture {
                state: State::Routed {
                    future: Service::call(&mut self.router, req),
                    cors,
                },
            },
        }
    }
}

/// The answer to a CORS preflight (`OPTIONS` with an `Origin`); the
/// Mercure hub's also allows the headers its clients send (`Cache-Control`
/// with a token in the query, as draft-08 asks; `Mercure-Last-Event-ID`).
fn preflight(hub: bool) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(match hub {
            false => "authorization, content-type, last-event-id",
            true => {
                "authorization, cache-control, content-type, last-event-id, mercure-last-event-id"
            }
        }),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// The CORS headers of an allowed origin. Origins `push.allowed_origins`
/// (or, for the Mercure hub, `push.mercure_cors_origins`) names, not
/// merely `*`, may also send credentials (the token cookie).
struct Cors {
    origin: HeaderValue,
    credentials: bool,
    /// A Mercure hub answer: its `Last-Event-ID` header is exposed (how a
    /// client tells that updates were lost).
    hub: bool,
}

impl Cors {
    fn mark(self, mut response: Response) -> Response {
        let h = response.headers_mut();
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if self.hub {
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("last-event-id"),
            );
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, self.origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        response
    }
}

fn mark(cors: Option<Cors>, response: Response) -> Response {
    match cors {
        Some(cors) => cors.mark(response),
        None => response,
    }
}

pin_project! {
    pub struct EdgeFuture {
        #[pin]
        state: State,
    }
}

pin_project! {
    #[project = StateProj]
    enum State {
        Ready { response: Option<Response> },
        Routed {
            #[pin]
            future: RouteFuture<Infallible>,
            cors: Option<Cors>,
        },
        Rewriting {
            future: Pin<Box<dyn Future<Output = Response> + Send>>,
            cors: Option<Cors>,
        },
    }
}

impl EdgeFuture {
    fn ready(response: Response) -> EdgeFuture {
        EdgeFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl Future for EdgeFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let rewrite = match state.as_mut().project() {
                StateProj::Ready { response } => {
                    // A refusal or a preflight answered at once. (Polled
                    // again after it finished, which hyper never does: 500.)
                    let response = response
                        .take()
                        .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
                    return Poll::Ready(Ok(response));
                }
                StateProj::Routed { future, cors } => {
                    let Ok(response) = std::task::ready!(future.poll(cx));
                    if !wants_json(&response) {
                        return Poll::Ready(Ok(mark(cors.take(), response)));
                    }
                    State::Rewriting {
                        future: Box::pin(json_errors(response)),
                        cors: cors.take(),
                    }
                }
                StateProj::Rewriting { future, cors } => {
                    let response = std::task::ready!(future.as_mut().poll(cx));
                    return Poll::Ready(Ok(mark(cors.take(), response)));
                }
            };
            state.set(rewrite);
        }
    }
}
