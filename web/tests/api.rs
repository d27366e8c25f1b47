//! The JSON API over real sockets: a purchase end to end through the gateway simulator, bad
//! input, and the live seat feed.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use support::{Site, SHOW};

/// Pays the order's checkout on the simulator as a browser would: open the page, press Pay,
/// follow the return link to this site. Answers the confirmation page's path.
async fn pay_on_simulator(site: &Site, checkout_url: &str) -> String {
    let returned = press(site, checkout_url, "pay", None).await;
    assert_eq!(
        returned.status().as_u16(),
        303,
        "{:?}",
        returned.text().await
    );
    returned.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// Opens the checkout page, presses `button` (`pay` or `decline`) and follows the gateway's
/// redirect back to this site (with the browser's `cookie`); answers this site's response.
async fn press(
    site: &Site,
    checkout_url: &str,
    button: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let url = reqwest::Url::parse(checkout_url).expect("checkout url");
    let page = site
        .http
        .get(url.clone())
        .send()
        .await
        .expect("checkout page");
    let code = page.status().as_u16();
    assert_eq!(code, 200, "{checkout_url}: {:?}", page.text().await);
    let gateway_order = url.path().rsplit('/').next().expect("order id").to_string();
    let callback = url
        .query_pairs()
        .find(|(k, _)| k == "callback_url")
        .map(|(_, v)| v.into_owned())
        .expect("the checkout link carries this site's return link");
    let pay = format!(
        "{}/sim/orders/{gateway_order}/{button}",
        site.sim.base_url()
    );
    let paid = site
        .http
        .post(pay)
        .query(&[("callback_url", callback.as_str())])
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status().as_u16(), 303);
    let back = paid.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(back.starts_with(&site.url("/pay/return/")), "{back}");
    let mut back = site.http.get(back);
    if let Some(cookie) = cookie {
        back = back.header("cookie", cookie);
    }
    back.send().await.expect("return")
}

/// Holds `seats` and starts their checkout; answers (cookie, hold id, order JSON).
async fn checkout(site: &Site, seats: &[u32]) -> (String, u64, serde_json::Value) {
    let hold = site
        .post("/api/holds", None, json!({"show_id": SHOW, "seats": seats}))
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.json);
    let cookie = hold.cookie.clone().expect("cookie");
    let hold_id = hold.json["hold_id"].as_u64().expect("hold id");
    let order = site
        .post(
            &format!("/api/holds/{hold_id}/checkout"),
            Some(&cookie),
            json!({"name": "Grace Hopper", "email": "grace@example.com"}),
        )
        .await;
    assert_eq!(order.status, 200, "{:?}", order.json);
    (cookie, hold_id, order.json)
}

type Viewer =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next `changes` message with seats in it of a viewer, within `wait` (a hold pinned to its
/// payment order moves `seq` on with no seats changed).
async fn next_change(ws: &mut Viewer, wait: Duration) -> serde_json::Value {
    tokio::time::timeout(wait, async {
        loop {
            let message = ws.next().await.expect("message").expect("frame");
            let value: serde_json::Value =
                serde_json::from_str(message.to_text().expect("text")).expect("json");
            let seats = value["changes"].as_array().map_or(0, Vec::len);
            if value["type"] == "changes" && seats > 0 {
                return value;
            }
        }
    })
    .await
    .expect("a change reached the viewer in time")
}

#[tokio::test]
async fn a_payment_captured_after_the_web_process_died_is_found_by_another() {
    let mut site = Site::start(|_| {}).await;
    let (cookie, _, order) = checkout(&site, &[330, 331]).await;
    let order_id = order["order_id"].as_u64().expect("id");
    let url = reqwest::Url::parse(order["checkout_url"].as_str().expect("url")).expect("url");
    let gateway_order = url.path().rsplit('/').next().expect("order id").to_string();
    let old_web = site.web;
    site.replace_web().await;
    assert!(
        tokio::net::TcpStream::connect(old_web).await.is_err(),
        "the first web process is gone"
    );
    // The session's hold is recognised by the new replica (same cookie secret), and a
    // retried checkout there answers the same order.
    let again = site
        .post(
            &format!("/api/holds/{}/checkout", order["hold_id"]),
            Some(&cookie),
            json!({"name": "Grace Hopper", "email": "grace@example.com"}),
        )
        .await;
    assert_eq!(again.json["order_id"], order_id, "{:?}", again.json);
    // The customer pays; the return link pointed at the dead process, so only the gateway's
    // webhook tells the node.
    site.sim.pay(&gateway_order).expect("paid on the gateway");
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        let status = site
            .get(&format!("/api/orders/{order_id}"), Some(&cookie))
            .await;
        assert_eq!(status.status, 200, "{:?}", status.json);
        if let Some(code) = status.json["booking_code"].as_str() {
            break code.to_string();
        }
        assert!(Instant::now() < deadline, "never booked: {:?}", status.json);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let page = site.get(&format!("/booking/{code}"), None).await;
    assert_eq!(page.status, 200);
    let booking = site.get(&format!("/api/bookings/{code}"), None).await;
    assert_eq!(booking.json["payment_method"], "gateway");
    // The e-mail the customer typed reached the booking the webhook made: its confirmation
    // waits in the outbox addressed to it.
    let pending = site
        .node
        .node
        .store
        .outbox_pending(u64::MAX, 10)
        .await
        .expect("outbox");
    let confirmation = pending
        .iter()
        .find(|m| m.message.id == format!("confirmed:{code}"))
        .expect("a confirmation in the outbox");
    assert_eq!(
        confirmation.contact.email.as_deref(),
        Some("grace@example.com")
    );
}

#[tokio::test]
async fn the_gateways_webhook_is_forwarded_to_the_node() {
    let site = Site::start(|_| {}).await;
    // The gateway now sends its webhooks to the site, which forwards them to the node.
    site.sim
        .set_webhook_url(Some(&site.url("/api/payments/webhook")))
        .expect("webhook url");
    let (cookie, _, order) = checkout(&site, &[340]).await;
    let order_id = order["order_id"].as_u64().expect("id");
    let url = reqwest::Url::parse(order["checkout_url"].as_str().expect("url")).expect("url");
    let gateway_order = url.path().rsplit('/').next().expect("order id").to_string();
    site.sim.pay(&gateway_order).expect("paid");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = site
            .get(&format!("/api/orders/{order_id}"), Some(&cookie))
            .await;
        if status.json["state"] == "booked" {
            break;
        }
        assert!(Instant::now() < deadline, "never booked: {:?}", status.json);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The site answered the gateway with the node's success.
    let answered = site.sim.webhook_log().into_iter().any(|w| {
        w.order_id.as_deref() == Some(gateway_order.as_str())
            && matches!(
                w.outcome,
                cinebook_paysim::WebhookOutcome::Answered {
                    status: 200..=299,
                    ..
                }
            )
    });
    assert!(answered, "{:?}", site.sim.webhook_log());
    // A forged webhook is the node's to refuse; the site passes its answer on.
    let forged = site
        .call(
            reqwest::Method::POST,
            "/api/payments/webhook",
            None,
            Some(r#"{"event":"payment.captured"}"#.into()),
        )
        .await;
    assert!(forged.status >= 400, "{forged:?}");
    let huge = "x".repeat(70 * 1024);
    let oversized = site
        .call(
            reqwest::Method::POST,
            "/api/payments/webhook",
            None,
            Some(huge),
        )
        .await;
    assert_eq!(oversized.status, 413);
}

#[tokio::test]
async fn a_site_without_a_webhook_target_says_so() {
    let site = Site::start(|c| c.node_webhook_url = None).await;
    let answer = site
        .call(
            reqwest::Method::POST,
            "/api/payments/webhook",
            None,
            Some("{}".into()),
        )
        .await;
    assert_eq!(
        (answer.status, answer.error_code()),
        (503, "webhook_not_configured")
    );
}

#[tokio::test]
async fn a_declined_payment_says_so_books_nothing_and_gives_the_seats_back() {
    let site = Site::start(|_| {}).await;
    let (cookie, _, order) = checkout(&site, &[300, 301]).await;
    let url = order["checkout_url"].as_str().expect("url");
    // Back without the session cookie (another browser, a forged link): nothing is released.
    let stranger = press(&site, url, "decline", None).await;
    assert_eq!(stranger.status().as_u16(), 402);
    let page = stranger.text().await.expect("page");
    assert!(page.contains("stay held"), "{page}");
    let returned = press(&site, url, "decline", Some(&cookie)).await;
    assert_eq!(returned.status().as_u16(), 402);
    let page = returned.text().await.expect("page");
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("seats were released"), "{page}");
    let order_id = order["order_id"].as_u64().expect("id");
    let status = site
        .get(&format!("/api/orders/{order_id}"), Some(&cookie))
        .await;
    assert_eq!(status.json["state"], "expired", "{:?}", status.json);
    assert_eq!(status.json["booking_code"], serde_json::Value::Null);
    // The seats came back at once, not at the payment window's end (60 s here).
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(
        seats.json["seats"][300]["state"], "free",
        "{:?}",
        seats.json["seats"][300]
    );
    assert_eq!(seats.json["seats"][301]["state"], "free");
    // Another customer can hold them now.
    let again = site
        .post(
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [300, 301]}),
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.json);
    // Another session may not read the order.
    let other = site.get(&format!("/api/orders/{order_id}"), None).await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn a_checkout_left_is_released_but_a_paid_one_is_not() {
    let site = Site::start(|_| {}).await;
    // Left: the customer gives the seats back while the gateway waits for the payment.
    let (cookie, hold_id, _) = checkout(&site, &[302]).await;
    let released = site
        .call(
            reqwest::Method::DELETE,
            &format!("/api/holds/{hold_id}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(released.status, 204, "{:?}", released.json);
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(seats.json["seats"][302]["state"], "free");
    // Paid at the gateway, its result not back yet: the release books it instead.
    let (cookie, hold_id, order) = checkout(&site, &[303]).await;
    let url = reqwest::Url::parse(order["checkout_url"].as_str().expect("url")).expect("url");
    let gateway_order = url.path().rsplit('/').next().expect("order id").to_string();
    site.sim
        .control()
        .apply(cinebook_paysim::SwitchesPatch {
            webhook_drop_next: Some(10),
            ..Default::default()
        })
        .expect("drop webhooks");
    site.sim.pay(&gateway_order).expect("paid");
    let refused = site
        .call(
            reqwest::Method::DELETE,
            &format!("/api/holds/{hold_id}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.json);
    let order_id = order["order_id"].as_u64().expect("id");
    let status = site
        .get(&format!("/api/orders/{order_id}"), Some(&cookie))
        .await;
    assert_eq!(status.json["state"], "booked", "{:?}", status.json);
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(seats.json["seats"][303]["state"], "sold");
}

#[tokio::test]
async fn an_abandoned_checkout_is_released_at_the_windows_end() {
    let window_ms = 1_500;
    let site = Site::start_with(window_ms, |_| {}).await;
    let url = format!("ws://{}/api/shows/{SHOW}/live", site.web);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let (_, _, order) = checkout(&site, &[310]).await;
    assert_eq!(order["state"], "awaiting_payment", "{order:?}");
    let held = next_change(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(held["cause"], "held");
    let started = Instant::now();
    let released = next_change(&mut ws, Duration::from_millis(window_ms + 5_000)).await;
    assert_eq!(released["changes"][0]["state"], "free", "{released:?}");
    println!("released {:?} after the checkout began", started.elapsed());
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(seats.json["seats"][310]["state"], "free");
}

#[tokio::test]
async fn a_purchase_through_the_gateway_end_to_end() {
    let site = Site::start(|_| {}).await;
    let shows = site.get("/api/shows", None).await;
    assert_eq!(shows.status, 200);
    assert!(shows.json["shows"]
        .as_array()
        .expect("shows")
        .iter()
        .any(|s| s["show_id"] == SHOW));
    let by_city = site
        .get("/api/shows?city=Z%C3%BCrich&date=2100-01-01", None)
        .await;
    assert_eq!(by_city.status, 200, "{:?}", by_city.json);

    let map = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(map.status, 200);
    assert_eq!(map.json["seats"].as_array().expect("seats").len(), 400);

    let hold = site
        .post(
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [45, 46]}),
        )
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.json);
    let cookie = hold.cookie.clone().expect("a session cookie");
    let hold_id = hold.json["hold_id"].as_u64().expect("hold id");
    assert_eq!(hold.json["labels"], json!(["C6", "C7"]));

    let order = site
        .post(
            &format!("/api/holds/{hold_id}/checkout"),
            Some(&cookie),
            json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(order.status, 200, "{:?}", order.json);
    let order_id = order.json["order_id"].as_u64().expect("order id");
    let checkout_url = order.json["checkout_url"].as_str().expect("checkout url");

    let confirmation = pay_on_simulator(&site, checkout_url).await;
    let code = confirmation
        .strip_prefix("/booking/")
        .expect("redirected to the confirmation page");
    let page = site.get(&confirmation, None).await;
    assert_eq!(page.status, 200);
    assert!(page.json.as_str().expect("html").contains(code));

    let booking = site.get(&format!("/api/bookings/{code}"), None).await;
    assert_eq!(booking.status, 200, "{:?}", booking.json);
    assert_eq!(booking.json["payment_method"], "gateway");
    let payment_id = booking.json["payment_reference"]
        .as_str()
        .expect("payment id");
    let ledger = site.sim.ledger();
    assert!(
        format!("{ledger:?}").contains(payment_id),
        "the booking's payment id is the gateway's"
    );
    let status = site
        .get(&format!("/api/orders/{order_id}"), Some(&cookie))
        .await;
    assert_eq!(status.json["state"], "booked");
    assert_eq!(status.json["booking_code"], code);
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(seats.json["seats"][45]["state"], "sold");
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let site = Site::start(|c| c.holds_per_address_max = 3).await;
    let unknown = site.get("/api/shows/999999/seats", None).await;
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    let not_a_number = site.get("/api/shows/abc/seats", None).await;
    assert_eq!(not_a_number.status, 400);
    let bad_date = site.get("/api/shows?date=tomorrow", None).await;
    assert_eq!(
        (bad_date.status, bad_date.error_code()),
        (400, "invalid_argument")
    );
    let no_city = site.get("/api/shows?city=Atlantis", None).await;
    assert_eq!(no_city.status, 404);
    let malformed = site
        .call(reqwest::Method::POST, "/api/holds", None, Some("{".into()))
        .await;
    assert_eq!(
        (malformed.status, malformed.error_code()),
        (400, "invalid_argument")
    );
    let huge = format!(
        r#"{{"show_id": {SHOW}, "labels": ["{}"]}}"#,
        "A".repeat(64 * 1024)
    );
    let oversized = site
        .call(reqwest::Method::POST, "/api/holds", None, Some(huge))
        .await;
    assert_eq!(
        (oversized.status, oversized.error_code()),
        (413, "body_too_large")
    );
    let two_ways = site
        .post(
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [1], "best": {"count": 1}}),
        )
        .await;
    assert_eq!(two_ways.status, 400);
    let no_seat = site
        .post(
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [4000]}),
        )
        .await;
    assert!(
        no_seat.status == 400 || no_seat.status == 404,
        "{no_seat:?}"
    );
    assert!(no_seat.json["error"]["message"]
        .as_str()
        .expect("sentence")
        .ends_with('.'));

    // A hold of one session is refused to another, and to a forged cookie.
    let mine = site
        .post("/api/holds", None, json!({"show_id": SHOW, "seats": [100]}))
        .await;
    assert_eq!(mine.status, 201, "{mine:?}");
    let hold_id = mine.json["hold_id"].as_u64().expect("hold");
    let theirs = site
        .post("/api/holds", None, json!({"show_id": SHOW, "seats": [101]}))
        .await;
    let their_cookie = theirs.cookie.expect("cookie");
    let customer = json!({"name": "Eve", "email": "eve@example.com"});
    let path = format!("/api/holds/{hold_id}/checkout");
    for cookie in [None, Some(their_cookie.as_str())] {
        let refused = site.post(&path, cookie, customer.clone()).await;
        assert_eq!(
            (refused.status, refused.error_code()),
            (403, "not_your_hold")
        );
    }
    let my_cookie = mine.cookie.expect("cookie");
    let forged = my_cookie.replacen(&format!(".{hold_id}-"), &format!(".{}-", hold_id + 1), 1);
    assert_ne!(forged, my_cookie, "the cookie names the hold");
    let refused = site.post(&path, Some(&forged), customer.clone()).await;
    assert_eq!(refused.status, 403);
    let release = site
        .call(
            reqwest::Method::DELETE,
            &format!("/api/holds/{hold_id}"),
            Some(&their_cookie),
            None,
        )
        .await;
    assert_eq!(release.status, 403);
    let bad_email = site
        .post(
            &path,
            Some(&my_cookie),
            json!({"name": "Ada", "email": "not-an-address"}),
        )
        .await;
    assert_eq!(
        (bad_email.status, bad_email.error_code()),
        (400, "invalid_argument")
    );
    let seats = site.get(&format!("/api/shows/{SHOW}/seats"), None).await;
    assert_eq!(
        seats.json["seats"][100]["state"], "held",
        "the refused calls changed nothing"
    );

    // Three holds from this address were placed; the fourth is over the limit.
    let over = site
        .post("/api/holds", None, json!({"show_id": SHOW, "seats": [102]}))
        .await;
    assert_eq!((over.status, over.error_code()), (429, "too_many_holds"));
    assert!(over.json["error"]["message"]
        .as_str()
        .expect("sentence")
        .contains("holds_per_address_max"));

    let no_booking = site.get("/api/bookings/NOPE-0000", None).await;
    assert_eq!(no_booking.status, 404);
    let bad_code = site.get("/api/bookings/%3Cscript%3E", None).await;
    assert_eq!(bad_code.status, 400);
}

#[tokio::test]
async fn the_live_feed_shows_another_customers_hold_within_a_second() {
    let site = Site::start(|_| {}).await;
    let url = format!("ws://{}/api/shows/{SHOW}/live", site.web);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let first = ws.next().await.expect("message").expect("frame");
    let first: serde_json::Value =
        serde_json::from_str(first.to_text().expect("text")).expect("json");
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["map"]["seats"][200]["state"], "free");

    let started = Instant::now();
    let hold = site
        .post(
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [200, 201]}),
        )
        .await;
    assert_eq!(hold.status, 201);
    let change = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let message = ws.next().await.expect("message").expect("frame");
            let value: serde_json::Value =
                serde_json::from_str(message.to_text().expect("text")).expect("json");
            if value["type"] == "changes" {
                return value;
            }
        }
    })
    .await
    .expect("the hold reached the viewer within 1 s");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(change["cause"], "held");
    let ids: Vec<u64> = change["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["state"] == "held")
        .filter_map(|c| c["seat_id"].as_u64())
        .collect();
    assert_eq!(ids, vec![200, 201]);

    // A second viewer joins the running feed with a snapshot that has the hold; the sale of
    // another customer's seats reaches both within 1 s.
    let url = format!("ws://{}/api/shows/{SHOW}/live", site.web);
    let (mut second, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let first_message = second.next().await.expect("message").expect("frame");
    let snapshot: serde_json::Value =
        serde_json::from_str(first_message.to_text().expect("text")).expect("json");
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["map"]["seats"][200]["state"], "held");
    let (_, _, order) = checkout(&site, &[220]).await;
    assert_eq!(
        next_change(&mut ws, Duration::from_secs(1)).await["cause"],
        "held"
    );
    assert_eq!(
        next_change(&mut second, Duration::from_secs(1)).await["cause"],
        "held"
    );
    pay_on_simulator(&site, order["checkout_url"].as_str().expect("url")).await;
    for viewer in [&mut ws, &mut second] {
        let sold = next_change(viewer, Duration::from_secs(1)).await;
        assert_eq!(sold["cause"], "sold", "{sold:?}");
        assert_eq!(sold["changes"][0]["seat_id"], 220);
    }

    let unknown = site.get("/api/shows/424242/live", None).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn shows_are_paged_with_limit_and_after() {
    let site = Site::start(|_| {}).await;
    let all = site.get("/api/shows", None).await;
    assert_eq!(all.status, 200);
    assert!(all.json["next"].is_null(), "{:?}", all.json);
    let count = all.json["shows"].as_array().expect("shows").len();
    assert!(count >= 1);
    let mut walked = Vec::new();
    let mut path = "/api/shows?limit=1".to_owned();
    for _ in 0..=count {
        let page = site.get(&path, None).await;
        assert_eq!(page.status, 200, "{:?}", page.json);
        let shows = page.json["shows"].as_array().expect("shows").clone();
        assert!(shows.len() <= 1);
        walked.extend(shows);
        match page.json["next"].as_str() {
            Some(next) => path = format!("/api/shows?limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(&walked, all.json["shows"].as_array().expect("shows"));
    let zero = site.get("/api/shows?limit=0", None).await;
    assert_eq!(zero.status, 400, "{:?}", zero.json);
    let stray = site.get("/api/shows?after=s:1.2", None).await;
    assert_eq!(stray.status, 400, "{:?}", stray.json);
    let bad = site.get("/api/shows?limit=5&after=nonsense", None).await;
    assert_eq!(bad.status, 400, "{:?}", bad.json);
}
