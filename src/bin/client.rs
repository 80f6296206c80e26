//! `client`: a terminal client for lanchat.
//!
//! Two threads, one per direction, because each blocks on its own input: the
//! main thread blocks reading the keyboard (stdin) and sends each line; a
//! second thread blocks reading the socket and prints each line as it
//! arrives. Neither waits for the other, so messages show up while you type.
//!
//! In a terminal the client switches it to raw mode and edits the line
//! itself, so that a message arriving while you type is printed above your
//! half-typed line instead of through it. The modules, in reading order:
//!
//! - `terminal`: canonical and raw mode, set with `stty` and always put back
//! - `keys`: the bytes a terminal sends, decoded into keys
//! - `line_editor`: keys in; the line, the cursor, and what to do out
//! - `completion`: the names and rooms seen, for Tab
//! - `render`: the escape sequences that draw the line, in a window that fits
//! - `screen`: all of the above behind one lock, shared by both threads
//! - `login`: which server lines ask a question, and the answers that
//!   `--name` and `CHAT_PASSWORD` give by themselves
//!
//! With piped input (a script, a test) none of the drawing happens: lines
//! in, lines out, no escape sequences.
//!
//! Exit codes: 0 after `/quit` (or end of input), 1 if the server cannot be
//! reached or goes away, 2 for a bad command line or config file.

// The client is one file at the top of src/bin/ (the binaries are
// src/bin/server.rs and src/bin/client.rs); its parts live beside it in
// src/bin/client/.
#[path = "client/completion.rs"]
mod completion;
#[path = "client/keys.rs"]
mod keys;
#[path = "client/line_editor.rs"]
mod line_editor;
#[path = "client/login.rs"]
mod login;
#[path = "client/render.rs"]
mod render;
#[path = "client/screen.rs"]
mod screen;
#[path = "client/terminal.rs"]
mod terminal;

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::panic;
use std::process::{self, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use lanchat::cli;
use lanchat::net::{read_line_capped, LineRead};
use lanchat::protocol;

use keys::Decoder;
use line_editor::Action;
use login::Login;
use screen::Screen;

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

In a terminal: Left/Right, Home/End, Backspace and Delete edit the line,
Up/Down bring back lines you sent, Tab completes a name (or a room after #),
Ctrl-C, or Ctrl-D on an empty line, leaves.

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
    output: Output,
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

/// How lines are shown, chosen once at the start.
enum Output {
    /// Input is piped or output redirected: plain lines, no prompt.
    Plain,
    /// A terminal whose mode `stty` could not change: a `> ` prompt that an
    /// arriving line wipes (with what was typed on it) and puts back under it.
    Prompt,
    /// A terminal in raw mode: the client draws the line you type. Protects
    /// the editor and the screen's last row; writes to stdout are made while
    /// holding it.
    Editor(Mutex<Screen>),
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
        *lock(&self.open) = true;
        self.opened.notify_all();
    }

    /// Waits until the gate is open, or `limit` has passed.
    fn wait(&self, limit: Duration) {
        let open = lock(&self.open);
        let _ = self.opened.wait_timeout_while(open, limit, |open| !*open);
    }
}

/// Locks `mutex`, recovering the data if another thread panicked with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn send_line(&self, line: &str) -> io::Result<()> {
        let writer = lock(&self.writer);
        (&*writer).write_all(format!("{line}\n").as_bytes())
    }

    /// Prints one line. The text was sanitized: no control characters from
    /// the server reach the terminal, only our own.
    fn show(&self, text: &str) {
        let _ = match &self.output {
            Output::Plain => writeln!(io::stdout().lock(), "{text}"),
            Output::Prompt => {
                let mut out = io::stdout().lock();
                write!(out, "{}{text}\n> ", render::CLEAR_ROW).and_then(|()| out.flush())
            }
            Output::Editor(screen) => {
                let width = terminal::width();
                let mut screen = lock(screen);
                screen.print_above(text, width, &mut io::stdout().lock())
            }
        };
    }

    /// The next line typed is a password: keep it off the screen.
    fn hide_next_line(&self) {
        match &self.output {
            Output::Editor(screen) => {
                let width = terminal::width();
                let mut screen = lock(screen);
                let _ = screen.hide_next_line(width, &mut io::stdout().lock());
            }
            // No line editor, but a terminal: turn its echo off.
            _ if io::stdin().is_terminal() => terminal::hide_input(),
            _ => {}
        }
    }

    /// Leaves the terminal as we found it: the input row erased, the mode
    /// put back.
    fn put_terminal_back(&self) {
        if let Output::Editor(screen) = &self.output {
            let _ = lock(screen).clear(&mut io::stdout().lock());
        }
        terminal::restore();
        let _ = io::stdout().flush();
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
    let (stream, reader) = match connect(&target) {
        Ok(pair) => pair,
        Err(code) => return code,
    };

    restore_terminal_on_panic();
    let login = Login::new(
        args.get("name").map(str::to_string),
        std::env::var("CHAT_PASSWORD").ok(),
    );
    let shared = Arc::new(Shared {
        writer: Mutex::new(stream),
        output: choose_output(),
        quitting: AtomicBool::new(false),
        gate: Gate::new(!login.waits_at_first()),
        login: Mutex::new(login),
    });
    let receiver = {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("receiver".into())
            .spawn(move || receive_lines(reader, &shared))
    };
    if let Err(e) = receiver {
        shared.put_terminal_back();
        eprintln!("error: cannot start the receiving thread: {e}");
        return ExitCode::from(1);
    }

    let typed = match &shared.output {
        Output::Editor(screen) => read_keys(&shared, screen),
        Output::Plain | Output::Prompt => read_lines(&shared),
    };
    match typed {
        Ok(()) => say_goodbye(&shared),
        Err(_) => server_gone(&shared),
    }
}

/// Connects to the server; the stream, and a second handle for reading.
fn connect(target: &str) -> Result<(TcpStream, TcpStream), ExitCode> {
    let stream = TcpStream::connect(target).map_err(|e| {
        eprintln!("cannot connect to {target}: {e} (is the server running?)");
        ExitCode::from(1)
    })?;
    let _ = stream.set_nodelay(true);
    let reader = stream.try_clone().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })?;
    Ok((stream, reader))
}

/// Plain lines for a script; the line editor for a person at a terminal,
/// if `stty` can switch it to raw mode.
fn choose_output() -> Output {
    // A prompt only makes sense when a person is typing and watching.
    if !(io::stdin().is_terminal() && io::stdout().is_terminal()) {
        Output::Plain
    } else if terminal::enter_raw_mode() {
        Output::Editor(Mutex::new(Screen::default()))
    } else {
        Output::Prompt
    }
}

/// A panic must not leave the terminal raw. The hook puts it back, lets
/// the usual report print, and ends the process: the other thread would
/// otherwise go on drawing on a terminal no longer in raw mode.
fn restore_terminal_on_panic() {
    let report = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if terminal::restore() {
            eprintln!();
        }
        report(info);
        process::exit(101);
    }));
}

/// Reads whole lines (a pipe, or a terminal left in canonical mode) and
/// sends them. Returns at the end of input or after `/quit`; an error
/// means the server is gone.
fn read_lines(shared: &Shared) -> io::Result<()> {
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if terminal::restore() {
            // That was a password, typed without echo: end its line.
            println!();
        }
        if !send_typed(shared, &line)? {
            break;
        }
        if let Output::Prompt = shared.output {
            print!("> ");
            let _ = io::stdout().flush();
        }
    }
    terminal::restore();
    Ok(())
}

/// Reads keys from a terminal in raw mode, lets the screen edit and draw
/// the line, and sends each line on Enter. Returns on Ctrl-C, Ctrl-D on an
/// empty line, or after `/quit`; an error means the server is gone.
fn read_keys(shared: &Shared, screen: &Mutex<Screen>) -> io::Result<()> {
    let mut decoder = Decoder::default();
    let mut bytes = [0; 1024];
    let mut stdin = io::stdin().lock();
    loop {
        let read = match stdin.read(&mut bytes) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The terminal is gone (a closed window): leave.
            Err(_) => return Ok(()),
        };
        for key in decoder.feed(&bytes[..read]) {
            let width = terminal::width();
            // Bind the action first, so the screen's lock is released
            // before we block on the network or the login gate.
            let action = lock(screen).press(key, width, &mut io::stdout().lock());
            match action {
                Ok(Action::Submit(line)) => {
                    if !send_typed(shared, &line)? {
                        return Ok(());
                    }
                }
                Ok(Action::Quit) => return Ok(()),
                // Redraw and Complete are done; a failed write to our own
                // terminal has no better answer than to go on.
                Ok(_) | Err(_) => {}
            }
        }
    }
}

/// Sends a line you typed, once the login lets it through. Returns whether
/// to go on reading (not after `/quit`).
fn send_typed(shared: &Shared, line: &str) -> io::Result<bool> {
    shared.gate.wait(LOGIN_WAIT);
    if protocol::is_quit(line) {
        shared.quitting.store(true, Ordering::SeqCst);
    }
    shared.send_line(line)?;
    Ok(!shared.quitting.load(Ordering::SeqCst))
}

/// End of input (Ctrl-D, Ctrl-C, or the end of a pipe) means goodbye: sends
/// `/quit` unless you did, and waits for the server to close.
fn say_goodbye(shared: &Shared) -> ExitCode {
    if !shared.quitting.swap(true, Ordering::SeqCst) && shared.send_line("/quit").is_err() {
        return server_gone(shared);
    }
    // The receiving thread ends the process when the server closes the
    // connection; this is only a bound in case it never does.
    thread::sleep(QUIT_WAIT);
    shared.put_terminal_back();
    ExitCode::SUCCESS
}

fn server_gone(shared: &Shared) -> ExitCode {
    shared.show("* disconnected from server");
    shared.put_terminal_back();
    ExitCode::from(1)
}

/// Prints what the server sends until it closes the connection, then ends
/// the process (the main thread may be blocked reading the keyboard, and
/// std has no portable way to interrupt that). Answers the server's
/// questions itself when `--name` or `CHAT_PASSWORD` gave the answers.
fn receive_lines(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        let text = match read_line_capped(&mut reader, MAX_SERVER_LINE, &mut buf) {
            Ok(LineRead::Line(line)) => protocol::sanitize(&line),
            Ok(LineRead::TooLong) => "(a line from the server was too long and was skipped)".into(),
            Ok(LineRead::NotUtf8) => "(a line from the server was not valid UTF-8)".into(),
            Ok(LineRead::Eof | LineRead::Torn) | Err(_) => break,
        };
        let step = lock(&shared.login).on_line(&text);
        if step.hide_input {
            shared.hide_next_line();
        }
        if let Output::Editor(screen) = &shared.output {
            lock(screen).learn(&text);
        }
        shared.show(&text);
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
        exit(shared, 0);
    }
    shared.show("* disconnected from server");
    exit(shared, 1);
}

/// Ends the process, putting the terminal back first.
fn exit(shared: &Shared, code: i32) -> ! {
    shared.put_terminal_back();
    process::exit(code)
}
