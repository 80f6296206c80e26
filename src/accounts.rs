//! Registered names: a name guarded by a password, kept in a small text file
//! that is rewritten whole, atomically, on every change.
//!
//! Guests may use any free name. A user can register the name they have,
//! and from then on nobody may take it without the password. This module
//! owns those accounts; it shows three ideas.
//!
//! - **Never do slow work under a lock.** Checking a password costs a
//!   PBKDF2 hash, tens of milliseconds on purpose (see [`crypto`]). Every
//!   operation copies what it needs out under the lock, hashes with no lock
//!   held, then locks again to commit, and checks again at that point,
//!   because another thread may have changed the account in between.
//! - **Two locks, each held for what it protects and no longer.** `map`
//!   guards the accounts in memory and is held only to look up or swap in
//!   a new map, never across a hash or a disk write: the registry calls
//!   [`Accounts::is_registered`] while holding its own lock, so a slow
//!   `map` would stall every client. `file` is held by whoever changes the
//!   accounts, from taking a copy of the map until the new file is on disk,
//!   so changes are made one at a time and none is lost. Lock order: `file`
//!   before `map`; the registry's lock before `map`. This module never takes
//!   the registry's lock.
//! - **Atomic replace.** Every change writes a whole new file beside the
//!   old one and renames it into place ([`files::replace`]), so after a
//!   crash at any moment the file is either the old one or the new one,
//!   never half of each.
//!
//! The file holds one account per line:
//!
//! ```text
//! name<TAB>iterations<TAB>salt (32 hex digits)<TAB>hash (64 hex digits)[<TAB>ignored]
//! ```
//!
//! The fifth field, whom the account's owner ignores (`/ignore`), is names
//! separated by commas (a name never holds one), and is left out when the
//! list is empty: a file from before the field is read as it always was,
//! and an account that ignores nobody is written as it always was. (A
//! server older than the field would skip a line that has it, so the
//! field is written only when there is something to keep.) The list is
//! kept with the account so that it moves with a rename and goes with an
//! unregistration, in the same atomic write.
//!
//! Simplifications, on purpose: every change rewrites the whole file, fine
//! for the few hundred accounts of a LAN but not for a million; a production
//! service would use a database (SQLite does the same crash safety with a
//! journal). And an account hashed with an old iteration count keeps it until
//! its password changes; real services rehash on the next successful login.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;

use crate::lock::{lock, wait};
use crate::protocol::{self, BadName};
use crate::{crypto, files};

/// Bytes of random salt per account.
const SALT_LEN: usize = 16;
/// Bytes of PBKDF2 output stored per account.
const HASH_LEN: usize = 32;
/// Shortest password, in characters.
const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in bytes: the hash input stays small.
const MAX_PASSWORD_BYTES: usize = 128;

/// Why an account operation was refused. `Display` is written for the user
/// who asked.
#[derive(Debug)]
pub enum AccountError {
    PasswordTooShort,
    PasswordTooLong,
    PasswordHasSpace,
    /// The name cannot be stored (it would break the file format).
    BadName(BadName),
    /// Holds the name as it was registered.
    AlreadyRegistered(String),
    NotRegistered(String),
    WrongPassword,
    /// No salt could be drawn, so no password can be stored.
    NoRandomness(io::Error),
    /// The accounts file could not be written; nothing was changed.
    Save(io::Error),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::PasswordTooShort => write!(
                f,
                "password must be at least {MIN_PASSWORD_CHARS} characters"
            ),
            AccountError::PasswordTooLong => {
                write!(f, "password must be at most {MAX_PASSWORD_BYTES} bytes")
            }
            AccountError::PasswordHasSpace => write!(f, "password must not contain spaces"),
            AccountError::BadName(e) => e.fmt(f),
            AccountError::AlreadyRegistered(name) => write!(f, "{name} is already registered"),
            AccountError::NotRegistered(name) => write!(f, "{name} is not registered"),
            AccountError::WrongPassword => write!(f, "wrong password"),
            AccountError::NoRandomness(e) => {
                write!(f, "cannot set a password: no secure random source ({e})")
            }
            AccountError::Save(e) => write!(f, "cannot save the accounts file: {e}"),
        }
    }
}

impl std::error::Error for AccountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccountError::BadName(e) => Some(e),
            AccountError::NoRandomness(e) | AccountError::Save(e) => Some(e),
            _ => None,
        }
    }
}

/// Why the accounts file could not be read at start.
#[derive(Debug)]
pub struct AccountsOpenError {
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for AccountsOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read accounts file {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for AccountsOpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// One account, as stored.
#[derive(Clone)]
struct Account {
    /// The name with the case it was registered with.
    name: String,
    /// The iteration count this hash was made with.
    iterations: u32,
    salt: [u8; SALT_LEN],
    hash: [u8; HASH_LEN],
    /// Whom the owner ignores, as spelled, restored at each login.
    ignoring: Vec<String>,
}

impl Account {
    /// A new account with a fresh salt. Slow (one hash): call with no lock
    /// held.
    fn new(name: &str, password: &str, iterations: u32) -> Result<Account, AccountError> {
        let mut salt = [0; SALT_LEN];
        // No fallback to a weaker source: a predictable salt is worse than
        // refusing.
        crypto::os_random(&mut salt).map_err(AccountError::NoRandomness)?;
        Ok(Account {
            name: name.to_string(),
            iterations,
            salt,
            hash: derive(password, &salt, iterations),
            ignoring: Vec::new(),
        })
    }

    /// Takes the password setting of `new`, keeping the name and the rest.
    fn set_secret(&mut self, new: Account) {
        self.iterations = new.iterations;
        self.salt = new.salt;
        self.hash = new.hash;
    }

    /// Whether `password` is this account's. Slow (one hash): call with no
    /// lock held.
    fn check(&self, password: &str) -> bool {
        let attempt = derive(password, &self.salt, self.iterations);
        crypto::constant_time_eq(&attempt, &self.hash)
    }

    /// Whether `other` is the same password setting as `self`: a salt is
    /// drawn anew for every password set, so it identifies the setting.
    fn same_secret(&self, other: &Account) -> bool {
        self.salt == other.salt && self.hash == other.hash
    }

    /// The line stored in the file, newline included.
    fn to_line(&self) -> String {
        let ignoring = match self.ignoring.is_empty() {
            true => String::new(),
            false => format!("\t{}", self.ignoring.join(",")),
        };
        format!(
            "{}\t{}\t{}\t{}{ignoring}\n",
            self.name,
            self.iterations,
            crypto::to_hex(&self.salt),
            crypto::to_hex(&self.hash)
        )
    }

    /// Parses a line of the file (without its newline); the error says what
    /// is wrong with it, never what it contains (it may hold a hash).
    fn parse_line(line: &str) -> Result<Account, String> {
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, iterations, salt, hash, ignoring) = match fields[..] {
            [name, iterations, salt, hash] => (name, iterations, salt, hash, ""),
            [name, iterations, salt, hash, ignoring] => (name, iterations, salt, hash, ignoring),
            _ => {
                return Err(format!(
                    "expected 4 or 5 tab-separated fields, found {}",
                    fields.len()
                ))
            }
        };
        protocol::validate_name(name).map_err(|e| format!("bad name ({e})"))?;
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or("iterations must be a whole number of at least 1")?;
        let salt = crypto::from_hex(salt)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(format!("salt must be {} hex digits", SALT_LEN * 2))?;
        let hash = crypto::from_hex(hash)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(format!("hash must be {} hex digits", HASH_LEN * 2))?;
        let ignoring = parse_ignoring(ignoring)?;
        Ok(Account {
            name: name.to_string(),
            iterations,
            salt,
            hash,
            ignoring,
        })
    }
}

/// The fifth field: names separated by commas, each a valid name.
fn parse_ignoring(field: &str) -> Result<Vec<String>, String> {
    let names = field.split(',').filter(|name| !name.is_empty());
    names
        .map(|name| match protocol::validate_name(name) {
            Ok(()) => Ok(name.to_string()),
            Err(e) => Err(format!("bad ignored name ({e})")),
        })
        .collect()
}

/// PBKDF2-HMAC-SHA256 of `password`: the slow part.
fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let _slot = HashSlot::take();
    let mut hash = [0; HASH_LEN];
    crypto::pbkdf2_hmac_sha256(password.as_bytes(), salt, iterations, &mut hash);
    hash
}

/// How many password hashes are running, across the whole server.
///
/// Each hash keeps a core busy for about 50 ms on purpose. A crowd of login
/// attempts (or an attacker guessing) must not take every core from the
/// chat, so at most half the cores hash at once; the others wait their turn
/// on their own threads, holding no other lock.
static HASHING: Mutex<usize> = Mutex::new(0);
/// Signalled when a hash finishes.
static HASH_DONE: Condvar = Condvar::new();

/// A permit to run one hash, given back when dropped.
struct HashSlot;

impl HashSlot {
    fn take() -> HashSlot {
        let slots = thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        let mut running = lock(&HASHING, "hashing");
        while *running >= slots {
            running = wait(&HASH_DONE, running);
        }
        *running += 1;
        HashSlot
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        let mut running = lock(&HASHING, "hashing");
        *running = running.saturating_sub(1);
        HASH_DONE.notify_one();
    }
}

/// Accounts by [`protocol::name_key`], so names are unique ignoring case.
type AccountMap = HashMap<String, Account>;

/// The registered names and their password hashes.
pub struct Accounts {
    /// The accounts now in force. Held only to look up, to copy, or to swap
    /// in a new map: never across a hash or a write. Changed only by a
    /// thread that holds `file`.
    map: Mutex<AccountMap>,
    /// Held by whoever changes the accounts, from copying `map` until the
    /// new file is renamed into place, so one change is made at a time and
    /// the copy cannot go stale. Taken before `map`, never after.
    file: Mutex<()>,
    /// Where the accounts are saved; `None` keeps them in memory only.
    path: Option<PathBuf>,
    /// Iteration count for new hashes.
    iterations: u32,
}

impl Accounts {
    /// Loads the accounts from `path`; a missing file means no accounts
    /// yet (the file and its directory are created at the first save).
    /// Lines that cannot be read are skipped; the returned warnings say
    /// which, by line number, for the activity log. A leftover `<file>.tmp`
    /// is not read.
    ///
    /// New hashes use `iterations`; an existing account keeps the count it
    /// was made with. 0 is taken as 1 (the config refuses 0, and PBKDF2 has
    /// no meaning for it).
    ///
    /// # Errors
    ///
    /// If the file exists but cannot be read.
    pub fn open(
        path: &Path,
        iterations: u32,
    ) -> Result<(Accounts, Vec<String>), AccountsOpenError> {
        let (map, warnings) = match fs::read(path) {
            Ok(bytes) => load(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (AccountMap::new(), Vec::new()),
            Err(source) => {
                return Err(AccountsOpenError {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let accounts = Accounts::with(map, Some(path.to_path_buf()), iterations);
        Ok((accounts, warnings))
    }

    /// Accounts that are never saved, for tests and experiments.
    #[cfg(test)]
    pub fn in_memory(iterations: u32) -> Accounts {
        Accounts::with(AccountMap::new(), None, iterations)
    }

    fn with(map: AccountMap, path: Option<PathBuf>, iterations: u32) -> Accounts {
        Accounts {
            map: Mutex::new(map),
            file: Mutex::new(()),
            path,
            iterations: iterations.max(1),
        }
    }

    /// Checks a new password against the rules: 8 characters to 128 bytes,
    /// no whitespace (commands such as `/password <old> <new>` split on it).
    pub fn validate_password(password: &str) -> Result<(), AccountError> {
        if password.len() > MAX_PASSWORD_BYTES {
            Err(AccountError::PasswordTooLong)
        } else if password.contains(char::is_whitespace) {
            Err(AccountError::PasswordHasSpace)
        } else if password.chars().count() < MIN_PASSWORD_CHARS {
            Err(AccountError::PasswordTooShort)
        } else {
            Ok(())
        }
    }

    /// Whether `name` (in any case) is registered. Quick: takes only the
    /// map lock, which is never held across a hash or a write, so it may be
    /// called under the registry lock.
    pub fn is_registered(&self, name: &str) -> bool {
        let key = protocol::name_key(name);
        self.lock_map().contains_key(&key)
    }

    /// The name as it was registered, if `name` (in any case) is. Quick,
    /// like [`Accounts::is_registered`].
    pub fn registered_name(&self, name: &str) -> Option<String> {
        let key = protocol::name_key(name);
        self.lock_map()
            .get(&key)
            .map(|account| account.name.clone())
    }

    /// All registered names, sorted ignoring case.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock_map().values().map(|a| a.name.clone()).collect();
        names.sort_by_cached_key(|name| protocol::name_key(name));
        names
    }

    /// Registers `name` with `password`. Slow (one hash, then a file write);
    /// call with no lock held.
    ///
    /// # Errors
    ///
    /// A bad name or password, the name taken (in any case), no random
    /// source, or the file not written (then nothing changed).
    pub fn register(&self, name: &str, password: &str) -> Result<(), AccountError> {
        protocol::validate_name(name).map_err(AccountError::BadName)?;
        Accounts::validate_password(password)?;
        // Fail early rather than after paying for a hash. Not the final
        // word: someone may register the name while we hash.
        if let Some(taken) = self.registered_name(name) {
            return Err(AccountError::AlreadyRegistered(taken));
        }
        let account = Account::new(name, password, self.iterations)?;
        let key = protocol::name_key(name);
        self.update(|accounts| {
            if let Some(taken) = accounts.get(&key) {
                return Err(AccountError::AlreadyRegistered(taken.name.clone()));
            }
            accounts.insert(key, account);
            Ok(())
        })
    }

    /// Checks `password` for the account `name` (in any case), with the
    /// iteration count the account was made with. Slow (one hash); call
    /// with no lock held.
    pub fn verify(&self, name: &str, password: &str) -> Result<(), AccountError> {
        let account = self.lookup(name)?;
        if account.check(password) {
            Ok(())
        } else {
            Err(AccountError::WrongPassword)
        }
    }

    /// Replaces the password of `name`, given the current one. The new hash
    /// uses the configured iteration count. Slow (two hashes, then a file
    /// write); call with no lock held.
    ///
    /// # Errors
    ///
    /// Those of [`Accounts::register`], and `WrongPassword` also when the
    /// password was changed by someone else while this one was hashing.
    pub fn change_password(&self, name: &str, old: &str, new: &str) -> Result<(), AccountError> {
        Accounts::validate_password(new)?;
        let current = self.lookup(name)?;
        if !current.check(old) {
            return Err(AccountError::WrongPassword);
        }
        let replacement = Account::new(&current.name, new, self.iterations)?;
        self.update(|accounts| {
            // The spelling and the rest stay as they are now (a rename
            // may have changed the case meanwhile).
            unchanged(accounts, &current)?.set_secret(replacement);
            Ok(())
        })
    }

    /// Removes the account `name`, given its password; the name becomes
    /// free for anyone. Slow (one hash, then a file write).
    pub fn unregister(&self, name: &str, password: &str) -> Result<(), AccountError> {
        let current = self.lookup(name)?;
        if !current.check(password) {
            return Err(AccountError::WrongPassword);
        }
        self.update(|accounts| {
            unchanged(accounts, &current)?;
            accounts.remove(&protocol::name_key(&current.name));
            Ok(())
        })
    }

    /// Sets a new password for `name` without asking for the old one: the
    /// operator's reset, for a forgotten password. Slow (one hash, then a
    /// file write).
    pub fn reset_password(&self, name: &str, new: &str) -> Result<(), AccountError> {
        Accounts::validate_password(new)?;
        let current = self.lookup(name)?;
        let replacement = Account::new(&current.name, new, self.iterations)?;
        self.update(|accounts| {
            let key = protocol::name_key(name);
            let now = accounts
                .get_mut(&key)
                .ok_or_else(|| AccountError::NotRegistered(name.to_string()))?;
            now.set_secret(replacement);
            Ok(())
        })
    }

    /// Deletes the account `name` without asking for its password (the
    /// operator's `/unregister`). Returns the name as it was registered.
    /// One file write, no hash.
    pub fn remove(&self, name: &str) -> Result<String, AccountError> {
        let mut removed = String::new();
        self.update(|accounts| {
            let account = accounts
                .remove(&protocol::name_key(name))
                .ok_or_else(|| AccountError::NotRegistered(name.to_string()))?;
            removed = account.name;
            Ok(())
        })?;
        Ok(removed)
    }

    /// Moves the account `old` to the name `new` (its owner renamed), with
    /// the same password. A change of case only (`alice` to `Alice`) just
    /// changes the stored spelling. No password is asked: the caller has
    /// already checked that the user owns `old`. One file write, no hash.
    ///
    /// # Errors
    ///
    /// `old` not registered, `new` registered to another account or not a
    /// valid name, or the file not written (then nothing changed).
    pub fn rename(&self, old: &str, new: &str) -> Result<(), AccountError> {
        protocol::validate_name(new).map_err(AccountError::BadName)?;
        let (old_key, new_key) = (protocol::name_key(old), protocol::name_key(new));
        self.update(|accounts| {
            if new_key != old_key {
                if let Some(taken) = accounts.get(&new_key) {
                    return Err(AccountError::AlreadyRegistered(taken.name.clone()));
                }
            }
            let mut account = accounts
                .remove(&old_key)
                .ok_or_else(|| AccountError::NotRegistered(old.to_string()))?;
            account.name = new.to_string();
            accounts.insert(new_key, account);
            Ok(())
        })
    }

    /// Whom the owner of the account `name` ignores, as spelled: empty for
    /// a name that is not registered. Quick, like
    /// [`Accounts::is_registered`].
    pub fn ignoring(&self, name: &str) -> Vec<String> {
        let key = protocol::name_key(name);
        let map = self.lock_map();
        map.get(&key).map_or_else(Vec::new, |a| a.ignoring.clone())
    }

    /// Keeps `names` as whom the owner of the account `name` ignores. One
    /// file write, no hash; nothing is written if the list is unchanged.
    pub fn set_ignoring(&self, name: &str, names: Vec<String>) -> Result<(), AccountError> {
        if self.ignoring(name) == names && self.is_registered(name) {
            return Ok(());
        }
        self.update(|accounts| {
            let account = accounts
                .get_mut(&protocol::name_key(name))
                .ok_or_else(|| AccountError::NotRegistered(name.to_string()))?;
            account.ignoring = names;
            Ok(())
        })
    }

    /// A copy of the account `name`, so it can be hashed against with no
    /// lock held.
    fn lookup(&self, name: &str) -> Result<Account, AccountError> {
        let key = protocol::name_key(name);
        let found = self.lock_map().get(&key).cloned();
        found.ok_or_else(|| AccountError::NotRegistered(name.to_string()))
    }

    /// Makes one change: applies `edit` to a copy of the accounts, saves the
    /// copy, and only then puts it in force. If `edit` refuses or the save
    /// fails, the accounts in force were never touched: that is the
    /// rollback. Holding `file` throughout means no other change can slip in
    /// between the copy and the swap; lookups go on meanwhile, against the
    /// old map.
    fn update(
        &self,
        edit: impl FnOnce(&mut AccountMap) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let _writing = lock(&self.file, "accounts file");
        // Copying costs a little per account: cheap next to rewriting the
        // whole file, which we are about to do anyway.
        let mut next = self.lock_map().clone();
        edit(&mut next)?;
        if let Some(path) = &self.path {
            save(path, &next).map_err(AccountError::Save)?;
        }
        *self.lock_map() = next;
        Ok(())
    }

    fn lock_map(&self) -> MutexGuard<'_, AccountMap> {
        lock(&self.map, "accounts")
    }
}

/// The account in `accounts` that `seen` was copied from, if nobody has
/// changed it since: it may have been renamed, unregistered or given a new
/// password while we were hashing without a lock.
fn unchanged<'a>(
    accounts: &'a mut AccountMap,
    seen: &Account,
) -> Result<&'a mut Account, AccountError> {
    match accounts.get_mut(&protocol::name_key(&seen.name)) {
        Some(now) if now.same_secret(seen) => Ok(now),
        // The password we checked is no longer the one in force.
        Some(_) => Err(AccountError::WrongPassword),
        None => Err(AccountError::NotRegistered(seen.name.clone())),
    }
}

/// Reads the file's contents: the accounts, and a warning for every line
/// skipped. Blank lines are ignored; a `\r` before a newline is accepted.
fn load(bytes: &[u8]) -> (AccountMap, Vec<String>) {
    let mut accounts = AccountMap::new();
    // Where each account was found, to name it in a duplicate's warning.
    let mut found_on = HashMap::new();
    let mut warnings = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "not valid UTF-8".to_string())
            .and_then(Account::parse_line);
        let account = match parsed {
            Ok(account) => account,
            Err(why) => {
                warnings.push(format!("line {number}: {why}, skipped"));
                continue;
            }
        };
        let key = protocol::name_key(&account.name);
        if let Some(first) = found_on.get(&key) {
            warnings.push(format!(
                "line {number}: {} is already registered on line {first}, skipped",
                account.name
            ));
            continue;
        }
        found_on.insert(key.clone(), number);
        accounts.insert(key, account);
    }
    (accounts, warnings)
}

/// Writes `accounts` to `path` atomically (see [`files::replace`]).
/// Accounts are written sorted, so the file is the same for the same
/// accounts.
fn save(path: &Path, accounts: &AccountMap) -> io::Result<()> {
    let mut sorted: Vec<(&String, &Account)> = accounts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let text: String = sorted
        .iter()
        .map(|(_, account)| account.to_line())
        .collect();
    files::replace(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Low, for quick tests; one test below uses the real default.
    const FAST: u32 = 1_000;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "lanchat-accounts-{}-{n}-{test}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        fn file(&self) -> PathBuf {
            self.0.join("data").join("accounts.txt")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn open(path: &Path) -> Accounts {
        let (accounts, warnings) = Accounts::open(path, FAST).expect("open");
        assert!(warnings.is_empty(), "{warnings:?}");
        accounts
    }

    /// A valid stored line for `name` and `password`.
    fn line(name: &str, password: &str) -> String {
        Account::new(name, password, FAST)
            .expect("random")
            .to_line()
    }

    #[test]
    fn verify_accepts_only_the_right_password() {
        let accounts = Accounts::in_memory(FAST);
        accounts
            .register("alice", "correct-horse")
            .expect("register");
        assert!(accounts.verify("alice", "correct-horse").is_ok());
        assert!(matches!(
            accounts.verify("alice", "wrong-horse"),
            Err(AccountError::WrongPassword)
        ));
        assert!(matches!(
            accounts.verify("bob", "correct-horse"),
            Err(AccountError::NotRegistered(name)) if name == "bob"
        ));
    }

    #[test]
    fn lookups_ignore_case_and_give_the_registered_spelling() {
        let accounts = Accounts::in_memory(FAST);
        accounts.register("Alice", "password1").expect("register");
        accounts.register("bob", "password2").expect("register");
        accounts.register("Carol", "password3").expect("register");
        assert!(accounts.is_registered("ALICE"));
        assert!(!accounts.is_registered("dave"));
        assert_eq!(accounts.registered_name("aLiCe").as_deref(), Some("Alice"));
        assert_eq!(accounts.registered_name("dave"), None);
        assert!(accounts.verify("alice", "password1").is_ok());
        assert_eq!(accounts.names(), ["Alice", "bob", "Carol"]);
    }

    #[test]
    fn a_registered_name_cannot_be_registered_again_in_any_case() {
        let accounts = Accounts::in_memory(FAST);
        accounts.register("Alice", "password1").expect("register");
        let err = accounts.register("alice", "password2").unwrap_err();
        assert!(matches!(&err, AccountError::AlreadyRegistered(name) if name == "Alice"));
        assert_eq!(err.to_string(), "Alice is already registered");
        assert!(accounts.verify("alice", "password1").is_ok());
    }

    #[test]
    fn passwords_follow_the_rules() {
        use AccountError::*;
        let check = Accounts::validate_password;
        assert!(matches!(check(""), Err(PasswordTooShort)));
        assert!(matches!(check("1234567"), Err(PasswordTooShort)));
        assert!(check("12345678").is_ok());
        // Characters, not bytes, for the minimum: 8 two-byte letters pass.
        assert!(check("éééééééé").is_ok());
        assert!(matches!(check("ééééééé"), Err(PasswordTooShort)));
        assert!(check(&"x".repeat(128)).is_ok());
        assert!(matches!(check(&"x".repeat(129)), Err(PasswordTooLong)));
        for spaced in ["two words", "tab\there1", "newline\n1", "trailing1 "] {
            assert!(matches!(check(spaced), Err(PasswordHasSpace)), "{spaced:?}");
        }
        assert_eq!(
            PasswordTooShort.to_string(),
            "password must be at least 8 characters"
        );
        assert_eq!(
            PasswordTooLong.to_string(),
            "password must be at most 128 bytes"
        );
        assert_eq!(
            PasswordHasSpace.to_string(),
            "password must not contain spaces"
        );

        let accounts = Accounts::in_memory(FAST);
        assert!(matches!(
            accounts.register("alice", "short"),
            Err(PasswordTooShort)
        ));
        assert!(!accounts.is_registered("alice"));
    }

    #[test]
    fn names_that_could_break_the_file_are_refused() {
        let accounts = Accounts::in_memory(FAST);
        for bad in ["", "tab\tname", "new\nline", "server"] {
            assert!(
                matches!(
                    accounts.register(bad, "password1"),
                    Err(AccountError::BadName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(accounts.names().is_empty());
    }

    #[test]
    fn change_password_needs_the_old_one_and_replaces_it() {
        let accounts = Accounts::in_memory(FAST);
        accounts.register("alice", "first-pass").expect("register");
        assert!(matches!(
            accounts.change_password("alice", "not-the-one", "second-pass"),
            Err(AccountError::WrongPassword)
        ));
        assert!(matches!(
            accounts.change_password("alice", "first-pass", "short"),
            Err(AccountError::PasswordTooShort)
        ));
        accounts
            .change_password("ALICE", "first-pass", "second-pass")
            .expect("change");
        assert!(accounts.verify("alice", "second-pass").is_ok());
        assert!(accounts.verify("alice", "first-pass").is_err());
        assert_eq!(accounts.registered_name("alice").as_deref(), Some("alice"));
    }

    #[test]
    fn unregister_needs_the_password_and_frees_the_name() {
        let accounts = Accounts::in_memory(FAST);
        accounts.register("alice", "password1").expect("register");
        assert!(matches!(
            accounts.unregister("alice", "password2"),
            Err(AccountError::WrongPassword)
        ));
        assert!(accounts.is_registered("alice"));
        accounts
            .unregister("Alice", "password1")
            .expect("unregister");
        assert!(!accounts.is_registered("alice"));
        assert!(matches!(
            accounts.unregister("alice", "password1"),
            Err(AccountError::NotRegistered(_))
        ));
        // Free for anyone now, with any password.
        accounts
            .register("ALICE", "password9")
            .expect("register again");
    }

    #[test]
    fn rename_moves_the_account_but_not_onto_another() {
        let accounts = Accounts::in_memory(FAST);
        accounts.register("alice", "password1").expect("register");
        accounts.register("bob", "password2").expect("register");

        accounts.rename("alice", "alicia").expect("rename");
        assert!(!accounts.is_registered("alice"));
        assert!(accounts.verify("alicia", "password1").is_ok());

        // Only the case changes: the same account, a new spelling.
        accounts.rename("alicia", "Alicia").expect("rename case");
        assert_eq!(
            accounts.registered_name("alicia").as_deref(),
            Some("Alicia")
        );
        assert!(accounts.verify("Alicia", "password1").is_ok());

        let err = accounts.rename("Alicia", "BOB").unwrap_err();
        assert!(matches!(&err, AccountError::AlreadyRegistered(name) if name == "bob"));
        assert!(accounts.verify("Alicia", "password1").is_ok());
        assert!(accounts.verify("bob", "password2").is_ok());

        assert!(matches!(
            accounts.rename("carol", "dave"),
            Err(AccountError::NotRegistered(name)) if name == "carol"
        ));
        assert!(matches!(
            accounts.rename("Alicia", "bad name"),
            Err(AccountError::BadName(_))
        ));
        assert_eq!(accounts.names(), ["Alicia", "bob"]);
    }

    #[test]
    fn accounts_survive_a_reopen() {
        let dir = TempDir::new("reopen");
        let path = dir.file();
        // A missing file (and directory) means no accounts yet.
        let accounts = open(&path);
        assert!(accounts.names().is_empty());
        accounts.register("Alice", "password1").expect("register");
        accounts.register("bob", "password2").expect("register");
        accounts.register("carol", "password3").expect("register");
        accounts.rename("bob", "robert").expect("rename");
        accounts
            .change_password("carol", "password3", "password4")
            .expect("change");
        drop(accounts);

        let accounts = open(&path);
        assert_eq!(accounts.names(), ["Alice", "carol", "robert"]);
        assert!(accounts.verify("alice", "password1").is_ok());
        assert!(accounts.verify("robert", "password2").is_ok());
        assert!(accounts.verify("carol", "password4").is_ok());
        assert!(!path.with_file_name("accounts.txt.tmp").exists());
    }

    #[test]
    fn the_stored_line_has_four_fields_in_hex() {
        let dir = TempDir::new("format");
        let path = dir.file();
        let (accounts, _) = Accounts::open(&path, 1234).expect("open");
        accounts.register("Alice", "password1").expect("register");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1);
        let fields: Vec<&str> = lines[0].split('\t').collect();
        assert_eq!(fields.len(), 4, "{fields:?}");
        assert_eq!(fields[0], "Alice");
        assert_eq!(fields[1], "1234");
        assert_eq!(fields[2].len(), 32);
        assert_eq!(fields[3].len(), 64);
        let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(is_hex(fields[2]) && is_hex(fields[3]));
        // The hash is PBKDF2 of the password with that salt and count.
        let salt = crypto::from_hex(fields[2]).expect("salt");
        assert_eq!(crypto::to_hex(&derive("password1", &salt, 1234)), fields[3]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn old_accounts_keep_their_iteration_count_when_the_config_changes() {
        let dir = TempDir::new("iterations");
        let path = dir.file();
        let (accounts, _) = Accounts::open(&path, 1_000).expect("open");
        accounts.register("alice", "password1").expect("register");
        drop(accounts);

        let (accounts, _) = Accounts::open(&path, 2_000).expect("reopen");
        assert!(accounts.verify("alice", "password1").is_ok());
        accounts.register("bob", "password2").expect("register");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.contains("alice\t1000\t"), "{text}");
        assert!(text.contains("bob\t2000\t"), "{text}");
        // A new password is hashed with the new count.
        accounts
            .change_password("alice", "password1", "password3")
            .expect("change");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.contains("alice\t2000\t"), "{text}");
    }

    #[test]
    fn malformed_lines_are_skipped_with_their_line_numbers() {
        let dir = TempDir::new("malformed");
        let path = dir.file();
        let good = line("alice", "password1");
        let salt = "00".repeat(SALT_LEN);
        let hash = "00".repeat(HASH_LEN);
        let text = [
            good.clone(),                                     // 1
            "garbage\n".into(),                               // 2
            "\n".into(),                                      // 3: blank, silent
            format!("bob\tmany\t{salt}\t{hash}\n"),           // 4
            format!("bob\t0\t{salt}\t{hash}\n"),              // 5
            format!("bob\t1000\tzz\t{hash}\n"),               // 6
            format!("bob\t1000\t{salt}\t{salt}\n"),           // 7: hash too short
            format!("bad name\t1000\t{salt}\t{hash}\n"),      // 8
            format!("ALICE\t1000\t{salt}\t{hash}\n"),         // 9: duplicate
            line("carol", "password2").replace('\n', "\r\n"), // 10: CRLF is fine
            "\u{FFFD}\t\n".into(),                            // 11
            format!("dave\t1000\t{salt}\t{hash}\tx\ty\n"),    // 12
        ]
        .concat();
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n"); // 13
        bytes.extend_from_slice(line("erin", "password3").trim_end().as_bytes()); // 14, no newline
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, bytes).expect("write");

        let (accounts, warnings) = Accounts::open(&path, FAST).expect("open");
        assert_eq!(accounts.names(), ["alice", "carol", "erin"]);
        assert!(accounts.verify("alice", "password1").is_ok());
        assert!(accounts.verify("carol", "password2").is_ok());
        assert!(accounts.verify("erin", "password3").is_ok());
        let numbers: Vec<&str> = warnings
            .iter()
            .map(|w| w.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            numbers,
            [
                "line 2", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 11",
                "line 12", "line 13"
            ],
            "{warnings:#?}"
        );
        assert!(
            warnings.iter().all(|w| w.ends_with("skipped")),
            "{warnings:#?}"
        );
        assert!(
            warnings[6].contains("already registered on line 1"),
            "{warnings:#?}"
        );
        // Warnings never repeat the line: it may hold a hash.
        assert!(!warnings.iter().any(|w| w.contains(&hash)));
    }

    #[test]
    fn the_ignore_list_is_a_fifth_field_kept_through_password_changes_and_renames() {
        let dir = TempDir::new("ignoring");
        let path = dir.file();
        let accounts = open(&path);
        accounts.register("alice", "password1").expect("register");
        accounts.register("bob", "password2").expect("register");
        let ignored = vec!["Carol".to_string(), "dave".to_string()];
        accounts
            .set_ignoring("ALICE", ignored.clone())
            .expect("keep the list");
        let text = fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("\tCarol,dave"), "{text}");
        assert_eq!(lines[1].split('\t').count(), 4, "nobody ignored: as before");

        accounts
            .change_password("alice", "password1", "password3")
            .expect("change");
        accounts
            .reset_password("alice", "password4")
            .expect("reset");
        accounts.rename("alice", "Alicia").expect("rename");
        drop(accounts);
        let accounts = open(&path);
        assert_eq!(accounts.ignoring("alicia"), ignored);
        assert!(accounts.verify("alicia", "password4").is_ok());
        assert!(accounts.ignoring("bob").is_empty());
        assert!(accounts.ignoring("nobody").is_empty());
        assert!(matches!(
            accounts.set_ignoring("nobody", ignored),
            Err(AccountError::NotRegistered(_))
        ));
        accounts.set_ignoring("alicia", Vec::new()).expect("clear");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.lines().all(|l| l.split('\t').count() == 4), "{text}");
    }

    #[test]
    fn a_bad_ignored_name_is_a_bad_line() {
        let good = line("alice", "password1");
        let with = |field: &str| format!("{}\t{field}", good.trim_end());
        let account = Account::parse_line(&with("bob,,carol")).expect("empty items are skipped");
        assert_eq!(account.ignoring, ["bob", "carol"]);
        assert_eq!(
            Account::parse_line(&with("bob,no good")).err(),
            Some("bad ignored name (name may only contain letters, digits, _ and -)".into())
        );
        assert!(Account::parse_line(&with("")).is_ok(), "an empty field");
    }

    #[test]
    fn a_leftover_tmp_file_is_ignored_and_replaced() {
        let dir = TempDir::new("leftover");
        let path = dir.file();
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, line("alice", "password1")).expect("write");
        let tmp = files::tmp_path(&path);
        assert_eq!(tmp, path.with_file_name("accounts.txt.tmp"));
        fs::write(&tmp, "half a line of garb").expect("write tmp");

        let accounts = open(&path);
        assert_eq!(accounts.names(), ["alice"]);
        accounts.register("bob", "password2").expect("register");
        assert!(!tmp.exists());
        drop(accounts);
        assert_eq!(open(&path).names(), ["alice", "bob"]);
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let dir = TempDir::new("failed-save");
        let path = dir.file();
        let accounts = open(&path);
        accounts.register("alice", "password1").expect("register");
        // Replace the directory with a regular file: every write now fails,
        // even for root, who ignores permissions.
        let parent = path.parent().expect("parent");
        fs::remove_dir_all(parent).expect("rmdir");
        fs::write(parent, "not a directory").expect("write");

        let err = accounts.register("bob", "password2").unwrap_err();
        assert!(matches!(err, AccountError::Save(_)), "{err:?}");
        assert!(err
            .to_string()
            .starts_with("cannot save the accounts file: "));
        assert!(err.source().is_some());
        assert!(!accounts.is_registered("bob"));

        let err = accounts.change_password("alice", "password1", "password3");
        assert!(matches!(err, Err(AccountError::Save(_))));
        assert!(accounts.verify("alice", "password1").is_ok());

        let err = accounts.unregister("alice", "password1");
        assert!(matches!(err, Err(AccountError::Save(_))));
        let err = accounts.rename("alice", "alicia");
        assert!(matches!(err, Err(AccountError::Save(_))));
        assert_eq!(accounts.names(), ["alice"]);
    }

    #[test]
    fn two_registrations_at_once_both_reach_the_file() {
        let dir = TempDir::new("concurrent");
        let path = dir.file();
        let accounts = open(&path);
        let names: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
        std::thread::scope(|scope| {
            for name in &names {
                let accounts = &accounts;
                scope.spawn(move || accounts.register(name, "password1").expect("register"));
            }
        });
        drop(accounts);
        let accounts = open(&path);
        assert_eq!(accounts.names(), names);
        assert!(accounts.verify("user7", "password1").is_ok());
    }

    #[test]
    fn one_name_registered_by_many_at_once_goes_to_exactly_one() {
        let accounts = Accounts::in_memory(FAST);
        let passwords: Vec<String> = (0..4).map(|i| format!("password{i}")).collect();
        let results: Vec<bool> = std::thread::scope(|scope| {
            let threads: Vec<_> = passwords
                .iter()
                .map(|password| {
                    let accounts = &accounts;
                    scope.spawn(move || accounts.register("alice", password).is_ok())
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("thread"))
                .collect()
        });
        assert_eq!(results.iter().filter(|&&ok| ok).count(), 1, "{results:?}");
        let winner = results.iter().position(|&ok| ok).expect("a winner");
        assert!(accounts.verify("alice", &passwords[winner]).is_ok());
    }

    #[test]
    fn a_change_made_while_hashing_is_not_overwritten() {
        // What `change_password` and `unregister` check at commit: the
        // account must still be the one whose password they verified.
        let seen = Account::new("alice", "password1", FAST).expect("random");
        let mut accounts = AccountMap::new();
        accounts.insert("alice".into(), seen.clone());
        assert!(unchanged(&mut accounts, &seen).is_ok());

        // Another connection set a new password meanwhile.
        let newer = Account::new("alice", "password2", FAST).expect("random");
        accounts.insert("alice".into(), newer);
        assert!(matches!(
            unchanged(&mut accounts, &seen),
            Err(AccountError::WrongPassword)
        ));

        // Or the account went away.
        accounts.clear();
        assert!(matches!(
            unchanged(&mut accounts, &seen),
            Err(AccountError::NotRegistered(name)) if name == "alice"
        ));
    }

    #[test]
    fn errors_read_well_and_keep_their_cause() {
        let cause = || io::Error::new(io::ErrorKind::NotFound, "no /dev/urandom");
        let err = AccountError::NoRandomness(cause());
        assert_eq!(
            err.to_string(),
            "cannot set a password: no secure random source (no /dev/urandom)"
        );
        assert!(err.source().is_some());
        let err = AccountError::Save(io::Error::other("disk full"));
        assert_eq!(err.to_string(), "cannot save the accounts file: disk full");
        assert!(err.source().is_some());
        assert_eq!(
            AccountError::NotRegistered("bob".into()).to_string(),
            "bob is not registered"
        );
        assert_eq!(AccountError::WrongPassword.to_string(), "wrong password");
        assert!(AccountError::WrongPassword.source().is_none());
    }

    #[test]
    fn lookups_do_not_wait_for_a_save() {
        // Hold the file lock as a save would, and look up meanwhile: the
        // registry calls `is_registered` under its own lock.
        let accounts = Accounts::in_memory(FAST);
        accounts.register("alice", "password1").expect("register");
        let _writing = lock(&accounts.file, "test");
        assert!(accounts.is_registered("alice"));
        assert_eq!(accounts.registered_name("ALICE").as_deref(), Some("alice"));
        assert_eq!(accounts.names(), ["alice"]);
    }

    #[test]
    fn the_default_iteration_count_works() {
        let accounts = Accounts::in_memory(100_000);
        accounts.register("alice", "password1").expect("register");
        assert!(accounts.verify("alice", "password1").is_ok());
        assert!(accounts.verify("alice", "password2").is_err());
        let stored = accounts.lookup("alice").expect("lookup");
        assert_eq!(stored.iterations, 100_000);
    }

    #[test]
    fn zero_iterations_is_taken_as_one() {
        let accounts = Accounts::in_memory(0);
        accounts.register("alice", "password1").expect("register");
        assert!(accounts.verify("alice", "password1").is_ok());
        assert_eq!(accounts.lookup("alice").expect("lookup").iterations, 1);
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = TempDir::new("unreadable");
        // A directory where the file should be.
        let Err(err) = Accounts::open(&dir.0, FAST) else {
            panic!("opened a directory as the accounts file");
        };
        assert!(err.to_string().starts_with("cannot read accounts file "));
        assert!(err.to_string().contains(&*dir.0.to_string_lossy()));
        assert!(err.source().is_some());
    }
}
