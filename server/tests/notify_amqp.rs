//! Notifications through RabbitMQ (the real broker on 127.0.0.1:5672, reached through a TCP
//! proxy so a test can take it away without touching the shared broker): the leader relays the
//! outbox with publisher confirms, a consumer sends through the SMTP sink. Each test declares
//! its own exchanges and queues under a unique prefix, so tests run side by side.

mod notify_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::types::Role;
use cinebook_server::notify::amqp::Topology;
use cinebook_server::notify::consumer::{self, ConsumerConfig};
use cinebook_server::notify::deliver::NotifyConfig;
use cinebook_server::notify::metrics::NotifyMetrics;
use cinebook_server::notify::relay::AmqpConfig;
use cinebook_server::testing::{MysqlProxy, SmtpSink};
use mysql_async::prelude::Queryable;
use notify_support::{config_with, email, notify_config, sell, unique_prefix, wait_for};
use support::TestNode;
use tokio_util::sync::CancellationToken;

/// The shared broker.
const BROKER: &str = "127.0.0.1:5672";

fn amqp_url(addr: std::net::SocketAddr) -> String {
    format!("amqp://guest:guest@{addr}/%2f")
}

/// A relaying node and a consumer, both through their own proxy to the broker.
struct Rig {
    node: TestNode,
    sink: SmtpSink,
    node_proxy: MysqlProxy,
    metrics: Arc<NotifyMetrics>,
    stop: CancellationToken,
    consumer: tokio::task::JoinHandle<()>,
    topology: Topology,
    direct_url: String,
    _dir: tempfile::TempDir,
}

async fn rig(test: &str, attempts: u32) -> Rig {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let node_proxy = MysqlProxy::start_to(BROKER.into()).await;
    let prefix = unique_prefix(test);
    let mut notify: NotifyConfig = notify_config(&sink.url(), dir.path(), attempts);
    notify.amqp = Some(AmqpConfig {
        url: amqp_url(node_proxy.addr()),
        prefix: prefix.clone(),
        batch_max: 100,
        poll_ms: 20,
        policy: notify.policy.clone(),
    });
    let notifier = notify.notifier().expect("notifier");
    let topology = Topology::new(&prefix, &notify.policy);
    let direct_url = amqp_url(BROKER.parse().expect("broker addr"));
    let consumer_config = ConsumerConfig {
        url: direct_url.clone(),
        topology: topology.clone(),
        policy: notify.policy.clone(),
    };
    let node = TestNode::start_with(config_with(notify), None).await;
    let metrics = Arc::new(NotifyMetrics::default());
    let stop = CancellationToken::new();
    let consumer = {
        let (metrics, stop) = (metrics.clone(), stop.clone());
        tokio::spawn(async move {
            consumer::run(&consumer_config, &notifier, &metrics, &stop).await;
        })
    };
    Rig {
        node,
        sink,
        node_proxy,
        metrics,
        stop,
        consumer,
        topology,
        direct_url,
        _dir: dir,
    }
}

impl Rig {
    async fn finish(self) {
        self.stop.cancel();
        let _ = self.consumer.await;
        self.node.stop().await;
        delete_topology(&self.direct_url, &self.topology).await;
    }

    async fn outbox_states(&self) -> Vec<String> {
        let mut conn = self.node.mysql().await;
        let states: Vec<String> = conn
            .query("SELECT state FROM outbox ORDER BY seq")
            .await
            .expect("outbox");
        states
    }
}

/// Deletes what a test declared (the broker is shared).
async fn delete_topology(url: &str, topology: &Topology) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok((connection, channel)) = cinebook_server::notify::amqp::open(url, topology).await else {
        return;
    };
    let mut queues = vec![topology.send_queue(), topology.dead_queue()];
    queues.extend((0..topology.delays_ms.len()).map(|s| topology.retry_queue(s)));
    for queue in queues {
        let _ = channel
            .queue_delete(&queue, QueueDeleteOptions::default())
            .await;
    }
    for exchange in [topology.exchange(), topology.retry_exchange()] {
        let _ = channel
            .exchange_delete(&exchange, ExchangeDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "test done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_sale_sends_one_email_and_a_republished_duplicate_sends_nothing() {
    let rig = rig("dup", 3).await;
    let mut client = rig.node.client(Role::BoxOffice, 0).await;
    let booking = sell(&mut client, &["D1"], "amqp-1", email("dee@example.ch")).await;
    wait_for("the relayed e-mail", || {
        rig.sink.containing(&booking.code) == 1
    })
    .await;
    let states = rig.outbox_states().await;
    assert_eq!(
        states,
        vec!["sent".to_owned()],
        "marked after the broker's ack"
    );
    // The relay dies after the broker acknowledged the row but before it was marked: after the
    // restart the row is pending again and is published a second time, same message id.
    let mut conn = rig.node.mysql().await;
    conn.query_drop("UPDATE outbox SET state = 'pending'")
        .await
        .expect("unmark");
    drop(conn);
    let metrics = rig.metrics.clone();
    wait_for("the duplicate to be consumed", || {
        metrics.duplicates_seen() == 1
    })
    .await;
    assert_eq!(rig.outbox_states().await, vec!["sent".to_owned()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.sink.messages().len(), 1, "the duplicate sent nothing");
    assert_eq!(rig.metrics.sends_seen("email"), 1);
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_mid_stream_loses_nothing_and_never_fails_a_sale() {
    let rig = rig("outage", 3).await;
    let mut client = rig.node.client(Role::BoxOffice, 0).await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let seat = format!("E{}", i + 1);
        codes.push(
            sell(
                &mut client,
                &[&seat],
                &format!("o-{i}"),
                email("e@example.ch"),
            )
            .await
            .code,
        );
    }
    rig.node_proxy.cut();
    for i in 5..10 {
        let seat = format!("E{}", i + 1);
        codes.push(
            sell(
                &mut client,
                &[&seat],
                &format!("o-{i}"),
                email("e@example.ch"),
            )
            .await
            .code,
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pending = rig
        .outbox_states()
        .await
        .iter()
        .filter(|s| *s == "pending")
        .count();
    assert!(
        pending >= 5,
        "the sales during the outage wait in the table ({pending} pending)"
    );
    rig.node_proxy.restore();
    let sink = &rig.sink;
    wait_for("every e-mail", || {
        codes.iter().all(|c| sink.containing(c) >= 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for code in &codes {
        assert_eq!(rig.sink.containing(code), 1, "{code}: exactly one e-mail");
    }
    assert!(rig.outbox_states().await.iter().all(|s| s == "sent"));
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_sends_the_message_through_the_retry_queues_to_the_dlq() {
    let rig = rig("dlq", 3).await;
    rig.sink.refuse(true);
    let mut client = rig.node.client(Role::BoxOffice, 0).await;
    let booking = sell(&mut client, &["F1"], "dlq-1", email("eff@example.ch")).await;
    let id = format!("confirmed:{}", booking.code);
    let mut dead = Vec::new();
    for _ in 0..300 {
        dead = consumer::dlq_list(&rig.direct_url, &rig.topology, 10)
            .await
            .expect("dlq list");
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.len(), 1, "parked in the dead-letter queue");
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(rig.sink.refused(), 3, "two retries through the TTL queues");
    // Listing leaves it parked.
    let again = consumer::dlq_list(&rig.direct_url, &rig.topology, 10)
        .await
        .expect("dlq list");
    assert_eq!(again.len(), 1);
    rig.sink.refuse(false);
    let replayed = consumer::dlq_replay(&rig.direct_url, &rig.topology, std::slice::from_ref(&id))
        .await
        .expect("replay");
    assert_eq!(replayed, vec![id]);
    wait_for("the replayed e-mail", || {
        rig.sink.containing(&booking.code) == 1
    })
    .await;
    let left = consumer::dlq_list(&rig.direct_url, &rig.topology, 10)
        .await
        .expect("dlq list");
    assert!(left.is_empty(), "{left:?}");
    rig.finish().await;
}
