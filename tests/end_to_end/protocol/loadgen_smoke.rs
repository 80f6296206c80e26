//! The load generator (`examples/loadgen/`) keeps working: ten clients
//! talk at a low rate for a second against a real server, and every message
//! reaches every other client, also with a stalled client (one that never
//! reads) in the room, and with receivers that read the web page's event
//! stream.
//!
//! The example is compiled into this test as a module and its `run` function
//! is called directly, rather than built with `cargo build --example` and run
//! as a child process. That needs no cargo inside cargo and no guessing where
//! the binary went under `target/`, and the test still runs the code that
//! `cargo run --example loadgen` runs: only `main` goes unused here, hence
//! the `allow(dead_code)`. The unit tests inside the example (parsing, the
//! histogram) run as part of this file too.

#[path = "../../../examples/loadgen/main.rs"]
#[allow(dead_code)]
mod loadgen;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::support::TestServer;

/// The whole run takes about two seconds; this is the bound past which the
/// test fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs the generator against `server`: ten clients, two of them sending 50
/// messages a second for one second, plus `extra` flags.
fn ten_clients_for_a_second(server: &TestServer, extra: &[&str]) -> loadgen::Report {
    let port = server.addr.port().to_string();
    let pid = server.pid().to_string();
    let mut args: Vec<String> = [
        "--port",
        &port,
        "--clients",
        "10",
        "--senders",
        "2",
        "--rate",
        "50",
        "--secs",
        "1",
        "--server-pid",
        &pid,
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    args.extend(extra.iter().map(|arg| arg.to_string()));

    // Every wait inside the generator is bounded; running it on a thread of
    // its own and waiting on a channel bounds the whole run as well.
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(loadgen::run(&args));
    });
    finished
        .recv_timeout(RUN_LIMIT)
        .expect("the load generator finished in time")
        .expect("the load generator ran")
}

#[test]
fn ten_clients_at_a_low_rate_lose_nothing() {
    let server = TestServer::with_config("rate_limit_per_sec = 0\nmax_clients = 100");
    let report = ten_clients_for_a_second(&server, &[]);

    let result = report.to_string();
    assert!(result.starts_with("RESULT mode=fixed "), "{result}");
    assert!(result.contains(" lost=0 "), "{result}");
    let step = report.step.as_ref().expect("a fixed-rate run has a step");
    assert_eq!(step.sent, 50, "{result}");
    assert_eq!(step.expected, 50 * 9, "{result}");
    assert_eq!(step.delivered, step.expected, "{result}");
    assert_eq!(step.out_of_order, 0, "{result}");
    assert_eq!(report.joins.notices, 45, "{result}");
    assert!(report.memory.is_some(), "server memory was read: {result}");
}

#[test]
fn a_stalled_client_costs_the_others_nothing() {
    let server = TestServer::with_config("rate_limit_per_sec = 0\nmax_clients = 100");
    let report = ten_clients_for_a_second(&server, &["--stalled", "1"]);

    let result = report.to_string();
    assert!(result.contains(" stalled=1 "), "{result}");
    let step = report.step.as_ref().expect("a fixed-rate run has a step");
    // The stalled client is not one of the measured ten: every message
    // reaches the nine other measured clients, and nothing more is expected.
    assert_eq!(step.sent, 50, "{result}");
    assert_eq!(step.expected, 50 * 9, "{result}");
    assert_eq!(step.delivered, step.expected, "{result}");
    assert_eq!(step.lost(), 0, "{result}");
    assert_eq!(step.out_of_order, 0, "{result}");
    assert_eq!(step.closed, 0, "no measured client was cut off: {result}");
    // Its join notice is not one of the crowd's.
    assert_eq!(report.joins.notices, 45, "{result}");
}

#[test]
fn receivers_reading_the_web_pages_event_stream_lose_nothing() {
    // Eight of the ten read JSON events as browsers do (`--receivers sse`);
    // the two senders stay terminal clients. A browser holds two places
    // from one address (its session and its stream): no per-address limit.
    let config = "rate_limit_per_sec = 0\nmax_clients = 100\nmax_clients_per_ip = 0";
    let server = TestServer::with_config(config);
    let web_port = server.web_addr.port().to_string();
    let report =
        ten_clients_for_a_second(&server, &["--receivers", "sse", "--web-port", &web_port]);

    let result = report.to_string();
    let step = report.step.as_ref().expect("a fixed-rate run has a step");
    assert_eq!(step.sent, 50, "{result}");
    assert_eq!(step.expected, 50 * 9, "{result}");
    assert_eq!(step.delivered, step.expected, "{result}");
    assert_eq!(step.out_of_order, 0, "{result}");
    assert_eq!(step.errors, 0, "{result}");
}

#[test]
fn a_host_off_this_machine_is_refused() {
    let args = ["--host", "192.0.2.1"].map(String::from);
    let error = loadgen::run(&args).expect_err("only loopback is allowed");
    assert!(error.contains("not a loopback address"), "{error}");
}
