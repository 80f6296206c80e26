//! A browser's session outlives a dropped event stream (docs/PROTOCOL.md,
//! "The web page"): events are numbered, a stream opened again with
//! `Last-Event-ID` gets what the last one missed, others see no leave and
//! join for a short drop, and the session ends once the grace period
//! (`[web] reconnect_grace_secs`) has passed.

use std::thread;
use std::time::Duration;

use crate::support::web::{alice_and_webby, Events};
use crate::support::TestServer;

fn said(text: &str) -> String {
    format!(r#""type":"said","room":"general","from":"alice","text":"{text}""#)
}

#[test]
fn every_event_carries_a_number_and_the_numbers_rise() {
    let server = TestServer::start();
    let (alice, _token, mut events) = alice_and_webby(&server);
    let hello = events.last_id.expect("the hello is numbered");
    let mut last = hello;
    for text in ["one", "two", "three"] {
        alice.send(text);
        events.expect_with(&said(text));
        let id = events.last_id.expect("numbered");
        assert!(id > last, "{id} after {last}");
        last = id;
    }
}

#[test]
fn a_stream_opened_again_with_last_event_id_gets_what_it_missed() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    alice.send("one");
    events.expect_with(&said("one"));
    let seen = events.last_id;
    drop(events); // the Wi-Fi drops
    alice.send("two");
    alice.send("three");
    alice.send("/users"); // once answered, both lines were delivered
    alice.expect("* online: alice, webby");
    let mut events = Events::open_after(&server, &token, seen);
    assert_eq!(events.status, 200);
    events.expect_with(&said("two"));
    events.expect_with(&said("three"));
    // And on it goes, live.
    alice.send("four");
    events.expect_with(&said("four"));
}

#[test]
fn what_the_old_stream_was_sent_but_may_not_have_read_is_sent_again() {
    let server = TestServer::start();
    let (alice, token, events) = alice_and_webby(&server);
    let before = events.last_id;
    alice.send("one");
    // The event was written to the first stream, but this browser never
    // read it: it was still in the kernel's buffers when the stream died.
    thread::sleep(Duration::from_millis(200));
    drop(events);
    let mut events = Events::open_after(&server, &token, before);
    events.expect_with(&said("one"));
}

#[test]
fn a_short_drop_is_not_seen_by_the_others() {
    let server = TestServer::start(); // the default grace: 30 s
    let (alice, token, events) = alice_and_webby(&server);
    let seen = events.last_id;
    drop(events);
    thread::sleep(Duration::from_millis(1500));
    let mut events = Events::open_after(&server, &token, seen);
    assert_eq!(events.status, 200);
    // No `* webby left`, no `* webby joined`: the next line alice gets is
    // the answer to her own question.
    alice.send("/users");
    alice.expect("* online: alice, webby");
    alice.send("still there?");
    events.expect_with(&said("still there?"));
}

#[test]
fn after_the_grace_period_the_session_leaves_and_its_token_is_dead() {
    let server = TestServer::with_web_config("", "reconnect_grace_secs = 1");
    let (alice, token, events) = alice_and_webby(&server);
    drop(events);
    alice.expect("* webby left #general");
    let late = Events::open(&server, &token);
    assert_eq!(late.status, 401, "the session is gone");
}

#[test]
fn a_new_stream_takes_over_from_one_still_open() {
    let server = TestServer::start();
    let (alice, token, mut old) = alice_and_webby(&server);
    // The browser reconnects before the server noticed the old stream go
    // (a laptop that slept): the newer stream wins, the old one is ended.
    let mut new = Events::open_after(&server, &token, old.last_id);
    assert_eq!(new.status, 200);
    old.expect_end();
    alice.send("to the new one");
    new.expect_with(&said("to the new one"));
}
