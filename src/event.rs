//! What happens in the chat, as values: the one vocabulary every protocol
//! renders.
//!
//! The registry decides *what* happens (alice said hi in #general, bob left)
//! and hands each recipient an [`Event`]. It never builds a wire line itself:
//! each connection has a [`Frontend`](crate::frontend::Frontend) that turns
//! an event into its own wire format (a terminal line, a Server-Sent Event
//! for a browser). A new protocol is then one new renderer, not edits to
//! every place that sends something.
//!
//! Events are plain data with no behaviour, so this module depends on
//! nothing else in the crate.

/// One room message or action (`/me`), live or replayed from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) room: String,
    pub(crate) from: String,
    pub(crate) text: String,
    /// An action (`/me waves`) rather than a message.
    pub(crate) action: bool,
}

/// Something a client is told.
///
/// The first group is chat traffic, usually sent to many clients at once;
/// the second is replies to one client about its own request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A message or action in a room.
    Said(Message),
    /// A direct message to the recipient.
    Direct { from: String, text: String },
    /// `name` joined `room`.
    Joined { room: String, name: String },
    /// `name` left `room`, by choice or because the operator kicked them.
    Left {
        room: String,
        name: String,
        kicked: bool,
    },
    /// Someone the recipient shares a room with changed their name.
    Renamed { old: String, new: String },
    /// The operator said something to everyone (the console's `/say`).
    ServerSaid(String),
    /// The server is about to close every connection.
    ShuttingDown,

    /// The first thing a client hears after logging in.
    Hello { name: String, room: String },
    /// The last messages of a room, for someone who just joined it
    /// (nothing at all when there are none).
    Replay {
        room: String,
        messages: Vec<Message>,
    },
    /// The recipient joined `room`.
    YouJoined(String),
    /// The recipient was already in `room`; it is now their current room.
    NowTalkingIn(String),
    /// The recipient left `room`.
    YouLeft(String),
    /// The recipient's new name.
    NowKnownAs(String),
    /// The biggest rooms and how many members each has, sorted by name,
    /// and how many more rooms there are.
    Rooms {
        rooms: Vec<(String, usize)>,
        more: usize,
    },
    /// Who is online (`room: None`) or in a room, sorted ignoring case, and
    /// how many more there are.
    Users {
        room: Option<String>,
        names: Vec<String>,
        more: usize,
    },
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
