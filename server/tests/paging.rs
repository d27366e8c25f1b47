//! Paged lists (`ListPage`): pages walk a list exactly once in its order, cursors stay valid
//! while items are added, `limit` is capped at `list_page_max_items` (items) and a page at
//! `frame_max_bytes` (bytes), and an unpaged list too large for a frame answers `PageRequired`.

mod scale_support;

use std::collections::BTreeSet;

use cinebook_protocol::page::{Page, PageItems, PageRequest, PagedList};
use cinebook_protocol::types::{
    Money, Payment, PaymentMethod, Role, SeatSelection, ShowFilter, ShowSummary,
};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply, Request};
use scale_support::{config, show, Scale};

const SCREEN: u64 = 1_000;

async fn page(
    scale: &Scale,
    role: Role,
    list: PagedList,
    after: Option<String>,
    limit: u32,
) -> Result<Page, ErrorBody> {
    let request = Request::ListPage(PageRequest { list, after, limit });
    match scale.call(role, request).await? {
        Reply::Page(page) => Ok(page),
        other => panic!("not a page: {other:?}"),
    }
}

fn shows_of(page: &Page) -> Vec<ShowSummary> {
    match &page.items {
        PageItems::Shows(shows) => shows.clone(),
        other => panic!("not shows: {other:?}"),
    }
}

async fn with_shows(config: cinebook_server::Config, count: u64) -> Scale {
    let scale = Scale::start(config).await;
    scale.base(SCREEN, 20).await;
    for i in 0..count {
        // Start times out of id order, with ties, so the (starts_at_ms, id) order matters.
        let minute = (i * 7) % (count / 2 + 1);
        scale
            .admin(Request::UpsertShow(show(i + 1, SCREEN, minute, 800)))
            .await;
    }
    scale
}

#[tokio::test]
async fn pages_list_every_show_once_in_order_and_cursors_survive_inserts() {
    let scale = with_shows(config(), 1_234).await;
    let unpaged = match scale
        .call(Role::Guest, Request::ListShows(ShowFilter::default()))
        .await
    {
        Ok(Reply::Shows(all)) => all,
        other => panic!("{other:?}"),
    };
    assert_eq!(unpaged.len(), 1_234);

    let mut walked = Vec::new();
    let mut after = None;
    let mut pages = 0;
    let mut added = BTreeSet::new();
    loop {
        let got = page(
            &scale,
            Role::Guest,
            PagedList::Shows(ShowFilter::default()),
            after,
            100,
        )
        .await
        .expect("page");
        pages += 1;
        let shows = shows_of(&got);
        assert!(shows.len() <= 100);
        walked.extend(shows);
        // Between pages, a show starting before everything and one after everything.
        if pages < 5 {
            let early = 10_000 + pages;
            let late = 20_000 + pages;
            scale
                .admin(Request::UpsertShow(show(early, SCREEN, 0, 800)))
                .await;
            let mut late_show = show(late, SCREEN, 100_000, 800);
            late_show.starts_at_ms += pages;
            scale.admin(Request::UpsertShow(late_show)).await;
            added.insert(late);
        }
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 100, "the walk ends");
    }
    let keys: Vec<(u64, u64)> = walked
        .iter()
        .map(|s| (s.show.starts_at_ms, s.show.id))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "in (starts_at_ms, id) order, each once");
    let ids: BTreeSet<u64> = walked.iter().map(|s| s.show.id).collect();
    for original in &unpaged {
        assert!(
            ids.contains(&original.show.id),
            "show {} listed",
            original.show.id
        );
    }
    for late in &added {
        assert!(
            ids.contains(late),
            "a show added after the cursor is listed: {late}"
        );
    }
    assert!(
        !ids.iter().any(|id| (10_001..10_005).contains(id)),
        "shows added before the cursor are not (the walk never goes back)"
    );
    assert_eq!(walked.len(), unpaged.len() + added.len());
    // The same walk with nothing added is the unpaged list.
    let mut again = Vec::new();
    let mut after = None;
    loop {
        let got = page(
            &scale,
            Role::Guest,
            PagedList::Shows(ShowFilter::default()),
            after,
            333,
        )
        .await
        .expect("page");
        again.extend(shows_of(&got));
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let now = match scale
        .call(Role::Guest, Request::ListShows(ShowFilter::default()))
        .await
    {
        Ok(Reply::Shows(all)) => all,
        other => panic!("{other:?}"),
    };
    assert_eq!(again, now);
    scale.stop().await;
}

#[tokio::test]
async fn limit_is_bounded_by_list_page_max_items_and_a_zero_limit_is_refused() {
    let config = cinebook_server::Config {
        list_page_max_items: 50,
        ..config()
    };
    let scale = with_shows(config, 120).await;
    let all = PagedList::Shows(ShowFilter::default());
    let capped = page(&scale, Role::Guest, all.clone(), None, 10_000)
        .await
        .expect("page");
    assert_eq!(shows_of(&capped).len(), 50, "capped at list_page_max_items");
    assert!(capped.next.is_some());
    let zero = page(&scale, Role::Guest, all.clone(), None, 0).await;
    assert!(
        matches!(&zero, Err(e) if e.code == ErrorCode::InvalidArgument),
        "{zero:?}"
    );
    let one = page(&scale, Role::Guest, all.clone(), None, 1)
        .await
        .expect("page");
    assert_eq!(shows_of(&one).len(), 1);
    // A cursor not made by the node, or of another list, is refused.
    for bad in ["junk", "c:5", "s:1", "s:x.y"] {
        let got = page(&scale, Role::Guest, all.clone(), Some(bad.into()), 10).await;
        assert!(
            matches!(&got, Err(e) if e.code == ErrorCode::InvalidArgument),
            "{bad}: {got:?}"
        );
    }
    let long = "s:".to_owned() + &"9".repeat(200);
    let got = page(&scale, Role::Guest, all, Some(long), 10).await;
    assert!(
        matches!(&got, Err(e) if e.code == ErrorCode::InvalidArgument),
        "{got:?}"
    );
    scale.stop().await;
}

#[tokio::test]
async fn a_list_larger_than_a_frame_answers_page_required_and_pages_fit_the_frame() {
    let frame_max_bytes = 16 * 1024;
    let config = cinebook_server::Config {
        frame_max_bytes,
        ..config()
    };
    let scale = with_shows(config, 600).await;
    let unpaged = scale
        .call(Role::Guest, Request::ListShows(ShowFilter::default()))
        .await;
    match unpaged {
        Err(ErrorBody {
            code: ErrorCode::PageRequired {
                list_page_max_items,
            },
            ..
        }) => assert_eq!(list_page_max_items, 500),
        other => panic!("expected PageRequired, got {other:?}"),
    }
    let mut after = None;
    let mut total = 0;
    loop {
        let got = page(
            &scale,
            Role::Guest,
            PagedList::Shows(ShowFilter::default()),
            after,
            500,
        )
        .await
        .expect("page");
        let bytes = cinebook_protocol::page::encoded_bytes(&Reply::Page(got.clone()));
        assert!(bytes <= frame_max_bytes, "a page of {bytes} bytes");
        total += got.items.len();
        assert!(!got.items.is_empty());
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(total, 600);
    scale.stop().await;
}

#[tokio::test]
async fn bookings_page_in_sale_order_and_need_the_box_office() {
    let scale = with_shows(config(), 1).await;
    let mut codes = Vec::new();
    for seat in 0..5u32 {
        let hold = match scale
            .call(
                Role::BoxOffice,
                Request::Hold {
                    show_id: 1,
                    selection: SeatSelection::Ids(vec![seat]),
                    idempotency_key: None,
                },
            )
            .await
        {
            Ok(Reply::Held(hold)) => hold,
            other => panic!("{other:?}"),
        };
        let confirm = Request::Confirm {
            hold_id: hold.hold_id,
            payment: Payment {
                method: PaymentMethod::Cash,
                amount: Money {
                    amount_minor: hold.total.amount_minor,
                    currency: hold.total.currency.clone(),
                },
                reference: None,
            },
            idempotency_key: format!("sale-{seat}"),
        };
        match scale.call(Role::BoxOffice, confirm).await {
            Ok(Reply::Booking(b)) => codes.push(b.code),
            other => panic!("{other:?}"),
        }
    }
    let list = PagedList::Bookings { show_id: 1 };
    let denied = page(&scale, Role::Kiosk, list.clone(), None, 2).await;
    assert!(
        matches!(&denied, Err(e) if e.code == ErrorCode::Forbidden),
        "{denied:?}"
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = page(&scale, Role::BoxOffice, list.clone(), after, 2)
            .await
            .expect("page");
        match got.items {
            PageItems::Bookings(b) => seen.extend(b.into_iter().map(|b| b.code)),
            other => panic!("{other:?}"),
        }
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, codes, "every booking once, in sale order");
    scale.stop().await;
}
