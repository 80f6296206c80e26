//! `client`: a terminal client for lanchat.
//!
//! Two threads, one per direction, because each blocks on its own input: the
//! main thread blocks reading the keyboard (stdin) and sends each line; a
//! second thread blocks reading the socket and prints each line as it
//! arrives. Neither waits for the other, so messages show up while you type.
//!
//! Exit codes: 0 after `/quit` (or end of input), 1 if the server cannot be
//! reached or goes away, 2 for a bad command line or config file.

use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::TcpStream;
use std::process::{self, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lanchat::cli;
use lanchat::protocol::{self, read_line_capped, LineRead};

const USAGE: &str = "usage: client [--config PATH] [--host HOST] [--port PORT] [--name NAME]

Connects to a lanchat server (settings from the [client] section of
--config PATH or ./config.toml, else 127.0.0.1:7878) and chats: type a line
to say it, /help for the commands, /quit to leave.

options:
  --config PATH  read settings from this file
  --host HOST    server address
  --port PORT    server port
  --name NAME    log in with this name instead of typing it
  -h, --help     show this help";

/// The longest line we accept from the server. Ours never sends one this
/// long; the cap protects the client from a server that misbehaves.
const MAX_SERVER_LINE: usize = 64 * 1024;

/// How long to wait for the server to close the connection after `/quit`.
const QUIT_WAIT: Duration = Duration::from_secs(5);

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

    // A prompt only makes sense when a person is typing and watching.
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    // Set once we have asked to leave: after that, the server closing the
    // connection is the goodbye, not a failure.
    let quitting = Arc::new(AtomicBool::new(false));
    let printer = {
        let quitting = Arc::clone(&quitting);
        thread::Builder::new()
            .name("receiver".into())
            .spawn(move || print_incoming(reader, interactive, &quitting))
    };
    if let Err(e) = printer {
        eprintln!("error: cannot start the receiving thread: {e}");
        return ExitCode::from(1);
    }

    let mut writer = &stream;
    if let Some(name) = args.get("name") {
        if writer.write_all(format!("{name}\n").as_bytes()).is_err() {
            return server_gone();
        }
    }
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if protocol::is_quit(&line) {
            quitting.store(true, Ordering::SeqCst);
        }
        if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            return server_gone();
        }
        if quitting.load(Ordering::SeqCst) {
            break;
        }
        if interactive {
            print!("> ");
            let _ = io::stdout().flush();
        }
    }
    // End of input (Ctrl-D, or the end of a pipe) means goodbye.
    if !quitting.swap(true, Ordering::SeqCst) && writer.write_all(b"/quit\n").is_err() {
        return server_gone();
    }
    // The receiving thread ends the process when the server closes the
    // connection; this is only a bound in case it never does.
    thread::sleep(QUIT_WAIT);
    ExitCode::SUCCESS
}

/// Prints what the server sends until it closes the connection, then ends
/// the process (the main thread may be blocked reading the keyboard, and
/// std has no portable way to interrupt that).
fn print_incoming(stream: TcpStream, interactive: bool, quitting: &AtomicBool) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        let text = match read_line_capped(&mut reader, MAX_SERVER_LINE, &mut buf) {
            Ok(LineRead::Line(line)) => protocol::sanitize(&line),
            Ok(LineRead::TooLong) => "(a line from the server was too long and was skipped)".into(),
            Ok(LineRead::NotUtf8) => "(a line from the server was not valid UTF-8)".into(),
            Ok(LineRead::Eof) | Err(_) => break,
        };
        show(&text, interactive);
    }
    if quitting.load(Ordering::SeqCst) {
        process::exit(0);
    }
    show("* disconnected from server", interactive);
    process::exit(1);
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
    println!("* disconnected from server");
    ExitCode::from(1)
}
