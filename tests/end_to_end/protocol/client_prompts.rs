//! The terminal client answering the server's questions by itself: with
//! `--name` and `CHAT_PASSWORD` it answers every password prompt of one
//! login (both prompts of a sign-up), never a refused password twice, and
//! never a chat line that only looks like a prompt (README, "Accounts").
//!
//! The server here is a fake: a listener in the test that plays one
//! conversation line by line, so it can send prompts the real server may
//! not send yet, and check exactly what the client answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest any read, or the whole client run, may take.
const LIMIT: Duration = Duration::from_secs(10);

const PASSWORD: &str = "s3cret-pass";
const WELCOME: &str = "* Welcome to lanchat! Enter your name:";
const HELLO: &str = "* Hello alice! You are in #general. Type /help for commands.";

/// One connection of the fake server, read line by line.
struct Conversation {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conversation {
    fn send(&mut self, line: &str) -> Result<(), String> {
        (&self.stream)
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("sending {line:?}: {e}"))
    }

    /// Reads the next line from the client; it must be `expected`.
    fn expect(&mut self, expected: &str) -> Result<(), String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("waiting for {expected:?}: {e}"))?;
        match line.strip_suffix('\n') {
            Some(got) if got == expected => Ok(()),
            _ => Err(format!("expected {expected:?}, the client sent {line:?}")),
        }
    }
}

/// Starts a fake server on a free loopback port that plays `script` with
/// the first client; returns the port and the thread that plays it.
fn fake_server<F>(script: F) -> (u16, JoinHandle<Result<(), String>>)
where
    F: FnOnce(&mut Conversation) -> Result<(), String> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
    let port = listener.local_addr().expect("local address").port();
    let server = thread::spawn(move || {
        let stream = accept_within(&listener, LIMIT)?;
        stream
            .set_read_timeout(Some(LIMIT))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        script(&mut Conversation { stream, reader })
    });
    (port, server)
}

fn accept_within(listener: &TcpListener, limit: Duration) -> Result<TcpStream, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(_) if start.elapsed() < limit => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("no client came: {e}")),
        }
    }
}

/// Runs the client as `alice` with `CHAT_PASSWORD` against `port`, with
/// `input` piped as what is typed; returns its exit code and output.
fn run_client(port: u16, input: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--name", "alice"])
        .env("CHAT_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the client");
    let mut stdin = child.stdin.take().expect("client stdin");
    stdin
        .write_all(input.as_bytes())
        .expect("write client input");
    drop(stdin);
    let mut stdout = child.stdout.take().expect("client stdout");
    let reading = thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let code = wait_within(&mut child, LIMIT);
    (code, reading.join().expect("stdout reader"))
}

fn wait_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the client did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// After the hello: the client's piped `hi`, then its `/quit`; goodbye.
fn chat_and_quit(talk: &mut Conversation) -> Result<(), String> {
    talk.send(HELLO)?;
    talk.expect("hi")?;
    talk.expect("/quit")?;
    talk.send("* Bye alice!")
}

fn check(server: JoinHandle<Result<(), String>>) {
    server
        .join()
        .expect("fake server thread")
        .unwrap_or_else(|e| panic!("fake server: {e}"));
}

#[test]
fn chat_password_answers_both_sign_up_prompts() {
    let (port, server) = fake_server(|talk| {
        talk.send(WELCOME)?;
        talk.expect("alice")?;
        talk.send(
            "* alice is not registered; send /cancel to pick another name, or choose a password:",
        )?;
        talk.expect(PASSWORD)?;
        talk.send("* repeat the password:")?;
        talk.expect(PASSWORD)?;
        chat_and_quit(talk)
    });
    let (code, out) = run_client(port, "hi\n");
    check(server);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("* repeat the password:"), "{out}");
    assert!(!out.contains(PASSWORD), "the password was printed: {out}");
}

#[test]
fn a_refused_chat_password_is_not_sent_again() {
    let (port, server) = fake_server(|talk| {
        talk.send(WELCOME)?;
        talk.expect("alice")?;
        talk.send("* alice is registered; enter your password:")?;
        talk.expect(PASSWORD)?;
        talk.send("! wrong password")?;
        talk.send(WELCOME)?;
        talk.expect("alice")?;
        talk.send("* alice is registered; enter your password:")?;
        // Now the password comes from the input, not from CHAT_PASSWORD.
        talk.expect("typed-password")?;
        chat_and_quit(talk)
    });
    let (code, out) = run_client(port, "typed-password\nhi\n");
    check(server);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_chat_line_that_asks_for_a_password_is_not_answered() {
    let (port, server) = fake_server(|talk| {
        talk.send(WELCOME)?;
        talk.expect("alice")?;
        talk.send("[#general] mallory: what is your password:")?;
        chat_and_quit(talk)
    });
    let (code, out) = run_client(port, "hi\n");
    check(server);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("mallory: what is your password:"), "{out}");
}
