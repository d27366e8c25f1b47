//! `cinebook-web` as real processes (the binary): SIGKILLed after the customer paid, and two
//! replicas behind a real nginx (Debian's, with `deploy/nginx-web.conf` made local).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use support::process::{Nginx, WebProcess};
use support::{Answer, Site, SHOW};

/// The secret both replicas share.
const COOKIE_SECRET: &str = "replica-test-cookie-secret";

/// The address nginx's proxy side connects from; the replicas trust only it.
const PROXY_FROM: &str = "127.0.0.2";

/// How long the reconciler may take to book a payment nobody reported.
const BOOKED_WAIT_MS: u64 = 10_000;

/// Holds `seats` through `at` and starts their checkout; answers (cookie, hold id, order).
async fn checkout_at(site: &Site, at: SocketAddr, seats: &[u32]) -> (String, u64, Answer) {
    let hold = post(
        site,
        at,
        "/api/holds",
        None,
        json!({"show_id": SHOW, "seats": seats}),
    )
    .await;
    assert_eq!(hold.status, 201, "{:?}", hold.json);
    let cookie = hold.cookie.clone().expect("cookie");
    let hold_id = hold.json["hold_id"].as_u64().expect("hold id");
    let order = checkout(site, at, &cookie, hold_id).await;
    (cookie, hold_id, order)
}

async fn checkout(site: &Site, at: SocketAddr, cookie: &str, hold_id: u64) -> Answer {
    let customer = json!({"name": "Edsger Dijkstra", "email": "ewd@example.com"});
    let path = format!("/api/holds/{hold_id}/checkout");
    post(site, at, &path, Some(cookie), customer).await
}

async fn post(
    site: &Site,
    at: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    body: serde_json::Value,
) -> Answer {
    site.call_to(
        at,
        reqwest::Method::POST,
        path,
        cookie,
        Some(body.to_string()),
    )
    .await
}

async fn get(site: &Site, at: SocketAddr, path: &str, cookie: Option<&str>) -> Answer {
    site.call_to(at, reqwest::Method::GET, path, cookie, None)
        .await
}

/// Presses Pay on the gateway's checkout of `order`; answers (payment id, the return link the
/// gateway sends the browser to).
async fn pay(site: &Site, order: &Answer) -> (String, String) {
    let url = reqwest::Url::parse(order.json["checkout_url"].as_str().expect("url")).expect("url");
    let gateway_order = url.path().rsplit('/').next().expect("order id").to_string();
    let callback = url
        .query_pairs()
        .find(|(k, _)| k == "callback_url")
        .map(|(_, v)| v.into_owned())
        .expect("return link");
    let paid = site
        .http
        .post(format!(
            "{}/sim/orders/{gateway_order}/pay",
            site.sim.base_url()
        ))
        .query(&[("callback_url", callback.as_str())])
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status().as_u16(), 303);
    let back = paid.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let payment = reqwest::Url::parse(&back)
        .expect("return link")
        .query_pairs()
        .find(|(k, _)| k == "razorpay_payment_id")
        .map(|(_, v)| v.into_owned())
        .expect("payment id");
    (payment, back)
}

/// The confirmation page reached from the gateway's return link `back` (its path and query)
/// through `at`; answers the booking code.
async fn confirmation(site: &Site, at: SocketAddr, cookie: &str, back: &str) -> String {
    let url = reqwest::Url::parse(back).expect("return link");
    let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let back = get(site, at, &path, Some(cookie)).await;
    assert_eq!(back.status, 303, "{:?}", back.json);
    let to = back.location.expect("location");
    let code = to
        .strip_prefix("/booking/")
        .expect("a booking page")
        .to_string();
    let page = get(site, at, &to, Some(cookie)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.json.as_str().is_some_and(|p| p.contains(&code)),
        "{page:?}"
    );
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_process_sigkilled_after_the_capture_loses_no_booking() {
    let site = Site::start_full(support::PAYMENT_WINDOW_MS, 200, |_| {}).await;
    // Nobody tells the node of the payment: no webhook, no checkout result (the process that
    // would receive it is killed). Only the reconciler can book it.
    site.sim
        .control()
        .apply(cinebook_paysim::SwitchesPatch {
            webhook_drop_next: Some(100),
            ..Default::default()
        })
        .expect("drop webhooks");
    let mut first = WebProcess::spawn(site.node.addr, &site.token, COOKIE_SECRET, &[]);
    let (cookie, _, order) = checkout_at(&site, first.addr, &[340, 341]).await;
    assert_eq!(order.status, 200, "{:?}", order.json);
    let order_id = order.json["order_id"].as_u64().expect("order id");
    let (payment_id, back) = pay(&site, &order).await;
    assert_eq!(first.sigkill(), Some(9), "killed by SIGKILL");
    let second = WebProcess::spawn(site.node.addr, &site.token, COOKIE_SECRET, &[]);
    let deadline = Instant::now() + Duration::from_millis(BOOKED_WAIT_MS);
    loop {
        let status = get(
            &site,
            second.addr,
            &format!("/api/orders/{order_id}"),
            Some(&cookie),
        )
        .await;
        assert_eq!(status.status, 200, "{:?}", status.json);
        if status.json["state"] == "booked" {
            break;
        }
        assert!(Instant::now() < deadline, "never booked: {:?}", status.json);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The browser's return (lost with the first process) reaches the other replica.
    let code = confirmation(&site, second.addr, &cookie, &back).await;
    let booking = get(&site, second.addr, &format!("/api/bookings/{code}"), None).await;
    assert_eq!(booking.status, 200);
    assert_eq!(booking.json["payment_reference"], payment_id.as_str());
    assert!(
        site.sim
            .webhook_log()
            .iter()
            .all(|w| w.outcome == cinebook_paysim::WebhookOutcome::Dropped),
        "no webhook reached the node"
    );
}

type Viewer =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next message with seat changes, within `wait`.
async fn next_change(ws: &mut Viewer, wait: Duration) -> serde_json::Value {
    tokio::time::timeout(wait, async {
        loop {
            let message = ws.next().await.expect("message").expect("frame");
            let value: serde_json::Value =
                serde_json::from_str(message.to_text().expect("text")).expect("json");
            if value["type"] == "changes"
                && value["changes"].as_array().is_some_and(|c| !c.is_empty())
            {
                return value;
            }
        }
    })
    .await
    .expect("a change in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_behind_nginx_share_carts_limits_and_the_live_map() {
    let site = Site::start(|_| {}).await;
    let trust = ["--trust-forwarded-for", "--trusted-proxies", PROXY_FROM];
    let mut one = WebProcess::spawn(site.node.addr, &site.token, COOKIE_SECRET, &trust);
    let two = WebProcess::spawn(site.node.addr, &site.token, COOKIE_SECRET, &trust);
    let nginx = Nginx::start(&[one.addr, two.addr], PROXY_FROM).await;
    let front = nginx.addr;
    // A page through nginx.
    let index = get(&site, front, "/", None).await;
    assert_eq!(index.status, 200);
    // A hold made through one replica is the same customer's on the other.
    let hold = post(
        &site,
        one.addr,
        "/api/holds",
        None,
        json!({"show_id": SHOW, "seats": [350]}),
    )
    .await;
    assert_eq!(hold.status, 201, "{:?}", hold.json);
    let cookie = hold.cookie.clone().expect("cookie");
    let hold_id = hold.json["hold_id"].as_u64().expect("hold id");
    let renewed = post(
        &site,
        two.addr,
        &format!("/api/holds/{hold_id}/renew"),
        Some(&cookie),
        json!({}),
    )
    .await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    // The live map through nginx (a WebSocket upgrade proxied).
    let url = format!("ws://{front}/api/shows/{SHOW}/live");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws through nginx");
    let first = ws.next().await.expect("message").expect("frame");
    assert!(first.to_text().expect("text").contains("\"snapshot\""));
    let started = Instant::now();
    let other = post(
        &site,
        front,
        "/api/holds",
        None,
        json!({"show_id": SHOW, "seats": [351]}),
    )
    .await;
    assert_eq!(other.status, 201, "{:?}", other.json);
    let change = next_change(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(change["changes"][0]["seat_id"], 351, "{change:?}");
    println!(
        "a hold reached the viewer through nginx after {:?}",
        started.elapsed()
    );
    // One address's holds spread over both replicas meet one limit (nginx's shared zone): 20,
    // the hold above included. These ask for a seat that does not exist, so they use up no
    // seats, only the address's allowance.
    let mut admitted = 1;
    for _ in 0..30 {
        let a = post(
            &site,
            front,
            "/api/holds",
            None,
            json!({"show_id": SHOW, "seats": [999_999]}),
        )
        .await;
        if a.status == 429 {
            assert_eq!(a.error_code(), "too_many_holds", "{:?}", a.json);
        } else {
            admitted += 1;
        }
    }
    assert!(
        (20..=21).contains(&admitted),
        "{admitted} holds admitted from one address"
    );
    // One replica dies; the customer's cart and payment go on through the other.
    assert_eq!(one.sigkill(), Some(9));
    let order = checkout(&site, front, &cookie, hold_id).await;
    assert_eq!(order.status, 200, "{:?}", order.json);
    let (_, back) = pay(&site, &order).await;
    assert!(
        back.starts_with(&format!("http://{front}/pay/return/")),
        "{back}"
    );
    let code = confirmation(&site, front, &cookie, &back).await;
    assert!(!code.is_empty());
}
