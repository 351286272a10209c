//! Gathering: the only layer that touches the host.

pub mod kernel_log;
pub mod managers;
