//! The registry: who is online, under which name, in which rooms, and the
//! one place that queues events to them (each rendered by the recipient's
//! [`Frontend`], then sent by the writer threads of
//! [`outbox`](crate::outbox)).
//!
//! At heart it is a `Mutex<HashMap<String, TcpStream>>` keyed by name (here
//! the stream sits, inside its outbox, in a small `Client` struct with the
//! client's rooms).
//! This is the only module that locks it, and it never hands the guard out.
//!
//! **Delivering under the lock.** Every event to an online client is
//! queued while holding the lock, so everyone sees the lines of a room in the
//! same order, and a new client's hello and replay come before anything
//! else. An event is rendered once per frontend kind ([`Renderings`]), and
//! queuing is then only a memory copy into the client's [`Outbox`]; the
//! socket writes happen later, on the writer threads, without the lock. So
//! a client that stops reading costs the others nothing: its outbox fills,
//! refuses more, and the client is dropped here. (The first version of this
//! server wrote to the sockets under the lock, bounded by a write timeout;
//! simpler, but one stalled client then stalled every sender for up to that
//! timeout, and every line cost a system call while everyone waited.)
//!
//! **Identity.** A name can be reused as soon as its owner leaves, so every
//! operation carries a [`Session`]: the name *and* the connection id. An
//! operation whose session is no longer in the map (kicked, dropped for not
//! reading) gets [`ChatError::Gone`], and an old connection can never remove
//! a new one that took its name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::mem;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::event::{Event, Leaving, Member, Message, RoomChange, Style, Topic};
use crate::feed::Feed;
use crate::frontend::{EventId, Frontend, Recipient, Renderings};
use crate::history::History;
use crate::lock::lock;
use crate::outbox::{Closed, Outbox, Writers};
use crate::protocol::{self, name_key, BadName, MAX_IGNORED};
use crate::rooms::{Rooms, MAX_ROOM_BANS};
use crate::{clock, log};

mod moderation;

/// Connection ids are never reused while the server runs.
pub(crate) type ConnId = u64;

/// One online client.
struct Client {
    id: ConnId,
    /// The name as the user typed it; the map key is its lower-case form.
    name: String,
    addr: SocketAddr,
    /// How events are put on this client's wire.
    frontend: Frontend,
    /// Where this client's bytes are queued for sending.
    outbox: Arc<Outbox>,
    /// The rooms this client is in, in the order joined: the last one is the
    /// current room, where plain text goes.
    rooms: Vec<String>,
    /// Why the client is away (IRC's `AWAY`), if it is.
    away: Option<String>,
    /// The user name and "real name" an IRC client gave (`USER`), if any.
    user: Option<(String, String)>,
    /// Whom this client ignores: their keys, and their names as typed.
    /// Their messages, actions and direct messages are not delivered to it.
    ignoring: BTreeMap<String, String>,
}

impl Client {
    fn new(
        id: ConnId,
        name: &str,
        addr: SocketAddr,
        (frontend, outbox): (Frontend, Arc<Outbox>),
        rooms: Vec<String>,
    ) -> Client {
        Client {
            id,
            name: name.to_string(),
            addr,
            frontend,
            outbox,
            rooms,
            away: None,
            user: None,
            ignoring: BTreeMap::new(),
        }
    }

    /// Whether this client ignores `sender` (a name, any case). Nearly
    /// every list is empty, so the delivery loop pays one branch for it.
    fn ignores(&self, sender: Option<&str>) -> bool {
        !self.ignoring.is_empty()
            && sender.is_some_and(|name| self.ignoring.contains_key(&name_key(name)))
    }

    /// `room` if this client is in it, or else the current room when
    /// `room` is None.
    fn pick_room(&self, room: Option<&str>) -> Result<String, ChatError> {
        match room {
            Some(room) if self.rooms.iter().any(|r| r == room) => Ok(room.to_string()),
            Some(room) => Err(ChatError::NotInRoom(room.to_string())),
            None => self.rooms.last().cloned().ok_or(ChatError::NoRoom),
        }
    }
}

/// Someone online, as others may see them (IRC's `WHO` and `WHOIS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) via: Frontend,
    /// Their rooms, in the order joined.
    pub(crate) rooms: Vec<String>,
    pub(crate) away: Option<String>,
    /// The rooms they are an operator of, and those they have a voice in.
    pub(crate) operator_of: Vec<String>,
    pub(crate) voiced_in: Vec<String>,
    /// What IRC's `WHO` and `WHOIS` show as the user name and the real
    /// name: the name, unless an IRC client gave them.
    pub(crate) username: String,
    pub(crate) realname: String,
}

impl Person {
    fn of(client: &Client, rooms: &Rooms) -> Person {
        let key = name_key(&client.name);
        let (username, realname) = client
            .user
            .clone()
            .unwrap_or((client.name.clone(), client.name.clone()));
        Person {
            name: client.name.clone(),
            via: client.frontend,
            rooms: client.rooms.clone(),
            away: client.away.clone(),
            operator_of: (client.rooms.iter())
                .filter(|room| rooms.is_operator(room, &key))
                .cloned()
                .collect(),
            voiced_in: (client.rooms.iter())
                .filter(|room| rooms.is_voiced(room, &key))
                .cloned()
                .collect(),
            username,
            realname,
        }
    }
}

/// A room as listed: its name, how many are in it, its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    pub(crate) room: String,
    pub(crate) members: usize,
    pub(crate) topic: Option<Topic>,
}

/// Takes a client offline when dropped: a connection's thread holds one
/// from the moment its client is online, so every way out (a quit, a read
/// error, an early return, a panic) cleans up.
pub(crate) struct Presence<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) session: Session,
    /// Why the client leaves, for those who are told one (an IRC `QUIT`).
    pub(crate) reason: String,
}

impl<'a> Presence<'a> {
    pub(crate) fn new(registry: &'a Registry, session: Session) -> Presence<'a> {
        Presence {
            registry,
            session,
            reason: "Connection closed".to_string(),
        }
    }
}

impl Drop for Presence<'_> {
    fn drop(&mut self) {
        self.registry.depart(&self.session, &self.reason);
    }
}

/// What entering does when the name is online already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Refuse: the name is taken (a guest's name, or a second guest).
    IfFree,
    /// Take it over: the old session is told `* logged in from elsewhere`
    /// and closed (an account's owner, who gave the password).
    TakeOver,
}

/// A change in whether a room is in use, for the chat log.
#[derive(Debug, Clone, Copy)]
enum RoomUse {
    InUse,
    Emptied,
}

/// A handler's proof of who it is: its name and its connection id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    id: ConnId,
    name: String,
    /// Where the client connects from (for the password throttle).
    addr: SocketAddr,
    /// This session logged into (or created) the account of its name, so
    /// the account moves with a `/nick`.
    owns_account: bool,
}

impl Session {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    pub(crate) fn owns_account(&self) -> bool {
        self.owns_account
    }

    pub(crate) fn set_owns_account(&mut self, owns: bool) {
        self.owns_account = owns;
    }
}

/// Why a request was refused. `Display` is the text after `! `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChatError {
    Taken(String),
    /// Someone else's registered name.
    Registered(String),
    RegistrationClosed,
    BadName(BadName),
    NotOnline(String),
    NotInRoom(String),
    NoRoom,
    NoSuchRoom(String),
    /// `/ignore` of one's own name.
    IgnoreSelf,
    /// `/ignore` past [`MAX_IGNORED`] names.
    IgnoringTooMany(usize),
    /// `/unignore` of someone not ignored.
    NotIgnoring(String),
    /// The client is in `max_rooms_per_client` rooms already.
    TooManyRoomsForYou(usize),
    /// The server has `max_rooms` rooms already.
    TooManyRooms,
    /// `/history` found no message of the room in the log.
    NoHistory(String),
    /// A room operator's command from someone who is not one (the room).
    NotOperator(String),
    /// The target of a room operator's command is not in the room.
    TargetNotInRoom {
        name: String,
        room: String,
    },
    /// Speaking in a moderated room without operator status or a voice.
    Muted(String),
    /// A join of a room that bans the name.
    BannedFromRoom(String),
    /// A room's ban list is full.
    TooManyBans(String),
    /// This session was removed (kicked, or dropped for not reading).
    Gone,
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Taken(name) => write!(f, "the name {name} is taken"),
            ChatError::Registered(name) => write!(f, "{name} is registered"),
            ChatError::RegistrationClosed => write!(f, "registration is closed"),
            ChatError::BadName(e) => e.fmt(f),
            ChatError::NotOnline(name) => write!(f, "{name} is not online"),
            ChatError::NotInRoom(room) => write!(f, "you are not in #{room}"),
            ChatError::NoRoom => write!(f, "you are not in any room (try /join <room>)"),
            ChatError::NoSuchRoom(room) => write!(f, "no room #{room}"),
            ChatError::TooManyRoomsForYou(max) => write!(f, "you are in too many rooms ({max})"),
            ChatError::TooManyRooms => write!(f, "too many rooms on this server"),
            ChatError::IgnoreSelf => write!(f, "you cannot ignore yourself"),
            ChatError::IgnoringTooMany(max) => write!(f, "you ignore too many people ({max})"),
            ChatError::NotIgnoring(name) => write!(f, "you are not ignoring {name}"),
            ChatError::NoHistory(room) => write!(f, "no history for #{room}"),
            ChatError::NotOperator(room) => write!(f, "you are not an operator of #{room}"),
            ChatError::TargetNotInRoom { name, room } => write!(f, "{name} is not in #{room}"),
            ChatError::BannedFromRoom(room) => write!(f, "you are banned from #{room}"),
            ChatError::Muted(room) => write!(
                f,
                "#{room} is moderated: only operators and voiced members may speak"
            ),
            ChatError::TooManyBans(room) => {
                write!(f, "#{room} bans too many names already ({MAX_ROOM_BANS})")
            }
            ChatError::Gone => write!(f, "you are no longer connected"),
        }
    }
}

impl std::error::Error for ChatError {}

impl From<BadName> for ChatError {
    fn from(e: BadName) -> ChatError {
        ChatError::BadName(e)
    }
}

/// Everything the registry lock protects.
struct State {
    clients: HashMap<String, Client>,
    /// The key in `clients` of each connection id: how a [`Session`] finds
    /// its client even after the operator renamed it.
    by_id: HashMap<ConnId, String>,
    rooms: Rooms,
    /// Clients whose outbox refused a line during the current operation:
    /// removed before the lock is released.
    dead: Vec<String>,
    /// Lines for the activity log, written after the lock is released: a
    /// stalled stderr must never hold the registry.
    notes: Vec<String>,
    /// Outboxes that were idle and got lines during the current operation:
    /// handed to the writers after the lock is released, all at once.
    to_schedule: Vec<Arc<Outbox>>,
    limits: Limits,
    /// Where the operator reads the chat (None: `console_echo` is off).
    /// Not itself protected by the lock: it is set once, before the server
    /// starts; it lives here so the delivery code below can reach it.
    console: Option<Arc<Feed>>,
    /// Room messages and actions said since the server started.
    messages: u64,
    /// Rooms that came into use or emptied during the current operation,
    /// in order: the chat log learns of them before the lock is released
    /// (it keeps the replays of rooms in use, and of a bounded number of
    /// empty ones).
    room_changes: Vec<(String, RoomUse)>,
    /// The server's name in IRC prefixes (see [`Recipient`]).
    server_name: String,
    /// The most clients ever online at once (IRC's `LUSERS` tells it).
    max_online: usize,
    /// The number of the last event queued: every event gets the next one
    /// (a browser's SSE `id:`; see [`frontend`](crate::frontend)).
    last_event: EventId,
}

/// How big the chat may grow (from the config).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Rooms bigger than this get no join and leave notices (0: no limit).
    pub(crate) announce_max_members: usize,
    /// The most rooms one client may be in.
    pub(crate) max_rooms_per_client: usize,
    /// The most rooms with members.
    pub(crate) max_rooms: usize,
}

/// A kept ignore list as the registry holds it (keys to spellings): never
/// one's own name, at most [`MAX_IGNORED`] names.
#[inline(never)] // see `State::admit`
fn ignore_list(names: &[String], own_key: &str) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|spelled| (name_key(spelled), spelled.clone()))
        .filter(|(key, _)| key != own_key)
        .take(MAX_IGNORED)
        .collect()
}

/// The most rooms a `/rooms` reply names, and the most names a `/users`
/// reply lists: every reply line has a fixed bound, however big the chat.
const LIST_ROOMS: usize = 50;
const LIST_USERS: usize = 100;

/// The name direct messages to the operator are sent to, and the sender's
/// name on the operator's.
pub(crate) const OPERATOR: &str = "server";

/// The shared registry of online clients and rooms.
pub(crate) struct Registry {
    /// Protects the client map, the rooms, and the order in which lines are
    /// queued to clients. Held for map updates, memory copies and the chat
    /// log's one append per message: never while reading or writing a
    /// socket, hashing, or sleeping.
    state: Mutex<State>,
    history: History,
    writers: Arc<Writers>,
    default_room: String,
    /// The welcome message, one notice per line, sent after the hello.
    motd: Vec<String>,
}

/// Counts for the console's `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) terminals: usize,
    pub(crate) browsers: usize,
    pub(crate) irc: usize,
    pub(crate) rooms: usize,
    pub(crate) messages: u64,
}

impl Registry {
    /// `server_name` is the server's name in IRC prefixes and numerics.
    pub(crate) fn new(
        history: History,
        writers: Arc<Writers>,
        (default_room, server_name): (&str, &str),
        limits: Limits,
    ) -> Registry {
        Registry {
            state: Mutex::new(State {
                clients: HashMap::new(),
                by_id: HashMap::new(),
                rooms: Rooms::new(),
                dead: Vec::new(),
                notes: Vec::new(),
                to_schedule: Vec::new(),
                limits,
                console: None,
                messages: 0,
                room_changes: Vec::new(),
                server_name: server_name.to_string(),
                max_online: 0,
                last_event: 0,
            }),
            history,
            writers,
            default_room: default_room.to_string(),
            motd: Vec::new(),
        }
    }

    /// Shows the chat to the operator through `feed` (see
    /// [`feed`](crate::feed)).
    pub(crate) fn with_console(mut self, feed: Arc<Feed>) -> Registry {
        let state = self.state.get_mut();
        // Not shared yet, so nobody can have poisoned it; recover anyway.
        state.unwrap_or_else(PoisonError::into_inner).console = Some(feed);
        self
    }

    /// The welcome message, a line each (IRC's `MOTD` asks for it).
    pub(crate) fn motd(&self) -> Vec<String> {
        self.motd.clone()
    }

    /// Sends every client `motd`, one notice per line, after its hello.
    pub(crate) fn with_motd(mut self, motd: Vec<String>) -> Registry {
        self.motd = motd;
        self
    }

    /// Runs `op` under the lock, then removes any client whose outbox
    /// refused a line during it (announcing their departure), before the lock
    /// is released. Finally hands the outboxes that got lines to the writers.
    fn with_state<R>(&self, op: impl FnOnce(&mut State) -> R) -> R {
        let mut state = lock(&self.state, "registry");
        let result = op(&mut state);
        self.settle(state);
        result
    }

    /// The end of every operation under the lock (see
    /// [`with_state`](Self::with_state)), which releases it.
    // Out of line and not generic: one copy, instead of one inlined into
    // each of the many `with_state` callers. Inlined, its locals were part
    // of every caller's stack frame, among them `enter`'s, on every login's
    // path: that made the deepest stack an idle client's thread ever
    // touches one page deeper, 4 KB more per client (see BENCHMARKS.md).
    #[inline(never)]
    fn settle(&self, mut state: MutexGuard<'_, State>) {
        // The rare parts each in a function of its own, so that the common
        // case (lines queued, nothing else) takes a small frame.
        if !state.dead.is_empty() {
            state.reap();
        }
        if !state.room_changes.is_empty() {
            self.tell_history(&mut state);
        }
        let to_schedule = mem::take(&mut state.to_schedule);
        let notes = mem::take(&mut state.notes);
        drop(state);
        self.writers.schedule(to_schedule);
        if !notes.is_empty() {
            log_notes(notes);
        }
    }

    /// Tells the chat log which rooms came into use or emptied. Still under
    /// the lock, so the log's idea of which rooms are in use changes in the
    /// same order as the rooms do.
    #[inline(never)]
    fn tell_history(&self, state: &mut State) {
        for (room, change) in mem::take(&mut state.room_changes) {
            match change {
                RoomUse::InUse => self.history.room_in_use(&room),
                RoomUse::Emptied => self.history.room_emptied(&room),
            }
        }
    }

    /// The writer pool, for lines sent before a client is online.
    pub(crate) fn writers(&self) -> &Writers {
        &self.writers
    }

    /// Brings `name` online for connection `id`, if the name is free and
    /// `allowed(name)` says yes, ignoring `ignoring` from the start (an
    /// account's kept list: no line of theirs can slip in before it). (`allowed` runs under the lock, so the
    /// caller's own rule, such as "not someone's registered name", is checked
    /// atomically with the name being free. It must be quick and must not
    /// take this lock.)
    ///
    /// The hello and the replay of the default room are queued before the
    /// client joins the room, under the same lock, so they are the first
    /// lines it gets after its name: no one else's message can come between.
    /// Then the room's members are told it joined. (An IRC client joins no
    /// room here: see [`Frontend::joins_default_room`].)
    pub(crate) fn enter(
        &self,
        name: &str,
        id: ConnId,
        addr: SocketAddr,
        (frontend, outbox): (Frontend, Arc<Outbox>),
        (claim, ignoring): (Claim, &[String]),
        allowed: impl FnOnce(&str) -> bool,
    ) -> Result<Session, ChatError> {
        let key = name_key(name);
        let room = Some(self.default_room.clone()).filter(|_| frontend.joins_default_room());
        self.with_state(|state| {
            // A name banned from the default room comes online in no room.
            let room = room.filter(|room| !state.rooms.is_banned(room, &key));
            if state.clients.contains_key(&key) {
                if claim == Claim::IfFree {
                    return Err(ChatError::Taken(name.to_string()));
                }
                state.take_over(&key);
            }
            if !allowed(name) {
                return Err(ChatError::Registered(name.to_string()));
            }
            let greeting = self.greeting(state, (name, room.as_deref()), frontend);
            match outbox.push(&greeting) {
                Ok(true) => state.to_schedule.push(Arc::clone(&outbox)),
                Ok(false) => {}
                Err(Closed) => return Err(ChatError::Gone),
            }
            if let Some(room) = &room {
                state.arrive(room, (&key, name), frontend);
            }
            let rooms = room.into_iter().collect();
            state.admit(key, (id, name, addr), (frontend, outbox), rooms, ignoring);
            Ok(Session {
                id,
                name: name.to_string(),
                addr,
                owns_account: false,
            })
        })
    }

    /// The hello of a client coming online, and the replay of its room.
    // Out of line, like `State::take_over`: `enter` is on every login's
    // path, and the deepest stack an idle client's thread ever touched
    // stays resident for the connection's life: this path decides it (see
    // BENCHMARKS.md, "10 000 idle clients").
    #[inline(never)]
    fn greeting(
        &self,
        state: &mut State,
        (name, room): (&str, Option<&str>),
        to: Frontend,
    ) -> Vec<u8> {
        let mut greeting = self.hello(state, (name, room), to);
        if let Some(room) = room {
            let id = state.number();
            let recipient = Recipient::new(&state.server_name, name);
            greeting.extend(self.render_replay(room, recipient, (to, id)));
        }
        greeting
    }

    /// The hello of a client coming online, rendered.
    // This and `render_replay` are out of line so that the two events are
    // never in one stack frame: on every login's path (see `greeting`).
    #[inline(never)]
    fn hello(
        &self,
        state: &mut State,
        (name, room): (&str, Option<&str>),
        to: Frontend,
    ) -> Vec<u8> {
        let online = state.clients.len() + 1;
        let hello = Event::Hello {
            name: name.to_string(),
            room: room.map(str::to_string),
            online,
            max_online: state.max_online.max(online),
            rooms: state.rooms.count(),
            motd: self.motd.clone(),
        };
        let id = state.number();
        to.render(&hello, Recipient::new(&state.server_name, name), id)
    }

    /// The replay of `room`, rendered.
    #[inline(never)] // see `hello`
    fn render_replay(
        &self,
        room: &str,
        recipient: Recipient,
        (to, id): (Frontend, u64),
    ) -> Vec<u8> {
        to.render(&self.replay(room), recipient, id)
    }

    /// The replay of `room` from the chat log's memory.
    fn replay(&self, room: &str) -> Event {
        Event::Replay {
            room: room.to_string(),
            messages: self.history.recent(room),
        }
    }

    /// Takes a session offline and tells its rooms it left (`reason` is
    /// what IRC users see in its `QUIT`). Does nothing if the session is
    /// already gone (kicked, dropped, or its name now belongs to a newer
    /// connection).
    pub(crate) fn depart(&self, session: &Session, reason: &str) {
        self.with_state(|state| {
            if let Ok(client) = state.client(session) {
                let key = name_key(&client.name);
                state.remove(&key, Leaving::Quit, reason);
            }
        });
    }

    /// Tells this session something (a reply to its own request).
    pub(crate) fn reply(&self, session: &Session, event: &Event) -> Result<(), ChatError> {
        self.with_state(|state| {
            let key = name_key(&state.client(session)?.name);
            state.write(&key, event);
            Ok(())
        })
    }

    /// Says `text` in `room` (default: the current room): logged first, then
    /// delivered to every other member.
    pub(crate) fn say(
        &self,
        session: &Session,
        room: Option<&str>,
        text: &str,
        style: Style,
    ) -> Result<(), ChatError> {
        self.with_state(|state| {
            let client = state.client(session)?;
            let (key, via, from) = (name_key(&client.name), client.frontend, client.name.clone());
            let room = client.pick_room(room)?;
            if state.rooms.is_muted(&room, &key) {
                return Err(ChatError::Muted(room));
            }
            let message = Message {
                room,
                from,
                text: text.to_string(),
                action: style == Style::Action,
                time: clock::now_rfc3339(),
            };
            // Log before delivery, under the registry lock so the log's order
            // is the order everyone sees. The price: this one file write is
            // made holding the lock, so a disk that stalls stalls every
            // sender. We accept it for a local disk; a server that must not
            // would hand log lines, in this order, to a writer thread.
            if let Err(e) = self.history.append(&message) {
                state
                    .notes
                    .push(format!("cannot write to the history file: {e}"));
            }
            state.messages += 1;
            let room = message.room.clone();
            let notice = style == Style::Notice;
            let said = Event::Said {
                message,
                via,
                notice,
            };
            state.write_room(&room, Some(&key), &said);
            Ok(())
        })
    }

    /// Sends a direct message (or action) to `to`, or to the operator's
    /// console if `to` is [`OPERATOR`] (with the console's echo off, it is
    /// lost without a word, as on a pager nobody watches). Not logged.
    /// Returns the recipient's away message, if they are away.
    pub(crate) fn direct(
        &self,
        session: &Session,
        to: &str,
        text: &str,
        style: Style,
    ) -> Result<Option<String>, ChatError> {
        self.with_state(|state| {
            let client = state.client(session)?;
            let (from, via) = (client.name.clone(), client.frontend);
            let to_key = name_key(to);
            if to_key == OPERATOR {
                let event = Event::Direct {
                    from,
                    via,
                    to: OPERATOR.to_string(),
                    text: text.to_string(),
                    style,
                };
                state.echo(&event);
                return Ok(None);
            }
            let Some(recipient) = state.clients.get(&to_key) else {
                return Err(ChatError::NotOnline(to.to_string()));
            };
            let away = recipient.away.clone();
            if recipient.ignores(Some(&from)) {
                // Not delivered, and the sender is not told.
                return Ok(away);
            }
            let event = Event::Direct {
                from,
                via,
                to: recipient.name.clone(),
                text: text.to_string(),
                style,
            };
            state.write(&to_key, &event);
            Ok(away)
        })
    }

    /// Sends `[DM] server: text` to `to`, from the operator's console.
    pub(crate) fn direct_from_operator(&self, to: &str, text: &str) -> Result<(), ChatError> {
        self.with_state(|state| {
            let to_key = name_key(to);
            let Some(recipient) = state.clients.get(&to_key) else {
                return Err(ChatError::NotOnline(to.to_string()));
            };
            let event = Event::Direct {
                from: OPERATOR.to_string(),
                via: Frontend::Terminal,
                to: recipient.name.clone(),
                text: text.to_string(),
                style: Style::Plain,
            };
            state.write(&to_key, &event);
            Ok(())
        })
    }

    /// Joins `room` (or, if already in it, makes it the current room).
    ///
    /// Like [`enter`](Self::enter), the reply (with the room's topic and
    /// members) and the replay are queued under the same lock that makes the
    /// client a member, so live messages follow the replay.
    pub(crate) fn join(&self, session: &Session, room: &str) -> Result<(), ChatError> {
        self.with_state(|state| {
            let limits = state.limits;
            let room_exists = state.rooms.members(room).is_some();
            let room_count = state.rooms.count();
            let client = state.client(session)?;
            let (key, name) = (name_key(&client.name), client.name.clone());
            if let Some(i) = client.rooms.iter().position(|r| r == room) {
                let r = client.rooms.remove(i);
                client.rooms.push(r);
                state.write(&key, &Event::NowTalkingIn(room.to_string()));
                return Ok(());
            }
            if client.rooms.len() >= limits.max_rooms_per_client {
                return Err(ChatError::TooManyRoomsForYou(limits.max_rooms_per_client));
            }
            if !room_exists && room_count >= limits.max_rooms {
                return Err(ChatError::TooManyRooms);
            }
            if state.rooms.is_banned(room, &key) {
                return Err(ChatError::BannedFromRoom(room.to_string()));
            }
            let client = state.client(session)?;
            client.rooms.push(room.to_string());
            let via = client.frontend;
            let joined = Event::Joined {
                room: room.to_string(),
                name,
                via,
            };
            state.announce(room, &joined);
            state.join_room(room, &key);
            let you_joined = Event::YouJoined {
                room: room.to_string(),
                topic: state.rooms.topic(room).cloned(),
                names: state.names(room),
            };
            state.write_all(&key, &[you_joined, self.replay(room)]);
            Ok(())
        })
    }

    /// Leaves `room` (default: the current room), giving `reason` if any.
    /// Returns the room left.
    pub(crate) fn leave(
        &self,
        session: &Session,
        room: Option<&str>,
        reason: Option<&str>,
    ) -> Result<String, ChatError> {
        let reason = reason.map(str::to_string);
        self.with_state(|state| {
            let client = state.client(session)?;
            let (key, name) = (name_key(&client.name), client.name.clone());
            let room = client.pick_room(room)?;
            let via = client.frontend;
            if let Some(i) = client.rooms.iter().position(|r| *r == room) {
                client.rooms.remove(i);
            }
            let heir = state.leave_room(&room, &key);
            let you_left = Event::YouLeft {
                room: room.clone(),
                reason: reason.clone(),
            };
            state.write(&key, &you_left);
            let left = Event::Left {
                room: room.clone(),
                name,
                via,
                how: Leaving::Parted,
                reason,
            };
            state.announce(&room, &left);
            state.succeed(&room, heir);
            Ok(room)
        })
    }

    /// Renames a session, if `new` is free and `allowed(new)` (checked under
    /// the lock, as in [`enter`](Self::enter)). Everyone who shares a
    /// room with it is told once.
    pub(crate) fn rename(
        &self,
        session: &mut Session,
        new: &str,
        allowed: impl FnOnce(&str) -> bool,
    ) -> Result<(), ChatError> {
        protocol::validate_name(new)?;
        self.with_state(|state| {
            let old_key = name_key(&state.client(session)?.name);
            state.rename(&old_key, new, allowed)
        })?;
        session.name = new.to_string();
        Ok(())
    }

    /// Renames whoever is online as `old` (the console's `/rename`), as in
    /// [`rename`](Self::rename). Ok(false) if nobody is online as `old`.
    /// Their handler's [`Session`] keeps the old name until it calls
    /// [`refresh`](Self::refresh): sessions are known by their id.
    pub(crate) fn rename_online(
        &self,
        old: &str,
        new: &str,
        allowed: impl FnOnce(&str) -> bool,
    ) -> Result<bool, ChatError> {
        protocol::validate_name(new)?;
        self.with_state(|state| {
            let old_key = name_key(old);
            if !state.clients.contains_key(&old_key) {
                return Ok(false);
            }
            state.rename(&old_key, new, allowed)?;
            Ok(true)
        })
    }

    /// Brings a session's name up to date (the operator may have renamed
    /// it), before a command that uses the name outside the registry.
    pub(crate) fn refresh(&self, session: &mut Session) -> Result<(), ChatError> {
        let name =
            self.with_state(|state| Ok::<_, ChatError>(state.client(session)?.name.clone()))?;
        session.name = name;
        Ok(())
    }

    /// `/history`: the last `count` messages of `room` (default: the
    /// current room), which the session must be in, as a replay. The
    /// membership is checked under the lock; the log is read after it is
    /// released, holding no lock that delivery needs (see
    /// [`History::read_back`]).
    pub(crate) fn history(
        &self,
        session: &Session,
        room: Option<&str>,
        count: usize,
    ) -> Result<Event, ChatError> {
        let room = self.with_state(|state| state.client(session)?.pick_room(room))?;
        let messages = self.history.read_back(&room, count);
        if messages.is_empty() {
            return Err(ChatError::NoHistory(room));
        }
        Ok(Event::Replay { room, messages })
    }

    /// Shows (`text: None`) or sets the topic of `room` (default: the
    /// current room). Setting needs membership; everyone in the room, the
    /// setter too, is told. An empty text clears the topic.
    pub(crate) fn topic(
        &self,
        session: &Session,
        room: Option<&str>,
        text: Option<&str>,
    ) -> Result<(), ChatError> {
        self.with_state(|state| {
            // The name as the registry knows it now (the operator may have
            // renamed this session since it last spoke).
            let client = state.client(session)?;
            let (key, name, via) = (name_key(&client.name), client.name.clone(), client.frontend);
            let picked = client.pick_room(room);
            let room = match (room, text) {
                (Some(room), None) if state.rooms.members(room).is_some() => room.to_string(),
                (Some(room), None) => return Err(ChatError::NoSuchRoom(room.to_string())),
                _ => picked?,
            };
            let Some(text) = text else {
                let topic = state.rooms.topic(&room).cloned();
                state.write(&key, &Event::Topic { room, topic });
                return Ok(());
            };
            if state.rooms.topic_locked(&room) && !state.rooms.is_operator(&room, &key) {
                return Err(ChatError::NotOperator(room));
            }
            let topic = Some(Topic {
                text: text.to_string(),
                by: name.clone(),
                at: clock::unix_secs(),
            });
            state
                .rooms
                .set_topic(&room, topic.filter(|t| !t.text.is_empty()));
            let set = Event::TopicSet {
                room: room.clone(),
                name: name.clone(),
                via,
                text: text.to_string(),
            };
            state.write_room(&room, None, &set);
            Ok(())
        })
    }

    /// Marks a session away with a reason, or back (`None`).
    pub(crate) fn set_away(&self, session: &Session, away: Option<&str>) -> Result<(), ChatError> {
        self.with_state(|state| {
            state.client(session)?.away = away.map(str::to_string);
            Ok(())
        })
    }

    /// Records the user name and real name an IRC client gave.
    pub(crate) fn set_user(
        &self,
        session: &Session,
        username: &str,
        realname: &str,
    ) -> Result<(), ChatError> {
        self.with_state(|state| {
            state.client(session)?.user = Some((username.to_string(), realname.to_string()));
            Ok(())
        })
    }

    /// `/ignore name`: stops delivering `name`'s messages, actions and
    /// direct messages to this session. The ignored person is not told.
    pub(crate) fn ignore(&self, session: &Session, name: &str) -> Result<Event, ChatError> {
        protocol::validate_name(name)?;
        let key = name_key(name);
        self.with_state(|state| {
            let client = state.client(session)?;
            if name_key(&client.name) == key {
                return Err(ChatError::IgnoreSelf);
            }
            if client.ignoring.len() >= MAX_IGNORED && !client.ignoring.contains_key(&key) {
                return Err(ChatError::IgnoringTooMany(MAX_IGNORED));
            }
            // The name as its owner spells it, if they are online.
            let spelled = state
                .clients
                .get(&key)
                .map_or(name, |c| &c.name)
                .to_string();
            let client = state.client(session)?;
            client.ignoring.insert(key, spelled.clone());
            Ok(Event::Notice(format!("ignoring {spelled}")))
        })
    }

    /// `/unignore name`: delivers `name`'s lines to this session again.
    pub(crate) fn unignore(&self, session: &Session, name: &str) -> Result<Event, ChatError> {
        self.with_state(|state| {
            let client = state.client(session)?;
            match client.ignoring.remove(&name_key(name)) {
                Some(spelled) => Ok(Event::Notice(format!("no longer ignoring {spelled}"))),
                None => Err(ChatError::NotIgnoring(name.to_string())),
            }
        })
    }

    /// `/ignore` alone: whom this session ignores, sorted ignoring case.
    pub(crate) fn ignored(&self, session: &Session) -> Result<Event, ChatError> {
        let names = self.ignoring(session)?;
        Ok(Event::Notice(match names.is_empty() {
            true => "ignoring nobody".to_string(),
            false => format!("ignoring: {}", names.join(", ")),
        }))
    }

    /// Whom this session ignores, as spelled, sorted ignoring case: a copy,
    /// for the account to keep (written after the lock is released).
    pub(crate) fn ignoring(&self, session: &Session) -> Result<Vec<String>, ChatError> {
        self.with_state(|state| Ok(state.client(session)?.ignoring.values().cloned().collect()))
    }

    /// The rooms this session is in, in the order joined.
    pub(crate) fn rooms_of(&self, session: &Session) -> Result<Vec<String>, ChatError> {
        self.with_state(|state| Ok(state.client(session)?.rooms.clone()))
    }

    /// Someone online, by name (ignoring case).
    pub(crate) fn person(&self, name: &str) -> Option<Person> {
        self.with_state(|state| {
            let client = state.clients.get(&name_key(name))?;
            Some(Person::of(client, &state.rooms))
        })
    }

    /// The members of `room`, sorted ignoring case.
    pub(crate) fn people_in(&self, room: &str) -> Result<Vec<Person>, ChatError> {
        self.with_state(|state| {
            let members = state
                .rooms
                .members(room)
                .ok_or_else(|| ChatError::NoSuchRoom(room.to_string()))?;
            Ok(members
                .keys()
                .filter_map(|key| state.clients.get(key))
                .map(|client| Person::of(client, &state.rooms))
                .collect())
        })
    }

    /// Every room with its member count and topic, sorted by name.
    pub(crate) fn listing(&self) -> Vec<Listing> {
        self.with_state(|state| {
            state
                .rooms
                .list()
                .map(|(room, members)| Listing {
                    room: room.to_string(),
                    members,
                    topic: state.rooms.topic(room).cloned(),
                })
                .collect()
        })
    }

    /// How many clients are online, the most there ever were at once, and
    /// how many rooms exist (IRC's `LUSERS`).
    pub(crate) fn population(&self) -> (usize, usize, usize) {
        self.with_state(|s| (s.clients.len(), s.max_online, s.rooms.count()))
    }

    /// Everyone online whose name matches an IRC mask (`*` and `?` as
    /// wildcards, ignoring case).
    pub(crate) fn people_matching(&self, mask: &str) -> Vec<Person> {
        let mask = name_key(mask);
        self.with_state(|state| {
            let mut people: Vec<(&String, Person)> = state
                .clients
                .iter()
                .filter(|(key, _)| wildcard(&mask, key))
                .map(|(key, client)| (key, Person::of(client, &state.rooms)))
                .collect();
            people.sort_unstable_by(|a, b| a.0.cmp(b.0));
            people.into_iter().map(|(_, person)| person).collect()
        })
    }

    /// Whether someone is online under `name` (ignoring case).
    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.with_state(|state| state.clients.contains_key(&name_key(name)))
    }

    /// The 50 biggest rooms with their member counts, sorted by name, and
    /// how many more there are.
    pub(crate) fn rooms(&self) -> Event {
        let (rooms, more) = self.with_state(|state| state.rooms.biggest(LIST_ROOMS));
        Event::Rooms { rooms, more }
    }

    /// Who is online, or who is in `room`: the first 100 names ignoring
    /// case, and how many more there are.
    pub(crate) fn users(&self, room: Option<&str>) -> Result<Event, ChatError> {
        let (names, more) = self.with_state(|state| {
            let mut names: Vec<(String, &str)> = match room {
                None => state
                    .clients
                    .iter()
                    .map(|(key, c)| (key.clone(), c.name.as_str()))
                    .collect(),
                Some(room) => state
                    .rooms
                    .members(room)
                    .ok_or_else(|| ChatError::NoSuchRoom(room.to_string()))?
                    .keys()
                    .filter_map(|key| state.clients.get_key_value(key))
                    .map(|(key, c)| (key.clone(), c.name.as_str()))
                    .collect(),
            };
            let more = names.len().saturating_sub(LIST_USERS);
            if more > 0 {
                names.select_nth_unstable_by(LIST_USERS, |a, b| a.0.cmp(&b.0));
                names.truncate(LIST_USERS);
            }
            names.sort_unstable(); // keys are unique: stability buys nothing
            let names = names.into_iter().map(|(key, name)| Member {
                name: name.to_string(),
                operator: room.is_some_and(|room| state.rooms.is_operator(room, &key)),
                voiced: room.is_some_and(|room| state.rooms.is_voiced(room, &key)),
            });
            Ok::<_, ChatError>((names.collect(), more))
        })?;
        Ok(Event::Users {
            room: room.map(str::to_string),
            names,
            more,
        })
    }

    /// Tells every online client (the console's `/say`, the shutdown
    /// notice).
    pub(crate) fn broadcast(&self, event: &Event) {
        self.with_state(|state| {
            let keys: BTreeSet<String> = state.clients.keys().cloned().collect();
            state.write_each(&keys, event);
        });
    }

    /// Disconnects `name` with a notice; its rooms are told it left
    /// (kicked).
    pub(crate) fn kick(&self, name: &str, reason: Option<&str>) -> Result<(), ChatError> {
        let key = name_key(name);
        let kicked = Event::Kicked {
            reason: reason.map(str::to_string),
        };
        let why = match reason {
            Some(reason) => format!("Kicked by the operator: {reason}"),
            None => "Kicked by the operator".to_string(),
        };
        self.with_state(|state| {
            if !state.clients.contains_key(&key) {
                return Err(ChatError::NotOnline(name.to_string()));
            }
            state.kick_out(&key, &kicked, &why);
            Ok(())
        })
    }

    /// Disconnects everyone online whom `banned(name, ip)` picks (the
    /// console's `/ban`), each told `kicked` first; their rooms see them
    /// leave, kicked, and IRC neighbours see `reason`. Returns their names.
    pub(crate) fn kick_where(
        &self,
        banned: impl Fn(&str, IpAddr) -> bool,
        kicked: &Event,
        reason: &str,
    ) -> Vec<String> {
        self.with_state(|state| {
            let picked: Vec<(String, String)> = state
                .clients
                .iter()
                .filter(|(_, client)| banned(&client.name, client.addr.ip()))
                .map(|(key, client)| (key.clone(), client.name.clone()))
                .collect();
            for (key, _) in &picked {
                state.kick_out(key, kicked, reason);
            }
            let mut names: Vec<String> = picked.into_iter().map(|(_, name)| name).collect();
            names.sort_by_cached_key(|name| name_key(name));
            names
        })
    }

    /// How many are online on each frontend, how many rooms there are, and
    /// how many messages were said since the start.
    pub(crate) fn counts(&self) -> Counts {
        self.with_state(|state| {
            let on = |frontend| {
                let clients = state.clients.values();
                clients.filter(|c| c.frontend == frontend).count()
            };
            Counts {
                terminals: on(Frontend::Terminal),
                browsers: on(Frontend::Web),
                irc: on(Frontend::Irc),
                rooms: state.rooms.count(),
                messages: state.messages,
            }
        })
    }

    /// Forces the chat log to disk.
    pub(crate) fn flush_history(&self) {
        if let Err(e) = self.history.flush() {
            log!("cannot flush the history file: {e}");
        }
    }
}

impl State {
    /// Puts someone coming online in `room`, after telling its members.
    #[inline(never)] // see `admit`
    fn arrive(&mut self, room: &str, (key, name): (&str, &str), via: Frontend) {
        let joined = Event::Joined {
            room: room.to_string(),
            name: name.to_string(),
            via,
        };
        self.announce(room, &joined);
        self.join_room(room, key);
    }

    /// Adds the client of a login to the client map.
    // Out of line, like `take_over`: the `Client` it builds and moves into
    // the map would otherwise take room in `enter`'s stack frame, on every
    // login's path (see BENCHMARKS.md, "10 000 idle clients").
    #[inline(never)]
    fn admit(
        &mut self,
        key: String,
        (id, name, addr): (ConnId, &str, SocketAddr),
        connection: (Frontend, Arc<Outbox>),
        rooms: Vec<String>,
        ignoring: &[String],
    ) {
        self.by_id.insert(id, key.clone());
        // Built where it is stored (the name is free: `enter` checked).
        let client = (self.clients.entry(key))
            .or_insert_with(|| Client::new(id, name, addr, connection, rooms));
        if !ignoring.is_empty() {
            client.ignoring = ignore_list(ignoring, &name_key(name));
        }
        self.max_online = self.max_online.max(self.clients.len());
    }

    /// Puts out the session online as `key`, whose owner logged in from
    /// elsewhere.
    // Out of line: a rare path whose frame would otherwise be part of every
    // login's, and the deepest login frame decides how many pages of stack
    // each idle client's thread keeps (see BENCHMARKS.md).
    #[inline(never)]
    fn take_over(&mut self, key: &str) {
        let elsewhere = Event::Notice("logged in from elsewhere".to_string());
        self.write(key, &elsewhere);
        self.evict(key, Leaving::Quit, "logged in from elsewhere");
    }

    /// The next event's number.
    fn number(&mut self) -> EventId {
        self.last_event += 1;
        self.last_event
    }

    /// The client of this session, if it is still online: found by its
    /// connection id, so a session the operator renamed is still itself.
    fn client(&mut self, session: &Session) -> Result<&mut Client, ChatError> {
        let key = self.by_id.get(&session.id).ok_or(ChatError::Gone)?;
        match self.clients.get_mut(key) {
            Some(client) if client.id == session.id => Ok(client),
            _ => Err(ChatError::Gone),
        }
    }

    /// Renames the online client `old_key` to `new`, if `new` is free and
    /// `allowed(new)`. It is told, and so is everyone who shares a room
    /// with it, once.
    fn rename(
        &mut self,
        old_key: &str,
        new: &str,
        allowed: impl FnOnce(&str) -> bool,
    ) -> Result<(), ChatError> {
        let new_key = name_key(new);
        if new_key != old_key && self.clients.contains_key(&new_key) {
            return Err(ChatError::Taken(new.to_string()));
        }
        if !allowed(new) {
            return Err(ChatError::Registered(new.to_string()));
        }
        let Some(mut client) = self.clients.remove(old_key) else {
            return Err(ChatError::Gone);
        };
        let old = mem::replace(&mut client.name, new.to_string());
        let renamed = Event::Renamed {
            old: old.clone(),
            new: new.to_string(),
            via: client.frontend,
        };
        self.rooms.rename(&client.rooms, old_key, &new_key);
        // Whoever ignored the old name ignores the new one: a rename is no
        // way around `/ignore`.
        for other in self.clients.values_mut() {
            if other.ignoring.remove(old_key).is_some() {
                other.ignoring.insert(new_key.clone(), new.to_string());
            }
        }
        let neighbours = self.neighbours(&client.rooms, &new_key, false);
        self.by_id.insert(client.id, new_key.clone());
        self.clients.insert(new_key.clone(), client);
        let now_known_as = Event::NowKnownAs {
            old,
            new: new.to_string(),
        };
        self.write(&new_key, &now_known_as);
        self.echo(&renamed);
        self.write_each(&neighbours, &renamed);
        Ok(())
    }

    /// Queues an event to one client, rendered for it alone (a reply may
    /// name its recipient). If its outbox refuses it (the client is too far
    /// behind), it is removed before the lock is released.
    fn write(&mut self, key: &str, event: &Event) {
        self.write_all(key, std::slice::from_ref(event));
    }

    /// Queues several events to one client in one push, so they stay
    /// together (a reply and its replay).
    fn write_all(&mut self, key: &str, events: &[Event]) {
        let first = self.last_event + 1;
        self.last_event += events.len() as EventId;
        if let Some(client) = self.clients.get(key) {
            let to = Recipient::new(&self.server_name, &client.name);
            let bytes: Vec<u8> = (first..)
                .zip(events)
                .flat_map(|(id, event)| client.frontend.render(event, to, id))
                .collect();
            queue(client, key, &bytes, &mut self.dead, &mut self.to_schedule);
        }
    }

    /// Queues one event to each of `keys`: rendered once per frontend kind,
    /// then copied into each outbox.
    fn write_each(&mut self, keys: &BTreeSet<String>, event: &Event) {
        let id = self.number();
        let mut renderings = Renderings::new(event, id, &self.server_name);
        for key in keys {
            if let Some(client) = self.clients.get(key) {
                let bytes = renderings.bytes(client.frontend);
                queue(client, key, bytes, &mut self.dead, &mut self.to_schedule);
            }
        }
    }

    /// Everyone who shares one of `rooms` with `key` (not `key` itself),
    /// each once; with `announced_only`, only in rooms small enough to be
    /// told of comings and goings (see [`announce`](Self::announce)).
    fn neighbours(&self, rooms: &[String], key: &str, announced_only: bool) -> BTreeSet<String> {
        rooms
            .iter()
            .filter_map(|room| self.rooms.members(room))
            .filter(|members| !announced_only || self.announced(members.len()))
            .flat_map(|members| members.keys())
            .filter(|member| *member != key)
            .cloned()
            .collect()
    }

    /// The members of `room`, names as spelled, sorted by key.
    fn names(&self, room: &str) -> Vec<Member> {
        self.rooms.members(room).map_or_else(Vec::new, |members| {
            members
                .keys()
                .filter_map(|key| Some((key, self.clients.get(key)?)))
                .map(|(key, c)| Member {
                    name: c.name.clone(),
                    operator: self.rooms.is_operator(room, key),
                    voiced: self.rooms.is_voiced(room, key),
                })
                .collect()
        })
    }

    /// Whether a room of `members` is told of joins and leaves.
    fn announced(&self, members: usize) -> bool {
        let max = self.limits.announce_max_members;
        max == 0 || members <= max
    }

    /// Sends a join or leave notice to `room`, unless the room is bigger
    /// than `announce_max_members` (0: no limit). In a room of thousands,
    /// announcing every arrival would cost each arrival a line to every
    /// member: a crowd of N joining sends N²/2 notices, which swamps the
    /// server and buries the conversation. Big rooms stay quiet; `/users
    /// room` still tells who is there.
    fn announce(&mut self, room: &str, event: &Event) {
        let members = self.rooms.members(room).map_or(0, |m| m.len());
        if self.announced(members) {
            self.write_room(room, None, event);
        }
    }

    /// Queues an event to every member of `room`, except `except`: rendered
    /// once per frontend kind, then copied into each outbox. The operator
    /// sees it too, in every room, even one that has just emptied.
    fn write_room(&mut self, room: &str, except: Option<&str>, event: &Event) {
        let id = self.number();
        let mut renderings = Renderings::new(event, id, &self.server_name);
        self.echo_rendered(&mut renderings);
        let Some(members) = self.rooms.members(room) else {
            return;
        };
        let sender = event.sender();
        for key in members.keys() {
            if Some(key.as_str()) == except {
                continue;
            }
            if let Some(client) = self.clients.get(key) {
                if client.ignores(sender) {
                    continue;
                }
                let bytes = renderings.bytes(client.frontend);
                queue(client, key, bytes, &mut self.dead, &mut self.to_schedule);
            }
        }
    }

    /// Adds a member to a room, noting a room that comes into use (the
    /// chat log keeps its replay).
    fn join_room(&mut self, room: &str, key: &str) {
        if self.rooms.members(room).is_none() {
            self.room_changes.push((room.to_string(), RoomUse::InUse));
        }
        self.rooms.join(room, key);
    }

    /// Removes a member from a room, noting a room that empties (the chat
    /// log may forget its replay: see `History`). Returns the key of the
    /// member who became the room's operator because the last one left:
    /// the caller tells the room with [`succeed`](Self::succeed) once it
    /// has told it who left.
    fn leave_room(&mut self, room: &str, key: &str) -> Option<String> {
        let heir = self.rooms.leave(room, key);
        if self.rooms.members(room).is_none() {
            self.room_changes.push((room.to_string(), RoomUse::Emptied));
        }
        heir
    }

    /// Tells `room` that `heir` (a key) is now its operator, made so by
    /// the server because the last operator left.
    fn succeed(&mut self, room: &str, heir: Option<String>) {
        let Some(name) = heir.and_then(|key| Some(self.clients.get(&key)?.name.clone())) else {
            return;
        };
        self.tell_room(room, None, RoomChange::Operator { name, on: true });
    }

    /// Shows an event on the operator's console, in the terminal's format
    /// (never waits: see [`Feed`]).
    fn echo(&self, event: &Event) {
        // The console shows terminal lines, which carry no number.
        self.echo_rendered(&mut Renderings::new(event, 0, &self.server_name));
    }

    /// [`echo`](Self::echo), with the terminal form made (or reused) by
    /// `renderings`.
    fn echo_rendered(&self, renderings: &mut Renderings) {
        if let Some(feed) = &self.console {
            let bytes = renderings.bytes(Frontend::Terminal);
            feed.chat(&String::from_utf8_lossy(bytes));
        }
    }

    /// Removes a client and tells its rooms it left: a `Left` per room
    /// (what a terminal shows), then one `Quit` to each neighbour (what an
    /// IRC client shows).
    fn remove(&mut self, key: &str, how: Leaving, reason: &str) -> Option<Client> {
        let neighbours = match self.clients.get(key) {
            Some(client) => self.neighbours(&client.rooms, key, true),
            None => return None,
        };
        let client = self.clients.remove(key)?;
        self.by_id.remove(&client.id);
        let via = client.frontend;
        let mut heirs = Vec::new();
        for room in &client.rooms {
            heirs.push((room, self.leave_room(room, key)));
            let left = Event::Left {
                room: room.clone(),
                name: client.name.clone(),
                via,
                how,
                reason: None,
            };
            self.announce(room, &left);
        }
        let quit = Event::Quit {
            name: client.name.clone(),
            via,
            reason: reason.to_string(),
        };
        self.write_each(&neighbours, &quit);
        // The new operators once everyone has been told who left.
        for (room, heir) in heirs {
            self.succeed(room, heir);
        }
        Some(client)
    }

    /// Removes a client that its own handler did not ask to remove, and
    /// closes its connection once what is queued for it has been sent: the
    /// handler's blocked read then returns, and the handler ends (its later
    /// calls here get `Gone`).
    fn evict(&mut self, key: &str, how: Leaving, reason: &str) {
        if let Some(client) = self.remove(key, how, reason) {
            client.outbox.close_after_flush(Shutdown::Both);
        }
    }

    /// Tells a client why it is put out, then removes it (kicked).
    fn kick_out(&mut self, key: &str, kicked: &Event, reason: &str) {
        self.write(key, kicked);
        self.evict(key, Leaving::Kicked, reason);
    }

    /// Removes the clients whose outbox refused a line. Telling their rooms
    /// may overflow more outboxes; the loop ends because each turn removes a
    /// client (or finds it already gone).
    #[inline(never)] // rare: see `Registry::settle`
    fn reap(&mut self) {
        while let Some(key) = self.dead.pop() {
            if let Some(client) = self.clients.get(&key) {
                self.notes.push(format!(
                    "client {} ({}) dropped: not reading (send queue full or write failed)",
                    client.addr, client.name
                ));
            }
            self.evict(&key, Leaving::Quit, "Connection closed: not reading");
        }
    }
}

/// Writes the notes of an operation to the activity log, once the lock
/// is released.
#[inline(never)] // rare: see `Registry::settle`
fn log_notes(notes: Vec<String>) {
    for note in notes {
        log!("{note}");
    }
}

/// Whether `text` matches `mask`, where `*` is any run of characters and
/// `?` any one.
fn wildcard(mask: &str, text: &str) -> bool {
    let (mask, text): (Vec<char>, Vec<char>) = (mask.chars().collect(), text.chars().collect());
    // The classic backtracking matcher: remember the last `*` and retry
    // from one character further when a later part fails.
    let (mut m, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if m < mask.len() && (mask[m] == '?' || mask[m] == text[t]) {
            m += 1;
            t += 1;
        } else if m < mask.len() && mask[m] == '*' {
            star = Some(m);
            mark = t;
            m += 1;
        } else if let Some(s) = star {
            m = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    mask[m..].iter().all(|c| *c == '*')
}

/// Queues `bytes` in `client`'s outbox; notes the outbox for scheduling if
/// it was idle, or the client for removal if the outbox refused.
fn queue(
    client: &Client,
    key: &str,
    bytes: &[u8],
    dead: &mut Vec<String>,
    to_schedule: &mut Vec<Arc<Outbox>>,
) {
    if bytes.is_empty() {
        return; // an event this client's frontend does not show
    }
    match client.outbox.push(bytes) {
        Ok(true) => to_schedule.push(Arc::clone(&client.outbox)),
        Ok(false) => {}
        Err(Closed) => dead.push(key.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::panic::{self, AssertUnwindSafe};
    use std::path::PathBuf;
    use std::time::Duration;

    const LIMITS: Limits = Limits {
        announce_max_members: 100,
        max_rooms_per_client: 3,
        max_rooms: 4,
    };

    /// A registry with a history file in a fresh temp dir, removed on drop.
    struct Fixture {
        registry: Registry,
        dir: PathBuf,
        listener: TcpListener,
        next_id: ConnId,
    }

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir =
                std::env::temp_dir().join(format!("lanchat-registry-{tag}-{}", std::process::id()));
            let (history, _) = History::open(&dir.join("history.log"), 5, 0).expect("history");
            let (writers, _threads) = Writers::start(1).expect("writers");
            Fixture {
                registry: Registry::new(history, writers, ("general", "lanchat.local"), LIMITS),
                dir,
                listener: TcpListener::bind("127.0.0.1:0").expect("bind"),
                next_id: 1,
            }
        }

        /// Registers `name` over a real loopback connection; returns the
        /// session and the client's end, to read what it is sent.
        fn join(&mut self, name: &str) -> (Session, BufReader<TcpStream>) {
            let addr = self.listener.local_addr().expect("addr");
            let client = TcpStream::connect(addr).expect("connect");
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let (server_side, peer) = self.listener.accept().expect("accept");
            let outbox = Outbox::new(Arc::new(server_side), 1 << 20, Duration::from_secs(5));
            let id = self.next_id;
            self.next_id += 1;
            let session = self
                .registry
                .enter(
                    name,
                    id,
                    peer,
                    (Frontend::Terminal, outbox),
                    (Claim::IfFree, &[]),
                    |_| true,
                )
                .expect("enter");
            let mut reader = BufReader::new(client);
            let mut hello = String::new();
            reader.read_line(&mut hello).expect("hello");
            assert!(hello.starts_with(&format!("* Hello {name}!")), "{hello:?}");
            (session, reader)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn next_line(reader: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a line");
        line
    }

    #[test]
    fn wildcards_match_as_irc_masks_do() {
        assert!(wildcard("*", "alice"));
        assert!(wildcard("al*", "alice"));
        assert!(wildcard("a?ice", "alice"));
        assert!(wildcard("*i*e", "alice"));
        assert!(!wildcard("al", "alice"));
        assert!(!wildcard("b*", "alice"));
        assert!(wildcard("alice", "alice"));
    }

    #[test]
    fn a_panic_under_the_lock_does_not_stop_the_registry() {
        let mut fixture = Fixture::new("poison");
        let (alice, mut alice_reader) = fixture.join("alice");
        let (_bob, mut bob_reader) = fixture.join("bob");
        assert_eq!(next_line(&mut alice_reader), "* bob joined #general\n");

        // A bug that panics while holding the lock poisons the mutex...
        let registry = &fixture.registry;
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            registry.with_state(|_| panic!("a bug in some operation"));
        }));
        assert!(result.is_err());
        assert!(registry.state.is_poisoned());

        // ...and the registry goes on: messages flow, and the panicking
        // client's clean-up (its guard takes it offline) frees its name.
        registry
            .say(&alice, None, "still here", Style::Plain)
            .expect("say");
        assert_eq!(next_line(&mut bob_reader), "[#general] alice: still here\n");
        registry.depart(&alice, "Quit");
        assert_eq!(next_line(&mut bob_reader), "* alice left #general\n");
        assert!(!registry.is_online("alice"));
        let (_alice_again, _reader) = fixture.join("alice");
    }

    #[test]
    fn an_old_connection_cannot_take_a_new_owner_of_its_name_offline() {
        let mut fixture = Fixture::new("reuse");
        let (old, _old_reader) = fixture.join("alice");
        let registry = &fixture.registry;
        registry.depart(&old, "Quit");
        let (_new, _new_reader) = fixture.join("alice");
        // The old connection's guard runs late (say, after a panic) with
        // the same name but its own id: the new alice stays.
        fixture.registry.depart(&old, "Quit");
        assert!(fixture.registry.is_online("alice"));
        assert_eq!(
            fixture.registry.say(&old, None, "ghost", Style::Plain),
            Err(ChatError::Gone)
        );
    }
}
