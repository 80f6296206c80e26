//! Configuration: the defaults, and the file that overrides them.
//!
//! Reading a file and understanding its text are two jobs, so they are two
//! functions. [`parse`] is pure: it turns a `&str` into a [`Config`] or a
//! [`ConfigError`] that names the line. Because it never touches the disk,
//! every mistake a user can make (a misspelt key, a port out of range, an
//! unterminated string) is unit-tested below on a string literal. Only
//! [`Config::load`] does I/O: it reads the file, calls `parse`, and adds the
//! file name to any error.
//!
//! The format is a small subset of TOML, parsed by hand because this crate
//! uses the standard library only. (A production program would use the
//! `toml` and `serde` crates and get the whole language.) The subset:
//!
//! ```toml
//! # A comment on its own line.
//! [server]                         # [server], [web], [irc], [client] exist
//! host = "0.0.0.0"                 # strings: double quotes, escapes \" \\ \n \t
//! port = 7_878                     # integers: optional -, digits, _ between digits
//! default_room = "#General"        # stored as "general"
//!
//! [client]
//! port = 7878
//! ```
//!
//! Booleans (`true`, `false`) are parsed too (`guests_allowed`, say).
//! Not supported: single-quoted strings, multi-line strings, floats, arrays,
//! inline tables, dotted or quoted keys. The one list, `[web] hostnames`, is
//! therefore a comma-separated string: `hostnames = "chat.lan, 10.0.0.5"`.
//!
//! Unknown sections and keys are errors rather than being ignored: otherwise
//! `prot = 7000` would silently leave the server on port 7878.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::rooms::normalize_room_name;

/// Host and port used by both the server and the client unless configured.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 7878;

/// The whole configuration: one struct per section of the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub server: ServerConfig,
    pub client: ClientConfig,
}

/// The `[web]` section: the HTTP listener for the browser page.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    pub enabled: bool,
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// More names the page may be reached by (besides `localhost`,
    /// `127.0.0.1`, `[::1]` and the listener's address): a request whose
    /// `Host` names none of them is refused. Written in the file as one
    /// comma-separated string, since our TOML subset has no arrays.
    pub hostnames: Vec<String>,
    /// How long a browser's session outlives a dropped event stream,
    /// waiting for the page to reconnect, before it leaves the chat.
    pub reconnect_grace_secs: u64,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            enabled: true,
            host: DEFAULT_HOST.to_string(),
            port: 8080,
            hostnames: Vec::new(),
            reconnect_grace_secs: 30,
        }
    }
}

/// The `[irc]` section: the listener for IRC clients.
#[derive(Debug, Clone, PartialEq)]
pub struct IrcConfig {
    pub enabled: bool,
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// The server's name in IRC prefixes and numerics. It has a dot, so
    /// clients can tell it from a nick.
    pub name: String,
    /// An IRC client silent this long is sent a `PING`; one that stays
    /// silent as long again is closed.
    pub ping_secs: u64,
}

impl Default for IrcConfig {
    fn default() -> IrcConfig {
        IrcConfig {
            enabled: true,
            host: DEFAULT_HOST.to_string(),
            port: 6667,
            name: "lanchat.local".to_string(),
            ping_secs: 120,
        }
    }
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address to listen on. `127.0.0.1` accepts this machine only;
    /// `0.0.0.0` accepts the whole LAN.
    pub host: String,
    /// Port to listen on; 0 asks the OS for any free port (tests use this).
    pub port: u16,
    /// The name the server gives itself in its greeting and notices.
    pub server_name: String,
    /// The room every client joins first, stored lower-case without `#`.
    pub default_room: String,
    /// The append-only chat log.
    pub history_file: PathBuf,
    /// How many past lines a new client is sent (0 to 1000).
    pub history_replay: usize,
    /// The longest line a client may send, in bytes (64 to 1 MiB).
    pub max_line_bytes: usize,
    /// How long a new connection has to send its name, in seconds.
    pub handshake_timeout_secs: u64,
    /// Lines per second a client may send over time; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// How many lines a client may send at once before the rate applies.
    pub rate_limit_burst: u32,
    /// How long one write to a client may block before that client is
    /// dropped, in milliseconds. Never 0: for sockets that means "block
    /// forever", and one stuck client would stall everyone.
    pub write_timeout_ms: u64,
    /// The most connections served at once.
    pub max_clients: usize,
    /// The most connections at once from one IP address; 0 turns the limit
    /// off.
    pub max_clients_per_ip: usize,
    /// The most bytes waiting to be sent to one client. A client that falls
    /// this far behind is not reading, and is dropped.
    pub send_queue_bytes: usize,
    /// Rooms with more members than this get no join and leave notices; 0
    /// announces in rooms of any size.
    pub announce_max_members: usize,
    /// The most rooms one client may be in at once.
    pub max_rooms_per_client: usize,
    /// The most rooms (with members) on the server at once.
    pub max_rooms: usize,
    /// The chat log is renamed to `<file>.1` and a new one started once it
    /// is bigger than this (0: never).
    pub history_max_bytes: u64,
    /// Where registered accounts (names and password hashes) are kept.
    pub accounts_file: PathBuf,
    /// Whether users may `/register` their name themselves.
    pub open_registration: bool,
    /// Whether unregistered names may chat; if not, only accounts (made by
    /// the operator with the console's `/register`) may log in.
    pub guests_allowed: bool,
    /// PBKDF2 iterations for new password hashes: the cost of one guess.
    pub password_iterations: u32,
    /// Whether the console shows the chat on standard output (off for a
    /// server run as a service, whose stdout nobody reads).
    pub console_echo: bool,
    /// The welcome message shown after the hello, one `* ` line per line;
    /// empty: none.
    pub motd: String,
    /// A file holding the welcome message, read at start (instead of
    /// `motd`; setting both is an error).
    pub motd_file: Option<PathBuf>,
    /// The web page's listener (its own `[web]` section in the file).
    pub web: WebConfig,
    /// The IRC listener (its own `[irc]` section in the file).
    pub irc: IrcConfig,
}

/// The `[client]` section: where the terminal client connects.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
}

// The defaults live here and nowhere else; the tests below pin each one.
impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            server_name: "lanchat".to_string(),
            default_room: "general".to_string(),
            history_file: PathBuf::from("data/history.log"),
            history_replay: 20,
            max_line_bytes: 2048,
            handshake_timeout_secs: 30,
            rate_limit_per_sec: 10,
            rate_limit_burst: 20,
            write_timeout_ms: 500,
            max_clients: 1024,
            max_clients_per_ip: 16,
            send_queue_bytes: 256 * 1024,
            announce_max_members: 100,
            max_rooms_per_client: 50,
            max_rooms: 10_000,
            history_max_bytes: 64 * 1024 * 1024,
            accounts_file: PathBuf::from("data/accounts.txt"),
            open_registration: true,
            guests_allowed: true,
            password_iterations: 100_000,
            console_echo: true,
            motd: String::new(),
            motd_file: None,
            web: WebConfig::default(),
            irc: IrcConfig::default(),
        }
    }
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
        }
    }
}

impl Config {
    /// Reads and parses the configuration file at `path`.
    ///
    /// Blocks on reading the file. Errors: [`ConfigError::Io`] if the file
    /// cannot be read (missing, unreadable, not UTF-8), or
    /// [`ConfigError::Invalid`] with `path` and the line number.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&text).map_err(|err| err.with_path(path))
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read; `source` is the cause.
    Io { path: PathBuf, source: io::Error },
    /// The text is not a valid configuration. `line` is 1-based; `path` is
    /// `None` when the text did not come from a file.
    Invalid {
        path: Option<PathBuf>,
        line: usize,
        message: String,
    },
}

impl ConfigError {
    fn invalid(line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: None,
            line,
            message,
        }
    }

    /// Attaches the file name, so the message can say where to look.
    fn with_path(self, path: &Path) -> ConfigError {
        match self {
            ConfigError::Invalid { line, message, .. } => ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                line,
                message,
            },
            io @ ConfigError::Io { .. } => io,
        }
    }

    /// The 1-based line number of an invalid configuration.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Io { .. } => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Invalid {
                path: Some(path),
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ConfigError::Invalid {
                path: None,
                line,
                message,
            } => write!(f, "line {line}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Invalid { .. } => None,
        }
    }
}

/// The sections of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Section {
    Server,
    Client,
    Web,
    Irc,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Server => f.write_str("server"),
            Section::Client => f.write_str("client"),
            Section::Web => f.write_str("web"),
            Section::Irc => f.write_str("irc"),
        }
    }
}

/// A value as written in the file, before we know which type its key wants.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// Parses configuration text; keys that are absent keep their defaults.
///
/// Pure: no I/O. The error names the first bad line (1-based); see the
/// module documentation for the accepted format.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    let mut section: Option<Section> = None;
    let mut seen_sections: HashSet<Section> = HashSet::new();
    let mut seen_keys: HashSet<(Section, &str)> = HashSet::new();

    // `lines()` also strips the `\r` of Windows line endings.
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let at_line = |message: String| ConfigError::invalid(line_number, message);
        let line = raw.trim();

        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = parse_header(header).map_err(at_line)?;
            let next = match name {
                "server" => Section::Server,
                "client" => Section::Client,
                "web" => Section::Web,
                "irc" => Section::Irc,
                _ => return Err(at_line(format!("unknown section [{name}]"))),
            };
            if !seen_sections.insert(next) {
                return Err(at_line(format!("duplicate section [{next}]")));
            }
            section = Some(next);
            continue;
        }

        let (key, value) = parse_key_value(line).map_err(at_line)?;
        let Some(current) = section else {
            return Err(at_line(format!(
                "key \"{key}\" comes before any section; put it under [server], [web], [irc] or [client]"
            )));
        };
        if !seen_keys.insert((current, key)) {
            return Err(at_line(format!("duplicate key \"{key}\"")));
        }
        assign(&mut config, current, key, value).map_err(at_line)?;
    }
    Ok(config)
}

/// Parses what follows the `[` of a section header and returns the name.
fn parse_header(header: &str) -> Result<&str, String> {
    let Some((name, rest)) = header.split_once(']') else {
        return Err("expected ] at the end of the section header".to_string());
    };
    let name = name.trim();
    expect_line_end(rest, &format!("[{name}]"))?;
    Ok(name)
}

/// Splits `key = value # comment` into the key and the parsed value.
fn parse_key_value(line: &str) -> Result<(&str, Value), String> {
    let Some((key, rest)) = line.split_once('=') else {
        return Err("expected key = value".to_string());
    };
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if key.is_empty() || !key.chars().all(bare) {
        return Err("expected key = value".to_string());
    }
    let rest = rest.trim_start();
    let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
        let (text, after) = parse_string(quoted)?;
        (Value::Str(text), after)
    } else {
        // A bare value runs to the next space or comment.
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '#')
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        (parse_bare_value(key, word)?, after)
    };
    expect_line_end(after, "the value")?;
    Ok((key, value))
}

/// Parses the inside of a double-quoted string, starting just after the
/// opening quote. Returns the string and the text after the closing quote.
fn parse_string(quoted: &str) -> Result<(String, &str), String> {
    let mut text = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((text, &quoted[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => text.push('"'),
                Some((_, '\\')) => text.push('\\'),
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, other)) => {
                    return Err(format!("unknown escape \\{other} in string"));
                }
                None => break,
            },
            _ => text.push(c),
        }
    }
    Err("unterminated string".to_string())
}

/// Parses an unquoted value: `true`, `false`, or an integer like `-1_000`.
fn parse_bare_value(key: &str, word: &str) -> Result<Value, String> {
    match word {
        "" => return Err(format!("expected a value after \"{key} =\"")),
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let digits = word.strip_prefix('-').unwrap_or(word);
    // As in TOML, each underscore must sit between two digits.
    let well_formed = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.ends_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_')
        && !digits.contains("__");
    if !well_formed {
        return Err(format!(
            "{key}: expected a \"string\", an integer or true/false, found {word}"
        ));
    }
    let number: String = word.chars().filter(|&c| c != '_').collect();
    number
        .parse()
        .map(Value::Int)
        .map_err(|_| format!("{key}: {word} is too large a number"))
}

/// Accepts only whitespace or a comment after a header or value.
fn expect_line_end(rest: &str, what: &str) -> Result<(), String> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected text after {what}: {rest}"))
    }
}

/// Stores one value in its field: the table of every known key.
fn assign(config: &mut Config, section: Section, key: &str, value: Value) -> Result<(), String> {
    let server = &mut config.server;
    let client = &mut config.client;
    match (section, key) {
        (Section::Web, _) => assign_web(&mut server.web, key, value)?,
        (Section::Irc, _) => assign_irc(&mut server.irc, key, value)?,
        (Section::Server, "host") => server.host = non_empty(key, value)?,
        (Section::Server, "port") => server.port = integer(key, value, 0, Some(65535))?,
        (Section::Server, "server_name") => server.server_name = non_empty(key, value)?,
        (Section::Server, "default_room") => {
            server.default_room =
                normalize_room_name(&string(key, value)?).map_err(|e| format!("{key}: {e}"))?;
        }
        (Section::Server, "history_file") => server.history_file = non_empty(key, value)?.into(),
        (Section::Server, "history_replay") => {
            server.history_replay = integer(key, value, 0, Some(1000))?;
        }
        (Section::Server, "max_line_bytes") => {
            server.max_line_bytes = integer(key, value, 64, Some(1_048_576))?;
        }
        (Section::Server, "handshake_timeout_secs") => {
            server.handshake_timeout_secs = integer(key, value, 1, Some(3600))?;
        }
        (Section::Server, "rate_limit_per_sec") => {
            server.rate_limit_per_sec = integer(key, value, 0, Some(u32::MAX.into()))?;
        }
        (Section::Server, "rate_limit_burst") => {
            server.rate_limit_burst = integer(key, value, 1, Some(u32::MAX.into()))?;
        }
        (Section::Server, "write_timeout_ms") => {
            server.write_timeout_ms = integer(key, value, 1, Some(60_000))?;
        }
        (Section::Server, "max_clients") => server.max_clients = integer(key, value, 1, None)?,
        (
            Section::Server,
            "announce_max_members" | "max_rooms_per_client" | "max_rooms" | "history_max_bytes",
        ) => assign_growth(server, key, value)?,
        (Section::Server, "accounts_file") => {
            server.accounts_file = PathBuf::from(non_empty(key, value)?);
        }
        (Section::Server, "open_registration") => server.open_registration = boolean(key, value)?,
        (Section::Server, "guests_allowed") => server.guests_allowed = boolean(key, value)?,
        (Section::Server, "password_iterations") => {
            server.password_iterations = integer(key, value, 1, Some(10_000_000))?;
        }
        (Section::Server, "console_echo" | "motd" | "motd_file") => {
            assign_shown(server, key, value)?
        }
        (Section::Server, "max_clients_per_ip") => {
            server.max_clients_per_ip = integer(key, value, 0, None)?;
        }
        (Section::Server, "send_queue_bytes") => {
            server.send_queue_bytes = integer(key, value, 4096, Some(1 << 26))?;
        }
        (Section::Client, "host") => client.host = non_empty(key, value)?,
        (Section::Client, "port") => client.port = integer(key, value, 0, Some(65535))?,
        _ => return Err(format!("unknown key \"{key}\" in [{section}]")),
    }
    Ok(())
}

/// The keys of `[web]`.
fn assign_web(web: &mut WebConfig, key: &str, value: Value) -> Result<(), String> {
    match key {
        "enabled" => web.enabled = boolean(key, value)?,
        "host" => web.host = non_empty(key, value)?,
        "port" => web.port = integer(key, value, 0, Some(65535))?,
        "hostnames" => web.hostnames = hostnames(key, value)?,
        "reconnect_grace_secs" => {
            web.reconnect_grace_secs = integer(key, value, 0, Some(3600))?;
        }
        _ => return Err(format!("unknown key \"{key}\" in [{}]", Section::Web)),
    }
    Ok(())
}

/// How big the chat may grow: rooms, announcements, the log.
fn assign_growth(server: &mut ServerConfig, key: &str, value: Value) -> Result<(), String> {
    match key {
        "announce_max_members" => server.announce_max_members = integer(key, value, 0, None)?,
        "max_rooms_per_client" => {
            server.max_rooms_per_client = integer(key, value, 1, Some(100_000))?;
        }
        "max_rooms" => server.max_rooms = integer(key, value, 1, None)?,
        _ => server.history_max_bytes = integer(key, value, 0, None)?,
    }
    Ok(())
}

/// What is shown: the chat on the console (`console_echo`), and one
/// welcome message (`motd`, or `motd_file`, not both).
fn assign_shown(server: &mut ServerConfig, key: &str, value: Value) -> Result<(), String> {
    if key == "console_echo" {
        server.console_echo = boolean(key, value)?;
        return Ok(());
    }
    if !server.motd.is_empty() || server.motd_file.is_some() {
        return Err("motd and motd_file: set one or the other, not both".to_string());
    }
    match key {
        "motd" => server.motd = string(key, value)?,
        _ => server.motd_file = Some(PathBuf::from(non_empty(key, value)?)),
    }
    Ok(())
}

fn string(key: &str, value: Value) -> Result<String, String> {
    match value {
        Value::Str(text) => Ok(text),
        _ => Err(format!("{key} must be a string")),
    }
}

fn non_empty(key: &str, value: Value) -> Result<String, String> {
    let text = string(key, value)?;
    if text.trim().is_empty() {
        return Err(format!("{key} must not be empty"));
    }
    Ok(text)
}

/// The `[irc]` section: the IRC listener.
fn assign_irc(irc: &mut IrcConfig, key: &str, value: Value) -> Result<(), String> {
    match key {
        "enabled" => irc.enabled = boolean(key, value)?,
        "host" => irc.host = non_empty(key, value)?,
        "port" => irc.port = integer(key, value, 0, Some(65535))?,
        "name" => irc.name = irc_server_name(key, value)?,
        "ping_secs" => irc.ping_secs = integer(key, value, 1, Some(3600))?,
        _ => return Err(format!("unknown key \"{key}\" in [{}]", Section::Irc)),
    }
    Ok(())
}

/// An IRC server name: letters, digits, `-` and `.`, with at least one
/// dot, so that clients can tell it from a nick (`lanchat.local`).
fn irc_server_name(key: &str, value: Value) -> Result<String, String> {
    let text = string(key, value)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if !text.contains('.') || text.len() > 63 || !text.chars().all(allowed) {
        return Err(format!(
            "{key}: an IRC server name is letters, digits, - and ., with a dot (like lanchat.local)"
        ));
    }
    Ok(text)
}

/// An integer within `min..=max` (no upper bound when `max` is None),
/// converted to the field's type.
fn integer<T: TryFrom<i64>>(
    key: &str,
    value: Value,
    min: i64,
    max: Option<i64>,
) -> Result<T, String> {
    let Value::Int(number) = value else {
        return Err(format!("{key} must be an integer"));
    };
    let out_of_range = || match max {
        Some(max) => format!("{key} must be between {min} and {max}"),
        None => format!("{key} must be at least {min}"),
    };
    if number < min || max.is_some_and(|max| number > max) {
        return Err(out_of_range());
    }
    // Only fails for an unbounded key on a platform whose usize is narrower.
    T::try_from(number).map_err(|_| format!("{key} is too large"))
}

/// A comma-separated list of host names (`"chat.lan, 192.168.1.20"`),
/// without ports: each a DNS name, an IPv4 address, or an IPv6 address in
/// brackets. Empty entries are skipped, so `""` is the empty list.
fn hostnames(key: &str, value: Value) -> Result<Vec<String>, String> {
    let text = string(key, value)?;
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let v6 = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    for name in &names {
        let well_formed = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(inside) => !inside.is_empty() && inside.chars().all(v6),
            None => name.chars().all(plain),
        };
        if !well_formed {
            return Err(format!(
                "{key}: {name:?} is not a host name (names are separated by commas, without ports)"
            ));
        }
    }
    Ok(names)
}

fn boolean(key: &str, value: Value) -> Result<bool, String> {
    match value {
        Value::Bool(flag) => Ok(flag),
        _ => Err(format!("{key} must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// Parses `text`, expecting an error, and returns it as displayed.
    fn error(text: &str) -> String {
        match parse(text) {
            Ok(config) => panic!("expected an error, parsed {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn server(text: &str) -> ServerConfig {
        parse(&format!("[server]\n{text}\n")).unwrap().server
    }

    #[test]
    fn every_default() {
        let config = Config::default();
        let s = &config.server;
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.port, 7878);
        assert_eq!(s.server_name, "lanchat");
        assert_eq!(s.default_room, "general");
        assert_eq!(s.history_file, PathBuf::from("data/history.log"));
        assert_eq!(s.history_replay, 20);
        assert_eq!(s.max_line_bytes, 2048);
        assert_eq!(s.handshake_timeout_secs, 30);
        assert_eq!(s.rate_limit_per_sec, 10);
        assert_eq!(s.rate_limit_burst, 20);
        assert_eq!(s.write_timeout_ms, 500);
        assert_eq!(s.max_clients, 1024);
        assert_eq!(s.send_queue_bytes, 262_144);
        assert_eq!(s.max_clients_per_ip, 16);
        assert_eq!(s.announce_max_members, 100);
        assert_eq!(s.max_rooms_per_client, 50);
        assert_eq!(s.max_rooms, 10_000);
        assert_eq!(s.history_max_bytes, 64 * 1024 * 1024);
        assert_eq!(s.accounts_file, PathBuf::from("data/accounts.txt"));
        assert!(s.open_registration);
        assert!(s.guests_allowed);
        assert_eq!(s.password_iterations, 100_000);
        assert!(s.console_echo);
        assert_eq!(s.motd, "");
        assert_eq!(s.motd_file, None);
        assert_eq!(
            s.web,
            WebConfig {
                enabled: true,
                host: "127.0.0.1".to_string(),
                port: 8080,
                hostnames: Vec::new(),
                reconnect_grace_secs: 30,
            }
        );
        assert_eq!(
            s.irc,
            IrcConfig {
                enabled: true,
                host: "127.0.0.1".to_string(),
                port: 6667,
                name: "lanchat.local".to_string(),
                ping_secs: 120,
            }
        );
        assert_eq!(config.client.host, "127.0.0.1");
        assert_eq!(config.client.port, 7878);
    }

    #[test]
    fn motd_and_console_echo() {
        let s = server("motd = \"hi\\nrules: be nice\"\nconsole_echo = false");
        assert_eq!(s.motd, "hi\nrules: be nice");
        assert!(!s.console_echo);
        let s = server("motd_file = \"motd.txt\"");
        assert_eq!(s.motd_file, Some(PathBuf::from("motd.txt")));
        assert_eq!(
            error("[server]\nmotd = \"hi\"\nmotd_file = \"motd.txt\"\n"),
            "line 3: motd and motd_file: set one or the other, not both"
        );
    }

    #[test]
    fn the_irc_section() {
        let config =
            parse("[irc]\nenabled = false\nport = 0\nname = \"My.Little.Server\"\nping_secs = 5\n")
                .unwrap();
        assert!(!config.server.irc.enabled);
        assert_eq!(config.server.irc.port, 0);
        assert_eq!(config.server.irc.name, "My.Little.Server");
        assert_eq!(config.server.irc.ping_secs, 5);
        let err = parse("[irc]\nname = \"no dot\"\n").unwrap_err().to_string();
        assert!(err.contains("line 2: name:"), "{err}");
        assert!(parse("[irc]\nname = \"nodot\"\n").is_err());
    }

    #[test]
    fn empty_text_gives_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(
            parse("\n  \n# only a comment\n").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn absent_keys_keep_their_defaults() {
        let config = parse("[server]\nport = 9000\n").unwrap();
        let expected = ServerConfig {
            port: 9000,
            ..ServerConfig::default()
        };
        assert_eq!(config.server, expected);
        assert_eq!(config.client, ClientConfig::default());
    }

    #[test]
    fn full_valid_file() {
        let text = r##"
# lanchat configuration
[server]
host = "0.0.0.0"
port = 7000
server_name = "office chat"
default_room = "#Lobby"
history_file = "logs/chat.log"
history_replay = 50
max_line_bytes = 4_096
handshake_timeout_secs = 10
rate_limit_per_sec = 0
rate_limit_burst = 5
write_timeout_ms = 250
max_clients = 64
max_clients_per_ip = 0
send_queue_bytes = 65_536
announce_max_members = 0
max_rooms_per_client = 5
max_rooms = 100
history_max_bytes = 1_000_000
accounts_file = "logs/accounts.txt"
open_registration = false
guests_allowed = false  # accounts only
password_iterations = 200_000
console_echo = false
motd = "be nice"

[web]
enabled = false
host = "0.0.0.0"
port = 8000
hostnames = "chat.lan, [fd00::5]"
reconnect_grace_secs = 10

[irc]
enabled = false
host = "0.0.0.0"
port = 6697
name = "chat.example.lan"
ping_secs = 60

[client]
host = "192.168.1.20"
port = 7000
"##;
        let expected = Config {
            server: ServerConfig {
                host: "0.0.0.0".to_string(),
                port: 7000,
                server_name: "office chat".to_string(),
                default_room: "lobby".to_string(),
                history_file: PathBuf::from("logs/chat.log"),
                history_replay: 50,
                max_line_bytes: 4096,
                handshake_timeout_secs: 10,
                rate_limit_per_sec: 0,
                rate_limit_burst: 5,
                write_timeout_ms: 250,
                max_clients: 64,
                max_clients_per_ip: 0,
                send_queue_bytes: 65536,
                announce_max_members: 0,
                max_rooms_per_client: 5,
                max_rooms: 100,
                history_max_bytes: 1_000_000,
                accounts_file: PathBuf::from("logs/accounts.txt"),
                open_registration: false,
                guests_allowed: false,
                password_iterations: 200_000,
                console_echo: false,
                motd: "be nice".to_string(),
                motd_file: None,
                web: WebConfig {
                    enabled: false,
                    host: "0.0.0.0".to_string(),
                    port: 8000,
                    hostnames: vec!["chat.lan".to_string(), "[fd00::5]".to_string()],
                    reconnect_grace_secs: 10,
                },
                irc: IrcConfig {
                    enabled: false,
                    host: "0.0.0.0".to_string(),
                    port: 6697,
                    name: "chat.example.lan".to_string(),
                    ping_secs: 60,
                },
            },
            client: ClientConfig {
                host: "192.168.1.20".to_string(),
                port: 7000,
            },
        };
        assert_eq!(parse(text).unwrap(), expected);
    }

    #[test]
    fn port_zero_is_allowed() {
        assert_eq!(server("port = 0").port, 0);
        assert_eq!(server("port = 65535").port, 65535);
    }

    #[test]
    fn comments_and_whitespace_are_ignored() {
        let text =
            "  # leading comment\n\n  [ server ]   # the server\n\t port\t=  7000   # trailing\n";
        assert_eq!(parse(text).unwrap().server.port, 7000);
        assert_eq!(server("port = 7000#no space").port, 7000);
    }

    #[test]
    fn hash_inside_a_string_is_not_a_comment() {
        assert_eq!(
            server(r##"server_name = "chat #1" # comment"##).server_name,
            "chat #1"
        );
    }

    #[test]
    fn windows_line_endings_are_accepted() {
        let config = parse("[server]\r\nport = 7000\r\nhost = \"::1\"\r\n").unwrap();
        assert_eq!(config.server.port, 7000);
        assert_eq!(config.server.host, "::1");
    }

    #[test]
    fn string_escapes() {
        let name = server(r#"server_name = "say \"hi\" \\ tab\there\nnext""#).server_name;
        assert_eq!(name, "say \"hi\" \\ tab\there\nnext");
    }

    #[test]
    fn unknown_escape_is_an_error() {
        assert_eq!(
            error("[server]\nserver_name = \"a\\qb\""),
            "line 2: unknown escape \\q in string"
        );
    }

    #[test]
    fn unterminated_string_is_an_error() {
        assert_eq!(
            error("[server]\n\nhost = \"abc"),
            "line 3: unterminated string"
        );
        // A backslash at the end escapes nothing, so the quote never closes.
        assert_eq!(
            error("[server]\nhost = \"abc\\\""),
            "line 2: unterminated string"
        );
    }

    #[test]
    fn integers_may_have_underscores_and_a_sign() {
        assert_eq!(
            server("max_line_bytes = 1_048_576").max_line_bytes,
            1_048_576
        );
        assert_eq!(server("max_clients = 1_0_0").max_clients, 100);
        assert_eq!(
            error("[server]\nhistory_replay = -5"),
            "line 2: history_replay must be between 0 and 1000"
        );
    }

    #[test]
    fn malformed_integers_are_errors() {
        for bad in ["1__000", "_1", "1_", "-", "12ab", "0x10", "+5", "1.5"] {
            assert_eq!(
                error(&format!("[server]\nport = {bad}")),
                format!(
                    "line 2: port: expected a \"string\", an integer or true/false, found {bad}"
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn huge_integer_is_an_error() {
        assert_eq!(
            error("[server]\nmax_clients = 99999999999999999999"),
            "line 2: max_clients: 99999999999999999999 is too large a number"
        );
    }

    #[test]
    fn booleans_are_parsed() {
        assert_eq!(parse_key_value("a = true"), Ok(("a", Value::Bool(true))));
        assert_eq!(
            parse_key_value("a = false # no"),
            Ok(("a", Value::Bool(false)))
        );
        assert_eq!(boolean("a", Value::Bool(true)), Ok(true));
        assert_eq!(
            boolean("a", Value::Int(1)),
            Err("a must be true or false".to_string())
        );
    }

    #[test]
    fn boolean_for_an_integer_key_is_a_type_error() {
        assert_eq!(
            error("[server]\nport = true"),
            "line 2: port must be an integer"
        );
    }

    #[test]
    fn integer_for_a_boolean_key_is_a_type_error() {
        assert_eq!(
            error("[server]\nguests_allowed = 1"),
            "line 2: guests_allowed must be true or false"
        );
    }

    #[test]
    fn password_iterations_must_be_positive() {
        assert_eq!(
            error("[server]\n\npassword_iterations = 0"),
            "line 3: password_iterations must be between 1 and 10000000"
        );
    }

    #[test]
    fn string_for_an_integer_key_is_a_type_error() {
        assert_eq!(
            error("[client]\nport = \"7878\""),
            "line 2: port must be an integer"
        );
    }

    #[test]
    fn integer_for_a_string_key_is_a_type_error() {
        assert_eq!(
            error("[server]\nhost = 127"),
            "line 2: host must be a string"
        );
        assert_eq!(
            error("[server]\nhistory_file = false"),
            "line 2: history_file must be a string"
        );
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let cases = [
            ("port = 65536", "port must be between 0 and 65535"),
            ("port = -1", "port must be between 0 and 65535"),
            (
                "history_replay = 1001",
                "history_replay must be between 0 and 1000",
            ),
            (
                "max_line_bytes = 63",
                "max_line_bytes must be between 64 and 1048576",
            ),
            (
                "max_line_bytes = 1_048_577",
                "max_line_bytes must be between 64 and 1048576",
            ),
            (
                "handshake_timeout_secs = 0",
                "handshake_timeout_secs must be between 1 and 3600",
            ),
            (
                "handshake_timeout_secs = 3601",
                "handshake_timeout_secs must be between 1 and 3600",
            ),
            (
                "rate_limit_per_sec = -1",
                "rate_limit_per_sec must be between 0 and 4294967295",
            ),
            (
                "rate_limit_burst = 0",
                "rate_limit_burst must be between 1 and 4294967295",
            ),
            (
                "write_timeout_ms = 0",
                "write_timeout_ms must be between 1 and 60000",
            ),
            (
                "write_timeout_ms = 60001",
                "write_timeout_ms must be between 1 and 60000",
            ),
            ("max_clients = 0", "max_clients must be at least 1"),
        ];
        for (line, message) in cases {
            assert_eq!(
                error(&format!("[server]\n{line}")),
                format!("line 2: {message}")
            );
        }
        assert_eq!(
            error("[client]\nport = 70000"),
            "line 2: port must be between 0 and 65535"
        );
    }

    #[test]
    fn range_limits_are_inclusive() {
        let s = server(
            "history_replay = 1000\nmax_line_bytes = 64\nhandshake_timeout_secs = 3600\n\
             write_timeout_ms = 60000\nrate_limit_burst = 1\nmax_clients = 1",
        );
        assert_eq!(
            (s.history_replay, s.max_line_bytes, s.handshake_timeout_secs),
            (1000, 64, 3600)
        );
        assert_eq!(
            (s.write_timeout_ms, s.rate_limit_burst, s.max_clients),
            (60000, 1, 1)
        );
    }

    #[test]
    fn default_room_is_normalized() {
        assert_eq!(
            server("default_room = \"#Dev_Team\"").default_room,
            "dev_team"
        );
    }

    #[test]
    fn bad_default_room_is_an_error() {
        assert_eq!(
            error("[server]\ndefault_room = \"two words\""),
            "line 2: default_room: room names are 1 to 32 characters from A-Z a-z 0-9 _ -"
        );
    }

    #[test]
    fn empty_strings_are_errors() {
        assert_eq!(
            error("[server]\nserver_name = \"\""),
            "line 2: server_name must not be empty"
        );
        assert_eq!(
            error("[server]\nhost = \"  \""),
            "line 2: host must not be empty"
        );
        assert_eq!(
            error("[client]\nhost = \"\""),
            "line 2: host must not be empty"
        );
    }

    #[test]
    fn unknown_key_is_an_error() {
        assert_eq!(
            error("[server]\nport = 1\nfoo = 2"),
            "line 3: unknown key \"foo\" in [server]"
        );
        // A server-only key is unknown in [client].
        assert_eq!(
            error("[client]\nmax_clients = 2"),
            "line 2: unknown key \"max_clients\" in [client]"
        );
    }

    #[test]
    fn unknown_section_is_an_error() {
        assert_eq!(error("# hi\n[foo]"), "line 2: unknown section [foo]");
        assert_eq!(
            error("[server.tls]"),
            "line 1: unknown section [server.tls]"
        );
    }

    #[test]
    fn duplicate_section_is_an_error() {
        assert_eq!(
            error("[server]\nport = 1\n[client]\n[server]"),
            "line 4: duplicate section [server]"
        );
    }

    #[test]
    fn duplicate_key_is_an_error() {
        assert_eq!(
            error("[server]\nport = 1\nport = 2"),
            "line 3: duplicate key \"port\""
        );
    }

    #[test]
    fn same_key_in_two_sections_is_fine() {
        let config = parse("[server]\nport = 1\n[client]\nport = 2").unwrap();
        assert_eq!((config.server.port, config.client.port), (1, 2));
    }

    #[test]
    fn key_before_any_section_is_an_error() {
        assert_eq!(
            error("\nport = 1\n[server]"),
            "line 2: key \"port\" comes before any section; put it under [server], [web], [irc] or [client]"
        );
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("[server]\nport", "line 2: expected key = value"),
            ("[server]\n= 5", "line 2: expected key = value"),
            ("[server]\nmy port = 5", "line 2: expected key = value"),
            (
                "[server]\nport =",
                "line 2: expected a value after \"port =\"",
            ),
            (
                "[server]\nport = # none",
                "line 2: expected a value after \"port =\"",
            ),
            (
                "[server]\nport = 1 2",
                "line 2: unexpected text after the value: 2",
            ),
            (
                "[server]\nhost = \"a\" b",
                "line 2: unexpected text after the value: b",
            ),
            (
                "[server]\nhost = 'a'",
                "line 2: host: expected a \"string\", an integer or true/false, found 'a'",
            ),
            (
                "[server",
                "line 1: expected ] at the end of the section header",
            ),
            (
                "[server] port = 1",
                "line 1: unexpected text after [server]: port = 1",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(error(text), message, "{text:?}");
        }
    }

    #[test]
    fn error_reports_its_line() {
        let err = parse("[server]\n\n\nport = x").unwrap_err();
        assert_eq!(err.line(), Some(4));
        assert!(err.source().is_none());
    }

    #[test]
    fn error_with_a_path_shows_file_and_line() {
        let err = parse("[server]\n\nfoo = 1")
            .unwrap_err()
            .with_path(Path::new("config.toml"));
        assert_eq!(
            err.to_string(),
            "config.toml:3: unknown key \"foo\" in [server]"
        );
    }

    /// A file name in the temp directory that no other test uses.
    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("lanchat-config-{}-{name}", std::process::id()))
    }

    #[test]
    fn load_reads_a_file() {
        let path = temp_path("valid.toml");
        std::fs::write(&path, "[server]\nport = 4321\n").unwrap();
        let result = Config::load(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(result.unwrap().server.port, 4321);
    }

    #[test]
    fn the_shipped_config_toml_parses_to_the_defaults() {
        let shipped = parse(include_str!("../config.toml")).expect("config.toml parses");
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn web_hostnames_are_a_comma_separated_list() {
        let web = |text: &str| parse(&format!("[web]\n{text}\n")).map(|c| c.server.web.hostnames);
        assert_eq!(
            web("hostnames = \" chat.lan ,10.0.0.5,, [::2] \"").unwrap(),
            ["chat.lan", "10.0.0.5", "[::2]"]
        );
        assert!(web("hostnames = \"\"").unwrap().is_empty());
        for bad in ["chat.lan:8080", "a b", "http://chat.lan", "[]", "[x]"] {
            let err = web(&format!("hostnames = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("line 2: hostnames: "), "{bad}: {err}");
        }
        assert_eq!(
            error("[web]\nhostnames = 5\n"),
            "line 2: hostnames must be a string"
        );
    }

    #[test]
    fn load_attaches_the_path_to_parse_errors() {
        let path = temp_path("invalid.toml");
        std::fs::write(&path, "[server]\nprot = 7000\n").unwrap();
        let err = Config::load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            err.to_string(),
            format!("{}:2: unknown key \"prot\" in [server]", path.display())
        );
    }

    #[test]
    fn missing_file_is_an_io_error_with_its_cause() {
        let path = temp_path("missing.toml");
        let err = Config::load(&path).unwrap_err();
        let ConfigError::Io { source, .. } = &err else {
            panic!("expected an io error, got {err:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("cannot read {}: {source}", path.display())
        );
        assert!(err.source().is_some());
        assert_eq!(err.line(), None);
    }
}
