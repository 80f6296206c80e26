//! People chat from a real browser: two Chromium windows (one the size of
//! a laptop's, one a phone's) and a terminal client, in two rooms, through
//! direct messages, and through a server restart (README.md, "Chat from a
//! browser").
//!
//! How a test drives a browser: WebDriver, a W3C protocol that is plain
//! HTTP with JSON. `chromedriver` listens on a port and turns each request
//! ("type this into that element", "click it") into what a person's keyboard
//! and mouse would do in Chromium. Our WebDriver client is a small Python
//! script using only the standard library, `webdriver_test.py` next to this
//! file. The scenes themselves stay here, in Rust, next to the terminal
//! client they talk to: the test writes one command a line to each
//! script's stdin (`say hello`) and reads its answer from its stdout (`ok`,
//! or `fail why`), so what the browsers do and what the terminal client
//! sees interleave in one readable order.
//!
//! It needs `python3` and Debian's `chromium` and `chromium-driver`. On a
//! machine without them the test is skipped with a notice saying how to
//! install them; in CI (`CI=true`) it fails instead, so the browser test
//! cannot quietly stop running. Each scene ends with a screenshot from each
//! browser (1280×800 and 390×844); set `LANCHAT_SCREENSHOTS=DIR` to keep
//! them (`docs/screenshots/` holds the ones the README shows).
//!
//! Everything is bounded in time: the script's waits poll for at most 10 s,
//! each command's answer is awaited for at most 15 s, and the browsers'
//! whole part for at most 60 s (it takes about 10 s). And everything stays
//! on loopback: chromedriver listens on 127.0.0.1, and Chromium is told
//! that every other host name does not exist.

#![cfg(unix)] // process groups, to clean up after Chromium

use std::env;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{free_port, Client, TempDir, TestServer};

/// The whole browser session, from starting chromedriver to the last click.
const WHOLE_TEST: Duration = Duration::from_secs(60);

/// One command's answer. The script gives up its own waits after 10 s, and
/// starting Chromium takes a second or two; past this, the script is stuck.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How to get what the test needs, for the skip notice.
const INSTALL: &str = "apt-get install chromium chromium-driver";

#[test]
fn people_chat_from_chromium_in_rooms_threads_and_through_a_restart() {
    let tools = match Tools::find() {
        Ok(tools) => tools,
        Err(missing) => return skip(&missing),
    };
    // Three messages of replay, so that "load earlier" has more to load.
    let mut server = TestServer::with_config("history_replay = 3");
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    for i in 1..=6 {
        alice.send(&format!("dev note {i}"));
    }
    alice.skip_replay(); // a `/rooms` round trip: the lines were taken

    let page = format!("http://{}/", server.web_addr);
    let mut carol = Browser::start(&tools, &page);
    let mut dave = Browser::start(&tools, &page);
    dave.run("viewport 390 844");
    let shots = Screenshots::new(&carol);
    carol.login("carol");
    alice.wait_for("* carol joined #general");
    dave.login("dave");
    alice.wait_for("* dave joined #general");

    rooms_each_in_a_view_of_its_own(&alice, &mut carol, &mut dave);
    shots.take("rooms", &mut carol, &mut dave);
    unread_counts_and_mentions(&alice, &mut carol, &mut dave);
    shots.take("unread", &mut carol, &mut dave);
    carol.run("open #dev");
    carol.run("expect-unread #dev 0");
    carol.run("expect-title lanchat");
    direct_message_threads(&mut server, &mut carol, &mut dave);
    shots.take("direct", &mut carol, &mut dave);

    // The server restarts: the stream is cut, the sessions are gone, and
    // each page is back at its login with the name filled in.
    let port = server.web_addr.port();
    drop(alice);
    server.kill();
    let _restarted = TestServer::with_web_port(port);
    carol.run("expect-login carol");
    dave.run("expect-login dave");
    shots.take("login", &mut carol, &mut dave);
}

/// Joining from the directory, the replay and "load earlier", one room's
/// messages in its view only, links, and terminal and page talking.
fn rooms_each_in_a_view_of_its_own(alice: &Client, carol: &mut Browser, dave: &mut Browser) {
    carol.run("join dev");
    alice.wait_for("* carol joined #dev");
    carol.expect("alice", "dev note 6");
    // alice made #dev: the member list marks her its operator.
    carol.run("expect-members @alice carol");
    carol.run("expect-count 3"); // the replay's three
    carol.run("earlier");
    carol.run("expect-count 6");
    carol.expect("alice", "dev note 1");
    carol.say("thanks, reading up");
    carol.run("expect-sent thanks, reading up");
    alice.wait_for("[#dev] carol: thanks, reading up");

    alice.send("#general morning! notes at https://example.com/notes.");
    dave.expect("alice", "morning! notes at https://example.com/notes.");
    dave.run("expect-link https://example.com/notes");
    dave.say("hi alice");
    alice.wait_for("[#general] dave: hi alice");
    dave.say("/me waves");
    dave.run("expect-sent waves");
    alice.wait_for("[#general] * dave waves");
    // #general shows #general's messages, not #dev's.
    carol.run("open #general");
    carol.expect("dave", "hi alice");
    carol.run("expect-not alice dev note 6");
    carol.run("open #dev");
    carol.run("expect-not dave hi alice");
}

/// A message in a room not shown raises its count (a mention, too), in
/// the sidebar and in the tab's title; opening the room clears it.
fn unread_counts_and_mentions(alice: &Client, carol: &mut Browser, dave: &mut Browser) {
    carol.run("open #general");
    alice.send("#dev carol, the build is green");
    carol.run("expect-unread #dev 1");
    carol.run("expect-title (1) lanchat");
    dave.say("/join dev");
    dave.expect("carol", "thanks, reading up");
    dave.run("open #general");
    alice.send("#dev two more reviews to go");
    alice.send("#dev dave, one is yours");
    dave.run("expect-unread #dev 2");
    dave.run("menu"); // the phone's conversation list, one tap away
}

/// A thread with one person, opened from a room's member list, both ways;
/// a message to someone offline is marked failed with the reason.
fn direct_message_threads(server: &mut TestServer, carol: &mut Browser, dave: &mut Browser) {
    carol.run("open #general");
    carol.run("member dave");
    carol.say("lunch at noon?");
    carol.run("expect-sent lunch at noon?");
    dave.run("open #dev"); // closes the drawer
    dave.run("expect-unread @carol 1");
    dave.run("open @carol");
    dave.expect("carol", "lunch at noon?");
    dave.say("sure, see you there");
    carol.expect("dave", "sure, see you there");
    server.console("/say backups run at 18:00");
    carol.run("expect-note server: backups run at 18:00");
    carol.say("@erin are you coming too?");
    carol.run("expect-failed are you coming too?");
    carol.run("open @dave");
}

/// No browser here. On a developer's machine, say so where it will be seen
/// and pass; in CI, fail.
fn skip(missing: &str) {
    if env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{missing}: CI must run the browser test; install them with `{INSTALL}`");
    }
    // Straight to the process's stderr instead of through `eprintln!`: the
    // test harness captures `eprintln!` from passing tests and shows it only
    // with `--nocapture`, and a skipped test should not pass unnoticed.
    let notice = format!(
        "\nnotice: SKIPPED the browser test (tests/end_to_end/web/browser.rs): {missing}.\n\
         notice: to run it, install Chromium and its WebDriver: `{INSTALL}`\n\n"
    );
    let _ = std::io::stderr().write_all(notice.as_bytes());
}

/// The programs the test runs, found on `PATH`.
struct Tools {
    python: PathBuf,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Tools {
    /// Finds them all, or says which are missing.
    fn find() -> Result<Tools, String> {
        let [python, chromium, chromedriver] =
            ["python3", "chromium", "chromedriver"].map(find_program);
        match (python, chromium, chromedriver) {
            (Ok(python), Ok(chromium), Ok(chromedriver)) => Ok(Tools {
                python,
                chromium,
                chromedriver,
            }),
            (python, chromium, chromedriver) => {
                let missing: Vec<String> = [python, chromium, chromedriver]
                    .into_iter()
                    .filter_map(Result::err)
                    .collect();
                Err(format!("{} not found on PATH", missing.join(", ")))
            }
        }
    }
}

/// The first executable file called `name` in a directory of `PATH`.
fn find_program(name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| {
            fs::metadata(file)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| name.to_string())
}

/// chromedriver, in a process group of its own that the Chromium it starts
/// joins. Dropping it kills the whole group, by the group's id, so no
/// browser outlives the test even if the script never said goodbye.
struct Chromedriver {
    child: Child,
}

impl Chromedriver {
    fn start(program: &Path, port: u16, dir: &TempDir) -> Chromedriver {
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file(dir, "chromedriver.log"))
            .stderr(log_file(dir, "chromedriver.log"))
            .process_group(0) // a new group, whose id is chromedriver's pid
            .spawn()
            .expect("start chromedriver");
        Chromedriver { child }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // std can signal one process, not a group; the shell's `kill` can.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("sh")
            .args(["-c", "kill -s KILL -- \"$1\" 2>/dev/null", "sh", &group])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium, driven by chromedriver, driven by the WebDriver script. Each
/// method is one command to the script, and returns once it answers `ok`.
struct Browser {
    script: Child,
    commands: ChildStdin,
    answers: Receiver<String>,
    deadline: Instant,
    // Held only for its `Drop` (hence the `_`, which tells the compiler it
    // is never read), which runs after ours has stopped the script: fields
    // drop in order, the browser first, then its profile's directory.
    _chromedriver: Chromedriver,
    /// Chromium's profile and the logs of chromedriver and the script.
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver and the script, and waits until Chromium shows
    /// `page`.
    fn start(tools: &Tools, page: &str) -> Browser {
        let deadline = Instant::now() + WHOLE_TEST;
        let dir = TempDir::new();
        let profile = dir.path().join("chromium-profile");
        fs::create_dir(&profile).expect("create Chromium's profile dir");
        let port = free_port();
        let chromedriver = Chromedriver::start(&tools.chromedriver, port, &dir);
        let script_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/end_to_end/web/webdriver_test.py");
        let mut script = Command::new(&tools.python)
            .arg(script_path)
            .arg(page)
            .arg(port.to_string())
            .arg(&tools.chromium)
            .arg(&profile)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(&dir, "script.log"))
            .spawn()
            .expect("start the WebDriver script");
        let commands = script.stdin.take().expect("the script's stdin");
        let stdout = script.stdout.take().expect("the script's stdout");
        // Answers come through a channel, so we can wait for one with a
        // timeout: a stuck script fails the test instead of hanging it.
        let (tx, answers) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser {
            script,
            commands,
            answers,
            deadline,
            _chromedriver: chromedriver,
            dir,
        };
        browser.answer("start Chromium and open the page");
        browser
    }

    /// Sends one command and waits for its `ok`; panics on anything else.
    fn run(&mut self, command: &str) -> String {
        writeln!(self.commands, "{command}")
            .and_then(|()| self.commands.flush())
            .unwrap_or_else(|e| self.fail(command, &format!("cannot write to the script: {e}")));
        self.answer(command)
    }

    /// Waits for the script's next answer, within this command's time and
    /// the whole test's.
    fn answer(&mut self, command: &str) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.answers.recv_timeout(ANSWER_TIMEOUT.min(left)) {
            Ok(answer) if answer == "ok" || answer.starts_with("ok ") => answer,
            Ok(answer) => self.fail(command, &answer),
            Err(RecvTimeoutError::Timeout) => self.fail(command, "no answer in time"),
            Err(RecvTimeoutError::Disconnected) => self.fail(command, "the script exited"),
        }
    }

    /// Panics with what went wrong and what chromedriver and the script
    /// logged.
    fn fail(&self, command: &str, why: &str) -> ! {
        let log = |name| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        panic!(
            "browser: `{command}` failed: {why}\n--- script's stderr:\n{}\n--- chromedriver's log:\n{}",
            log("script.log"),
            tail(&log("chromedriver.log"), 40),
        );
    }

    /// Types `name` in the login form, clicks "Log in", and waits until
    /// the page says it is connected.
    fn login(&mut self, name: &str) {
        self.run(&format!("login {name}"));
    }

    /// Types `text` in the message line and presses Enter.
    fn say(&mut self, text: &str) {
        self.run(&format!("say {text}"));
    }

    /// Waits until the conversation shown has `text` from `from`.
    fn expect(&mut self, from: &str, text: &str) {
        self.run(&format!("expect {from} {text}"));
    }
}

/// Where the scenes' screenshots go: `LANCHAT_SCREENSHOTS`, or a browser's
/// temporary directory (then they are only checked to be PNG files).
struct Screenshots {
    dir: PathBuf,
}

impl Screenshots {
    fn new(browser: &Browser) -> Screenshots {
        let dir = match env::var_os("LANCHAT_SCREENSHOTS") {
            Some(dir) => PathBuf::from(dir),
            None => browser.dir.path().to_path_buf(),
        };
        fs::create_dir_all(&dir).expect("create the screenshots' directory");
        Screenshots { dir }
    }

    /// `SCENE-desktop.png` from the laptop-sized browser and
    /// `SCENE-phone.png` from the phone-sized one.
    fn take(&self, scene: &str, desktop: &mut Browser, phone: &mut Browser) {
        for (browser, size) in [(desktop, "desktop"), (phone, "phone")] {
            let path = self.dir.join(format!("{scene}-{size}.png"));
            browser.run(&format!("screenshot {}", path.display()));
            let png = fs::read(&path).expect("read the screenshot");
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask the script to close the browser, give it a moment, then make
        // sure: kill it (chromedriver's group goes next, as a field).
        let _ = writeln!(self.commands, "quit").and_then(|()| self.commands.flush());
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.script.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn log_file(dir: &TempDir, name: &str) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(dir.path().join(name))
        .expect("create a log file")
}
