//! Room operators on the terminal: whoever makes a room runs it, and can
//! make others operators, kick, ban and lock the topic; the longest-present
//! member succeeds the last operator (docs/PROTOCOL.md, "Room operators").

use crate::support::{alice_and_bob, Client, TestServer};

/// alice and bob, both in `#dev`, which alice made (she is its operator)
/// and is talking in.
fn alice_and_bob_in_dev(server: &TestServer) -> (Client, Client) {
    let (alice, bob) = alice_and_bob(server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");
    (alice, bob)
}

#[test]
fn the_creator_of_a_room_is_its_operator_and_can_make_others_one() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob_in_dev(&server);
    bob.send("/users dev");
    bob.expect("* in #dev: @alice, bob");
    alice.send("/op bob");
    alice.expect("* alice made bob an operator of #dev");
    bob.expect("* alice made bob an operator of #dev");
    bob.send("/deop alice");
    bob.expect("* bob removed alice from the operators of #dev");
    alice.expect("* bob removed alice from the operators of #dev");
    alice.send("/users");
    alice.send("/users dev");
    alice.expect("* online: alice, bob");
    alice.expect("* in #dev: alice, @bob");
}

#[test]
fn who_is_not_an_operator_is_refused() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    // alice made #general (she came first); bob did not.
    for command in [
        "/op bob",
        "/deop alice",
        "/kick alice",
        "/ban carol",
        "/lock",
    ] {
        bob.send(command);
        bob.expect("! you are not an operator of #general");
    }
    bob.send("/unban carol");
    bob.expect("! you are not an operator of #general");
    bob.send("/kick #dev alice");
    bob.expect("! you are not in #dev");
    alice.send("/op carol");
    alice.expect("! carol is not online");
    let carol = server.login("carol");
    carol.send("/join dev");
    carol.expect("* you joined #dev");
    alice.wait_for("* carol joined #general");
    alice.send("/kick #general nobody");
    alice.expect("! nobody is not online");
    // The target must be in the room: carol, online, leaves #general.
    carol.send("/leave general");
    carol.expect("* you left #general");
    alice.expect("* carol left #general");
    alice.send("/op carol");
    alice.expect("! carol is not in #general");
}

#[test]
fn a_kick_puts_someone_out_of_the_room_not_off_the_server() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/kick bob spamming links");
    alice.expect("* bob was kicked from #general by alice (spamming links)");
    bob.expect("* bob was kicked from #general by alice (spamming links)");
    // Out of the room: alice's messages there no longer reach bob, who is
    // still online and can write to her.
    alice.send("anyone?");
    bob.send("@alice sorry");
    alice.expect("[DM] bob: sorry");
    bob.send("/users general");
    bob.expect("* in #general: @alice");
    bob.send("hello");
    bob.expect("! you are not in any room (try /join <room>)");
    // He may come back: a kick is not a ban.
    bob.send("/join general");
    bob.expect("* you joined #general");
    alice.expect("* bob joined #general");
    alice.send("/kick bob");
    // After the replay of "anyone?".
    bob.wait_for("* bob was kicked from #general by alice");
}

#[test]
fn a_banned_name_cannot_join_until_unbanned() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/ban bob");
    alice.expect("* alice banned bob from #general");
    bob.expect("* alice banned bob from #general");
    // A ban keeps a name out; it does not remove who is in (kick does).
    alice.send("/kick bob");
    alice.expect("* bob was kicked from #general by alice");
    bob.expect("* bob was kicked from #general by alice");
    bob.send("/join general");
    bob.expect("! you are banned from #general");
    // Ignoring case, and whatever the spelling of the ban.
    bob.send("/nick BOB");
    bob.expect("* you are now known as BOB");
    bob.send("/join general");
    bob.expect("! you are banned from #general");
    alice.send("/ban Mallory");
    alice.expect("* alice banned Mallory from #general");
    alice.send("/ban");
    alice.expect("* banned from #general: bob, Mallory");
    alice.send("/unban bob");
    // Names are shown as their owner spells them now.
    alice.expect("* alice lifted the ban on BOB in #general");
    bob.send("/join general");
    bob.expect("* you joined #general");
    alice.expect("* BOB joined #general");
    bob.send("/ban");
    bob.expect("* banned from #general: Mallory");
}

#[test]
fn a_locked_topic_is_set_by_operators_only() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    bob.send("/topic anyone can");
    bob.expect("* bob set the topic of #general: anyone can");
    alice.expect("* bob set the topic of #general: anyone can");
    alice.send("/lock");
    alice.expect("* alice locked the topic of #general: only operators may set it");
    bob.expect("* alice locked the topic of #general: only operators may set it");
    bob.send("/topic mine now");
    bob.expect("! you are not an operator of #general");
    bob.send("/topic");
    bob.expect("* topic of #general: anyone can (set by bob)");
    alice.send("/topic release day");
    alice.expect("* alice set the topic of #general: release day");
    alice.send("/unlock");
    alice.expect("* alice unlocked the topic of #general");
    bob.wait_for("* alice unlocked the topic of #general");
    bob.send("/topic free again");
    bob.expect("* bob set the topic of #general: free again");
}

#[test]
fn the_longest_present_member_succeeds_the_last_operator() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    alice.send("/leave");
    alice.expect("* you left #general");
    // bob came before carol.
    bob.expect("* alice left #general");
    bob.expect("* bob is now an operator of #general");
    carol.expect("* alice left #general");
    carol.expect("* bob is now an operator of #general");
    carol.send("/users general");
    carol.expect("* in #general: @bob, carol");
}

#[test]
fn an_emptied_room_forgets_its_operators_bans_and_lock() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/ban bob");
    alice.expect("* alice banned bob from #dev");
    alice.send("/lock");
    alice.expect("* alice locked the topic of #dev: only operators may set it");
    alice.send("/leave dev");
    alice.expect("* you left #dev");
    // Nobody is in #dev: it is gone, and bob makes it anew.
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    bob.send("/users dev");
    bob.expect("* in #dev: @bob");
    bob.send("/topic mine");
    bob.expect("* bob set the topic of #dev: mine");
}

#[test]
fn operators_commands_name_another_room_with_its_hash() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob_in_dev(&server);
    // alice is talking in #dev; she names #general to act there.
    alice.send("/kick #general bob");
    alice.expect("* bob was kicked from #general by alice");
    bob.expect("* bob was kicked from #general by alice");
    alice.send("#dev still here?");
    bob.expect("[#dev] alice: still here?");
}

#[test]
fn a_moderated_room_hears_only_operators_and_the_voiced() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/moderate");
    alice.expect("* alice moderated #general: only operators and voiced members may speak");
    bob.expect("* alice moderated #general: only operators and voiced members may speak");
    bob.send("may I?");
    bob.expect("! #general is moderated: only operators and voiced members may speak");
    bob.send("/me waves");
    bob.expect("! #general is moderated: only operators and voiced members may speak");
    // Direct messages are not a room's business.
    bob.send("@alice please?");
    alice.expect("[DM] bob: please?");
    alice.send("/voice bob");
    alice.expect("* alice gave bob a voice in #general");
    bob.expect("* alice gave bob a voice in #general");
    bob.send("/users general");
    bob.expect("* in #general: @alice, +bob");
    bob.send("thank you");
    alice.expect("[#general] bob: thank you");
    alice.send("/devoice bob");
    alice.expect("* alice took bob's voice in #general");
    bob.expect("* alice took bob's voice in #general");
    bob.send("again?");
    bob.expect("! #general is moderated: only operators and voiced members may speak");
    alice.send("/unmoderate");
    alice.expect("* alice ended the moderation of #general");
    bob.expect("* alice ended the moderation of #general");
    bob.send("free at last");
    alice.expect("[#general] bob: free at last");
    bob.send("/voice alice");
    bob.expect("! you are not an operator of #general");
}
