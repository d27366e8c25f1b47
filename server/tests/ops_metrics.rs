//! `--metrics-listen`: the Prometheus text after a sale, `/healthz`, and `/readyz` going 503
//! while MySQL is cut off (through `MysqlProxy`) and 200 again once it is back.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{PaymentMethod, Role};
use cinebook_server::testing::MysqlProxy;
use support::{booked, error_of, held, mysql_store, prepare_database, test_config, TestNode, SHOW};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.0 GET; returns the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the metrics listener answers within 10 s");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
}

/// The value of the sample whose line starts with `series` (name and labels exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn until_status(addr: SocketAddr, path: &str, want: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = get(addr, path).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {status} ({body:?}) after {} s; wanted {want}",
            within.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_sale_and_readyz_follows_mysql() {
    let (db, tokens) = prepare_database().await;
    let proxy = MysqlProxy::start(&db).await;
    let store = mysql_store(&proxy.url(&db)).await;
    let node = TestNode::start_on(db, tokens, test_config(), store).await;
    let (http, _task) = cinebook_server::metrics::spawn_http(
        "127.0.0.1:0".parse().expect("addr"),
        node.server.node.clone(),
    )
    .await
    .expect("bind the metrics listener");

    assert_eq!(get(http, "/healthz").await, (200, "alive\n".to_owned()));
    assert_eq!(get(http, "/readyz").await, (200, "ready\n".to_owned()));
    assert_eq!(get(http, "/nowhere").await.0, 404);

    // A sale of two seats, and a hold refused because they are sold.
    let mut office = node.client(Role::BoxOffice, 0).await;
    let hold = held(office.hold_seats(SHOW, &["H1", "H2"]).await);
    let booking = booked(
        office
            .confirm(&hold, PaymentMethod::Cash, "metrics-1")
            .await,
    );
    assert_eq!(booking.seats.len(), 2);
    let refused = error_of(office.hold_seats(SHOW, &["H1"]).await);

    let (status, text) = get(http, "/metrics").await;
    assert_eq!(status, 200);
    let expect = |series: &str, value: f64| {
        assert_eq!(
            sample(&text, series),
            Some(value),
            "{series} in the scrape:\n{text}"
        );
    };
    expect(r#"cinebook_requests_total{name="hold",code="ok"}"#, 1.0);
    expect(r#"cinebook_requests_total{name="confirm",code="ok"}"#, 1.0);
    expect(
        &format!(
            r#"cinebook_requests_total{{name="hold",code="{}"}}"#,
            refused.code.name()
        ),
        1.0,
    );
    expect(
        r#"cinebook_request_duration_seconds_count{name="confirm"}"#,
        1.0,
    );
    expect("cinebook_seats_sold_total", 2.0);
    expect("cinebook_writer_batch_sales_count", 1.0);
    expect("cinebook_writer_batch_sales_sum", 1.0);
    expect("cinebook_writer_commit_duration_seconds_count", 1.0);
    expect("cinebook_connections", 1.0);
    expect("cinebook_holds_active", 0.0);
    expect("cinebook_work_queue_depth", 0.0);
    expect("cinebook_writer_queue_depth", 0.0);
    expect(r#"cinebook_node_role{role="standalone"}"#, 1.0);
    expect(r#"cinebook_node_role{role="leader"}"#, 0.0);
    expect("cinebook_leader_known", 1.0);
    let lamport = sample(&text, "cinebook_lamport_time").expect("lamport time");
    assert!(lamport > 0.0, "the Lamport clock moved: {lamport}");

    // An open hold is a gauge; a closed connection leaves the connection gauge.
    let _open = held(office.hold_seats(SHOW, &["H5"]).await);
    drop(office);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = get(http, "/metrics").await.1;
        assert_eq!(sample(&text, "cinebook_holds_active"), Some(1.0));
        if sample(&text, "cinebook_connections") == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "connection gauge stuck:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // MySQL cut off: not ready, and it says why; back: ready again. Alive throughout.
    proxy.cut();
    let reason = until_status(http, "/readyz", 503, Duration::from_secs(10)).await;
    assert!(
        reason.contains("store"),
        "the reason names the store: {reason:?}"
    );
    assert_eq!(get(http, "/healthz").await.0, 200);
    proxy.restore();
    until_status(http, "/readyz", 200, Duration::from_secs(20)).await;

    node.stop().await;
}
