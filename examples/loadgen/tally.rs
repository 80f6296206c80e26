//! What one client received in one step: deliveries, order errors, error
//! lines and the latency histogram.
//!
//! Each client has a tally of its own, locked by its reader once per `read`
//! and by the main thread when a step is collected, so readers never wait
//! for one another; the main thread adds the tallies up at the end.

use super::histogram::Histogram;
use super::message::Bench;

/// What one client received in one step, or the sum over clients.
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    pub(crate) step: usize,
    pub(crate) delivered: u64,
    /// Messages of an earlier step, arriving after it was collected (and
    /// counted as lost there).
    pub(crate) late: u64,
    /// Messages that came after a later one from the same sender, or twice.
    pub(crate) out_of_order: u64,
    /// Times a sender's sequence skipped ahead (a message missing, for now).
    pub(crate) gaps: u64,
    /// `! ...` lines, and the first of them.
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Per sender: the sequence number expected next.
    next_seq: Vec<u64>,
    /// When the latest delivery arrived (ns since the origin).
    pub(crate) last_at: u64,
    pub(crate) latency: Histogram,
}

impl Tally {
    pub(crate) fn new(step: usize, senders: usize) -> Tally {
        Tally {
            step,
            delivered: 0,
            late: 0,
            out_of_order: 0,
            gaps: 0,
            errors: 0,
            first_error: None,
            next_seq: vec![0; senders],
            last_at: 0,
            latency: Histogram::default(),
        }
    }

    pub(crate) fn record(&mut self, message: &Bench, now: u64) {
        if message.step != self.step {
            self.late += 1;
            return;
        }
        let Some(next) = self.next_seq.get_mut(message.sender) else {
            return; // not a sender of this run: someone else's traffic
        };
        // Each sender's numbers must arrive in order, each once: the server
        // reads one sender's lines in order and queues them in that order.
        if message.seq < *next {
            self.out_of_order += 1;
        } else {
            if message.seq > *next {
                self.gaps += 1;
            }
            *next = message.seq + 1;
        }
        self.delivered += 1;
        self.last_at = self.last_at.max(now);
        self.latency.record(now.saturating_sub(message.due) / 1000);
    }

    pub(crate) fn note_error(&mut self, line: &[u8]) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(String::from_utf8_lossy(line).into_owned());
        }
    }

    pub(crate) fn absorb(&mut self, other: &Tally) {
        self.delivered += other.delivered;
        self.late += other.late;
        self.out_of_order += other.out_of_order;
        self.gaps += other.gaps;
        self.errors += other.errors;
        self.last_at = self.last_at.max(other.last_at);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.latency.absorb(&other.latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_errors_are_counted() {
        let mut tally = Tally::new(0, 1);
        let at = |seq| Bench {
            step: 0,
            sender: 0,
            seq,
            due: 0,
        };
        for seq in [0, 1, 3, 2, 4] {
            tally.record(&at(seq), 1_000_000);
        }
        assert_eq!(tally.delivered, 5);
        assert_eq!(tally.gaps, 1);
        assert_eq!(tally.out_of_order, 1);
    }
}
