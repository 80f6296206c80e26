//! The console's feed: the chat, shown on the server's standard output,
//! without ever letting a slow stdout slow the chat down.
//!
//! The operator takes part in the chat from the console: they see every
//! room's messages, actions and join/leave notices, and the direct messages
//! sent to `server`. The registry hands each of those lines to the [`Feed`]
//! while it holds its lock, so handing one over must never wait. But stdout
//! may be a pipe that nobody reads (a service manager, a test that stopped
//! looking), and then a `write` blocks forever.
//!
//! So the feed is a **bounded queue with drop-and-count**, drained by a
//! thread of its own (`console output`, running [`print()`]): pushing is a
//! memory copy under a short lock; when the queue is full, the line is
//! dropped and counted, and once output flows again the printer says how
//! many were lost (`* (N lines not shown)`), in the place where they were
//! lost. A chat client would rather be dropped than miss lines (see
//! [`outbox`](crate::outbox)); for the operator's screen, losing lines and
//! saying so is the better trade: the console is never disconnected.
//!
//! The console's own replies go through the same queue, so they and the
//! echoed chat are printed in one order, each line whole. Replies are never
//! dropped: there is one per line the operator types.
//!
//! Why a sink the registry feeds, and not a pseudo-client in the client map
//! with a frontend of its own? The console is not a connection: it has no
//! name to log in with, joins no room yet sees all of them, cannot be
//! kicked, and must not show in `/users`. As a client, every one of those
//! would be an exception in the registry's code; as a sink, the registry
//! has one extra line where it delivers to a room, and one where a DM is
//! addressed to `server`. The lines it gets are the terminal's rendering
//! (already made for the room's terminals, so usually free).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Condvar, Mutex};

use crate::lock::{lock, wait};

/// Chat lines kept waiting for stdout before more are dropped.
pub(crate) const FEED_LINES: usize = 1000;

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Whole lines, each with its `\n`.
    Text(String),
    /// This many chat lines were dropped here, the queue being full.
    Gap(usize),
}

/// The queue itself: pure data, so its rules are unit-tested below.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    /// How many chat lines `items` holds (replies and gaps do not count).
    chat_lines: usize,
    capacity: usize,
}

impl Queue {
    fn new(capacity: usize) -> Queue {
        Queue {
            capacity,
            ..Queue::default()
        }
    }

    /// Queues chat lines, or counts them as dropped if the queue is full.
    fn push_chat(&mut self, text: &str) {
        let lines = text.lines().count();
        if self.chat_lines + lines > self.capacity {
            match self.items.back_mut() {
                Some(Item::Gap(dropped)) => *dropped += lines,
                _ => self.items.push_back(Item::Gap(lines)),
            }
            return;
        }
        self.chat_lines += lines;
        self.items.push_back(Item::Text(text.to_string()));
    }

    /// Queues a reply to the operator: never dropped.
    fn push_reply(&mut self, text: &str) {
        self.items.push_back(Item::Text(text.to_string()));
    }

    /// Everything queued, as the text to print, and the queue emptied.
    fn take(&mut self) -> String {
        self.chat_lines = 0;
        let mut out = String::new();
        for item in self.items.drain(..) {
            match item {
                Item::Text(text) => out.push_str(&text),
                Item::Gap(1) => out.push_str("* (1 line not shown)\n"),
                Item::Gap(n) => out.push_str(&format!("* ({n} lines not shown)\n")),
            }
        }
        out
    }
}

/// The queue between the chat (and the console's replies) and stdout.
pub(crate) struct Feed {
    /// Protects the queue. Held for a push or a take, never for a write.
    queue: Mutex<Queue>,
    /// Signalled when something is queued.
    ready: Condvar,
}

impl Feed {
    pub(crate) fn new(capacity: usize) -> Feed {
        Feed {
            queue: Mutex::new(Queue::new(capacity)),
            ready: Condvar::new(),
        }
    }

    /// Queues chat for the operator (whole lines); never waits. Dropped and
    /// counted if the printer is too far behind.
    pub(crate) fn chat(&self, text: &str) {
        let mut queue = lock(&self.queue, "console feed");
        // The printer waits only on an empty queue: waking it is a system
        // call, worth making once per batch, not once per line.
        let idle = queue.items.is_empty();
        queue.push_chat(text);
        drop(queue);
        if idle {
            self.ready.notify_one();
        }
    }

    /// Queues a console reply (whole lines); never dropped.
    pub(crate) fn reply(&self, text: &str) {
        let mut queue = lock(&self.queue, "console feed");
        let idle = queue.items.is_empty();
        queue.push_reply(text);
        drop(queue);
        if idle {
            self.ready.notify_one();
        }
    }

    /// Waits until something is queued, and takes all of it.
    fn next(&self) -> String {
        let mut queue = lock(&self.queue, "console feed");
        while queue.items.is_empty() {
            queue = wait(&self.ready, queue);
        }
        queue.take()
    }
}

/// The printer's loop: writes what the feed holds to `output`, forever.
/// Blocks in `write` as long as `output` does; the feed meanwhile drops
/// chat lines and counts them. A write error (stdout closed) is ignored:
/// there is no one to tell, and the server goes on.
pub(crate) fn print(feed: &Feed, mut output: impl Write) {
    loop {
        let text = feed.next();
        let _ = output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_in_the_order_they_went_in() {
        let mut queue = Queue::new(10);
        queue.push_chat("[#general] alice: hi\n");
        queue.push_reply("* kicked bob\n");
        queue.push_chat("* bob left #general (kicked)\n");
        assert_eq!(
            queue.take(),
            "[#general] alice: hi\n* kicked bob\n* bob left #general (kicked)\n"
        );
        assert_eq!(queue.take(), "");
    }

    #[test]
    fn a_full_queue_drops_chat_and_says_how_much_where_it_was_lost() {
        let mut queue = Queue::new(2);
        for i in 1..=5 {
            queue.push_chat(&format!("m{i}\n"));
        }
        assert_eq!(queue.take(), "m1\nm2\n* (3 lines not shown)\n");
        // Taking frees the room: lines flow again.
        queue.push_chat("m6\n");
        assert_eq!(queue.take(), "m6\n");
    }

    #[test]
    fn one_dropped_line_is_a_line_not_lines() {
        let mut queue = Queue::new(1);
        queue.push_chat("m1\n");
        queue.push_chat("m2\n");
        assert_eq!(queue.take(), "m1\n* (1 line not shown)\n");
    }

    #[test]
    fn replies_are_never_dropped_and_keep_their_place() {
        let mut queue = Queue::new(1);
        queue.push_chat("m1\n");
        queue.push_chat("m2\n");
        queue.push_reply("* said to everyone\n");
        queue.push_chat("m3\n");
        assert_eq!(
            queue.take(),
            "m1\n* (1 line not shown)\n* said to everyone\n* (1 line not shown)\n"
        );
    }
}
