//! Strings from the wire are bounded before they are logged (issue 13, item 5). Its own test
//! binary: it installs a global tracing subscriber that counts the bytes logged.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::{Body, Envelope, ErrorCode, Request, PROTOCOL_VERSION};
use support::*;
use tokio::io::AsyncWriteExt;

/// A `MakeWriter` counting every byte written.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len(), Ordering::SeqCst);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Counting {
    type Writer = Counting;
    fn make_writer(&'a self) -> Counting {
        self.clone()
    }
}

/// Hellos with a huge client name (and a huge token) sent.
const HUGE_HELLOS: usize = 200;
/// Bytes of each huge string.
const HUGE_BYTES: usize = 1 << 20;
/// What all of them may log together.
const LOGGED_MAX_BYTES: usize = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_huge_client_name_is_refused_and_not_logged() {
    let logged = Counting::default();
    tracing_subscriber::fmt()
        .with_writer(logged.clone())
        .with_max_level(tracing::Level::DEBUG)
        .init();
    let mut config = test_config();
    config.frame_max_bytes = 4 << 20;
    let node = TestNode::start_with(config, None).await;
    let before = logged.0.load(Ordering::SeqCst);
    let mut stream = raw_connection(node.addr()).await;
    for i in 0..HUGE_HELLOS {
        let (client_name, token) = if i % 2 == 0 {
            ("n".repeat(HUGE_BYTES), None)
        } else {
            ("kiosk".to_owned(), Some("t".repeat(HUGE_BYTES)))
        };
        let hello = Envelope::request(
            1 + i as u64,
            1,
            Request::Hello {
                version: PROTOCOL_VERSION,
                client_name,
                token,
            },
        );
        let frame = cinebook_protocol::codec::encode_frame(&hello).expect("encode");
        stream.write_all(&frame).await.expect("send");
        let answer = read_raw_frame(&mut stream, Duration::from_secs(10))
            .await
            .expect("an answer");
        match answer.body {
            Body::Error(e) => assert_eq!(e.code, ErrorCode::InvalidArgument, "{}", e.message),
            other => panic!("a {HUGE_BYTES}-byte string was accepted: {other:?}"),
        }
    }
    // A reasonable Hello still works on the same connection.
    raw_hello(&mut stream, None).await;
    let written = logged.0.load(Ordering::SeqCst) - before;
    assert!(
        written <= LOGGED_MAX_BYTES,
        "{HUGE_HELLOS} huge Hellos logged {written} bytes"
    );
    node.stop().await;
}
