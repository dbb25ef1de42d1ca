//! Shared state behind a trait of `config`: the [`ReplayStore`](crate::ReplayStore)s that remember
//! DPoP proofs, in this process ([`MemoryReplayStore`]) or in Redis ([`RedisReplayStore`], feature
//! `redis`), shared by every instance of a service.
//!
//! The layer sits just above `config`, whose builder takes any store, and below `verify`, which
//! builds the default one.

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryReplayStore;
#[cfg(feature = "redis")]
pub use redis::RedisReplayStore;
#[cfg(feature = "redis")]
pub(crate) use redis::{RedisConnection, Script};
