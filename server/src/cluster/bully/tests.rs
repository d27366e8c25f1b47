//! The election's rules, one scenario each.
use super::*;

fn t() -> BullyTimeouts {
    BullyTimeouts::default()
}

#[test]
fn the_highest_node_claims_without_asking() {
    let mut b = Bully::new(3, [1, 2, 3], t(), 0);
    assert!(b.on_tick(100).is_empty());
    assert_eq!(b.on_tick(600), vec![Action::ClaimEpoch { seen: 0 }]);
    assert_eq!(b.on_claimed(1), vec![Action::Lead { epoch: 1 }]);
    assert!(b.is_leader());
}

#[test]
fn a_lower_node_asks_and_yields_to_an_answer() {
    let mut b = Bully::new(1, [1, 2, 3], t(), 0);
    assert_eq!(b.on_tick(600), vec![Action::AskHigher(vec![2, 3])]);
    b.on_answer(3);
    assert!(
        b.on_tick(900).is_empty(),
        "answered: wait for the coordinator"
    );
    assert_eq!(
        b.on_coordinator(3, 1, 1000),
        vec![Action::Follow { leader: 3 }]
    );
    assert_eq!(b.leader(), Some(3));
}

#[test]
fn every_higher_node_failing_to_answer_claims_at_once() {
    let mut b = Bully::new(1, [1, 2, 3], t(), 0);
    assert_eq!(b.on_tick(600), vec![Action::AskHigher(vec![2, 3])]);
    assert_eq!(b.on_no_answer(650), vec![Action::ClaimEpoch { seen: 0 }]);
    let mut c = Bully::new(1, [1, 2, 3], t(), 0);
    c.on_tick(600);
    c.on_answer(3);
    assert!(
        c.on_no_answer(650).is_empty(),
        "an answer came: wait for it"
    );
}

#[test]
fn the_silent_leader_is_not_asked_again() {
    let mut b = Bully::new(2, [1, 2, 3], t(), 0);
    b.on_heartbeat(3, 4, 10);
    assert_eq!(
        b.on_tick(10 + t().leader_timeout_ms),
        vec![Action::ClaimEpoch { seen: 4 }],
        "node 3 went silent: node 2 claims at once instead of waiting for 3 to answer"
    );
    let mut c = Bully::new(1, [1, 2, 3], t(), 0);
    c.on_heartbeat(3, 4, 10);
    assert_eq!(
        c.on_tick(10 + t().leader_timeout_ms),
        vec![Action::AskHigher(vec![2])],
        "node 2 may be alive: it is asked"
    );
    let mut d = Bully::new(2, [1, 2, 3], t(), 0);
    d.on_heartbeat(3, 4, 10);
    assert_eq!(
        d.on_election(1, 10 + t().leader_timeout_ms),
        vec![Action::ClaimEpoch { seen: 4 }]
    );
}

#[test]
fn no_answer_means_claim() {
    let mut b = Bully::new(1, [1, 2, 3], t(), 0);
    b.on_tick(600);
    assert_eq!(b.on_tick(900), vec![Action::ClaimEpoch { seen: 0 }]);
}

#[test]
fn a_deposed_leader_steps_down_on_a_newer_epoch_only() {
    let mut b = Bully::new(2, [1, 2], t(), 0);
    b.on_tick(600);
    b.on_claimed(4);
    assert!(
        b.on_coordinator(1, 3, 700).is_empty(),
        "stale epoch ignored"
    );
    assert_eq!(
        b.on_coordinator(1, 5, 700),
        vec![Action::StepDown, Action::Follow { leader: 1 }]
    );
}

#[test]
fn a_recovered_higher_node_waits_until_caught_up() {
    let mut b = Bully::new(3, [1, 2, 3], t(), 0);
    b.on_heartbeat(2, 7, 10);
    assert!(b.on_tick(200).is_empty());
    b.on_heartbeat(2, 7, 250);
    b.on_caught_up();
    assert_eq!(
        b.on_tick(300),
        vec![Action::AskHandOver { leader: 2 }],
        "caught up: the leader must stop granting before this node takes over"
    );
    assert!(b.on_tick(350).is_empty(), "asked once");
    assert_eq!(
        b.on_handover_granted(2, 400),
        vec![Action::ClaimEpoch { seen: 7 }]
    );
}

#[test]
fn a_hand_over_nobody_answers_is_taken_after_the_coordinator_timeout() {
    let mut b = Bully::new(3, [1, 2, 3], t(), 0);
    b.on_heartbeat(2, 7, 10);
    b.on_caught_up();
    assert_eq!(b.on_tick(50), vec![Action::AskHandOver { leader: 2 }]);
    b.on_heartbeat(2, 7, 500);
    assert!(b.on_tick(500).is_empty());
    b.on_heartbeat(2, 7, 950);
    assert_eq!(
        b.on_tick(50 + t().coordinator_timeout_ms),
        vec![Action::ClaimEpoch { seen: 7 }]
    );
}

#[test]
fn an_election_from_below_does_not_depose_a_live_leader() {
    let mut b = Bully::new(2, [1, 2, 3], t(), 0);
    b.on_heartbeat(3, 4, 100);
    assert!(
        b.on_election(1, 200).is_empty(),
        "the leader is alive: answering is enough"
    );
    assert!(
        b.on_election(3, 200).is_empty(),
        "a higher node never asks downwards"
    );
    assert_eq!(
        b.on_election(1, 800),
        vec![Action::ClaimEpoch { seen: 4 }],
        "silent leader (not asked again: its lease in the store decides)"
    );
}

#[test]
fn a_late_grant_is_ignored_and_a_lost_claim_times_out() {
    let mut b = Bully::new(3, [1, 2, 3], t(), 0);
    assert_eq!(b.on_tick(600), vec![Action::ClaimEpoch { seen: 0 }]);
    b.on_coordinator(2, 5, 650);
    assert!(
        b.on_claimed(1).is_empty(),
        "a grant after a newer coordinator"
    );
    assert_eq!(b.leader(), Some(2));
    let mut c = Bully::new(3, [1, 2, 3], t(), 0);
    c.on_tick(600);
    assert!(c.on_tick(1_000).is_empty());
    c.on_tick(600 + t().coordinator_timeout_ms);
    assert_eq!(
        c.phase(),
        Phase::Follower,
        "a claim whose answer was lost is given up"
    );
    c.on_claim_failed(2_000);
}

#[test]
fn a_won_claim_is_acted_on_even_after_following_someone() {
    let mut b = Bully::new(3, [1, 2, 3], t(), 0);
    assert_eq!(b.on_election(2, 10), vec![Action::ClaimEpoch { seen: 0 }]);
    // Start-up discovery finds the old leader of epoch 6 meanwhile.
    b.on_heartbeat(1, 6, 20);
    assert_eq!(b.phase(), Phase::Follower);
    assert_eq!(
        b.on_claimed(7),
        vec![Action::Lead { epoch: 7 }],
        "epoch 7 is this node's in the store: lead it, or nobody does"
    );
}
