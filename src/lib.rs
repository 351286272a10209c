//! badgw: why nginx answers 502 Bad Gateway, and what to type to fix it.
//!
//! Layers (docs/architecture.md): `gather` touches the host and produces [`facts::Facts`];
//! `checks` are pure functions of facts; `rank` orders findings; `render` formats a report.

pub mod app;
pub mod cause;
pub mod checks;
pub mod cli;
pub mod config;
pub mod exit;
pub mod facts;
pub mod fixes;
pub mod gather;
pub mod logs;
pub mod nginx;
pub mod parse;
pub mod progress;
pub mod rank;
pub mod render;
pub mod report;
#[cfg(test)]
pub mod test_support;
pub mod timeline;
