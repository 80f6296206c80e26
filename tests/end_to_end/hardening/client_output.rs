//! The terminal client never prints a control character it received,
//! whatever the server sends: a hostile or broken server must not be able
//! to clear your screen, retitle your terminal, ring its bell, or hide text.
//!
//! A fake server (a listener in this test) sends lines full of escape
//! sequences, C0 and C1 control codes, a bare carriage return, and bytes
//! that are not UTF-8, and the client's standard output must hold no byte
//! below 0x20 except the newline, no DEL, and no C1 code (U+0080 to U+009F)
//! encoded as UTF-8.

use super::one_at_a_time;
use crate::support::TempDir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(10);

/// What the fake server sends after the client gives its name.
fn hostile_lines() -> Vec<u8> {
    let mut out = Vec::new();
    for line in [
        &b"\x1b[2J\x1b[Hclear screen"[..],
        b"\x1b]0;pwned title\x07osc title",
        b"\x1bc full reset",
        b"bell\x07\x07\x07 ringing",
        b"nul\x00byte",
        "c1 csi \u{9b}31m red \u{9b}0m".as_bytes(),
        "c1 nel \u{85} pad \u{80} apc \u{9f} end".as_bytes(),
        b"bare\rreturn overwrite",
        b"del\x7fchar",
        b"backspace\x08\x08 over",
        b"vertical\x0btab form\x0cfeed",
        b"tab\there",
        b"[#general] mallory: \x1b[8mhidden text\x1b[0m",
        b"invalid \xff\xfe utf8",
        b"raw c1 byte \x9b31m",
        b"crlf line\r",
        b"\x1b",
    ] {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    // A last line with no newline, cut off by the close.
    out.extend_from_slice(b"tail \x1b[31m without newline");
    out
}

/// Serves one client: welcome, its name, the hostile lines, then waits for
/// its `/quit` (or its close) and closes.
fn fake_server(listener: TcpListener) -> Result<(), String> {
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let stream: TcpStream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(_) if start.elapsed() < LIMIT => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("no client came: {e}")),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    (&stream)
        .write_all(b"* Welcome to \x1b[5mevil\x1b[0m! Enter your name:\n")
        .map_err(|e| e.to_string())?;
    let mut name = String::new();
    reader.read_line(&mut name).map_err(|e| e.to_string())?;
    if name != "alice\n" {
        return Err(format!("the client sent {name:?} as its name"));
    }
    (&stream)
        .write_all(&hostile_lines())
        .map_err(|e| e.to_string())?;
    // Read what the client still sends (its /quit) until it closes or
    // the wait is over, so that our close does not reset the connection
    // before the client has read everything.
    let mut rest = String::new();
    let _ = reader.read_line(&mut rest);
    Ok(())
}

#[test]
fn the_client_prints_no_control_character_whatever_the_server_sends() {
    let _turn = one_at_a_time();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || fake_server(listener));

    // In an empty directory, so no config.toml is picked up.
    let dir = TempDir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the client");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alice\n").unwrap();
    drop(stdin);
    let mut stdout = child.stdout.take().unwrap();
    let reading = thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the client did not exit within {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let out = reading.join().expect("stdout reader");
    server
        .join()
        .expect("fake server thread")
        .unwrap_or_else(|e| panic!("fake server: {e}"));

    let text = String::from_utf8_lossy(&out);
    let bad: Vec<String> = out
        .iter()
        .enumerate()
        .filter(|&(_, &b)| (b < 0x20 && b != b'\n') || b == 0x7f)
        .map(|(i, b)| format!("byte {b:#04x} at {i}"))
        .chain(
            out.windows(2)
                .enumerate()
                .filter(|(_, w)| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
                .map(|(i, w)| format!("C1 code U+00{:02X} at {i}", w[1])),
        )
        .collect();
    assert!(
        bad.is_empty(),
        "the client printed control characters: {bad:?}\nstdout: {text:?}"
    );
    // The lines did reach the screen, without their controls.
    for visible in [
        "evil",
        "clear screen",
        "osc title",
        "ringing",
        "hidden text",
        "overwrite",
    ] {
        assert!(
            text.contains(visible),
            "{visible:?} not printed; stdout: {text:?}"
        );
    }
    eprintln!("client exited with {status}; stdout: {text:?}");
}
