//! `client`: a terminal client for lanchat.
//!
//! Two threads, one per direction, because each blocks on its own input: the
//! main thread blocks reading the keyboard (stdin) and sends each line; a
//! second thread blocks reading the socket and prints each line as it
//! arrives. Neither waits for the other, so messages show up while you type.
//!
//! `login` decides which server lines ask a question, and which of them the
//! client answers by itself (`--name`, `CHAT_PASSWORD`).
//!
//! Exit codes: 0 after `/quit` (or end of input), 1 if the server cannot be
//! reached or goes away, 2 for a bad command line or config file.

mod completion;
mod keys;
mod line_editor;
mod login;
mod render;

use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::TcpStream;
use std::process::{self, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use lanchat::cli;
use lanchat::protocol::{self, read_line_capped, LineRead};

use login::Login;

const USAGE: &str = "usage: client [--config PATH] [--host HOST] [--port PORT] [--name NAME]

Connects to a lanchat server (settings from the [client] section of
--config PATH or ./config.toml, else 127.0.0.1:7878) and chats: type a line
to say it, /help for the commands, /quit to leave.

options:
  --config PATH  read settings from this file
  --host HOST    server address
  --port PORT    server port
  --name NAME    log in with this name instead of typing it
  -h, --help     show this help

When the server asks for a password (a registered name, or choosing one
for a new name), it is typed without echo in a terminal, read as the next
line when input is piped, or taken from the CHAT_PASSWORD environment
variable (for scripts, with --name).";

/// The longest line we accept from the server. Ours never sends one this
/// long; the cap protects the client from a server that misbehaves.
const MAX_SERVER_LINE: usize = 64 * 1024;

/// How long what you type may wait for an automatic login to finish.
const LOGIN_WAIT: Duration = Duration::from_secs(30);

/// How long to wait for the server to close the connection after `/quit`.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// What the two threads share.
struct Shared {
    /// The writing side. Both threads send lines (the main thread what you
    /// type, the receiver automatic answers), so writes take this lock to
    /// keep each line whole.
    writer: Mutex<TcpStream>,
    interactive: bool,
    /// Set once we have asked to leave: after that, the server closing the
    /// connection is the goodbye, not a failure.
    quitting: AtomicBool,
    /// Protects the login's progress: only the receiving thread changes it,
    /// the lock is there because it lives in `Shared`.
    login: Mutex<Login>,
    /// With `--name`, what you type waits until the login is done (or needs
    /// you for a password): see [`Login::waits_at_first`].
    gate: Gate,
}

/// A door that starts closed and, once opened, stays open.
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn new(open: bool) -> Gate {
        Gate {
            open: Mutex::new(open),
            opened: Condvar::new(),
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.opened.notify_all();
    }

    /// Waits until the gate is open, or `limit` has passed.
    fn wait(&self, limit: Duration) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.opened.wait_timeout_while(open, limit, |open| !*open);
    }
}

impl Shared {
    fn send_line(&self, line: &str) -> io::Result<()> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        (&*writer).write_all(format!("{line}\n").as_bytes())
    }
}

fn main() -> ExitCode {
    let flags = ["config", "host", "port", "name"];
    let (config, args) = match cli::start(
        std::env::args().skip(1),
        &flags,
        USAGE,
        cli::apply_client_overrides,
    ) {
        Ok(started) => started,
        Err(code) => return code,
    };

    let target = format!("{}:{}", config.client.host, config.client.port);
    let stream = match TcpStream::connect(&target) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("cannot connect to {target}: {e} (is the server running?)");
            return ExitCode::from(1);
        }
    };
    let _ = stream.set_nodelay(true);
    let reader = match stream.try_clone() {
        Ok(reader) => reader,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };

    let login = Login::new(
        args.get("name").map(str::to_string),
        std::env::var("CHAT_PASSWORD").ok(),
    );
    let shared = Arc::new(Shared {
        writer: Mutex::new(stream),
        // A prompt only makes sense when a person is typing and watching.
        interactive: io::stdin().is_terminal() && io::stdout().is_terminal(),
        quitting: AtomicBool::new(false),
        gate: Gate::new(!login.waits_at_first()),
        login: Mutex::new(login),
    });
    let printer = {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("receiver".into())
            .spawn(move || print_incoming(reader, &shared))
    };
    if let Err(e) = printer {
        eprintln!("error: cannot start the receiving thread: {e}");
        return ExitCode::from(1);
    }

    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        shared.gate.wait(LOGIN_WAIT);
        if terminal::restore() {
            // That was a password, typed without echo: end its line.
            println!();
        }
        if protocol::is_quit(&line) {
            shared.quitting.store(true, Ordering::SeqCst);
        }
        if shared.send_line(&line).is_err() {
            return server_gone();
        }
        if shared.quitting.load(Ordering::SeqCst) {
            break;
        }
        if shared.interactive {
            print!("> ");
            let _ = io::stdout().flush();
        }
    }
    terminal::restore();
    // End of input (Ctrl-D, or the end of a pipe) means goodbye.
    if !shared.quitting.swap(true, Ordering::SeqCst) && shared.send_line("/quit").is_err() {
        return server_gone();
    }
    // The receiving thread ends the process when the server closes the
    // connection; this is only a bound in case it never does.
    thread::sleep(QUIT_WAIT);
    ExitCode::SUCCESS
}

/// Prints what the server sends until it closes the connection, then ends
/// the process (the main thread may be blocked reading the keyboard, and
/// std has no portable way to interrupt that). Answers the server's
/// questions itself when `--name` or `CHAT_PASSWORD` gave the answers.
fn print_incoming(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        let text = match read_line_capped(&mut reader, MAX_SERVER_LINE, &mut buf) {
            Ok(LineRead::Line(line)) => protocol::sanitize(&line),
            Ok(LineRead::TooLong) => "(a line from the server was too long and was skipped)".into(),
            Ok(LineRead::NotUtf8) => "(a line from the server was not valid UTF-8)".into(),
            Ok(LineRead::Eof) | Err(_) => break,
        };
        show(&text, shared.interactive);
        let step = shared
            .login
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .on_line(&text);
        if step.hide_input && io::stdin().is_terminal() {
            // The next line typed is the password: do not show it.
            terminal::hide_input();
        }
        if step.your_turn {
            shared.gate.open();
        }
        if let Some(answer) = step.answer {
            if shared.send_line(&answer).is_err() {
                break;
            }
        }
    }
    if shared.quitting.load(Ordering::SeqCst) {
        exit(0);
    }
    show("* disconnected from server", shared.interactive);
    exit(1);
}

/// Ends the process, putting the terminal back first.
fn exit(code: i32) -> ! {
    terminal::restore();
    let _ = io::stdout().flush();
    process::exit(code)
}

/// Prints one line. In a terminal, first wipes the `> ` prompt line (and
/// whatever was typed on it: std has no raw mode to redraw it), then puts
/// the prompt back underneath. The text was sanitized: no control
/// characters from the server reach the terminal, only our own.
fn show(text: &str, interactive: bool) {
    let mut out = io::stdout().lock();
    let _ = if interactive {
        write!(out, "\r\x1b[K{text}\n> ")
    } else {
        writeln!(out, "{text}")
    };
    let _ = out.flush();
}

fn server_gone() -> ExitCode {
    terminal::restore();
    println!("* disconnected from server");
    ExitCode::from(1)
}

/// Typing a password without showing it.
///
/// std has no terminal control, so we ask `stty` (which acts on the terminal
/// of its standard input, ours) to turn echo off, and later to put back the
/// settings it printed before. Signals from the keyboard (Ctrl-C) are turned
/// off too while the password is typed: std cannot catch them, and dying
/// with echo off would leave the user's terminal blind. Every way out of
/// this program calls [`terminal::restore`] first.
mod terminal {
    use std::process::{Command, Stdio};
    use std::sync::Mutex;

    /// The terminal settings to put back, while input is hidden.
    static SAVED: Mutex<Option<String>> = Mutex::new(None);

    fn stty(args: &[&str]) -> Option<String> {
        let output = Command::new("stty")
            .args(args)
            .stdin(Stdio::inherit())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Stops the terminal from showing what is typed (until [`restore`]).
    pub fn hide_input() {
        let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
        if saved.is_some() {
            return;
        }
        if let Some(settings) = stty(&["-g"]) {
            if stty(&["-echo", "-isig"]).is_some() {
                *saved = Some(settings);
            }
        }
    }

    /// Puts the terminal back if input was hidden; returns whether it was.
    pub fn restore() -> bool {
        let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
        match saved.take() {
            Some(settings) => {
                let _ = stty(&[&settings]);
                true
            }
            None => false,
        }
    }
}
