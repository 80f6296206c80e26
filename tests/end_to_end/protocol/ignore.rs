//! `/ignore`: a user stops getting someone's room messages, actions and
//! direct messages, for the session, and the ignored person is not told.

use crate::support::{alice_and_bob, TestServer};

#[test]
fn an_ignored_persons_messages_and_direct_messages_do_not_arrive() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let carol = server.login("carol");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    bob.send("hello all");
    bob.send("/me waves");
    bob.send("@alice psst");
    // Carol gets bob's lines; bob is told nothing about alice.
    carol.expect("[#general] bob: hello all");
    carol.expect("[#general] * bob waves");
    carol.send("and hello from carol");
    // Alice's next line is carol's: bob's three never came.
    alice.expect("[#general] carol: and hello from carol");
    bob.expect("[#general] carol: and hello from carol");
    // Notices still come: ignoring hides what someone says, not who is here.
    alice.send("/ignore");
    alice.expect("* ignoring: bob");
    alice.send("/unignore BOB");
    alice.expect("* no longer ignoring bob");
    bob.send("back again");
    alice.expect("[#general] bob: back again");
}

#[test]
fn a_rename_is_no_way_around_ignore() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    bob.send("/nick robert");
    bob.expect("* you are now known as robert");
    alice.expect("* bob is now known as robert");
    bob.send("still me");
    alice.send("/ignore");
    alice.expect("* ignoring: robert");
}

#[test]
fn ignore_refusals_say_why() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/ignore alice");
    alice.expect("! you cannot ignore yourself");
    alice.send("/unignore bob");
    alice.expect("! you are not ignoring bob");
    alice.send("/ignore no!good");
    alice.expect("! name may only contain letters, digits, _ and -");
    alice.send("/ignore");
    alice.expect("* ignoring nobody");
}
