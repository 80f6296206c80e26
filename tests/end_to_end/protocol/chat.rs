//! Lines from a logged-in client: plain text, `#room` and `@name` messages,
//! and every command with its replies, errors and usage lines
//! (docs/PROTOCOL.md, "Lines from a client" and its "Details").

use crate::support::{alice_and_bob, Client, TestServer};

const NO_ROOM: &str = "! you are not in any room (try /join <room>)";
const BAD_ROOM: &str = "! room names are 1 to 32 characters from A-Z a-z 0-9 _ -";

/// Sends `/users` and checks that the very next line is its reply: proof that
/// the server sent this client nothing else in between.
fn expect_nothing_more(client: &Client) {
    client.send("/users");
    client.expect_prefix("* online: ");
}

// ---- plain text, #room and @name ------------------------------------------

#[test]
fn plain_text_goes_to_the_current_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("hi all");
    bob.expect("[#general] alice: hi all");
}

#[test]
fn plain_text_is_not_echoed_to_the_sender() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("hi all");
    bob.expect("[#general] alice: hi all");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn room_prefix_sends_to_that_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    // alice now talks in #dev, but the prefix picks #general.
    alice.send("#general hello general");
    bob.expect("[#general] alice: hello general");
    expect_nothing_more(&alice);
}

#[test]
fn room_prefix_ignores_case_of_the_room_name() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("#General hello");
    bob.expect("[#general] alice: hello");
}

#[test]
fn room_prefix_for_a_room_you_are_not_in_is_refused() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("#dev sneaky");
    alice.expect("! you are not in #dev");
    expect_nothing_more(&bob);
}

#[test]
fn room_prefix_for_a_room_that_does_not_exist_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("#nowhere hello");
    alice.expect("! you are not in #nowhere");
}

#[test]
fn room_prefix_without_text_gets_usage() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("#general");
    alice.expect("! usage: #room message");
}

#[test]
fn direct_message_reaches_only_the_named_user() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");

    alice.send("@bob psst");
    bob.expect("[DM] alice: psst");
    expect_nothing_more(&carol);
}

#[test]
fn direct_message_is_not_echoed_to_the_sender() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("@bob psst");
    bob.expect("[DM] alice: psst");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn direct_message_to_a_name_not_online_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("@zed hello?");
    alice.expect("! zed is not online");
}

#[test]
fn direct_message_without_text_gets_usage() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob(&server);
    alice.send("@bob");
    alice.expect("! usage: @name message");
}

#[test]
fn direct_message_is_not_written_to_the_history_file() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("@bob secret-dm");
    bob.expect("[DM] alice: secret-dm");
    // A room message is logged before it is delivered: once bob has it, the
    // log has had its chance to hold the DM too.
    alice.send("public-line");
    bob.expect("[#general] alice: public-line");
    let log = server.history();
    assert!(log.contains("public-line"), "room message missing: {log:?}");
    assert!(!log.contains("secret-dm"), "DM was logged: {log:?}");
}

// ---- /join -----------------------------------------------------------------

#[test]
fn join_replies_and_creates_the_room() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/rooms");
    alice.expect("* rooms: #dev (1), #general (1)");
}

#[test]
fn join_accepts_a_leading_hash() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join #dev");
    alice.expect("* you joined #dev");
}

#[test]
fn join_stores_the_room_name_in_lower_case() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join Dev");
    alice.expect("* you joined #dev");
    bob.send("/join #DEV");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");
    alice.send("/rooms");
    alice.expect("* rooms: #dev (2), #general (2)");
}

#[test]
fn join_tells_the_members_of_the_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.expect("* alice joined #dev");
}

#[test]
fn rooms_bigger_than_the_announce_limit_get_no_join_or_leave_notices() {
    let server = TestServer::with_config("announce_max_members = 2");
    let (alice, bob) = alice_and_bob(&server);
    // carol makes three: she is still announced to the two already there.
    let carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    // dave would make four: the room of three hears nothing.
    let dave = server.login("dave");
    alice.send("/users");
    alice.expect("* online: alice, bob, carol, dave");
    // Leaving a room of four (three left) is not announced either...
    dave.send("/quit");
    dave.expect("* Bye dave!");
    dave.expect_closed();
    // ...but with two left, carol's leaving is.
    carol.send("/quit");
    carol.expect("* Bye carol!");
    alice.expect("* carol left #general");
    bob.expect("* carol left #general");
}

#[test]
fn join_makes_the_room_current() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.expect("* alice joined #dev");
    alice.send("hello dev");
    bob.expect("[#dev] alice: hello dev");
}

#[test]
fn join_of_a_room_you_are_in_just_makes_it_current() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/join general");
    alice.expect("* you are now talking in #general");
    // No second join notice for the members of #general.
    expect_nothing_more(&bob);
    alice.send("back in general");
    bob.expect("[#general] alice: back in general");
}

#[test]
fn join_replays_the_history_of_the_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    bob.send("first in dev");
    bob.send("second in dev");
    bob.send("/users"); // once answered, both lines are logged
    bob.expect_prefix("* online: ");

    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.expect("* last 2 messages in #dev:");
    alice.expect("[#dev] bob: first in dev");
    alice.expect("[#dev] bob: second in dev");
}

#[test]
fn join_without_a_room_gets_usage() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join");
    alice.expect("! usage: /join <room>");
}

#[test]
fn join_of_a_bad_room_name_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    for bad in ["dev.ops", "dév", &"r".repeat(33)] {
        alice.send(&format!("/join {bad}"));
        alice.expect(BAD_ROOM);
    }
    alice.send("/rooms");
    alice.expect("* rooms: #general (1)");
}

#[test]
fn room_name_of_32_characters_is_accepted() {
    let server = TestServer::start();
    let alice = server.login("alice");
    let name = "r".repeat(32);
    alice.send(&format!("/join {name}"));
    alice.expect(&format!("* you joined #{name}"));
}

// ---- /leave ----------------------------------------------------------------

#[test]
fn leave_without_argument_leaves_the_current_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.expect("* alice joined #dev");

    alice.send("/leave");
    alice.expect("* you left #dev");
    bob.expect("* alice left #dev");
}

#[test]
fn leave_with_a_room_leaves_that_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/leave #general");
    alice.expect("* you left #general");
    bob.expect("* alice left #general");
    alice.send("/rooms");
    alice.expect("* rooms: #dev (1), #general (1)");
}

#[test]
fn leave_of_a_room_you_are_not_in_is_refused() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("/leave dev");
    alice.expect("! you are not in #dev");
    expect_nothing_more(&bob);
}

#[test]
fn leave_falls_back_to_the_most_recently_joined_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/join x");
    bob.expect("* you joined #x");
    alice.send("/join x");
    alice.expect("* you joined #x");
    bob.expect("* alice joined #x");
    alice.send("/join y");
    alice.expect("* you joined #y");

    // Joined: #general, #x, #y. Leaving #y makes #x current.
    alice.send("/leave");
    alice.expect("* you left #y");
    alice.send("to x");
    bob.expect("[#x] alice: to x");

    // Leaving #x makes #general current.
    alice.send("/leave");
    alice.expect("* you left #x");
    bob.expect("* alice left #x");
    alice.send("to general");
    bob.expect("[#general] alice: to general");
}

#[test]
fn room_disappears_when_its_last_member_leaves() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/leave dev");
    alice.expect("* you left #dev");
    alice.send("/rooms");
    alice.expect("* rooms: #general (1)");
    alice.send("/users dev");
    alice.expect("! no room #dev");
}

#[test]
fn plain_text_with_no_room_left_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/leave");
    alice.expect("* you left #general");
    alice.send("anyone?");
    alice.expect(NO_ROOM);
}

#[test]
fn action_with_no_room_left_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/leave");
    alice.expect("* you left #general");
    alice.send("/me waves");
    alice.expect(NO_ROOM);
}

// ---- /rooms and /users -----------------------------------------------------

#[test]
fn rooms_lists_rooms_sorted_by_name_with_member_counts() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join zoo");
    alice.expect("* you joined #zoo");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");
    alice.send("/rooms");
    alice.expect("* rooms: #dev (2), #general (2), #zoo (1)");
}

#[test]
fn rooms_says_none_when_nobody_is_in_a_room() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/leave");
    alice.expect("* you left #general");
    alice.send("/rooms");
    alice.expect("* rooms: none");
}

#[test]
fn users_lists_everyone_online_sorted_ignoring_case() {
    let server = TestServer::start();
    let _dave = server.login("dave");
    let _carl = server.login("Carl");
    let _bob = server.login("bob");
    let alice = server.login("Alice");
    // A connection still in the handshake is not online.
    let stranger = server.connect();
    stranger.expect_prefix("* Welcome to ");
    alice.send("/users");
    alice.expect("* online: Alice, bob, Carl, dave");
}

#[test]
fn users_with_a_room_lists_its_members() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let _carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    // Each room's operator (who made it) is marked.
    alice.send("/users dev");
    alice.expect("* in #dev: alice, @bob");
    alice.send("/users #general");
    alice.expect("* in #general: @alice, bob, carol");
}

#[test]
fn users_of_a_room_nobody_is_in_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/users dev");
    alice.expect("! no room #dev");
}

// ---- /nick -----------------------------------------------------------------

#[test]
fn nick_renames_and_replies() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    alice.send("/users");
    alice.expect("* online: alicia, bob");
    alice.send("hi as alicia");
    bob.expect("[#general] alicia: hi as alicia");
}

#[test]
fn nick_is_announced_only_to_users_sharing_a_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    carol.send("/leave");
    carol.expect("* you left #general");
    alice.expect("* carol left #general");
    bob.expect("* carol left #general");

    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    expect_nothing_more(&carol);
}

#[test]
fn nick_is_announced_once_to_a_user_sharing_several_rooms() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");

    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    expect_nothing_more(&bob);
}

#[test]
fn nick_to_a_taken_name_is_refused() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob(&server);
    alice.send("/nick bob");
    alice.expect("! the name bob is taken");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn nick_to_a_bad_name_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/nick bad!name");
    alice.expect("! name may only contain letters, digits, _ and -");
    alice.send(&format!("/nick {}", "a".repeat(25)));
    alice.expect("! name must be 1 to 24 characters");
    alice.send("/nick Server");
    alice.expect("! the name server is reserved");
    alice.send("/users");
    alice.expect("* online: alice");
}

#[test]
fn nick_frees_the_old_name() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    let newcomer = server.connect();
    newcomer.expect_prefix("* Welcome to ");
    newcomer.send("alice");
    newcomer.expect("* Hello alice! You are in #general. Type /help for commands.");
}

#[test]
fn nick_new_name_receives_direct_messages() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    bob.send("@alicia psst");
    alice.expect("[DM] bob: psst");
    bob.send("@alice psst");
    bob.expect("! alice is not online");
}

#[test]
fn nick_without_a_name_gets_usage() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/nick");
    alice.expect("! usage: /nick <name>");
}

// ---- /me, /help ------------------------------------------------------------

#[test]
fn me_sends_an_action_to_the_current_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/me waves");
    bob.expect("[#general] * alice waves");
}

#[test]
fn me_is_not_echoed_to_the_sender() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/me waves");
    bob.expect("[#general] * alice waves");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn me_without_an_action_gets_usage() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/me");
    alice.expect("! usage: /me <action>");
}

#[test]
fn help_lists_every_command_in_notice_lines() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/help");
    alice.send("/users");
    let help = alice.wait_for("* online: alice");
    assert!(help.len() >= 2, "expected several lines, got {help:?}");
    for line in &help {
        assert!(
            line.starts_with("* "),
            "help line is not a notice: {line:?}"
        );
    }
    let text = help.join("\n");
    for command in [
        "#", "@", "/join", "/leave", "/rooms", "/users", "/nick", "/me", "/help", "/quit",
    ] {
        assert!(text.contains(command), "/help does not mention {command}");
    }
}

// ---- leaving the server ----------------------------------------------------

/// Sends `word` as alice and checks the goodbye and the close.
fn quits_with(word: &str) {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send(word);
    alice.expect("* Bye alice!");
    alice.expect_closed();
}

#[test]
fn quit_says_bye_and_closes_the_connection() {
    quits_with("/quit");
}

#[test]
fn quit_word_alone_also_quits() {
    quits_with("quit");
}

#[test]
fn bye_word_alone_also_quits() {
    quits_with("bye");
}

#[test]
fn quit_and_bye_inside_a_longer_line_are_plain_text() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("quit now");
    bob.expect("[#general] alice: quit now");
    alice.send("bye all");
    bob.expect("[#general] alice: bye all");
    expect_nothing_more(&alice);
}

#[test]
fn quit_tells_every_room_of_the_leaver() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");

    alice.send("/quit");
    alice.expect("* Bye alice!");
    // alice made both rooms; bob succeeds her as operator of each.
    let mut notices: Vec<String> = (0..4).map(|_| bob.line()).collect();
    notices.sort();
    assert_eq!(
        notices,
        [
            "* alice left #dev",
            "* alice left #general",
            "* bob is now an operator of #dev",
            "* bob is now an operator of #general",
        ]
    );
    bob.send("/users");
    bob.expect("* online: bob");
}

// ---- errors and details ----------------------------------------------------

#[test]
fn unknown_command_is_refused() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/dance");
    alice.expect("! unknown command /dance (try /help)");
}

#[test]
fn command_names_are_not_case_sensitive() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/Me waves");
    bob.expect("[#general] * alice waves");
    alice.send("/JOIN dev");
    alice.expect("* you joined #dev");
    alice.send("/Users");
    alice.expect("* online: alice, bob");
    alice.send("/ROOMS");
    alice.expect("* rooms: #dev (1), #general (2)");
    alice.send("/Leave");
    alice.expect("* you left #dev");
    alice.send("/QUIT");
    alice.expect("* Bye alice!");
    bob.expect("* alice left #general");
}
