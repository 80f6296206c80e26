//! The IRC listener from the outside: IRC clients written here with std
//! only register, chat with terminal and web users on the same server, and
//! get the numerics real IRC servers send (docs/IRC.md).
//!
//! Every IRC line must end with CRLF; [`Irc::line`] checks it.

use crate::support::web::{web_login, web_say, Events};
use crate::support::{Client, TempDir, TestServer};
use std::time::{Duration, Instant};

const S: &str = "lanchat.local";

/// An IRC connection to the test server.
struct Irc(Client);

impl Irc {
    fn connect(server: &TestServer) -> Irc {
        Irc(Client::connect(server.irc_addr).expect("connect to the IRC listener"))
    }

    /// Registers as `nick` and reads the welcome burst, up to the 422.
    fn login(server: &TestServer, nick: &str) -> Irc {
        let irc = Irc::connect(server);
        irc.send(&format!("NICK {nick}"));
        irc.send(&format!("USER {nick} 0 * :{nick} the tester"));
        irc.wait_for(&format!(":{S} 422 {nick} :MOTD File is missing"));
        irc
    }

    /// Registers as `nick` and joins `#general`, reading up to its 366.
    fn in_general(server: &TestServer, nick: &str) -> Irc {
        let irc = Irc::login(server, nick);
        irc.send("JOIN #general");
        irc.wait_for(&format!(":{S} 366 {nick} #general :End of /NAMES list"));
        irc
    }

    fn send(&self, line: &str) {
        self.0.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// The next line, without its CRLF (which must be there).
    fn line(&self) -> String {
        let line = self.0.line();
        let text = line.strip_suffix('\r');
        text.unwrap_or_else(|| panic!("an IRC line without CRLF: {line:?}"))
            .to_string()
    }

    fn expect(&self, expected: &str) {
        assert_eq!(self.line(), expected);
    }

    /// Reads lines until one equals `expected`; returns those skipped.
    fn wait_for(&self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Reads lines until one starts with `prefix`, and returns it.
    fn wait_for_prefix(&self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Checks nothing else came first: a PING's PONG is the next line.
    fn expect_nothing_before_pong(&self) {
        self.send("PING :marker");
        self.expect(&format!(":{S} PONG {S} :marker"));
    }

    fn expect_closed(&self) {
        self.0.expect_closed();
    }
}

/// The numeric code of a server line (`:server 001 nick ...`).
fn code(line: &str) -> &str {
    line.split(' ').nth(1).unwrap_or("")
}

/// A terminal client logged in as `name`, with nothing left to read.
fn terminal(server: &TestServer, name: &str) -> Client {
    server.login(name)
}

#[test]
fn registration_sends_001_to_005_the_lusers_and_422() {
    let server = TestServer::start();
    let irc = Irc::connect(&server);
    irc.send("NICK carol");
    irc.send("USER carol 0 * :Carol Tester");
    let mut lines = Vec::new();
    loop {
        let line = irc.line();
        let done = code(&line) == "422";
        lines.push(line);
        if done {
            break;
        }
    }
    let codes: Vec<&str> = lines.iter().map(|l| code(l)).collect();
    assert_eq!(
        codes,
        ["001", "002", "003", "004", "005", "251", "254", "255", "265", "266", "422"]
    );
    assert_eq!(
        lines[0],
        ":lanchat.local 001 carol :Welcome to the lanchat.local IRC network, carol!carol@irc"
    );
    assert!(lines[3].starts_with(":lanchat.local 004 carol lanchat.local lanchat-"));
    for token in [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "NICKLEN=24",
        "CHANNELLEN=33",
        "NETWORK=lanchat.local",
        "TARGMAX=",
        "KICK:4",
        "PREFIX=(ov)@+",
        "CHANMODES=b,,,mnt",
    ] {
        assert!(lines[4].contains(token), "{token} in {}", lines[4]);
    }
    assert_eq!(
        lines[5],
        ":lanchat.local 251 carol :There are 1 users and 0 invisible on 1 servers"
    );
    // An IRC client picks its own channels: it is in none yet.
    irc.send("WHOIS carol");
    irc.expect(":lanchat.local 311 carol carol ~carol irc * :Carol Tester");
    irc.expect(":lanchat.local 312 carol carol lanchat.local :lanchat, by way of the irc");
    irc.expect(":lanchat.local 318 carol carol :End of /WHOIS list");
}

#[test]
fn cap_negotiation_holds_registration_until_cap_end() {
    let server = TestServer::start();
    let irc = Irc::connect(&server);
    irc.send("CAP LS 302");
    irc.expect(":lanchat.local CAP * LS :");
    irc.send("NICK carol");
    irc.send("USER carol 0 * :Carol");
    irc.send("CAP REQ :multi-prefix");
    irc.expect(":lanchat.local CAP carol NAK :multi-prefix");
    irc.expect_nothing_before_pong(); // no 001 yet
    irc.send("CAP END");
    irc.expect_prefix_code("001");
}

impl Irc {
    fn expect_prefix_code(&self, numeric: &str) -> String {
        let line = self.line();
        assert_eq!(code(&line), numeric, "{line}");
        line
    }
}

#[test]
fn registration_errors_are_numerics() {
    let server = TestServer::start();
    let irc = Irc::connect(&server);
    irc.send("NICK");
    irc.expect(":lanchat.local 431 * :No nickname given");
    irc.send("NICK *");
    irc.expect(":lanchat.local 432 * * :Erroneous nickname");
    irc.send("NICK bad!name");
    irc.expect(":lanchat.local 432 * bad!name :Erroneous nickname");
    irc.send("JOIN #general");
    irc.expect(":lanchat.local 451 * :You have not registered");
    irc.send("NICK carol");
    irc.send("USER carol * * :");
    irc.expect(":lanchat.local 461 carol USER :Not enough parameters");
    irc.send("USER carol * * :Carol");
    irc.expect_prefix_code("001");
    irc.wait_for_prefix(":lanchat.local 422 ");
    irc.send("FROBNICATE now");
    irc.expect(":lanchat.local 421 carol FROBNICATE :Unknown command");
    irc.send("USER again * * :again");
    irc.expect(":lanchat.local 462 carol :You may not reregister");
}

#[test]
fn a_name_online_on_any_listener_is_taken_on_all() {
    let server = TestServer::start();
    let _alice = terminal(&server, "alice");
    let irc = Irc::connect(&server);
    irc.send("NICK Alice");
    irc.send("USER a 0 * :A");
    irc.expect(":lanchat.local 433 * Alice :Nickname is already in use");
    irc.send("NICK carol");
    irc.expect_prefix_code("001");
    let late = server.connect();
    late.expect_prefix("* Welcome to ");
    late.send("Carol");
    late.expect("! the name Carol is taken");
    irc.wait_for_prefix(":lanchat.local 422 ");
    irc.send("NICK alice");
    irc.expect(":lanchat.local 433 carol alice :Nickname is already in use");
}

#[test]
fn room_messages_cross_between_terminal_and_irc() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    alice.send("hi from the terminal");
    carol.expect(":alice!alice@terminal PRIVMSG #general :hi from the terminal");
    carol.send("PRIVMSG #general :hello terminal");
    alice.expect("[#general] carol: hello terminal");
    // CTCP ACTION is /me, both ways.
    carol.send("PRIVMSG #general :\x01ACTION waves\x01");
    alice.expect("[#general] * carol waves");
    alice.send("/me nods");
    carol.expect(":alice!alice@terminal PRIVMSG #general :\x01ACTION nods\x01");
    // IRC users are online like anyone else.
    alice.send("/users");
    alice.expect("* online: alice, carol");
    carol.expect_nothing_before_pong(); // no echo of its own messages
}

#[test]
fn web_users_and_irc_users_see_each_other() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    let token = web_login(&server, "webby");
    carol.expect(":webby!webby@web JOIN #general");
    web_say(&server, &token, "hi from the browser");
    carol.expect(":webby!webby@web PRIVMSG #general :hi from the browser");
    let mut events = Events::open_ok(&server, &token);
    carol.send("PRIVMSG #general :hello browser");
    events.wait_for(r#"{"type":"said","room":"general","from":"carol","text":"hello browser""#);
}

#[test]
fn joins_parts_renames_and_quits_cross_both_ways() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    carol.send("JOIN #dev");
    carol.expect(":carol!carol@irc JOIN #dev");
    carol.expect(":lanchat.local 353 carol = #dev :@alice carol");
    carol.expect(":lanchat.local 366 carol #dev :End of /NAMES list");
    alice.expect("* carol joined #dev");
    carol.send("PART #dev :later");
    carol.expect(":carol!carol@irc PART #dev :later");
    alice.expect("* carol left #dev");
    alice.send("/leave dev");
    alice.expect("* you left #dev");
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    carol.expect(":alice!alice@terminal NICK alicia");
    carol.send("NICK carla");
    carol.expect(":carol!carol@irc NICK carla");
    alice.expect("* carol is now known as carla");
    alice.send("/quit");
    carol.expect(":alicia!alicia@terminal QUIT :Quit");
    // alicia made #general; carla, the one left, is its operator now.
    carol.expect(":lanchat.local MODE #general +o carla");
    let bob = terminal(&server, "bob");
    carol.expect(":bob!bob@terminal JOIN #general");
    carol.send("QUIT :off to lunch");
    carol.expect("ERROR :Closing link: carla[irc] (Quit: off to lunch)");
    carol.expect_closed();
    bob.expect("* carla left #general");
}

#[test]
fn topics_are_one_for_terminal_and_irc() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    alice.send("/topic");
    alice.expect("* #general has no topic");
    alice.send("/topic release day");
    alice.expect("* alice set the topic of #general: release day");
    carol.expect(":alice!alice@terminal TOPIC #general :release day");
    carol.send("TOPIC #general");
    carol.expect(":lanchat.local 332 carol #general :release day");
    let by = carol.line();
    assert!(
        by.starts_with(":lanchat.local 333 carol #general alice "),
        "{by}"
    );
    carol.send("TOPIC #general :ship it");
    carol.expect(":carol!carol@irc TOPIC #general :ship it");
    alice.expect("* carol set the topic of #general: ship it");
    alice.send("/topic");
    alice.expect("* topic of #general: ship it (set by carol)");
    // A newcomer gets the topic with its JOIN.
    let dave = Irc::login(&server, "dave");
    dave.send("JOIN #general");
    dave.expect(":dave!dave@irc JOIN #general");
    dave.expect(":lanchat.local 332 dave #general :ship it");
    dave.expect_prefix_code("333");
    dave.wait_for(":lanchat.local 366 dave #general :End of /NAMES list");
    dave.send("TOPIC #nowhere");
    dave.expect(":lanchat.local 403 dave #nowhere :No such channel");
    alice.send("/join dev");
    alice.wait_for("* you joined #dev");
    dave.send("TOPIC #dev :mine now");
    dave.expect(":lanchat.local 442 dave #dev :You're not on that channel");
    carol.send("TOPIC #general :");
    alice.wait_for("* carol cleared the topic of #general");
    carol.wait_for(":carol!carol@irc TOPIC #general :");
    carol.send("TOPIC #general");
    carol.expect(":lanchat.local 331 carol #general :No topic is set");
}

#[test]
fn the_operator_speaks_in_notices_and_kicks_with_error() {
    let mut server = TestServer::start();
    let alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    server.console("/say lunch at noon");
    carol.expect(":lanchat.local NOTICE * :lunch at noon");
    alice.expect("[server] lunch at noon");
    server.console("/kick carol spamming");
    carol.expect("ERROR :Closing link: carol[irc] (Kicked by the operator: spamming)");
    carol.expect_closed();
    alice.expect("* carol left #general (kicked)");
}

#[test]
fn direct_messages_cross_both_ways() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    let carol = Irc::login(&server, "carol");
    alice.send("@carol psst");
    carol.expect(":alice!alice@terminal PRIVMSG carol :psst");
    carol.send("PRIVMSG alice :hi back");
    alice.expect("[DM] carol: hi back");
    carol.send("PRIVMSG Alice :\x01ACTION waves\x01");
    alice.expect("[DM] * carol waves");
    carol.send("PRIVMSG nobody :hello?");
    carol.expect(":lanchat.local 401 carol nobody :No such nick/channel");
    carol.send("PRIVMSG alice :");
    carol.expect(":lanchat.local 412 carol :No text to send");
    carol.send("PRIVMSG");
    carol.expect(":lanchat.local 411 carol :No recipient given (PRIVMSG)");
    carol.send("PRIVMSG #general :not a member");
    carol.expect(":lanchat.local 404 carol #general :Cannot send to channel");
    carol.send("PRIVMSG #nowhere :hello?");
    carol.expect(":lanchat.local 403 carol #nowhere :No such channel");
    // A NOTICE is never answered with an error.
    carol.send("NOTICE nobody :hello?");
    carol.expect_nothing_before_pong();
    carol.send("NOTICE alice :fyi");
    alice.expect("[DM] carol: fyi");
}

#[test]
fn the_replay_on_join_is_notices_from_the_server_with_the_time() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    alice.send("one");
    alice.send("/me two");
    alice.send("/rooms"); // a marker: the lines above are in the log
    alice.expect_prefix("* rooms:");
    let carol = Irc::in_general(&server, "carol");
    carol.expect(":lanchat.local NOTICE #general :last 2 messages in #general:");
    for said in ["<alice> one", "* alice two"] {
        let line = carol.line();
        let text = line
            .strip_prefix(":lanchat.local NOTICE #general :[")
            .unwrap_or_else(|| panic!("a replay line: {line}"));
        // `[2026-11-24 13:05] <alice> one`
        let (when, rest) = text.split_once("] ").expect("the time");
        assert_eq!(when.len(), 16, "{when}");
        assert_eq!(&when[10..11], " ");
        assert_eq!(rest, said);
    }
    carol.expect_nothing_before_pong();
}

#[test]
fn who_whois_names_list_and_friends_answer_with_numerics() {
    let server = TestServer::start();
    let _alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    carol.send("NAMES #general");
    carol.expect(":lanchat.local 353 carol = #general :@alice carol");
    carol.expect(":lanchat.local 366 carol #general :End of /NAMES list");
    carol.send("WHO #general");
    // alice made #general: she is its operator (`@`).
    carol.expect(
        ":lanchat.local 352 carol #general ~alice terminal lanchat.local alice H@ :0 alice",
    );
    carol.expect(
        ":lanchat.local 352 carol #general ~carol irc lanchat.local carol H :0 carol the tester",
    );
    carol.expect(":lanchat.local 315 carol #general :End of WHO list");
    carol.send("LIST");
    carol.expect(":lanchat.local 321 carol Channel :Users  Name");
    carol.expect(":lanchat.local 322 carol #general 2 :");
    carol.expect(":lanchat.local 323 carol :End of /LIST");
    carol.send("ISON alice nobody Carol");
    carol.expect(":lanchat.local 303 carol :alice carol");
    carol.send("AWAY :at lunch");
    carol.expect(":lanchat.local 306 carol :You have been marked as being away");
    carol.send("USERHOST alice carol");
    carol.expect(":lanchat.local 302 carol :alice=+alice@terminal carol=-carol@irc");
    let dave = Irc::login(&server, "dave");
    dave.send("PRIVMSG carol :you there?");
    dave.expect(":lanchat.local 301 dave carol :at lunch");
    dave.send("WHOIS carol");
    dave.expect(":lanchat.local 311 dave carol ~carol irc * :carol the tester");
    dave.expect(":lanchat.local 319 dave carol #general");
    dave.expect(":lanchat.local 312 dave carol lanchat.local :lanchat, by way of the irc");
    dave.expect(":lanchat.local 301 dave carol :at lunch");
    dave.expect(":lanchat.local 318 dave carol :End of /WHOIS list");
    dave.send("WHOIS nobody");
    dave.expect(":lanchat.local 401 dave nobody :No such nick/channel");
    dave.expect(":lanchat.local 318 dave nobody :End of /WHOIS list");
    carol.send("AWAY");
    carol.wait_for(":lanchat.local 305 carol :You are no longer marked as being away");
    carol.send("LUSERS");
    carol.expect(":lanchat.local 251 carol :There are 3 users and 0 invisible on 1 servers");
    carol.wait_for_prefix(":lanchat.local 266 ");
    carol.send("MOTD");
    carol.expect(":lanchat.local 422 carol :MOTD File is missing");
}

#[test]
fn mode_answers_queries_for_rooms_and_users() {
    let server = TestServer::start();
    let _alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    carol.send("MODE #general");
    carol.expect(":lanchat.local 324 carol #general +n");
    carol.send("MODE #general b");
    carol.expect(":lanchat.local 368 carol #general :End of channel ban list");
    carol.send("MODE #general +k secret");
    carol.expect(":lanchat.local 472 carol k :is unknown mode char to me");
    carol.send("MODE #nowhere");
    carol.expect(":lanchat.local 403 carol #nowhere :No such channel");
    carol.send("MODE carol");
    carol.expect(":lanchat.local 221 carol +");
    carol.send("MODE carol +i");
    carol.expect(":lanchat.local 501 carol :Unknown MODE flag");
    carol.send("MODE alice");
    carol.expect(":lanchat.local 502 carol :Can't change mode for other users");
}

#[test]
fn join_takes_a_list_and_join_0_leaves_every_room() {
    let server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    carol.send("JOIN #a,nohash,#B,#bad!name");
    carol.expect(":carol!carol@irc JOIN #a");
    carol.wait_for(":lanchat.local 366 carol #a :End of /NAMES list");
    carol.expect(":lanchat.local 403 carol nohash :No such channel");
    carol.expect(":carol!carol@irc JOIN #b");
    carol.wait_for(":lanchat.local 366 carol #b :End of /NAMES list");
    carol.expect(":lanchat.local 479 carol #bad!name :Illegal channel name");
    carol.send("JOIN 0");
    carol.expect(":carol!carol@irc PART #a");
    carol.expect(":carol!carol@irc PART #b");
    carol.send("PART #a");
    carol.expect(":lanchat.local 403 carol #a :No such channel");
}

#[test]
fn a_long_terminal_message_reaches_irc_split_never_cut() {
    let server = TestServer::start();
    let alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    let text = "ça va? ".repeat(250); // 2000 bytes, two-byte characters among them
    let text = text.trim_end();
    alice.send(text);
    let head = ":alice!alice@terminal PRIVMSG #general :";
    let mut got = String::new();
    while got.len() < text.len() {
        let line = carol.line();
        assert!(line.len() + 2 <= 512, "{} bytes", line.len() + 2);
        got.push_str(line.strip_prefix(head).expect("a PRIVMSG piece"));
    }
    assert_eq!(got, text);
}

#[test]
fn a_line_over_512_bytes_gets_417_and_the_next_one_is_read() {
    let server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    carol.send(&format!("PRIVMSG carol :{}", "x".repeat(600)));
    carol.expect(":lanchat.local 417 carol :Input line was too long");
    carol.expect_nothing_before_pong();
}

#[test]
fn lines_over_the_rate_are_delayed_not_dropped() {
    let server = TestServer::with_config("rate_limit_per_sec = 20\nrate_limit_burst = 5");
    let carol = Irc::login(&server, "carol");
    let start = Instant::now();
    for i in 0..30 {
        carol.send(&format!("PING :n{i}"));
    }
    for i in 0..30 {
        carol.expect(&format!(":lanchat.local PONG lanchat.local :n{i}"));
    }
    // 25 lines over the burst at 20 a second: over a second of fakelag.
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_client_far_behind_is_closed_for_excess_flood() {
    let server = TestServer::with_config("rate_limit_per_sec = 1\nrate_limit_burst = 1");
    let alice = terminal(&server, "alice");
    let carol = Irc::in_general(&server, "carol");
    alice.expect("* carol joined #general");
    let flood: String = (0..200)
        .map(|i| format!("PRIVMSG #general :{i}\r\n"))
        .collect();
    carol.0.send_raw(flood.as_bytes());
    carol.wait_for("ERROR :Closing link: carol[irc] (Excess Flood)");
    carol.expect_closed();
    alice.wait_for("* carol left #general");
}

#[test]
fn an_idle_client_is_pinged_and_closed_if_it_does_not_answer() {
    let server = TestServer::in_dir_with_irc(TempDir::new(), "", "ping_secs = 1");
    let alive = Irc::login(&server, "alive");
    let silent = Irc::login(&server, "silent");
    silent.expect("PING lanchat.local");
    alive.expect("PING lanchat.local");
    alive.send("PONG lanchat.local");
    silent.expect("ERROR :Closing link: silent[irc] (Ping timeout: 1 seconds)");
    silent.expect_closed();
    // The one that answered is still here, and pinged again.
    alive.expect("PING lanchat.local");
    alive.expect_nothing_before_pong();
}

#[test]
fn a_registered_name_logs_in_with_pass() {
    let mut server = TestServer::start();
    server.console("/register carol s3cret-pass");
    server.console_reply();
    let irc = Irc::connect(&server);
    irc.send("NICK carol");
    irc.send("USER carol 0 * :Carol");
    irc.expect(":lanchat.local 433 * carol :carol is registered; send PASS <password> first");
    irc.send("PASS wrong-password");
    irc.send("NICK carol");
    irc.expect(":lanchat.local 464 * :Password incorrect");
    irc.send("PASS s3cret-pass");
    irc.send("NICK carol");
    irc.expect(
        ":lanchat.local 001 carol :Welcome to the lanchat.local IRC network, carol!carol@irc",
    );
}

#[test]
fn the_owner_on_a_terminal_takes_a_registered_name_over_from_irc() {
    let mut server = TestServer::start();
    server.console("/register carol s3cret-pass");
    server.console_reply();
    let irc = Irc::connect(&server);
    irc.send("PASS s3cret-pass");
    irc.send("NICK carol");
    irc.send("USER carol 0 * :Carol");
    irc.wait_for(&format!(":{S} 422 carol :MOTD File is missing"));
    // A registered name is its owner's wherever they come from: a terminal
    // with the right password takes it over, and the IRC session is told
    // and closed (docs/PROTOCOL.md, "Accounts").
    let terminal = server.connect();
    terminal.expect_prefix("* Welcome to ");
    terminal.send("carol");
    terminal.expect("* carol is registered; enter your password:");
    terminal.send("s3cret-pass");
    terminal.expect_prefix("* Hello carol!");
    irc.wait_for(":lanchat.local NOTICE carol :logged in from elsewhere");
    irc.expect_closed();
}

#[test]
fn a_realname_loses_its_control_characters_before_anyone_sees_it() {
    let server = TestServer::start();
    let carol = Irc::connect(&server);
    carol.send("NICK carol");
    // A bare CR inside the realname would start a forged line in a client
    // that splits on CR; ESC would drive a terminal.
    carol.send("USER carol 0 * :carol\r:evil!e@e PRIVMSG #general :spoof\x1b[2J");
    carol.wait_for(&format!(":{S} 422 carol :MOTD File is missing"));
    let dave = Irc::login(&server, "dave");
    dave.send("WHOIS carol");
    dave.expect(
        ":lanchat.local 311 dave carol ~carol irc * :carol:evil!e@e PRIVMSG #general :spoof[2J",
    );
}

#[test]
fn the_motd_is_served_as_375_372_376() {
    let server = TestServer::with_config("motd = \"welcome\\nbe nice\"");
    let carol = Irc::connect(&server);
    carol.send("NICK carol");
    carol.send("USER carol 0 * :Carol");
    carol.wait_for(":lanchat.local 375 carol :- lanchat.local Message of the day - ");
    carol.expect(":lanchat.local 372 carol :- welcome");
    carol.expect(":lanchat.local 372 carol :- be nice");
    carol.expect(":lanchat.local 376 carol :End of /MOTD command.");
    carol.send("MOTD");
    carol.expect(":lanchat.local 375 carol :- lanchat.local Message of the day - ");
}

#[test]
fn a_closed_server_refuses_irc_newcomers_too() {
    let mut server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    server.console("/close");
    assert_eq!(
        server.console_reply(),
        "* the server is closed to new connections"
    );
    let late = Client::connect(server.irc_addr).expect("the kernel takes the connection");
    let error = late.expect_prefix("ERROR :Closing link: ");
    assert!(
        error.contains("(the server is closed to new connections)"),
        "{error}"
    );
    late.expect_closed();
    // Who was online stays.
    carol.expect_nothing_before_pong();
}

// ---- room operators --------------------------------------------------------

#[test]
fn mode_o_and_kick_work_between_irc_and_terminal_operators() {
    let server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    carol.send("JOIN #dev");
    carol.expect(":carol!carol@irc JOIN #dev");
    // She made the room: she is its operator.
    carol.expect(":lanchat.local 353 carol = #dev @carol");
    carol.expect(":lanchat.local 366 carol #dev :End of /NAMES list");
    let alice = terminal(&server, "alice");
    alice.send("/join dev");
    alice.wait_for("* you joined #dev");
    carol.expect(":alice!alice@terminal JOIN #dev");
    alice.send("/kick carol");
    alice.expect("! you are not an operator of #dev");
    carol.send("MODE #dev +o alice");
    carol.expect(":carol!carol@irc MODE #dev +o alice");
    alice.expect("* carol made alice an operator of #dev");
    carol.send("NAMES #dev");
    carol.expect(":lanchat.local 353 carol = #dev :@alice @carol");
    carol.expect(":lanchat.local 366 carol #dev :End of /NAMES list");
    alice.send("/deop carol");
    carol.expect(":alice!alice@terminal MODE #dev -o carol");
    carol.send("KICK #dev alice :no");
    carol.expect(":lanchat.local 482 carol #dev :You're not channel operator");
    alice.send("/kick carol enough");
    carol.expect(":alice!alice@terminal KICK #dev carol :enough");
    carol.send("PRIVMSG #dev :hello?");
    carol.expect(":lanchat.local 404 carol #dev :Cannot send to channel");
}

#[test]
fn kick_refusals_are_the_numerics_irc_clients_expect() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    let dave = Irc::login(&server, "dave");
    carol.send("KICK #general dave");
    carol.expect(":lanchat.local 441 carol dave #general :They aren't on that channel");
    carol.send("KICK #general nobody");
    carol.expect(":lanchat.local 401 carol nobody :No such nick/channel");
    carol.send("KICK #nowhere dave");
    carol.expect(":lanchat.local 403 carol #nowhere :No such channel");
    carol.send("KICK #general");
    carol.expect(":lanchat.local 461 carol KICK :Not enough parameters");
    dave.send("KICK #general carol");
    dave.expect(":lanchat.local 442 dave #general :You're not on that channel");
    dave.send("JOIN #general");
    dave.wait_for(":lanchat.local 366 dave #general :End of /NAMES list");
    carol.expect(":dave!dave@irc JOIN #general");
    // Without a reason, the kicker's nick is the reason (RFC 2812).
    carol.send("KICK #general dave");
    carol.expect(":carol!carol@irc KICK #general dave :carol");
    dave.expect(":carol!carol@irc KICK #general dave :carol");
}

#[test]
fn mode_b_bans_a_nick_and_lists_the_bans() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    carol.send("MODE #general +b Dave!*@*");
    carol.expect(":carol!carol@irc MODE #general +b Dave!*@*");
    carol.send("MODE #general +b *!*@somewhere");
    carol
        .expect(":lanchat.local NOTICE carol :*!*@somewhere: a ban names a nick only, as nick!*@*");
    carol.send("MODE #general b");
    carol.expect(":lanchat.local 367 carol #general Dave!*@*");
    carol.expect(":lanchat.local 368 carol #general :End of channel ban list");
    let dave = Irc::login(&server, "dave");
    dave.send("JOIN #general");
    dave.expect(":lanchat.local 474 dave #general :Cannot join channel (+b)");
    // A terminal user with the name is kept out the same way.
    carol.send("MODE #general -b dave!*@*");
    carol.expect(":carol!carol@irc MODE #general -b dave!*@*");
    dave.send("JOIN #general");
    dave.expect(":dave!dave@irc JOIN #general");
}

#[test]
fn mode_t_locks_the_topic_and_the_mode_query_tells() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    let alice = terminal(&server, "alice");
    carol.expect(":alice!alice@terminal JOIN #general");
    carol.send("MODE #general +t");
    carol.expect(":carol!carol@irc MODE #general +t");
    alice.expect("* carol locked the topic of #general: only operators may set it");
    carol.send("MODE #general");
    carol.expect(":lanchat.local 324 carol #general +nt");
    alice.send("/topic mine");
    alice.expect("! you are not an operator of #general");
    alice.send("/op alice");
    alice.expect("! you are not an operator of #general");
    carol.send("MODE #general -t+k nope");
    carol.expect(":carol!carol@irc MODE #general -t");
    carol.expect(":lanchat.local 472 carol k :is unknown mode char to me");
    carol.send("MODE #general");
    carol.expect(":lanchat.local 324 carol #general +n");
    alice.wait_for("* carol unlocked the topic of #general");
    alice.send("/topic mine");
    carol.expect(":alice!alice@terminal TOPIC #general :mine");
}

#[test]
fn who_and_whois_mark_operators_and_show_the_user_name() {
    let server = TestServer::start();
    let carol = Irc::connect(&server);
    carol.send("NICK carol");
    carol.send("USER cjones 0 * :Carol Jones");
    carol.wait_for(":lanchat.local 422 carol :MOTD File is missing");
    carol.send("JOIN #dev");
    carol.wait_for(":lanchat.local 366 carol #dev :End of /NAMES list");
    let dave = Irc::login(&server, "dave");
    dave.send("WHO #dev");
    dave.expect(":lanchat.local 352 dave #dev ~cjones irc lanchat.local carol H@ :0 Carol Jones");
    dave.expect(":lanchat.local 315 dave #dev :End of WHO list");
    dave.send("WHOIS carol");
    dave.expect(":lanchat.local 311 dave carol ~cjones irc * :Carol Jones");
    dave.expect(":lanchat.local 319 dave carol @#dev");
}

#[test]
fn mode_m_and_v_let_only_operators_and_the_voiced_speak() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    let dave = Irc::in_general(&server, "dave");
    carol.expect(":dave!dave@irc JOIN #general");
    carol.send("MODE #general +m");
    carol.expect(":carol!carol@irc MODE #general +m");
    dave.expect(":carol!carol@irc MODE #general +m");
    carol.send("MODE #general");
    carol.expect(":lanchat.local 324 carol #general +mn");
    dave.send("PRIVMSG #general :can I talk?");
    dave.expect(":lanchat.local 404 dave #general :Cannot send to channel (+m)");
    carol.send("MODE #general +v dave");
    carol.expect(":carol!carol@irc MODE #general +v dave");
    dave.expect(":carol!carol@irc MODE #general +v dave");
    dave.send("NAMES #general");
    dave.expect(":lanchat.local 353 dave = #general :@carol +dave");
    dave.wait_for(":lanchat.local 366 dave #general :End of /NAMES list");
    dave.send("WHO #general");
    dave.expect(
        ":lanchat.local 352 dave #general ~carol irc lanchat.local carol H@ :0 carol the tester",
    );
    dave.expect(
        ":lanchat.local 352 dave #general ~dave irc lanchat.local dave H+ :0 dave the tester",
    );
    dave.wait_for(":lanchat.local 315 dave #general :End of WHO list");
    dave.send("PRIVMSG #general :thanks");
    carol.expect(":dave!dave@irc PRIVMSG #general :thanks");
    // A voice is not an operator's power.
    dave.send("TOPIC #general :mine");
    carol.expect(":dave!dave@irc TOPIC #general :mine");
    carol.send("MODE #general +t");
    carol.expect(":carol!carol@irc MODE #general +t");
    dave.wait_for(":carol!carol@irc MODE #general +t");
    dave.send("TOPIC #general :mine again");
    dave.expect(":lanchat.local 482 dave #general :You're not channel operator");
}

#[test]
fn a_banned_nick_gets_465_and_error_and_nick_to_it_is_refused() {
    let mut server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    server.console("/ban dave");
    server.console_reply();
    let dave = Irc::connect(&server);
    dave.send("NICK Dave");
    dave.send("USER dave 0 * :Dave");
    let why = "you are banned from this server (permanently)";
    dave.expect(&format!(":{S} 465 Dave :{why}"));
    dave.expect(&format!("ERROR :Closing link: Dave[irc] ({why})"));
    dave.expect_closed();
    carol.send("NICK dave");
    carol.expect(&format!(
        ":{S} NOTICE carol :the name dave is banned from this server"
    ));
}

#[test]
fn a_banned_address_gets_465_at_connect() {
    let mut server = TestServer::start();
    let carol = Irc::login(&server, "carol");
    server.console("/ban 127.0.0.1");
    server.console_reply();
    let why = "you are banned from this server (permanently)";
    carol.wait_for(&format!(
        "ERROR :Closing link: carol[irc] (Kicked by the operator: {why})"
    ));
    carol.expect_closed();
    let late = Irc::connect(&server);
    late.expect(&format!(":{S} 465 * :{why}"));
    late.expect(&format!("ERROR :Closing link: *[irc] ({why})"));
    late.expect_closed();
}

#[test]
fn a_registered_users_ignore_list_is_back_when_they_log_in_over_irc() {
    let server = TestServer::with_config("password_iterations = 1000");
    let alice = terminal(&server, "alice");
    alice.send("/register s3cret-pass");
    alice.expect("* alice is now registered");
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    alice.send("/quit");
    alice.expect_closed();

    let irc = Irc::connect(&server);
    irc.send("PASS s3cret-pass");
    irc.send("NICK alice");
    irc.send("USER alice 0 * :Alice");
    irc.wait_for(&format!(":{S} 422 alice :MOTD File is missing"));
    irc.send("JOIN #general");
    irc.wait_for(&format!(":{S} 366 alice #general :End of /NAMES list"));
    let (bob, carol) = (terminal(&server, "bob"), terminal(&server, "carol"));
    bob.expect("* carol joined #general");
    bob.send("do you hear me?");
    carol.expect("[#general] bob: do you hear me?");
    carol.send("marker");
    // Bob's line never came before carol's.
    let before = irc.wait_for(":carol!carol@terminal PRIVMSG #general :marker");
    assert!(
        before.iter().all(|line| !line.contains("PRIVMSG")),
        "{before:?}"
    );
}

#[test]
fn silence_is_ignore_for_irc_clients() {
    let server = TestServer::start();
    let carol = Irc::in_general(&server, "carol");
    let bob = terminal(&server, "bob");
    carol.expect(":bob!bob@terminal JOIN #general");
    carol.send("SILENCE +Bob!*@*");
    carol.expect(":lanchat.local NOTICE carol :ignoring bob");
    carol.send("SILENCE");
    carol.expect(":lanchat.local 271 carol carol bob!*@*");
    carol.expect(":lanchat.local 272 carol :End of Silence List");
    bob.send("can you hear me?");
    bob.send("@carol psst");
    // bob's lines are handled in order: once /users is answered, the two
    // before it have been delivered (or not).
    bob.send("/users");
    bob.expect("* online: bob, carol");
    carol.send("SILENCE -bob");
    carol.expect(":lanchat.local NOTICE carol :no longer ignoring bob");
    bob.send("and now?");
    // Nothing of bob's came while he was silenced.
    carol.expect(":bob!bob@terminal PRIVMSG #general :and now?");
    carol.send("SILENCE +*!*@web");
    carol.expect(":lanchat.local NOTICE carol :*!*@web: SILENCE names a nick only, as nick!*@*");
    carol.send("SILENCE -nobody");
    carol.expect(":lanchat.local NOTICE carol :you are not ignoring nobody");
}
