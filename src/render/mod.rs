//! Rendering helpers shared by the human and JSON renderers.

pub mod sanitize;
