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
