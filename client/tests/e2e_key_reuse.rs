//! PROTOCOL.md §11.5: a key reused for a different request is answered with `Conflict`.

mod live;

use cinebook_client::types::{PaymentMethod, Role, SeatSelection};
use cinebook_client::{new_idempotency_key, Client, Error};
use live::{pay, LiveNode, SHOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_key_reused_for_another_hold_is_a_conflict() {
    let node = LiveNode::start().await;
    let client = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
        .await
        .expect("connect");
    let key = new_idempotency_key();
    let first = client
        .hold(SHOW, SeatSelection::Labels(vec!["J1".into()]))
        .await
        .expect("hold");
    let booking = client
        .confirm(first.hold_id, pay(PaymentMethod::Cash, &first.total), &key)
        .await
        .expect("confirm");
    let second = client
        .hold(SHOW, SeatSelection::Labels(vec!["J2".into()]))
        .await
        .expect("hold");
    let answer = client
        .confirm(
            second.hold_id,
            pay(PaymentMethod::Cash, &second.total),
            &key,
        )
        .await;
    node.stop().await;
    match answer {
        Err(Error::Conflict { .. }) => {}
        other => panic!(
            "expected Conflict for key reuse on another hold (first sale {}), got {other:?}",
            booking.code
        ),
    }
}
