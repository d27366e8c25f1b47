//! Headless Chromium for the browser tests: chromedriver (installed with apt-get when
//! missing), a session per browser, screenshots and waits.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder};

/// How long a step may take to show in the browser.
pub const STEP_WAIT_MS: u64 = 10_000;

/// chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
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
pub fn ensure_chromium() {
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

pub fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("port");
    listener.local_addr().expect("addr").port()
}

pub async fn start_driver() -> Driver {
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

pub async fn browser(driver: &Driver) -> Browser {
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

pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub async fn shot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Waits until `script` (a JS expression) is true in the page.
pub async fn wait_for(browser: &Browser, script: &str, within: Duration) {
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

pub fn state_of(seat: u32) -> String {
    format!("document.querySelector('.seat[data-id=\"{seat}\"]').getAttribute('data-state')")
}
