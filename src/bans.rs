//! Server-wide bans: names that may not log in and addresses that may not
//! connect, for a while or for good, kept in a small file that survives a
//! restart.
//!
//! Two checks, at two moments. An **address** is checked as soon as a
//! connection is accepted, on every listener, before a thread is spent on
//! it ([`server`](crate::server)); a **name** is checked when someone asks
//! for it: at login on every listener ([`login`](crate::login)), at a web
//! sign-up, and at `/nick`. The operator bans from the console (`/ban`,
//! `/unban`, `/bans`, `/kick --ban`).
//!
//! How targets match:
//!
//! - A name matches in any case, as accounts do: it is stored as its
//!   [`protocol::name_key`]. A name can never be read as an address (names
//!   have no `.` or `:`), so one word is enough to say which is meant.
//! - An address is an [`IpAddr`], IPv4 or IPv6, stored in its canonical
//!   form: an IPv4 client reaching an IPv6 listener shows up as
//!   `::ffff:10.0.0.7`, and is matched as `10.0.0.7`. One address only:
//!   production servers also ban ranges (CIDR masks), which we leave out.
//!
//! The idea this module shows is **the pure core and its shell**. The
//! [`BanTable`] is plain data with the time passed in (`now`, in Unix
//! seconds), so expiry is tested without waiting; [`Bans`] wraps it with
//! the clock, the locks and the file. It uses the same two locks as
//! [`accounts`](crate::accounts), for the same reason: the accept loops
//! look a ban up for every connection, so the table's lock is held for a
//! lookup or a swap only, never across the file write; a change holds
//! `file` from its copy of the table until the new file is in place.
//!
//! The file is one ban per line, rewritten whole ([`files::replace`]):
//!
//! ```text
//! name<TAB>bob<TAB>1795525560
//! address<TAB>10.0.0.7<TAB>-
//! ```
//!
//! The last field is when the ban ends, in Unix seconds, or `-` for never.
//! Blank lines and lines starting with `#` are skipped. A line that cannot
//! be read stops the server at start, naming the line: skipping it would
//! quietly let a banned person back in. Expired bans are dropped when the
//! file is read and at every change, and are never enforced meanwhile.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::lock::lock;
use crate::protocol::{self, BadName};
use crate::{clock, files};

/// The longest ban in minutes that is not permanent: ten years. A bound,
/// so an end time always has a four-digit year.
pub(crate) const MAX_MINUTES: u32 = 10 * 366 * 24 * 60;

/// Who is banned: a name (its key) or an address. (`pub` only because
/// the console's public [`ConsoleCommand`](crate::console::ConsoleCommand)
/// holds one.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Name(String),
    Address(IpAddr),
}

impl Target {
    /// Reads an address (IPv4 or IPv6) or else a name, as the operator
    /// typed it.
    pub(crate) fn parse(text: &str) -> Result<Target, BadName> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Target::Address(ip.to_canonical()));
        }
        protocol::validate_name(text)?;
        Ok(Target::Name(protocol::name_key(text)))
    }

    /// Whether this target bans `name` or `ip` (either may be left out).
    pub(crate) fn matches(&self, name: Option<&str>, ip: Option<IpAddr>) -> bool {
        match self {
            Target::Name(key) => name.is_some_and(|name| protocol::name_key(name) == *key),
            Target::Address(banned) => ip.is_some_and(|ip| ip.to_canonical() == *banned),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Name(key) => write!(f, "{key}"),
            Target::Address(ip) => write!(f, "{ip}"),
        }
    }
}

/// A ban in force, as the banned are told of it. `Display` is the text
/// after `! `: `you are banned from this server (until 14:05 UTC)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Banned {
    /// When the ban ends (Unix seconds), or None: never.
    pub(crate) until: Option<u64>,
    /// When it was looked up, so the text says a date only when needed.
    pub(crate) now: u64,
}

impl Banned {
    /// `until 14:05 UTC`, or `permanently`.
    pub(crate) fn how_long(&self) -> String {
        match self.until {
            Some(until) => format!("until {}", clock::minute_utc(until, self.now)),
            None => "permanently".to_string(),
        }
    }
}

impl fmt::Display for Banned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "you are banned from this server ({})", self.how_long())
    }
}

impl std::error::Error for Banned {}

/// Why the bans file could not be read at start: the file, and the line
/// when it is the contents that are wrong.
#[derive(Debug)]
pub struct BansOpenError {
    path: PathBuf,
    why: OpenFailure,
}

#[derive(Debug)]
enum OpenFailure {
    Read(io::Error),
    Line(LineError),
}

impl fmt::Display for BansOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.why {
            OpenFailure::Read(e) => write!(f, "cannot read bans file {path}: {e}"),
            OpenFailure::Line(e) => write!(f, "bans file {path}: {e} (fix or remove that line)"),
        }
    }
}

impl std::error::Error for BansOpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.why {
            OpenFailure::Read(e) => Some(e),
            OpenFailure::Line(_) => None,
        }
    }
}

/// A line of the bans file that cannot be read: its number and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub(crate) line: usize,
    pub(crate) why: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// The bans, as data: each target with when its ban ends (None: never).
/// Every method that cares about time is given `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BanTable {
    bans: BTreeMap<Target, Option<u64>>,
}

impl BanTable {
    /// Bans `target` for `minutes` from `now` (None: for good), replacing
    /// any ban it had. The end is rounded up to a whole minute, so the
    /// `HH:MM` the banned are told is exact. Returns the ban.
    pub(crate) fn add(&mut self, target: Target, minutes: Option<u32>, now: u64) -> Banned {
        let until = minutes.map(|m| (now + u64::from(m) * 60).div_ceil(60) * 60);
        self.bans.insert(target, until);
        Banned { until, now }
    }

    /// Lifts the ban of `target`; false if it had none (or only an expired
    /// one).
    pub(crate) fn remove(&mut self, target: &Target, now: u64) -> bool {
        let lifted = self.bans.remove(target);
        lifted.is_some_and(|until| in_force(until, now))
    }

    /// The ban in force that matches `name` or `ip`, if any.
    pub(crate) fn find(&self, name: Option<&str>, ip: Option<IpAddr>, now: u64) -> Option<Banned> {
        // Only a name needs its key; an address is looked up directly.
        let by_name = name.map(|name| Target::Name(protocol::name_key(name)));
        let by_address = ip.map(|ip| Target::Address(ip.to_canonical()));
        [by_name, by_address]
            .into_iter()
            .flatten()
            .filter_map(|target| self.bans.get(&target).copied())
            .find(|until| in_force(*until, now))
            .map(|until| Banned { until, now })
    }

    /// Drops the bans that have ended by `now`.
    pub(crate) fn expire(&mut self, now: u64) {
        self.bans.retain(|_, until| in_force(*until, now));
    }

    /// The bans in force, names first, each sorted.
    pub(crate) fn list(&self, now: u64) -> Vec<(Target, Banned)> {
        self.bans
            .iter()
            .filter(|(_, until)| in_force(**until, now))
            .map(|(target, until)| (target.clone(), Banned { until: *until, now }))
            .collect()
    }

    /// The file's contents: a header comment, then a line per ban.
    pub(crate) fn to_text(&self) -> String {
        let mut text = String::from("# lanchat bans: kind, target, end (Unix seconds or -)\n");
        for (target, until) in &self.bans {
            let kind = match target {
                Target::Name(_) => "name",
                Target::Address(_) => "address",
            };
            let until = until.map_or("-".to_string(), |t| t.to_string());
            text.push_str(&format!("{kind}\t{target}\t{until}\n"));
        }
        text
    }

    /// Reads the file's contents. A `\r` before a newline is accepted.
    ///
    /// # Errors
    ///
    /// The first line that cannot be read, by number.
    pub(crate) fn parse(bytes: &[u8]) -> Result<BanTable, LineError> {
        let mut table = BanTable::default();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() || raw.starts_with(b"#") {
                continue;
            }
            let (target, until) = std::str::from_utf8(raw)
                .map_err(|_| "not valid UTF-8".to_string())
                .and_then(parse_line)
                .map_err(|why| LineError {
                    line: index + 1,
                    why,
                })?;
            table.bans.insert(target, until);
        }
        Ok(table)
    }
}

/// Whether a ban ending at `until` is still in force at `now`.
fn in_force(until: Option<u64>, now: u64) -> bool {
    until.is_none_or(|until| until > now)
}

/// One line of the bans file: `kind<TAB>target<TAB>end`.
fn parse_line(line: &str) -> Result<(Target, Option<u64>), String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [kind, target, until] = fields[..] else {
        return Err(format!(
            "expected 3 tab-separated fields, found {}",
            fields.len()
        ));
    };
    let target = match kind {
        "name" => {
            protocol::validate_name(target).map_err(|e| format!("bad name ({e})"))?;
            Target::Name(protocol::name_key(target))
        }
        "address" => {
            let ip: IpAddr = target
                .parse()
                .map_err(|_| format!("{target:?} is not an IP address"))?;
            Target::Address(ip.to_canonical())
        }
        _ => return Err(format!("unknown kind {kind:?} (name or address)")),
    };
    let until = match until {
        "-" => None,
        secs => Some(
            secs.parse::<u64>()
                .map_err(|_| "the end must be Unix seconds or -".to_string())?,
        ),
    };
    Ok((target, until))
}

/// The bans in force, kept in memory and in a file.
pub(crate) struct Bans {
    /// The bans now in force. Held for a lookup, a copy or a swap, never
    /// across a write: the accept loops look here for every connection.
    /// Changed only by a thread that holds `file`.
    table: Mutex<BanTable>,
    /// Held by whoever changes the bans, from copying `table` until the new
    /// file is renamed into place, so one change is made at a time and none
    /// is lost. Taken before `table`, never after.
    file: Mutex<()>,
    /// Where the bans are saved; None keeps them in memory only.
    path: Option<PathBuf>,
}

impl Bans {
    /// Loads the bans from `path`; a missing file means no bans yet (the
    /// file is created at the first ban). Expired bans are dropped.
    ///
    /// # Errors
    ///
    /// The file exists but cannot be read, or a line of it is wrong.
    pub(crate) fn open(path: &Path) -> Result<Bans, BansOpenError> {
        let error = |why| BansOpenError {
            path: path.to_path_buf(),
            why,
        };
        let mut table = match std::fs::read(path) {
            Ok(bytes) => BanTable::parse(&bytes).map_err(|e| error(OpenFailure::Line(e)))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BanTable::default(),
            Err(e) => return Err(error(OpenFailure::Read(e))),
        };
        table.expire(clock::unix_secs());
        Ok(Bans::with(table, Some(path.to_path_buf())))
    }

    /// Bans that are never saved, for tests.
    #[cfg(test)]
    pub(crate) fn in_memory() -> Bans {
        Bans::with(BanTable::default(), None)
    }

    fn with(table: BanTable, path: Option<PathBuf>) -> Bans {
        Bans {
            table: Mutex::new(table),
            file: Mutex::new(()),
            path,
        }
    }

    /// The bans file beside the accounts file: `data/accounts.txt` gives
    /// `data/bans.txt`.
    pub(crate) fn path_beside(accounts_file: &Path) -> PathBuf {
        accounts_file.with_file_name("bans.txt")
    }

    /// Refused if `ip` is banned. Quick: one lookup under the table's lock.
    pub(crate) fn check_address(&self, ip: IpAddr) -> Result<(), Banned> {
        self.check(None, Some(ip))
    }

    /// Refused if `name` (in any case) is banned. Quick, like
    /// [`check_address`](Self::check_address).
    pub(crate) fn check_name(&self, name: &str) -> Result<(), Banned> {
        self.check(Some(name), None)
    }

    fn check(&self, name: Option<&str>, ip: Option<IpAddr>) -> Result<(), Banned> {
        let now = clock::unix_secs();
        match self.lock_table().find(name, ip, now) {
            Some(banned) => Err(banned),
            None => Ok(()),
        }
    }

    /// Bans `target` for `minutes` (None: for good) and saves the file.
    /// One file write.
    pub(crate) fn ban(&self, target: Target, minutes: Option<u32>) -> io::Result<Banned> {
        self.update(|table, now| table.add(target, minutes, now))
    }

    /// Lifts the ban of `target` and saves the file; false if it had none.
    pub(crate) fn unban(&self, target: &Target) -> io::Result<bool> {
        self.update(|table, now| table.remove(target, now))
    }

    /// The bans in force.
    pub(crate) fn list(&self) -> Vec<(Target, Banned)> {
        self.lock_table().list(clock::unix_secs())
    }

    /// Makes one change, as [`Accounts`](crate::accounts::Accounts) does:
    /// to a copy, which is saved, then put in force. If the save fails,
    /// nothing changed. Expired bans are dropped on the way.
    fn update<R>(&self, edit: impl FnOnce(&mut BanTable, u64) -> R) -> io::Result<R> {
        let _writing = lock(&self.file, "bans file");
        let now = clock::unix_secs();
        let mut next = self.lock_table().clone();
        next.expire(now);
        let result = edit(&mut next, now);
        if let Some(path) = &self.path {
            files::replace(path, next.to_text().as_bytes())?;
        }
        *self.lock_table() = next;
        Ok(result)
    }

    fn lock_table(&self) -> MutexGuard<'_, BanTable> {
        lock(&self.table, "bans")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// 2026-11-24T13:05:09Z
    const NOW: u64 = 1_795_525_509;

    fn name(text: &str) -> Target {
        Target::parse(text).expect("a name")
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn targets_are_addresses_or_names_in_any_case() {
        assert_eq!(Target::parse("Bob"), Ok(Target::Name("bob".into())));
        assert_eq!(
            Target::parse("10.0.0.7"),
            Ok(Target::Address(v4(10, 0, 0, 7)))
        );
        assert_eq!(
            Target::parse("::1"),
            Ok(Target::Address(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        // An IPv4 client seen through an IPv6 socket is the same address.
        assert_eq!(
            Target::parse("::ffff:10.0.0.7"),
            Ok(Target::Address(v4(10, 0, 0, 7)))
        );
        assert_eq!(Target::parse("no!good"), Err(BadName::Characters));
        assert_eq!(Target::parse("10.0.0"), Err(BadName::Characters));
        assert_eq!(Target::parse("server"), Err(BadName::Reserved));
    }

    #[test]
    fn a_name_ban_matches_in_any_case_and_an_address_ban_its_address() {
        let mut table = BanTable::default();
        table.add(name("Bob"), None, NOW);
        table.add(Target::Address(v4(10, 0, 0, 7)), None, NOW);
        let banned = Some(Banned {
            until: None,
            now: NOW,
        });
        assert_eq!(table.find(Some("BOB"), None, NOW), banned);
        assert_eq!(table.find(Some("bobby"), None, NOW), None);
        assert_eq!(table.find(None, Some(v4(10, 0, 0, 7)), NOW), banned);
        assert_eq!(table.find(None, Some(v4(10, 0, 0, 8)), NOW), None);
        let mapped = IpAddr::V6(v4_mapped(10, 0, 0, 7));
        assert_eq!(table.find(Some("alice"), Some(mapped), NOW), banned);
    }

    fn v4_mapped(a: u8, b: u8, c: u8, d: u8) -> Ipv6Addr {
        Ipv4Addr::new(a, b, c, d).to_ipv6_mapped()
    }

    #[test]
    fn a_timed_ban_ends_on_a_whole_minute_and_then_expires() {
        let mut table = BanTable::default();
        let banned = table.add(name("bob"), Some(10), NOW);
        // 13:05:09 plus ten minutes is 13:15:09, rounded up to 13:16.
        assert_eq!(banned.until, Some(1_795_526_160));
        assert_eq!(
            banned.to_string(),
            "you are banned from this server (until 13:16 UTC)"
        );
        let end = 1_795_526_160;
        assert!(table.find(Some("bob"), None, end - 1).is_some());
        assert!(table.find(Some("bob"), None, end).is_none(), "ended");
        assert_eq!(table.list(end - 1).len(), 1);
        assert!(table.list(end).is_empty());
        table.expire(end);
        assert_eq!(table, BanTable::default(), "dropped");
    }

    #[test]
    fn a_ban_is_replaced_and_lifted() {
        let mut table = BanTable::default();
        table.add(name("bob"), Some(5), NOW);
        let banned = table.add(name("BOB"), None, NOW);
        assert_eq!(
            banned.to_string(),
            "you are banned from this server (permanently)"
        );
        assert_eq!(
            table.list(NOW + 3600).len(),
            1,
            "the permanent ban replaced it"
        );
        assert!(table.remove(&name("bob"), NOW));
        assert!(!table.remove(&name("bob"), NOW), "nothing left to lift");
        // Lifting a ban that has ended says there was none.
        table.add(name("carol"), Some(1), NOW);
        assert!(!table.remove(&name("carol"), NOW + 120));
    }

    #[test]
    fn a_long_ban_says_its_date() {
        let mut table = BanTable::default();
        let banned = table.add(name("bob"), Some(2 * 24 * 60), NOW);
        assert_eq!(banned.how_long(), "until 2026-11-26 13:06 UTC");
        let longest = table.add(name("bob"), Some(MAX_MINUTES), NOW);
        assert!(longest.how_long().starts_with("until 2036-"), "{longest:?}");
    }

    #[test]
    fn the_file_format_round_trips() {
        let mut table = BanTable::default();
        table.add(name("Bob"), Some(10), NOW);
        table.add(Target::Address(v4(10, 0, 0, 7)), None, NOW);
        table.add(
            Target::Address(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            Some(1),
            NOW,
        );
        let text = table.to_text();
        assert_eq!(
            text,
            "# lanchat bans: kind, target, end (Unix seconds or -)\n\
             name\tbob\t1795526160\n\
             address\t10.0.0.7\t-\n\
             address\t::1\t1795525620\n"
        );
        assert_eq!(BanTable::parse(text.as_bytes()), Ok(table));
    }

    #[test]
    fn blank_lines_comments_and_crlf_are_accepted() {
        let text = b"\n# a note\r\nname\tbob\t-\r\n\naddress\t::1\t-";
        let table = BanTable::parse(text).expect("parse");
        assert_eq!(table.list(NOW).len(), 2);
    }

    #[test]
    fn a_corrupt_line_is_an_error_with_its_number() {
        let cases: [(&[u8], usize, &str); 7] = [
            (
                b"name\tbob\n" as &[u8],
                1,
                "expected 3 tab-separated fields, found 2",
            ),
            (
                b"# ok\nname\tbob\t-\textra\n",
                2,
                "expected 3 tab-separated fields, found 4",
            ),
            (
                b"\n\nperson\tbob\t-\n",
                3,
                "unknown kind \"person\" (name or address)",
            ),
            (
                b"name\tno!good\t-\n",
                1,
                "bad name (name may only contain letters, digits, _ and -)",
            ),
            (
                b"address\t10.0.0.300\t-\n",
                1,
                "\"10.0.0.300\" is not an IP address",
            ),
            (b"name\tbob\tsoon\n", 1, "the end must be Unix seconds or -"),
            (b"name\tb\xffb\t-\n", 1, "not valid UTF-8"),
        ];
        for (bytes, line, why) in cases {
            let err = BanTable::parse(bytes).expect_err("corrupt");
            assert_eq!(
                err,
                LineError {
                    line,
                    why: why.to_string()
                },
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_file_stops_the_start_naming_file_and_line() {
        let dir = std::env::temp_dir().join(format!("lanchat-bans-{}", std::process::id()));
        let path = dir.join("bans.txt");
        files::replace(&path, b"name\tbob\t-\ngarbage\n").expect("write");
        let Err(err) = Bans::open(&path) else {
            panic!("a corrupt bans file was accepted");
        };
        let text = err.to_string();
        assert!(text.starts_with("bans file "), "{text}");
        assert!(text.ends_with("bans.txt: line 2: expected 3 tab-separated fields, found 1 (fix or remove that line)"), "{text}");
        // A directory where the file should be cannot be read at all.
        let Err(err) = Bans::open(&dir) else {
            panic!("opened a directory as the bans file");
        };
        assert!(err.to_string().starts_with("cannot read bans file "));
        assert!(err.source().is_some());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn bans_survive_a_reopen_and_expired_ones_are_dropped() {
        let dir = std::env::temp_dir().join(format!("lanchat-bans-reopen-{}", std::process::id()));
        let path = dir.join("data").join("bans.txt");
        let bans = Bans::open(&path).expect("a missing file is no bans");
        assert!(bans.list().is_empty());
        bans.ban(name("bob"), Some(60)).expect("ban");
        bans.ban(Target::Address(v4(10, 0, 0, 7)), None)
            .expect("ban");
        drop(bans);
        // A ban that ended while the server was down.
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("name\tcarol\t1000\n");
        files::replace(&path, text.as_bytes()).expect("write");

        let bans = Bans::open(&path).expect("reopen");
        assert!(bans.check_name("Bob").is_err());
        assert!(bans.check_address(v4(10, 0, 0, 7)).is_err());
        assert!(bans.check_name("carol").is_ok());
        let listed: Vec<String> = bans.list().iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(listed, ["bob", "10.0.0.7"]);
        assert!(bans.unban(&name("bob")).expect("unban"));
        assert!(!std::fs::read_to_string(&path)
            .expect("read")
            .contains("carol"));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("lanchat-bans-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        // A file where the directory should be: every save fails.
        let blocker = dir.join("data");
        std::fs::write(&blocker, "not a directory").expect("write");
        let bans = Bans::with(BanTable::default(), Some(blocker.join("bans.txt")));
        assert!(bans.ban(name("bob"), None).is_err());
        assert!(bans.check_name("bob").is_ok());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn in_memory_bans_work_without_a_file() {
        let bans = Bans::in_memory();
        bans.ban(name("bob"), None).expect("ban");
        assert!(bans.check_name("BOB").is_err());
        assert_eq!(
            Bans::path_beside(Path::new("data/accounts.txt")),
            Path::new("data/bans.txt")
        );
    }
}
