//! The `note: ...` lines printed before the result: what a reader of the
//! figures should know before trusting them (the server sent errors, the
//! senders fell behind, the generator took much of the machine, ...).
//!
//! A note never changes a figure; it says why one may mislead.

use super::churn::Churned;
use super::crowd::JOIN_QUIET;
use super::report::{Joins, StepResult};
use super::resources::CpuUse;
use super::schedule::SEND_GRACE;

/// When the join notices did not all arrive, what `join_secs` means instead.
pub(crate) fn on_joins(joins: &Joins, notes: &mut Vec<String>) {
    match joins.notices {
        0 => notes.push(
            "the server sent no join notices (it may not announce joins in big rooms); \
             join_secs is the time until every handshake completed"
                .to_string(),
        ),
        n if n < joins.expected => notes.push(format!(
            "only {n} of {} join notices arrived (none came for {} s); join_secs is the \
             time of the last one",
            joins.expected,
            JOIN_QUIET.as_secs()
        )),
        _ => {}
    }
}

/// Hints for the reader of the report, once the run is over.
pub(crate) fn on_run(
    step: &Option<StepResult>,
    cpu: CpuUse,
    closed: usize,
    notes: &mut Vec<String>,
) {
    if let Some(step) = step {
        on_step(step, notes);
    }
    if closed > 0 {
        notes.push(format!(
            "the server closed {closed} connection(s) during the run"
        ));
    }
    if let Some(machine) = step.as_ref().and_then(|s| s.cpu.gen_machine_pct()) {
        if machine > 40.0 {
            notes.push(format!(
                "the generator used {machine:.0}% of the machine while sending; \
                 the server may have been short of CPU because of it"
            ));
        }
    } else if let Some(machine) = cpu.gen_machine_pct() {
        if machine > 40.0 {
            notes.push(format!("the generator used {machine:.0}% of the machine"));
        }
    }
}

/// What went wrong in the reported step, if anything.
fn on_step(step: &StepResult, notes: &mut Vec<String>) {
    if let Some(error) = &step.first_error {
        notes.push(format!(
            "the server answered {} line(s) with an error, first: {error:?} \
             (is rate_limit_per_sec = 0 in its config?)",
            step.errors
        ));
    }
    if step.sent < step.offered {
        notes.push(format!(
            "{} messages were due but not sent: the senders fell more than {} s behind",
            step.offered - step.sent,
            SEND_GRACE.as_secs()
        ));
    }
    if step.out_of_order > 0 {
        notes.push(format!(
            "{} messages arrived after a later one from the same sender (or twice)",
            step.out_of_order
        ));
    }
    if let Some(error) = &step.send_error {
        notes.push(format!("a sender stopped: {error}"));
    }
}

/// When no stalled client was cut off, the likely reason.
pub(crate) fn on_stalled(stalled_closed: usize, notes: &mut Vec<String>) {
    if stalled_closed == 0 {
        notes.push(
            "the server cut off no stalled client: the run may have been too short to \
             fill its queue (send_queue_bytes) and the kernel's socket buffers"
                .to_string(),
        );
    }
}

/// When churning clients could not join, or came slower than asked.
pub(crate) fn on_churn(churned: &Churned, rate: f64, notes: &mut Vec<String>) {
    if let Some(error) = &churned.first_error {
        notes.push(format!(
            "{} new stalled client(s) could not join, first: {error}",
            churned.failed
        ));
    }
    let due = (rate * churned.secs).floor() as u64;
    let came = churned.joined + churned.failed;
    if came + 1 < due * 9 / 10 {
        notes.push(format!(
            "only {came} of {due} new stalled clients came in {:.1} s: their handshakes \
             took longer than 1/{rate} s",
            churned.secs
        ));
    }
}
