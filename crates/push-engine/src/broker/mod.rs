//! Where publications are ordered and history is kept.
//!
//! The default is this process's memory: the [`crate::hub::Hub`] numbers
//! publications itself. With `push.broker = redis://…` several engines
//! share every channel through Redis ([`Redis`]): a publication is appended
//! to the channel's history stream and published in one Lua script
//! (`publish.lua`), every engine receives it in the same order and applies
//! it to its hub, which then mirrors the broker (see `hub::mirror`).

pub mod redis;
mod watched;

pub use self::redis::Redis;
