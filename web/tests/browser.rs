//! The site in a real headless Chromium (Debian's `chromium` and `chromium-driver`, installed
//! with apt-get by this set-up when missing), driven over WebDriver with fantoccini, against a
//! real node, the gateway simulator and the web server on 127.0.0.1 port 0. Screenshots of each
//! step go to the target directory (`web-screenshots/`).

mod support;

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use support::{Site, SHOW};

/// How long a step may take to show in the browser.
const STEP_WAIT_MS: u64 = 10_000;

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Chromium and its driver if missing; fails loudly if that is impossible.
fn ensure_chromium() {
    if have("chromium") && have("chromedriver") {
        return;
    }
    let status = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get to install chromium and chromium-driver");
    assert!(
        status.success(),
        "installing chromium and chromium-driver failed"
    );
}

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("port");
    listener.local_addr().expect("addr").port()
}

async fn start_driver() -> Driver {
    ensure_chromium();
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_millis(STEP_WAIT_MS);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver) -> Browser {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1000,1400"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Waits until `script` (a JS expression) is true in the page.
async fn wait_for(browser: &Browser, script: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let value = browser
            .execute(&format!("return !!({script});"), vec![])
            .await
            .expect("script");
        if value == serde_json::Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "never true: {script}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state_of(seat: u32) -> String {
    format!("document.querySelector('.seat[data-id=\"{seat}\"]').getAttribute('data-state')")
}

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
