//! The site in a real headless Chromium (Debian's `chromium` and `chromium-driver`, installed
//! with apt-get by this set-up when missing), driven over WebDriver with fantoccini, against a
//! real node, the gateway simulator and the web server on 127.0.0.1 port 0. Screenshots of each
//! step go to the target directory (`web-screenshots/`).

mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use support::browser::{browser, shot, start_driver, state_of, wait_for, STEP_WAIT_MS};
use support::{Site, SHOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_clicked_through_the_five_steps() {
    let site = Site::start(|_| {}).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;
    let step = Duration::from_millis(STEP_WAIT_MS);

    // 1. City and date.
    b.goto(&site.url("/")).await.expect("index");
    b.execute(
        "document.getElementById('date').value = '2100-01-01';",
        vec![],
    )
    .await
    .expect("date");
    shot(&b, "1-city").await;
    b.find(Locator::Id("find"))
        .await
        .expect("find")
        .click()
        .await
        .expect("click");
    // 2 and 3. Movies and showtimes.
    let showtime = b
        .wait()
        .at_most(step)
        .for_element(Locator::Css("a.showtime"))
        .await
        .expect("a showtime");
    shot(&b, "2-shows").await;
    showtime.click().await.expect("showtime");
    // 4. The seat map: click two seats and hold them.
    b.wait()
        .at_most(step)
        .for_element(Locator::Css("#seatmap"))
        .await
        .expect("seat map");
    for seat in [45, 46] {
        b.find(Locator::Css(&format!(".seat[data-id=\"{seat}\"]")))
            .await
            .expect("seat")
            .click()
            .await
            .expect("click seat");
    }
    b.find(Locator::Id("hold"))
        .await
        .expect("hold")
        .click()
        .await
        .expect("click");
    wait_for(&b, &format!("{} === 'mine'", state_of(45)), step).await;
    wait_for(&b, "!document.getElementById('cart').hidden", step).await;
    shot(&b, "4-seatmap").await;
    // `CINEBOOK_WEB_SCREENSHOT_TO_DOCS=1` refreshes the README's picture from this step.
    if std::env::var("CINEBOOK_WEB_SCREENSHOT_TO_DOCS").is_ok_and(|v| v == "1") {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/web-seatmap.png");
        let png = b.screenshot().await.expect("screenshot");
        std::fs::write(docs, png).expect("docs/web-seatmap.png");
    }
    // 5. Name, e-mail, the gateway's page, pay.
    b.find(Locator::Id("name"))
        .await
        .expect("name")
        .send_keys("Ada Lovelace")
        .await
        .expect("type");
    b.find(Locator::Id("email"))
        .await
        .expect("email")
        .send_keys("ada@example.com")
        .await
        .expect("type");
    b.find(Locator::Id("pay"))
        .await
        .expect("pay")
        .click()
        .await
        .expect("click");
    let pay = b
        .wait()
        .at_most(step)
        .for_element(Locator::Css("form[action*='/pay'] button#pay"))
        .await
        .expect("the simulator's checkout");
    shot(&b, "5-checkout").await;
    pay.click().await.expect("pay");
    let code = b
        .wait()
        .at_most(step)
        .for_element(Locator::Id("code"))
        .await
        .expect("the confirmation page")
        .text()
        .await
        .expect("code");
    shot(&b, "6-confirmation").await;
    let seats = b
        .find(Locator::Id("seats"))
        .await
        .expect("seats")
        .text()
        .await
        .expect("text");
    assert!(seats.contains("C6") && seats.contains("C7"), "{seats}");
    // The ticket's QR code holds the cinema's signed ticket (cinebook_web::ticket::ticket_qr_text).
    let figure = b
        .find(Locator::Id("ticket-qr"))
        .await
        .expect("the ticket figure");
    let signed = figure.attr("data-signed").await.expect("attr");
    assert_eq!(
        signed.as_deref(),
        Some("true"),
        "the QR code is not a signed ticket"
    );
    let qr = b
        .find(Locator::Css("#ticket-qr svg"))
        .await
        .expect("a QR code")
        .html(false)
        .await
        .expect("svg");
    assert!(qr.contains("<path"), "{qr}");

    let booking = site.get(&format!("/api/bookings/{code}"), None).await;
    assert_eq!(booking.status, 200);
    assert_eq!(booking.json["payment_method"], "gateway");
    let payment_id = booking.json["payment_reference"]
        .as_str()
        .expect("payment id");
    assert!(format!("{:?}", site.sim.ledger()).contains(payment_id));
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_in_one_browser_shows_in_another_within_a_second() {
    let site = Site::start(|_| {}).await;
    let driver = start_driver().await;
    let (one, two) = (browser(&driver).await, browser(&driver).await);
    let page = site.url(&format!("/show/{SHOW}"));
    for b in [&one, &two] {
        b.goto(&page).await.expect("seat map");
        // Connected: the first snapshot has been applied.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    one.find(Locator::Css(".seat[data-id=\"120\"]"))
        .await
        .expect("seat")
        .click()
        .await
        .expect("click");
    one.find(Locator::Id("hold"))
        .await
        .expect("hold")
        .click()
        .await
        .expect("click");
    wait_for(
        &one,
        &format!("{} === 'mine'", state_of(120)),
        Duration::from_secs(5),
    )
    .await;
    let started = Instant::now();
    wait_for(
        &two,
        &format!("{} === 'held'", state_of(120)),
        Duration::from_secs(1),
    )
    .await;
    println!(
        "the hold showed in the other browser after {:?}",
        started.elapsed()
    );
    shot(&two, "live-other-browser").await;
    one.close().await.expect("close");
    two.close().await.expect("close");
}

/// On the seat map of the sample show: picks `seats`, holds them, fills in the customer and
/// presses Pay; answers once the gateway's checkout page is shown.
async fn to_checkout(site: &Site, b: &fantoccini::Client, seats: &[u32]) {
    let step = Duration::from_millis(STEP_WAIT_MS);
    b.goto(&site.url(&format!("/show/{SHOW}")))
        .await
        .expect("seat map");
    for seat in seats {
        b.find(Locator::Css(&format!(".seat[data-id=\"{seat}\"]")))
            .await
            .expect("seat")
            .click()
            .await
            .expect("click seat");
    }
    b.find(Locator::Id("hold"))
        .await
        .expect("hold")
        .click()
        .await
        .expect("click");
    wait_for(b, "!document.getElementById('cart').hidden", step).await;
    for (field, text) in [("name", "Alan Turing"), ("email", "alan@example.com")] {
        b.find(Locator::Id(field))
            .await
            .expect("field")
            .send_keys(text)
            .await
            .expect("type");
    }
    b.find(Locator::Id("pay"))
        .await
        .expect("pay")
        .click()
        .await
        .expect("click");
    b.wait()
        .at_most(step)
        .for_element(Locator::Css("button#decline"))
        .await
        .expect("the simulator's checkout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_gives_the_seats_back_at_once() {
    let site = Site::start(|_| {}).await;
    let driver = start_driver().await;
    let (customer, viewer) = (browser(&driver).await, browser(&driver).await);
    let step = Duration::from_millis(STEP_WAIT_MS);
    to_checkout(&site, &customer, &[200, 201]).await;
    viewer
        .goto(&site.url(&format!("/show/{SHOW}")))
        .await
        .expect("seat map");
    wait_for(&viewer, &format!("{} === 'held'", state_of(200)), step).await;
    customer
        .find(Locator::Css("button#decline"))
        .await
        .expect("decline")
        .click()
        .await
        .expect("click");
    let alert = customer
        .wait()
        .at_most(step)
        .for_element(Locator::Css("[role=alert]"))
        .await
        .expect("the site's answer")
        .text()
        .await
        .expect("text");
    assert!(alert.contains("seats were released"), "{alert}");
    shot(&customer, "declined").await;
    // Within a second, in the other browser, live (the payment window is 60 s here).
    let started = Instant::now();
    for seat in [200, 201] {
        wait_for(
            &viewer,
            &format!("{} === 'free'", state_of(seat)),
            Duration::from_secs(1),
        )
        .await;
    }
    println!("the declined seats came back after {:?}", started.elapsed());
    customer.close().await.expect("close");
    viewer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_checkout_is_released_at_the_windows_end() {
    let window_ms = 2_000;
    let site = Site::start_with(window_ms, |_| {}).await;
    let driver = start_driver().await;
    let (customer, viewer) = (browser(&driver).await, browser(&driver).await);
    let step = Duration::from_millis(STEP_WAIT_MS);
    to_checkout(&site, &customer, &[210]).await;
    let started = Instant::now();
    viewer
        .goto(&site.url(&format!("/show/{SHOW}")))
        .await
        .expect("seat map");
    wait_for(&viewer, &format!("{} === 'held'", state_of(210)), step).await;
    // The customer closes the tab on the gateway's page.
    customer.close().await.expect("close");
    wait_for(
        &viewer,
        &format!("{} === 'free'", state_of(210)),
        Duration::from_millis(window_ms + 5_000),
    )
    .await;
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(window_ms / 2),
        "released before the window's end: {after:?}"
    );
    println!("the abandoned seat came back after {after:?} (window {window_ms} ms)");
    viewer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_seat_map_still_shows_the_customers_seats_as_theirs() {
    let site = Site::start(|_| {}).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;
    let step = Duration::from_millis(STEP_WAIT_MS);
    b.goto(&site.url(&format!("/show/{SHOW}")))
        .await
        .expect("seat map");
    for seat in [220, 221] {
        b.find(Locator::Css(&format!(".seat[data-id=\"{seat}\"]")))
            .await
            .expect("seat")
            .click()
            .await
            .expect("click seat");
    }
    b.find(Locator::Id("hold"))
        .await
        .expect("hold")
        .click()
        .await
        .expect("click");
    wait_for(&b, &format!("{} === 'mine'", state_of(220)), step).await;
    b.refresh().await.expect("reload");
    // Drawn "yours" by the server, the cart and its countdown back, after the live snapshot too.
    wait_for(&b, "!document.getElementById('cart').hidden", step).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seat in [220, 221] {
        wait_for(&b, &format!("{} === 'mine'", state_of(seat)), step).await;
    }
    let cart = b
        .find(Locator::Id("cart-seats"))
        .await
        .expect("cart")
        .text()
        .await
        .expect("text");
    assert!(!cart.is_empty(), "the cart names the seats");
    shot(&b, "reloaded").await;
    // Another browser (no cookie) sees them held by someone else.
    let other = browser(&driver).await;
    other
        .goto(&site.url(&format!("/show/{SHOW}")))
        .await
        .expect("seat map");
    wait_for(&other, &format!("{} === 'held'", state_of(220)), step).await;
    b.close().await.expect("close");
    other.close().await.expect("close");
}
