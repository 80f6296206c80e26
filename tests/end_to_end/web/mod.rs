//! The web page: first spoken to in plain HTTP by a small client written
//! here (`http`), then used by a person in a real browser (`browser`).

mod browser;
mod http;
