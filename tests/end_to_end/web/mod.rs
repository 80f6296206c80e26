//! The web page: first spoken to in plain HTTP by the small client in
//! `http`, then used by a person in a real browser, in `browser`; and
//! `signup`, creating an account from the page.

mod api;
mod browser;
mod http;
mod moderation;
mod resume;
mod signup;
