//! The hosted checkout page, its buttons' redirects, and `/sim/…` over HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use cinebook_gateway::{CheckoutResult, PaymentGateway};
use common::*;
use reqwest::Url;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn text(response: reqwest::Response) -> String {
    String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap()
}

fn query(location: &str) -> Vec<(String, String)> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

#[tokio::test]
async fn the_page_pays_and_redirects_with_a_signed_result() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 12_345).await;
    let callback = "http://127.0.0.1:1/done?hold=7";
    let url = client.checkout_url(&order, callback);
    assert!(url.starts_with(&format!(
        "{}/checkout/{}?callback_url=",
        sim.base_url(),
        order.id
    )));

    let page = text(no_redirects().get(&url).send().await.unwrap()).await;
    assert!(page.contains("12345 INR"), "{page}");
    assert!(page.contains(r#"id="pay""#) && page.contains(r#"id="decline""#));
    assert!(page.contains(r#"id="close""#));
    // The Pay form's action, as a browser would post it.
    let action_at = page.find("/sim/orders/").unwrap();
    let action = &page[action_at..page[action_at..].find('"').unwrap() + action_at];
    let action = action.replace("&amp;", "&");
    assert!(action.contains("/pay?callback_url="), "{action}");

    let answer = no_redirects()
        .post(format!("{}{}", sim.base_url(), action))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:1/done?hold=7&"),
        "{location}"
    );
    let pairs = query(&location);
    let result = CheckoutResult {
        order_id: param(&pairs, "razorpay_order_id").to_owned(),
        payment_id: param(&pairs, "razorpay_payment_id").to_owned(),
        signature: param(&pairs, "razorpay_signature").to_owned(),
    };
    assert_eq!(result.order_id, order.id);
    client.verify_checkout(&result).unwrap();
    assert_eq!(sim.ledger().captured_minor(&order.id), 12_345);

    // Paying a paid order is refused in Razorpay's shape.
    let again = no_redirects()
        .post(format!("{}/sim/orders/{}/pay", sim.base_url(), order.id))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(text(again).await.contains("BAD_REQUEST_ERROR"));
    sim.shutdown().await;
}

#[tokio::test]
async fn decline_and_close_redirect_with_an_error() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 1_000).await;
    let callback = "http://127.0.0.1:1/done";
    let declined = no_redirects()
        .post(format!(
            "{}/sim/orders/{}/decline?callback_url={}",
            sim.base_url(),
            order.id,
            callback
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 303);
    let pairs = query(declined.headers()["location"].to_str().unwrap());
    assert_eq!(param(&pairs, "error[code]"), "BAD_REQUEST_ERROR");
    assert_eq!(param(&pairs, "razorpay_order_id"), order.id);
    assert!(param(&pairs, "error[metadata]").contains("pay_"));

    let page = text(
        no_redirects()
            .get(client.checkout_url(&order, callback))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let close_at = page.find(r#"id="close" href=""#).unwrap() + r#"id="close" href=""#.len();
    let close =
        page[close_at..close_at + page[close_at..].find('"').unwrap()].replace("&amp;", "&");
    let pairs = query(&close);
    assert_eq!(param(&pairs, "error[reason]"), "payment_cancelled");

    // A script URL as callback is refused.
    let refused = no_redirects()
        .get(format!(
            "{}/checkout/{}?callback_url=javascript:alert(1)",
            sim.base_url(),
            order.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let unknown = no_redirects()
        .get(format!("{}/checkout/order_Nope", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn switches_flip_over_http_and_bad_values_are_refused() {
    let sim = sim().await;
    let http = no_redirects();
    let control = format!("{}/sim/control", sim.base_url());
    let answer = http
        .post(&control)
        .body(r#"{"webhook_duplicate":true,"fail_next":2,"fail_endpoint":"refund"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let switches = sim.control().switches();
    assert!(switches.webhook_duplicate);
    assert_eq!(switches.fail_next, 2);
    assert_eq!(
        switches.fail_endpoint,
        Some(cinebook_paysim::Endpoint::Refund)
    );

    for bad in [
        r#"{"webhook_drop_probability":2.0}"#,
        r#"{"fail_status":404}"#,
        r#"{"no_such_switch":1}"#,
        "not json",
    ] {
        let answer = http.post(&control).body(bad).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
    }
    assert_eq!(
        sim.control().switches(),
        switches,
        "refused patches change nothing"
    );

    let client = client(&sim);
    let order = new_order(&client, 1_000).await;
    sim.pay(&order.id).unwrap();
    let ledger: serde_json::Value = serde_json::from_slice(
        &http
            .get(format!("{}/sim/ledger", sim.base_url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["orders"][0]["id"], order.id.as_str());
    assert_eq!(ledger["payments"][0]["status"], "captured");
    sim.shutdown().await;
}
