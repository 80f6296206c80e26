//! `server`: runs a lanchat server until `/shutdown` is typed on its console.
//!
//! Exit codes: 0 after `/shutdown`, 1 if it cannot start (port in use, the
//! history file cannot be opened), 2 for a bad command line or config file.

use std::io::{self, Write};
use std::process::ExitCode;
use std::thread;

use lanchat::cli;
use lanchat::console;
use lanchat::server::Server;

const USAGE: &str = "usage: server [--config PATH] [--host HOST] [--port PORT] [--web-port PORT]
              [--irc-port PORT] [--quiet]

Runs a lanchat server. Settings come from --config PATH, else ./config.toml
if present, else built-in defaults (127.0.0.1:7878); --host and --port
override them. The chat is shown on standard output; type on standard input
to take part (/help lists the console commands). Activity is logged on
standard error.

options:
  --config PATH    read settings from this file
  --host HOST      address to listen on (0.0.0.0 for every interface)
  --port PORT      port to listen on (0 picks a free one)
  --web-port PORT  port of the web page (0 picks a free one)
  --irc-port PORT  port for IRC clients (0 picks a free one)
  --quiet          do not show the chat on standard output (console_echo = false)
  -h, --help       show this help";

fn main() -> ExitCode {
    let flags = ["config", "host", "port", "web-port", "irc-port", "quiet"];
    let (config, _) = match cli::start(
        std::env::args().skip(1),
        &flags,
        USAGE,
        cli::apply_server_overrides,
    ) {
        Ok(started) => started,
        Err(code) => return code,
    };

    let server = match Server::bind(config.server) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match server.local_addr() {
        // Tests and scripts wait for this line: it must be the first one.
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    if let Some(addr) = server.web_addr() {
        println!("web on http://{addr}/");
    }
    if let Some(addr) = server.irc_addr() {
        println!("irc on {addr}");
    }
    let _ = io::stdout().flush();

    let handle = server.handle();
    let console = thread::Builder::new()
        .name("console".into())
        .spawn(move || console::run(io::stdin().lock(), io::stdout(), handle));
    if let Err(e) = console {
        eprintln!("error: cannot start the console thread: {e}");
        return ExitCode::from(1);
    }
    // The console thread may still be blocked reading stdin; returning from
    // main ends the process, and it with it.
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
