//! The page's requests once logged in (docs/PROTOCOL.md, "The web page"):
//! what `POST /api/send` answers, where a line typed in a conversation
//! goes, and the lists the page asks for by itself, which never cost the
//! user's rate limit.

use crate::support::web::{alice_and_webby, form, post, refused, web_send, web_send_to, webby, OK};
use crate::support::TestServer;

#[test]
fn send_answers_ok_once_the_line_is_delivered() {
    let server = TestServer::start();
    let (alice, token, _events) = alice_and_webby(&server);
    let response = web_send(&server, &token, "hello");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(response.text(), OK);
    // Delivered before the answer: alice has it already.
    alice.expect("[#general] webby: hello");
}

#[test]
fn send_answers_a_refusal_with_the_servers_reason() {
    let server = TestServer::start();
    let (token, mut events) = webby(&server);
    let answer = web_send(&server, &token, "@nobody are you there?");
    assert_eq!(
        (answer.status, answer.text()),
        (200, refused("nobody is not online"))
    );
    let answer = web_send(&server, &token, "/frobnicate");
    assert_eq!(
        answer.text(),
        refused("unknown command /frobnicate (try /help)")
    );
    // The refusal is in the answer, not on the stream too.
    web_send(&server, &token, "/rooms");
    events.expect_with(r#"{"type":"rooms","#);
}

#[test]
fn a_line_typed_in_a_rooms_view_goes_to_that_room() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    let (token, _events) = webby(&server);
    alice.expect("* webby joined #general");
    web_send(&server, &token, "/join dev");
    alice.expect("* webby joined #dev");
    // Back in #general, the terminal's idea of the current room; typed
    // in #dev's view, a line is said in #dev, and /me acts there too.
    web_send(&server, &token, "/join general");
    assert_eq!(web_send_to(&server, &token, "#dev", "in dev").text(), OK);
    alice.expect("[#dev] webby: in dev");
    web_send_to(&server, &token, "#dev", "/me nods");
    alice.expect("[#dev] * webby nods");
    // An explicit `#room text` still means that room.
    web_send_to(&server, &token, "#dev", "#general over there");
    alice.expect("[#general] webby: over there");
    // A command about "this room" is about the room shown.
    web_send_to(&server, &token, "#dev", "/leave");
    alice.expect("* webby left #dev");
}

#[test]
fn a_line_typed_in_a_persons_view_is_a_direct_message() {
    let server = TestServer::start();
    let (alice, token, _events) = alice_and_webby(&server);
    assert_eq!(web_send_to(&server, &token, "@alice", "psst").text(), OK);
    alice.expect("[DM] webby: psst");
    web_send_to(&server, &token, "@alice", "/me waves");
    alice.expect("[DM] * webby waves");
    // Slash commands still work as typed.
    web_send_to(&server, &token, "@alice", "/nick webster");
    alice.expect("* webby is now known as webster");
}

#[test]
fn a_bad_conversation_is_400() {
    let server = TestServer::start();
    let (token, _events) = webby(&server);
    let answer = web_send_to(&server, &token, "general", "hi");
    assert_eq!(
        (answer.status, answer.text()),
        (400, refused("to must be #room or @name"))
    );
}

#[test]
fn the_page_asks_for_a_rooms_members_and_gets_them_on_the_stream() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    let (token, mut events) = webby(&server);
    let body = form(&[("token", &token), ("room", "#dev")]);
    assert_eq!(post(server.web_addr, "/api/members", &body).text(), OK);
    events.wait_for(
        // alice made #dev: its operator.
        r#"{"type":"users","room":"dev","members":[{"name":"alice","op":true,"voice":false}],"more":0}"#,
    );
    let body = form(&[("token", &token), ("room", "nowhere")]);
    assert_eq!(
        post(server.web_addr, "/api/members", &body).text(),
        refused("no room #nowhere")
    );
}

#[test]
fn the_page_asks_for_the_room_directory_and_gets_it_on_the_stream() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    let (token, mut events) = webby(&server);
    let body = form(&[("token", &token)]);
    assert_eq!(post(server.web_addr, "/api/rooms", &body).text(), OK);
    events.wait_for(
        r#"{"type":"rooms","rooms":[{"room":"dev","members":1},{"room":"general","members":2}],"more":0}"#,
    );
}

#[test]
fn the_pages_own_requests_do_not_count_against_the_users_rate_limit() {
    let server = TestServer::with_config("rate_limit_per_sec = 1\nrate_limit_burst = 2");
    let (token, _events) = webby(&server);
    // The page refreshes its lists as often as its budget allows...
    let rooms = form(&[("token", &token)]);
    let members = form(&[("token", &token), ("room", "general")]);
    for _ in 0..2 {
        post(server.web_addr, "/api/rooms", &rooms);
        post(server.web_addr, "/api/members", &members);
    }
    // ...and the user's two lines of burst are still there.
    assert_eq!(web_send(&server, &token, "one").text(), OK);
    assert_eq!(web_send(&server, &token, "two").text(), OK);
    assert_eq!(
        web_send(&server, &token, "three").text(),
        refused("slow down")
    );
}
