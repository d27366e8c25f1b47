//! Requests answered on the connection's own task: no spawned task, no worker-pool hop, no
//! oneshot. A hold, renew or release is microseconds of work under the show's mutex; handing it
//! to another thread and back cost more than the work (two wake-ups per request on two shared
//! cores: docs/BENCHMARKS.md).
//!
//! The fast path only *tries*: it takes the show's mutex with `try_lock` (never waits, so a
//! tokio thread never blocks on a show), and gives the request back (`Now::Later`) whenever
//! anything else is needed: the show is busy on another thread (then the worker pool applies
//! it), the node is in a cluster (a hold is answered only once followers have it), or the
//! request would be refused (the ordinary path answers with its error). The show core's one
//! entry is still `Node::apply_input`'s body ([`Node::apply_locked`](super::Node)), under the
//! same per-show mutex; the free-seat counters are read first as before.

use std::sync::Arc;

use cinebook_protocol::{ErrorBody, Reply, Request};

use super::handlers::{self, Caller};
use super::{auth, Node, ShowSlot};
use crate::domain::{Command, ShowInput};

/// The fast path's verdict.
#[derive(Debug)]
pub enum Now {
    /// Answered here.
    Answered(Result<Reply, ErrorBody>),
    /// Not here: run it the ordinary way (spawned, through the worker pool).
    Later(Request),
}

/// Answers `request` at once if it is a hold, renew or release that needs nothing but its show.
pub fn handle_now(node: &Arc<Node>, caller: &Caller, request: Request) -> Now {
    if node.cluster.is_some()
        || !matches!(
            request,
            Request::Hold { .. } | Request::Renew { .. } | Request::Release { .. }
        )
        || !auth::allowed(caller.role, &request)
        || super::validate::request(&request).is_err()
    {
        return Now::Later(request);
    }
    let slot = match &request {
        Request::Hold { show_id, .. } => node.show(*show_id),
        Request::Renew { hold_id } | Request::Release { hold_id } => node.show_of_hold(*hold_id),
        _ => None,
    };
    let Some(slot) = slot else {
        return Now::Later(request);
    };
    // A hold waiting for its online payment is released only through the payment path (it asks
    // the gateway first); checked before the show is locked, since the check reads the show.
    if let Request::Release { hold_id } = &request {
        if handlers::pinned_order(node, caller, *hold_id).is_some() {
            return Now::Later(request);
        }
    }
    let Some(state) = slot.try_lock_for_input() else {
        return Now::Later(request);
    };
    let terminal_id = caller.terminal_id;
    let answer = match request {
        Request::Hold {
            selection,
            idempotency_key,
            ..
        } => match handlers::hold_command(node, caller, &slot, selection, idempotency_key) {
            Ok(command) => apply(node, &slot, state, command).and_then(|out| match out {
                Ok(output) => handlers::held_reply(output),
                Err(e) => Err(e.to_wire()),
            }),
            Err(e) => Err(e),
        },
        Request::Renew { hold_id } => {
            let command = Command::Renew {
                hold_id,
                terminal_id,
            };
            apply(node, &slot, state, command)
                .and_then(|out| handlers::on_hold_reply(node, hold_id, out))
        }
        Request::Release { hold_id } => {
            let command = Command::Release {
                hold_id,
                terminal_id,
            };
            apply(node, &slot, state, command)
                .and_then(|out| handlers::on_hold_reply(node, hold_id, out))
        }
        other => return Now::Later(other),
    };
    Now::Answered(answer)
}

/// Applies `command` with the show already locked.
fn apply(
    node: &Node,
    slot: &ShowSlot,
    state: parking_lot::MutexGuard<'_, crate::domain::ShowState>,
    command: Command,
) -> Result<Result<crate::domain::ShowOutput, crate::domain::DomainError>, ErrorBody> {
    node.apply_caught(slot, state, ShowInput::Command(command))
}
