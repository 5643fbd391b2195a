//! push's HTTP API on `push.listen`: `POST /publish` ([`publish`]);
//! `GET /health`, `GET /ready` and `GET /metrics` ([`ops`]).

pub mod ops;
pub mod publish;
