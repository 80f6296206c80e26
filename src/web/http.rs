//! Just enough HTTP/1.1 for the web page: parsing a request, decoding a
//! form, building a response, framing Server-Sent Events.
//!
//! HTTP is text over TCP, like our chat protocol, and the same care applies:
//! the request line and headers are capped (8 KB) while reading, the body is
//! read only as far as `Content-Length` says and never past its cap (see
//! [`max_body`]), and everything is decoded and checked before use. Numbers
//! are strict: `Content-Length` is digits only and said once, a percent
//! escape is two hex digits; where two parsers could read the same bytes two
//! ways, we refuse rather than guess. Every function here is pure or takes
//! `impl BufRead`, so the unit tests feed it bytes.
//!
//! We simplify where a chat page allows it, and say so: one request per
//! connection (`Connection: close`), no chunked request bodies, no
//! compression, no ranges. A general-purpose server does all of that.

use std::fmt;
use std::io::{self, BufRead};

use crate::net::{read_line_capped, LineRead};

/// The most bytes of request line and headers together.
pub const MAX_HEAD: usize = 8 * 1024;

/// Room in a body for everything but the line itself: the field names, the
/// `&`s, the 32-digit session token, a name.
const FORM_ROOM: usize = 256;

/// The most bytes of a request body, for a server whose longest line is
/// `max_line_bytes`: a form may percent-encode every byte of the line as
/// three (`%E2`), and needs room for its other fields.
pub fn max_body(max_line_bytes: usize) -> usize {
    max_line_bytes.saturating_mul(3).saturating_add(FORM_ROOM)
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query, e.g. `/api/events`.
    pub path: String,
    /// The raw query after `?`, e.g. `token=abc` (empty if none).
    pub query: String,
    /// Header names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request was refused, with the status it is answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The client closed the connection before sending a request.
    Closed,
    /// 400: malformed request line, header or body.
    BadRequest(&'static str),
    /// 413: the body is larger than the cap (the cap is given).
    TooLarge(usize),
    /// 431: request line and headers longer than [`MAX_HEAD`].
    HeadTooLarge,
    /// 408: the client was too slow (the socket's read deadline passed).
    Timeout,
    /// The connection failed.
    Io(io::ErrorKind),
}

impl HttpError {
    /// The status to answer with, if an answer makes sense.
    pub fn status(&self) -> Option<Status> {
        match self {
            HttpError::BadRequest(_) => Some(Status::BadRequest),
            HttpError::TooLarge(_) => Some(Status::PayloadTooLarge),
            HttpError::HeadTooLarge => Some(Status::HeaderFieldsTooLarge),
            HttpError::Timeout => Some(Status::RequestTimeout),
            HttpError::Closed | HttpError::Io(_) => None,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Closed => write!(f, "connection closed before a request"),
            HttpError::BadRequest(why) => write!(f, "bad request: {why}"),
            HttpError::TooLarge(cap) => write!(f, "request body larger than {cap} bytes"),
            HttpError::HeadTooLarge => write!(f, "request head larger than {MAX_HEAD} bytes"),
            HttpError::Timeout => write!(f, "request too slow"),
            HttpError::Io(kind) => write!(f, "connection failed: {kind}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> HttpError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout,
            kind => HttpError::Io(kind),
        }
    }
}

/// Reads one request: the head (capped at [`MAX_HEAD`] bytes in all), then
/// a body of exactly `Content-Length` bytes (at most `max_body`; see
/// [`max_body`]).
pub fn read_request(reader: &mut impl BufRead, max_body: usize) -> Result<Request, HttpError> {
    let mut budget = MAX_HEAD;
    let mut buf = Vec::new();
    let Some(request_line) = read_head_line(reader, &mut budget, &mut buf)? else {
        return Err(HttpError::Closed);
    };
    let (method, target) = parse_request_line(&request_line)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: read_headers(reader, &mut budget, &mut buf)?,
        body: Vec::new(),
    };
    read_body(reader, &mut request, max_body)?;
    Ok(request)
}

/// `METHOD /target HTTP/1.x` into the method and the target.
fn parse_request_line(line: &str) -> Result<(&str, &str), HttpError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequest("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::BadRequest("unsupported HTTP version"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HttpError::BadRequest("malformed method"));
    }
    if !target.starts_with('/') {
        return Err(HttpError::BadRequest("malformed target"));
    }
    Ok((method, target))
}

/// The header lines up to the blank line: names in lower case, values
/// trimmed.
fn read_headers(
    reader: &mut impl BufRead,
    budget: &mut usize,
    buf: &mut Vec<u8>,
) -> Result<Vec<(String, String)>, HttpError> {
    let mut headers = Vec::new();
    loop {
        let Some(text) = read_head_line(reader, budget, buf)? else {
            return Err(HttpError::BadRequest("connection closed in the headers"));
        };
        if text.is_empty() {
            return Ok(headers);
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(HttpError::BadRequest("malformed header"));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(HttpError::BadRequest("malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Reads a body of exactly `Content-Length` bytes (at most `max_body`).
fn read_body(
    reader: &mut impl BufRead,
    request: &mut Request,
    max_body: usize,
) -> Result<(), HttpError> {
    if request.header("transfer-encoding").is_some() {
        return Err(HttpError::BadRequest("chunked bodies are not supported"));
    }
    let mut lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some((_, value)), None) => parse_length(value)?,
        // Two lengths, even equal ones: a proxy in front of us might have
        // believed the other one, and then we would disagree about where
        // this request ends (request smuggling).
        (Some(_), Some(_)) => return Err(HttpError::BadRequest("repeated Content-Length")),
    };
    if length > max_body {
        return Err(HttpError::TooLarge(max_body));
    }
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            HttpError::BadRequest("body shorter than Content-Length")
        } else {
            HttpError::from(e)
        }
    })
}

/// A `Content-Length` value: ASCII digits and nothing else. (Rust's
/// `parse::<usize>` also takes `+5`; HTTP does not, and a proxy that reads
/// it differently would split the stream elsewhere.)
fn parse_length(value: &str) -> Result<usize, HttpError> {
    let malformed = HttpError::BadRequest("malformed Content-Length");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    // Only digits remain, so the one way to fail is a number too large for
    // usize: certainly over the cap.
    value.parse().map_err(|_| malformed)
}

/// Reads one CRLF- (or LF-) terminated head line within what is left of the
/// head's byte budget (each line is counted as if it ended with CRLF). None
/// at end of stream before any byte.
fn read_head_line(
    reader: &mut impl BufRead,
    budget: &mut usize,
    buf: &mut Vec<u8>,
) -> Result<Option<String>, HttpError> {
    match read_line_capped(reader, *budget, buf)? {
        LineRead::Line(text) => {
            *budget = budget.saturating_sub(text.len() + 2);
            Ok(Some(text))
        }
        LineRead::TooLong => Err(HttpError::HeadTooLarge),
        LineRead::NotUtf8 => Err(HttpError::BadRequest("head is not valid UTF-8")),
        LineRead::Torn => Err(HttpError::BadRequest(
            "connection closed in the middle of a line",
        )),
        LineRead::Eof if *budget == 0 => Err(HttpError::HeadTooLarge),
        LineRead::Eof => Ok(None),
    }
}

/// Decodes `application/x-www-form-urlencoded` text (a body, or a query):
/// `a=1&b=two+words` into pairs. Refuses bad percent escapes and bytes that
/// do not decode to UTF-8.
pub fn parse_form(text: &[u8]) -> Result<Vec<(String, String)>, HttpError> {
    let mut pairs = Vec::new();
    for part in text.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = part.splitn(2, |&b| b == b'=');
        let name = percent_decode(halves.next().unwrap_or_default())?;
        let value = percent_decode(halves.next().unwrap_or_default())?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// The value of the first field called `name` in decoded form pairs.
pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `+` is a space, `%41` is the byte 0x41; the bytes must then be UTF-8.
fn percent_decode(text: &[u8]) -> Result<String, HttpError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                // Two hex digits exactly: `from_str_radix` alone would also
                // take `%+f` as 0x0f.
                let hex = text
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    return Err(HttpError::BadRequest("malformed percent escape"));
                };
                bytes.push(byte);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| HttpError::BadRequest("form is not valid UTF-8"))
}

/// The statuses we answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Forbidden,
    Conflict,
    PayloadTooLarge,
    MisdirectedRequest,
    TooManyRequests,
    HeaderFieldsTooLarge,
    ServiceUnavailable,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::Forbidden => 403,
            Status::Conflict => 409,
            Status::PayloadTooLarge => 413,
            Status::MisdirectedRequest => 421,
            Status::TooManyRequests => 429,
            Status::HeaderFieldsTooLarge => 431,
            Status::ServiceUnavailable => 503,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::Forbidden => "Forbidden",
            Status::Conflict => "Conflict",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::MisdirectedRequest => "Misdirected Request",
            Status::TooManyRequests => "Too Many Requests",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::ServiceUnavailable => "Service Unavailable",
        }
    }
}

/// Headers every response carries: the page may load only its own files
/// (no injected script can run, nor fetch from elsewhere), no other site may
/// show it in a frame (where a click could be stolen: clickjacking), and
/// the browser must trust our `Content-Type` rather than guess.
const SAFETY_HEADERS: &str = "Content-Security-Policy: default-src 'self'; \
                              frame-ancestors 'none'\r\n\
                              X-Content-Type-Options: nosniff\r\n\
                              Cache-Control: no-store\r\n";

/// A whole response with a body, closing the connection after it.
/// `content_type` without charset, e.g. `text/plain`: UTF-8 is added.
pub fn response(status: Status, content_type: &str, body: &[u8]) -> Vec<u8> {
    response_with(status, content_type, "", body)
}

/// A response with `extra` header lines (each ending in `\r\n`) besides
/// the usual ones.
fn response_with(status: Status, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}; charset=utf-8\r\n\
         Content-Length: {}\r\n{extra}{SAFETY_HEADERS}Connection: close\r\n\r\n",
        status.code(),
        status.reason(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A plain-text response.
pub fn text(status: Status, body: &str) -> Vec<u8> {
    response(status, "text/plain", body.as_bytes())
}

/// A JSON response (the API's answers: `{"ok":true}` and the like).
pub fn json(status: Status, body: &str) -> Vec<u8> {
    response(status, "application/json", body.as_bytes())
}

/// A 405 answer, with the `Allow` header HTTP requires on it: the methods
/// the path does accept, e.g. `GET` or `POST`.
pub fn method_not_allowed(allow: &str) -> Vec<u8> {
    let body = b"! method not allowed\n";
    let extra = format!("Allow: {allow}\r\n");
    response_with(Status::MethodNotAllowed, "text/plain", &extra, body)
}

/// The head of a Server-Sent Events response: no length, the connection
/// stays open and carries events until one side closes it.
pub fn event_stream_head() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
         {SAFETY_HEADERS}Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// A comment line: ignored by the browser, but it makes a write happen, and
/// a write to a closed tab fails, which is how we notice it.
pub const SSE_KEEPALIVE: &str = ": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    /// The cap for the default `max_line_bytes` (2048).
    const MAX_BODY: usize = 3 * 2048 + FORM_ROOM;

    fn parse(bytes: &[u8]) -> Result<Request, HttpError> {
        read_request(
            &mut BufReader::with_capacity(16, Cursor::new(bytes.to_vec())),
            MAX_BODY,
        )
    }

    #[test]
    fn parses_a_get_with_query_and_headers() {
        let request =
            parse(b"GET /api/events?token=ab12 HTTP/1.1\r\nHost: x\r\nAccept:  text/event-stream \r\n\r\n")
                .expect("request");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/api/events");
        assert_eq!(request.query, "token=ab12");
        assert_eq!(request.header("accept"), Some("text/event-stream"));
        assert_eq!(request.header("host"), Some("x"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn parses_a_post_body_of_content_length_bytes() {
        let request =
            parse(b"POST /api/send HTTP/1.1\r\nContent-Length: 11\r\n\r\ntoken=a&x=1EXTRA")
                .expect("request");
        assert_eq!(request.body, b"token=a&x=1");
    }

    #[test]
    fn bare_lf_line_endings_are_accepted() {
        let request = parse(b"GET / HTTP/1.0\nHost: x\n\n").expect("request");
        assert_eq!(request.path, "/");
    }

    #[test]
    fn malformed_requests_are_bad_requests() {
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x",
        ] {
            let result = parse(bad);
            assert!(
                matches!(result, Err(HttpError::BadRequest(_))),
                "{:?}: {result:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn an_empty_connection_is_closed_not_bad() {
        assert_eq!(parse(b""), Err(HttpError::Closed));
    }

    #[test]
    fn heads_over_8_kb_are_refused() {
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..1000 {
            bytes.extend_from_slice(format!("X-Filler-{i}: yes\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        assert_eq!(parse(&bytes), Err(HttpError::HeadTooLarge));
        let long_line = [b"GET /".to_vec(), vec![b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&long_line), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn bodies_over_the_cap_are_refused_before_reading_them() {
        let head = format!(
            "POST /api/send HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(parse(head.as_bytes()), Err(HttpError::TooLarge(MAX_BODY)));
        let head = format!("POST /api/send HTTP/1.1\r\nContent-Length: {MAX_BODY}\r\n\r\n");
        let bytes = [head.into_bytes(), vec![b'a'; MAX_BODY]].concat();
        assert_eq!(parse(&bytes).map(|r| r.body.len()), Ok(MAX_BODY));
    }

    #[test]
    fn the_body_cap_fits_a_whole_line_percent_encoded() {
        assert_eq!(max_body(2048), MAX_BODY);
        let line = "é".repeat(1024); // 2048 bytes, each one escaped
        let encoded: String = line.bytes().map(|b| format!("%{b:02X}")).collect();
        let body = format!("token={}&line={encoded}", "0".repeat(32));
        assert!(body.len() <= max_body(line.len()));
        assert_eq!(max_body(usize::MAX), usize::MAX);
    }

    #[test]
    fn content_length_is_digits_only() {
        for bad in [
            "+5",
            "-5",
            " 5",
            "5 ",
            "0x5",
            "5_0",
            "",
            "99999999999999999999999",
        ] {
            assert!(
                matches!(parse_length(bad), Err(HttpError::BadRequest(_))),
                "{bad:?}"
            );
        }
        assert_eq!(parse_length("0"), Ok(0));
        assert_eq!(parse_length("0012"), Ok(12));
        let signed = b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello";
        assert!(matches!(parse(signed), Err(HttpError::BadRequest(_))));
    }

    #[test]
    fn a_repeated_content_length_is_refused_even_if_equal() {
        for lengths in ["5", "3"] {
            let raw = format!(
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: {lengths}\r\n\r\nhello"
            );
            assert_eq!(
                parse(raw.as_bytes()),
                Err(HttpError::BadRequest("repeated Content-Length"))
            );
        }
    }

    #[test]
    fn forms_are_percent_decoded() {
        let pairs =
            parse_form(b"name=al%69ce&line=hi+there%21+%E2%9C%93&empty=&flag").expect("form");
        assert_eq!(form_value(&pairs, "name"), Some("alice"));
        assert_eq!(form_value(&pairs, "line"), Some("hi there! ✓"));
        assert_eq!(form_value(&pairs, "empty"), Some(""));
        assert_eq!(form_value(&pairs, "flag"), Some(""));
        assert_eq!(form_value(&pairs, "missing"), None);
    }

    #[test]
    fn bad_forms_are_refused() {
        for bad in [
            &b"a=%"[..],
            b"a=%4",
            b"a=%zz",
            b"a=%ff%fe",
            b"a=\xff",
            b"a=%+f",
            b"a=%-1",
            b"a=% f",
        ] {
            assert!(
                matches!(parse_form(bad), Err(HttpError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn responses_carry_type_length_and_safety_headers() {
        let bytes = text(Status::Unauthorized, "! wrong password");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.contains("Content-Length: 16\r\n"));
        assert!(text
            .contains("Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"));
        assert!(text.contains("X-Content-Type-Options: nosniff\r\n"));
        assert!(text.ends_with("\r\n\r\n! wrong password"));
    }

    #[test]
    fn a_405_says_which_methods_are_allowed() {
        let text = String::from_utf8(method_not_allowed("POST")).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text.contains("\r\nAllow: POST\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n! method not allowed\n"));
    }

    #[test]
    fn event_stream_framing() {
        let head = String::from_utf8(event_stream_head()).expect("utf-8");
        assert!(head.contains("Content-Type: text/event-stream; charset=utf-8\r\n"));
        assert!(!head.contains("Content-Length"));
        assert!(SSE_KEEPALIVE.starts_with(':'));
    }
}
