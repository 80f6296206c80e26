//! What happens in the chat, as values: the one vocabulary every protocol
//! renders.
//!
//! The registry decides *what* happens (alice said hi in #general, bob left)
//! and hands each recipient an [`Event`]. It never builds a wire line itself:
//! each connection has a [`Frontend`] that turns an event into its own wire
//! format (a terminal line, a Server-Sent Event for a browser, an IRC
//! message). A new protocol is then one new renderer, not edits to every
//! place that sends something.
//!
//! Events are plain data with no behaviour, so this module depends on
//! nothing else in the crate. They carry a little more than any one
//! protocol shows: the way a sender came in ([`Frontend`]) is invisible on a
//! terminal but is the host part of an IRC prefix (`alice!alice@terminal`),
//! and a departure is one line per room for a terminal but one `QUIT` for
//! an IRC client.

/// How a connection's events are put on the wire, chosen by the listener it
/// came in on. It is also the sender's "way in" that IRC users see in a
/// prefix ([`Frontend::cloak`]); how each kind renders is in
/// [`frontend`](crate::frontend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frontend {
    /// The line protocol of `docs/PROTOCOL.md`.
    Terminal,
    /// The web page: the same lines, as Server-Sent Events.
    Web,
    /// An IRC client (see [`irc`](crate::irc)).
    Irc,
}

impl Frontend {
    /// The host part of this user's IRC prefix: it names the way in and
    /// never an address.
    pub(crate) fn cloak(self) -> &'static str {
        match self {
            Frontend::Terminal => "terminal",
            Frontend::Web => "web",
            Frontend::Irc => "irc",
        }
    }
}

/// One room message or action (`/me`), live or replayed from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) room: String,
    pub(crate) from: String,
    pub(crate) text: String,
    /// An action (`/me waves`) rather than a message.
    pub(crate) action: bool,
    /// When it was said, as RFC 3339 text (shown in an IRC replay).
    pub(crate) time: String,
}

/// How a message is said. A terminal shows a notice like a message; an
/// IRC client gets a `NOTICE`, which no program answers automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    /// `/me waves` (IRC's CTCP ACTION).
    Action,
    /// IRC's `NOTICE`.
    Notice,
}

/// A room's topic and who set it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topic {
    pub(crate) text: String,
    pub(crate) by: String,
    /// Seconds since the Unix epoch.
    pub(crate) at: u64,
}

/// Why someone left a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaving {
    /// They left this room only (`/leave`, IRC `PART`).
    Parted,
    /// They left the chat (quit, disconnected, dropped for not reading).
    Quit,
    /// The operator removed them from the server.
    Kicked,
}

/// A room member as a member list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) name: String,
    /// An operator of the room (`@alice`).
    pub(crate) operator: bool,
    /// Voiced: may speak when the room is moderated (`+bob`).
    pub(crate) voiced: bool,
}

impl Member {
    /// A member who is not voiced, for tests of member lists.
    #[cfg(test)]
    pub(crate) fn test(name: &str, operator: bool) -> Member {
        Member {
            name: name.into(),
            operator,
            voiced: false,
        }
    }

    /// `@` for an operator, `+` for a voiced member, or nothing: the mark
    /// before a name in a member list, on a terminal as on IRC.
    pub(crate) fn mark(&self) -> &'static str {
        match (self.operator, self.voiced) {
            (true, _) => "@",
            (false, true) => "+",
            (false, false) => "",
        }
    }
}

/// Who changed something in a room: a member (with the way they came in,
/// for an IRC prefix), or `None` for the server itself, which makes the
/// longest-present member an operator when the last one leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub(crate) name: String,
    pub(crate) via: Frontend,
}

/// What an operator changed in a room: IRC's channel modes `o`, `v`, `b`,
/// `t` and `m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoomChange {
    /// `name` was made an operator (`true`) or is one no longer.
    Operator { name: String, on: bool },
    /// `name` may speak in a moderated room (`true`), or no longer.
    Voice { name: String, on: bool },
    /// `name` was banned from the room (`true`) or may join again.
    Ban { name: String, on: bool },
    /// Only operators may set the topic (`true`), or anyone may.
    TopicLock(bool),
    /// Only operators and voiced members may speak (`true`), or anyone.
    Moderated(bool),
}

impl Event {
    /// Who said it, for the kinds of events a recipient may ignore
    /// (`/ignore`): room messages and actions, and direct messages.
    pub(crate) fn sender(&self) -> Option<&str> {
        match self {
            Event::Said { message, .. } => Some(&message.from),
            Event::Direct { from, .. } => Some(from),
            _ => None,
        }
    }
}

/// Something a client is told.
///
/// The first group is chat traffic, usually sent to many clients at once,
/// so it never depends on who receives it; the second is replies to one
/// client about its own request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A message or action in a room, from a sender who came in `via`.
    Said {
        message: Message,
        via: Frontend,
        /// Sent as an IRC `NOTICE`.
        notice: bool,
    },
    /// `name` joined `room`.
    Joined {
        room: String,
        name: String,
        via: Frontend,
    },
    /// `name` left `room` (with a reason, if they gave one: IRC `PART`).
    Left {
        room: String,
        name: String,
        via: Frontend,
        how: Leaving,
        reason: Option<String>,
    },
    /// Someone who shares a room with the recipient left the chat. Sent
    /// once per recipient, after the per-room [`Event::Left`]s: a terminal
    /// shows those, an IRC client this (one `QUIT`).
    Quit {
        name: String,
        via: Frontend,
        reason: String,
    },
    /// Someone the recipient shares a room with changed their name.
    Renamed {
        old: String,
        new: String,
        via: Frontend,
    },
    /// `name` set the topic of `room` (an empty text clears it).
    TopicSet {
        room: String,
        name: String,
        via: Frontend,
        text: String,
    },
    /// An operator (or the server) changed something in `room`.
    RoomChanged {
        room: String,
        by: Option<Actor>,
        change: RoomChange,
    },
    /// `name` was removed from `room` by its operator `by`, who gave
    /// `reason` (if any). Sent to the room, `name` included, before
    /// `name` leaves it.
    KickedFrom {
        room: String,
        name: String,
        by: Actor,
        reason: Option<String>,
    },
    /// The operator said something to everyone (the console's `/say`).
    ServerSaid(String),
    /// The server is about to close every connection.
    ShuttingDown,

    /// The first thing a client hears after logging in: in `room` unless
    /// its frontend picks its rooms itself; the counts are for an IRC
    /// welcome (`LUSERS`).
    Hello {
        name: String,
        room: Option<String>,
        online: usize,
        max_online: usize,
        rooms: usize,
        /// The welcome message (`motd`), a line each; empty for none.
        motd: Vec<String>,
    },
    /// A direct message to the recipient `to`.
    Direct {
        from: String,
        via: Frontend,
        to: String,
        text: String,
        style: Style,
    },
    /// The last messages of a room, for someone who just joined it
    /// (nothing at all when there are none).
    Replay {
        room: String,
        messages: Vec<Message>,
    },
    /// The recipient joined `room`; its topic and members (the recipient
    /// included) come along for the frontends that show them.
    YouJoined {
        room: String,
        topic: Option<Topic>,
        names: Vec<Member>,
    },
    /// The recipient was already in `room`; it is now their current room.
    NowTalkingIn(String),
    /// The recipient left `room` (with the reason it gave, if any).
    YouLeft {
        room: String,
        reason: Option<String>,
    },
    /// The recipient's new name.
    NowKnownAs { old: String, new: String },
    /// The topic of `room`, asked for.
    Topic { room: String, topic: Option<Topic> },
    /// The biggest rooms and how many members each has, sorted by name,
    /// and how many more rooms there are.
    Rooms {
        rooms: Vec<(String, usize)>,
        more: usize,
    },
    /// Who is online (`room: None`) or in a room, sorted ignoring case, and
    /// how many more there are. Operators are marked only in a room's list.
    Users {
        room: Option<String>,
        names: Vec<Member>,
        more: usize,
    },
    /// The names banned from `room`, as typed.
    RoomBans { room: String, names: Vec<String> },
    /// The list of commands.
    Help,
    /// The answer to quitting, just before the connection closes.
    Bye(String),
    /// The operator removed the recipient from the server.
    Kicked { reason: Option<String> },
    /// Any other reply (an account was created, a password changed).
    Notice(String),
    /// A request was refused; the text says why.
    Error(String),
}
