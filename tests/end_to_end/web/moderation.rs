//! Room operators from the web page: the same commands as a terminal's,
//! sent with `POST /api/send` and answered there, their effects on the
//! event stream as JSON (docs/PROTOCOL.md, "Room operators" and "The web
//! page").

use crate::support::web::{alice_and_webby, refused, web_send, web_send_to, OK};
use crate::support::TestServer;

#[test]
fn a_browser_that_is_no_operator_is_told_so_in_the_answer() {
    let server = TestServer::start();
    let (_alice, token, _events) = alice_and_webby(&server);
    // alice came first: #general is hers.
    for line in [
        "/kick alice",
        "/op webby",
        "/ban alice",
        "/lock",
        "/moderate",
    ] {
        let answer = web_send_to(&server, &token, "#general", line);
        assert_eq!(
            answer.text(),
            refused("you are not an operator of #general"),
            "{line}"
        );
    }
}

#[test]
fn a_browser_made_operator_kicks_and_the_stream_tells_it_all() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    alice.send("/op webby");
    alice.expect("* alice made webby an operator of #general");
    events.wait_for(
        r#"{"type":"room_changed","room":"general","by":"alice","change":"operator","name":"webby","on":true}"#,
    );
    let answer = web_send_to(&server, &token, "#general", "/kick alice enough");
    assert_eq!(answer.text(), OK);
    alice.expect("* alice was kicked from #general by webby (enough)");
    events.expect(
        r#"{"type":"kicked_from","room":"general","name":"alice","by":"webby","reason":"enough"}"#,
    );
    // The member list the page asks for has webby alone, marked.
    assert_eq!(web_send(&server, &token, "/users general").text(), OK);
    events.expect(
        r#"{"type":"users","room":"general","members":[{"name":"webby","op":true,"voice":false}],"more":0}"#,
    );
}

#[test]
fn a_command_typed_in_a_rooms_view_acts_on_that_room() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    assert_eq!(web_send(&server, &token, "/join dev").text(), OK);
    events.wait_for(r#""type":"you_joined","room":"dev""#);
    alice.send("/join dev");
    alice.wait_for("* you joined #dev");
    alice.send("/join general"); // alice's current room is #general again
    alice.expect("* you are now talking in #general");
    // Typed in #dev's view, /ban and /lock are about #dev.
    assert_eq!(
        web_send_to(&server, &token, "#dev", "/ban mallory").text(),
        OK
    );
    assert_eq!(web_send_to(&server, &token, "#dev", "/lock").text(), OK);
    alice.expect("* webby banned mallory from #dev");
    alice.expect("* webby locked the topic of #dev: only operators may set it");
    events.wait_for(r#"{"type":"room_changed","room":"dev","by":"webby","change":"ban","name":"mallory","on":true}"#);
    events.expect(
        r#"{"type":"room_changed","room":"dev","by":"webby","change":"topic_lock","on":true}"#,
    );
    assert_eq!(web_send_to(&server, &token, "#dev", "/ban").text(), OK);
    events.expect(r#"{"type":"room_bans","room":"dev","names":["mallory"]}"#);
}

#[test]
fn every_room_operators_command_works_from_the_page() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    alice.send("/op webby");
    alice.expect("* alice made webby an operator of #general");
    events.wait_for(r#""change":"operator","name":"webby","on":true"#);
    let change = |change: &str, name: Option<&str>, on: bool| {
        let name = name.map_or(String::new(), |n| format!(r#","name":"{n}""#));
        format!(
            r#"{{"type":"room_changed","room":"general","by":"webby","change":"{change}"{name},"on":{on}}}"#
        )
    };
    for (line, event, terminal) in [
        (
            "/deop alice",
            change("operator", Some("alice"), false),
            "* webby removed alice from the operators of #general",
        ),
        (
            "/voice alice",
            change("voice", Some("alice"), true),
            "* webby gave alice a voice in #general",
        ),
        (
            "/moderate",
            change("moderated", None, true),
            "* webby moderated #general: only operators and voiced members may speak",
        ),
        (
            "/devoice alice",
            change("voice", Some("alice"), false),
            "* webby took alice's voice in #general",
        ),
        (
            "/unmoderate",
            change("moderated", None, false),
            "* webby ended the moderation of #general",
        ),
        (
            "/ban mallory",
            change("ban", Some("mallory"), true),
            "* webby banned mallory from #general",
        ),
        (
            "/unban mallory",
            change("ban", Some("mallory"), false),
            "* webby lifted the ban on mallory in #general",
        ),
        (
            "/lock",
            change("topic_lock", None, true),
            "* webby locked the topic of #general: only operators may set it",
        ),
        (
            "/unlock",
            change("topic_lock", None, false),
            "* webby unlocked the topic of #general",
        ),
    ] {
        assert_eq!(
            web_send_to(&server, &token, "#general", line).text(),
            OK,
            "{line}"
        );
        events.expect(&event);
        alice.expect(terminal);
    }
}
