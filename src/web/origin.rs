//! The web page answers only its own page: checking `Host` and `Origin`.
//!
//! A browser sends requests to our port on behalf of *any* page it shows,
//! not only ours. Two attacks come from that, and each is stopped by one
//! header the browser sets itself (a page's script cannot forge either):
//!
//! - **Cross-site request forgery.** A page on `evil.example` posts a form
//!   to `http://127.0.0.1:8080/api/login`, and the visitor's browser
//!   delivers it. Browsers mark such a request with
//!   `Origin: http://evil.example` and `Sec-Fetch-Site: cross-site`, so a
//!   POST whose `Origin` is not our own page, or that says `cross-site`, is
//!   refused (403). A POST with neither header (`curl`, a script) is
//!   served: the check stops browsers, and browsers send them.
//! - **DNS rebinding.** `evil.example`'s name server first answers with its
//!   own address, then with `127.0.0.1`. The page, still the same origin in
//!   the browser's eyes, now talks to us and can read the answers, chat
//!   included. But the browser still sends `Host: evil.example:8080`. So we
//!   answer only a `Host` that names this listener: `localhost`,
//!   `127.0.0.1`, `[::1]`, the address the connection arrived on, or a name
//!   the operator listed in `[web] hostnames`, with our port; anything else
//!   gets 421 Misdirected Request.
//!
//! We simplify: the page is plain `http://`, so our own origin is
//! `http://` + the `Host` we accepted. A server behind a TLS proxy would
//! compare against its public `https://` origin instead.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::http::{Request, Status};

/// Why a `Host` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostError {
    /// 400: HTTP/1.1 requires exactly one `Host`.
    Missing,
    /// 400: two `Host` headers; which one would we believe?
    Repeated,
    /// 400: not `name`, `name:port` or `[v6]:port`.
    Malformed,
    /// 421: a well-formed `Host` that is not this listener.
    Elsewhere(String),
}

impl HostError {
    /// The status to answer with.
    pub(crate) fn status(&self) -> Status {
        match self {
            HostError::Elsewhere(_) => Status::MisdirectedRequest,
            _ => Status::BadRequest,
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Missing => write!(f, "bad request: no Host header"),
            HostError::Repeated => write!(f, "bad request: repeated Host header"),
            HostError::Malformed => write!(f, "bad request: malformed Host header"),
            HostError::Elsewhere(host) => write!(f, "this server does not answer for {host}"),
        }
    }
}

impl std::error::Error for HostError {}

/// Why a POST was refused as coming from another site (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginError {
    /// `Sec-Fetch-Site: cross-site`.
    CrossSite,
    /// An `Origin` that is not our page.
    Foreign(String),
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginError::CrossSite => write!(f, "cross-site requests are refused"),
            OriginError::Foreign(origin) => write!(f, "requests from {origin} are refused"),
        }
    }
}

impl std::error::Error for OriginError {}

/// The request's one `Host`, if it names this listener: `local` is the
/// address the connection arrived on, `hostnames` the operator's extra
/// names. Returns the `Host` value, which the `Origin` check needs.
pub(crate) fn check_host<'r>(
    request: &'r Request,
    local: SocketAddr,
    hostnames: &[String],
) -> Result<&'r str, HostError> {
    let mut hosts = request.headers.iter().filter(|(n, _)| n == "host");
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => return Err(HostError::Missing),
        (Some((_, host)), None) => host.as_str(),
        (Some(_), Some(_)) => return Err(HostError::Repeated),
    };
    host_allowed(host, local, hostnames)?;
    Ok(host)
}

/// Whether one `Host` value names this listener (see the module doc).
pub(crate) fn host_allowed(
    host: &str,
    local: SocketAddr,
    hostnames: &[String],
) -> Result<(), HostError> {
    let (name, port) = split_host(host).ok_or(HostError::Malformed)?;
    let ours = local_names(local.ip());
    let known = ["localhost", "127.0.0.1", "[::1]"]
        .into_iter()
        .chain(ours.iter().map(String::as_str))
        .chain(hostnames.iter().map(String::as_str))
        .any(|known| known.eq_ignore_ascii_case(name));
    if known && port == local.port() {
        Ok(())
    } else {
        Err(HostError::Elsewhere(host.to_string()))
    }
}

/// The ways a `Host` may spell the address we were reached on: an IPv6
/// address in brackets, and an IPv4 address that arrived on an IPv6 socket
/// (`::ffff:192.0.2.1`) in both forms.
fn local_names(ip: IpAddr) -> Vec<String> {
    match ip {
        IpAddr::V4(v4) => vec![v4.to_string()],
        IpAddr::V6(v6) => {
            let mut names = vec![format!("[{v6}]")];
            names.extend(v6.to_ipv4_mapped().map(|v4| v4.to_string()));
            names
        }
    }
}

/// `name[:port]` or `[v6]:port` into the name and the port (80 if none is
/// given, as a browser leaves out the default). None if malformed.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, rest) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        let inside = &name[1..name.len() - 1];
        let v6 = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
        (!inside.is_empty() && inside.chars().all(v6)).then_some((name, rest))?
    } else {
        let end = host.find(':').unwrap_or(host.len());
        let (name, rest) = host.split_at(end);
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        (!name.is_empty() && name.chars().all(plain)).then_some((name, rest))?
    };
    let port = match rest.strip_prefix(':') {
        None if rest.is_empty() => 80,
        None => return None,
        // Digits only: `parse` would also take `+80`.
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        Some(_) => return None,
    };
    Some((name, port))
}

/// Refuses a request another site's page made: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` other than `http://` + `host` (the `Host`
/// we accepted). Every `Origin` header is checked, in case of two.
pub(crate) fn check_origin(request: &Request, host: &str) -> Result<(), OriginError> {
    let said = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if said("sec-fetch-site").any(|site| site.eq_ignore_ascii_case("cross-site")) {
        return Err(OriginError::CrossSite);
    }
    let ours = format!("http://{host}");
    match said("origin").find(|origin| !origin.eq_ignore_ascii_case(&ours)) {
        Some(foreign) => Err(OriginError::Foreign(foreign.to_string())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        SocketAddr::from(([192, 168, 1, 5], 8080))
    }

    fn allowed(host: &str) -> Result<(), HostError> {
        host_allowed(host, local(), &["chat.lan".to_string()])
    }

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".to_string(),
            path: "/api/login".to_string(),
            query: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_listener_s_own_names_are_accepted() {
        for host in [
            "localhost:8080",
            "LocalHost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "192.168.1.5:8080",
            "chat.lan:8080",
            "CHAT.LAN:8080",
        ] {
            assert_eq!(allowed(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn other_names_and_ports_are_misdirected() {
        for host in [
            "evil.example:8080",
            "localhost.evil.example:8080",
            "localhost:8081",
            "localhost",
            "192.168.1.6:8080",
            "chat.lan.evil:8080",
        ] {
            let refused = allowed(host);
            assert_eq!(refused, Err(HostError::Elsewhere(host.to_string())));
            assert_eq!(refused.unwrap_err().status(), Status::MisdirectedRequest);
        }
    }

    #[test]
    fn a_host_without_a_port_means_port_80() {
        let local = SocketAddr::from(([127, 0, 0, 1], 80));
        assert_eq!(host_allowed("localhost", local, &[]), Ok(()));
        assert_eq!(host_allowed("localhost:80", local, &[]), Ok(()));
    }

    #[test]
    fn malformed_hosts_are_bad_requests() {
        for host in [
            "",
            ":8080",
            "localhost:",
            "localhost:+8080",
            "localhost:80a",
            "localhost:99999",
            "local host:8080",
            "user@localhost:8080",
            "::1:8080",
            "[::1]8080",
            "[]:8080",
            "[::1:8080",
            "[evil.example]:8080",
        ] {
            let refused = allowed(host);
            assert_eq!(refused, Err(HostError::Malformed), "{host:?}");
            assert_eq!(refused.unwrap_err().status(), Status::BadRequest);
        }
    }

    #[test]
    fn an_ipv6_listener_answers_to_its_address_and_its_ipv4_form() {
        let v6: IpAddr = "::ffff:192.168.1.5".parse().expect("ip");
        let local = SocketAddr::new(v6, 8080);
        assert_eq!(host_allowed("192.168.1.5:8080", local, &[]), Ok(()));
        assert_eq!(
            host_allowed("[::ffff:192.168.1.5]:8080", local, &[]),
            Ok(())
        );
        let v6: IpAddr = "fe80::1".parse().expect("ip");
        let local = SocketAddr::new(v6, 8080);
        assert_eq!(host_allowed("[FE80::1]:8080", local, &[]), Ok(()));
    }

    #[test]
    fn exactly_one_host_header_is_required() {
        let one = request(&[("host", "localhost:8080")]);
        assert_eq!(check_host(&one, local(), &[]), Ok("localhost:8080"));
        assert_eq!(
            check_host(&request(&[]), local(), &[]),
            Err(HostError::Missing)
        );
        let two = request(&[("host", "localhost:8080"), ("host", "evil.example:8080")]);
        assert_eq!(check_host(&two, local(), &[]), Err(HostError::Repeated));
    }

    #[test]
    fn our_own_origin_and_no_origin_are_accepted() {
        let host = "localhost:8080";
        assert_eq!(check_origin(&request(&[]), host), Ok(()));
        let same = request(&[
            ("origin", "http://localhost:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check_origin(&same, host), Ok(()));
        let direct = request(&[("sec-fetch-site", "none")]);
        assert_eq!(check_origin(&direct, host), Ok(()));
    }

    #[test]
    fn another_origin_is_forbidden() {
        let host = "localhost:8080";
        for origin in [
            "http://evil.example",
            "http://localhost:8081",
            "https://localhost:8080",
            "null",
            "http://localhost:8080.evil.example",
        ] {
            let request = request(&[("origin", origin)]);
            assert_eq!(
                check_origin(&request, host),
                Err(OriginError::Foreign(origin.to_string()))
            );
        }
        let two = request(&[
            ("origin", "http://localhost:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(check_origin(&two, host).is_err());
    }

    #[test]
    fn a_cross_site_fetch_is_forbidden_even_without_origin() {
        let request = request(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(
            check_origin(&request, "localhost:8080"),
            Err(OriginError::CrossSite)
        );
    }
}
