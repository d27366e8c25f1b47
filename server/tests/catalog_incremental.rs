//! Catalog changes applied one item at a time (`Node::install_change`) give what a full reload
//! gives: the same snapshot, and show slots on the same layouts with the same prices; every show
//! of a screen shares one layout; a layout change reaches untouched shows only.

mod scale_support;

use std::sync::Arc;

use cinebook_protocol::types::{Category, Role, SeatSelection};
use cinebook_protocol::{ErrorCode, Reply, Request};
use cinebook_server::node::{Catalog, Node};
use cinebook_server::store::Store;
use scale_support::{config, screen, show, Scale};

const SCREEN_A: u64 = 1_000;
const SCREEN_B: u64 = 2_000;

/// Asserts that the node's snapshot equals a fresh build from the store, and that every slot
/// has its catalog screen's seats (or kept its own while locked) and the show's prices.
async fn assert_same_as_reload(node: &Arc<Node>, store: &dyn Store, locked: &[u64]) {
    let incremental = node.catalog();
    let reloaded = Catalog::build(store.load_catalog().await.expect("load"));
    assert_eq!(incremental.cities, reloaded.cities);
    assert_eq!(incremental.theaters, reloaded.theaters);
    assert_eq!(incremental.movies, reloaded.movies);
    assert_eq!(incremental.shows, reloaded.shows);
    assert_eq!(
        incremental
            .screens
            .keys()
            .collect::<std::collections::BTreeSet<_>>(),
        reloaded.screens.keys().collect()
    );
    for (id, (screen, layout)) in &reloaded.screens {
        let (mine, my_layout) = &incremental.screens[id];
        assert_eq!(mine, screen, "screen {id}");
        assert_eq!(my_layout.seats(), layout.seats(), "layout of screen {id}");
    }
    for (id, show) in &reloaded.shows {
        let slot = node.show(*id).expect("a slot for every show");
        let state = slot.read();
        let (_, layout) = &incremental.screens[&show.screen_id];
        if !locked.contains(id) {
            assert!(
                Arc::ptr_eq(state.layout(), layout),
                "show {id} shares its screen's one layout"
            );
        }
        let price = state.pricing().price(Category::Standard);
        assert_eq!(
            price,
            Some(show.prices[0].amount_minor),
            "price of show {id}"
        );
    }
}

#[tokio::test]
async fn upserts_applied_one_by_one_equal_a_full_reload() {
    let scale = Scale::start(config()).await;
    scale.base(SCREEN_A, 40).await;
    scale
        .admin(Request::UpsertScreen(screen(
            SCREEN_B,
            60,
            Category::Standard,
        )))
        .await;
    for i in 0..300u64 {
        let on = if i % 3 == 0 { SCREEN_B } else { SCREEN_A };
        scale
            .admin(Request::UpsertShow(show(i + 1, on, i, 1_000)))
            .await;
    }
    assert_same_as_reload(&scale.node, scale.store.as_ref(), &[]).await;

    // New prices, moves between screens, and a new city, theater and movie title.
    for i in (0..300u64).step_by(7) {
        let on = if i % 2 == 0 { SCREEN_A } else { SCREEN_B };
        scale
            .admin(Request::UpsertShow(show(i + 1, on, i, 1_500 + i as i64)))
            .await;
    }
    scale
        .admin(Request::UpsertCity(cinebook_protocol::types::City {
            id: 2,
            name: "Second".into(),
        }))
        .await;
    assert_same_as_reload(&scale.node, scale.store.as_ref(), &[]).await;

    // Seats held on show 2 (screen A): screen A's new layout reaches every other show on it;
    // show 2 keeps its layout, as the admin write is refused.
    let held = scale
        .call(
            Role::BoxOffice,
            Request::Hold {
                show_id: 2,
                selection: SeatSelection::Ids(vec![0, 1]),
                idempotency_key: None,
            },
        )
        .await;
    assert!(matches!(held, Ok(Reply::Held(_))), "{held:?}");
    let refused = scale
        .call(
            Role::Admin,
            Request::UpsertScreen(screen(SCREEN_A, 50, Category::Premium)),
        )
        .await;
    assert!(
        matches!(&refused, Err(e) if e.code == ErrorCode::Conflict),
        "{refused:?}"
    );
    scale
        .admin(Request::UpsertScreen(screen(
            SCREEN_B,
            30,
            Category::Standard,
        )))
        .await;
    assert_same_as_reload(&scale.node, scale.store.as_ref(), &[2]).await;

    // A reload installs nothing new: the incremental state was already the reloaded one.
    let before: Vec<(u64, u32)> = (1..=300).map(|id| (id, free(&scale.node, id))).collect();
    scale.node.reload_catalog().await.expect("reload");
    let after: Vec<(u64, u32)> = (1..=300).map(|id| (id, free(&scale.node, id))).collect();
    assert_eq!(before, after);
    assert_same_as_reload(&scale.node, scale.store.as_ref(), &[2]).await;
    scale.stop().await;
}

fn free(node: &Node, show_id: u64) -> u32 {
    node.show(show_id).expect("slot").free_total()
}
