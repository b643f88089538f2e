//! talkgroups: roster-based group chat as an XMPP external component
//! (XEP-0114). People add `lobby@groups.example.org` as a contact; what
//! they send is rebroadcast to the other members.
//!
//! Modules:
//! - `config`: TOML -> validated settings, one clear line per problem.
//! - `core`: the pure state machine (membership, commands, relay rules,
//!   HTTP routes), events in, actions out.
//! - `store`: SQLite (migrations, domain writes, a checkpointer thread);
//!   blocking, called from the core thread only.
//! - `xmpp`: the component stream — the only module naming tokio_xmpp.
//! - `http`: the HTTP listener (receive routes, bridges, the API,
//!   /healthz, /metrics), on a runtime of its own.
//! - `admin`: the web admin page's files, built in.
//! - `sender`: the HTTP client for send routes.
//! - `wire`: stanzas to bytes for the component stream (fan-out patched).
//! - `app`: the core thread: owns the core and the database, runs the
//!   main loop; the adapters run on a tokio runtime beside it.
//!
//! The binary (`main.rs`) is a thin command line over `app::run`; the
//! library exists so benchmarks and fuzz targets can drive the parts.

pub mod admin;
pub mod app;
pub mod config;
pub mod core;
pub mod http;
pub mod sender;
pub mod store;
pub mod wire;
pub mod xmpp;
