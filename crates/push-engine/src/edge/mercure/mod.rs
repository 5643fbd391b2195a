//! The Mercure hub at `/.well-known/mercure` (`push.mercure = On`): the
//! classic dialect that symfony/mercure, API Platform and FrankenPHP's
//! hub speak (draft-07), so a Symfony app points `MERCURE_URL` at push.
//!
//! - [`publish`]: `POST`, an update from a publisher;
//! - [`subscribe`]: `GET`, a subscriber's SSE stream, resumable;
//! - [`authorization`]: the publishers' and subscribers' JWTs;
//! - [`topic`]: topic selectors (`*`, exact topics, URI templates);
//! - [`update`]: an update as the log holds it, and its SSE frame;
//! - [`subscriptions`]: subscription events and the subscriptions API
//!   (`push.mercure_subscriptions`);
//! - [`channels`]: push's channels and Mercure's topics as one namespace
//!   (`push.mercure_channels`).
//!
//! Every update goes into one hub-wide log, the reserved channel [`LOG`]:
//! Mercure's ids form one sequence across the hub and one `Last-Event-ID`
//! resumes a subscription to any set of topics, so the log is push's
//! history of that channel (its ring, its loss signal), and a subscription
//! is that channel read through a matcher of topics and grants. The hub
//! itself knows nothing of Mercure: it holds the log as it holds any
//! channel, and keeps it from push's own doors (a reserved name).

pub mod authorization;
pub mod channels;
pub mod details;
pub mod metadata;
pub mod pattern;
pub mod publish;
pub mod subscribe;
pub mod subscriptions;
pub mod topic;
pub mod update;

/// The hub's path.
pub const PATH: &str = "/.well-known/mercure";

/// The hub-wide log of updates: a channel reserved for this adapter.
pub const LOG: &str = ".push/mercure";
