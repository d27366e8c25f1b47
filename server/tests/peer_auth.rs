//! Issue 13, item 1, over real TCP and real MariaDB: the node role is never a terminal. A token
//! minted for the `node` role (by an admin over the wire, or a row an older version stored)
//! authenticates as nothing, and a `Coordinator` that disagrees with the fencing epoch in the
//! store changes nothing.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{NodeRole, Role};
use cinebook_protocol::{ErrorCode, Reply, Request, PEER_PROOF_BYTES, PROTOCOL_VERSION};
use cinebook_server::cluster::peer::{PeerConnection, PeerError, PeerIdentity};
use cinebook_server::cluster::{peer_auth, ClusterConfig};
use cinebook_server::net::tls::{self, TlsFiles};
use cinebook_server::store::EpochState;
use support::{error_of, held, test_config, TestClient, TestNode, SHOW};

const SECRET: &str = "peer-auth-test-secret-0123456789";

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// Node 2 of a two-node cluster whose node 1 is not running: it elects itself and leads.
async fn lone_leader() -> (TestNode, BTreeMap<u32, SocketAddr>) {
    lone_leader_with(None).await
}

/// [`lone_leader`], serving TLS with these files when given.
async fn lone_leader_with(tls: Option<TlsFiles>) -> (TestNode, BTreeMap<u32, SocketAddr>) {
    let addrs: BTreeMap<u32, SocketAddr> = [(1, free_addr()), (2, free_addr())].into();
    let peers = addrs.iter().map(|(id, a)| (*id, a.to_string())).collect();
    let mut cluster = ClusterConfig::new(peers, SECRET.into());
    if let Some(files) = &tls {
        cluster.tls = Some(tls::peer_connector(&files.cert_path).expect("peer TLS"));
    }
    let config = cinebook_server::Config {
        listen: addrs[&2],
        node_id: 2,
        cluster: Some(cluster),
        tls,
        ..test_config()
    };
    let node = TestNode::start_with(config, None).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.server.node.node_role() != NodeRole::Leader {
        assert!(Instant::now() < deadline, "node 2 did not take the lead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (node, addrs)
}

async fn node_role(addr: SocketAddr) -> Option<NodeRole> {
    match TestClient::try_connect(addr, None).await?.welcome {
        Some(Reply::Welcome { node_role, .. }) => Some(node_role),
        _ => None,
    }
}

async fn hello(
    client: &mut TestClient,
    token: &str,
) -> Result<Reply, cinebook_protocol::ErrorBody> {
    client
        .call(Request::Hello {
            version: PROTOCOL_VERSION,
            client_name: "intruder".into(),
            token: Some(token.to_owned()),
        })
        .await
}

/// The leader still leads, sells, and the stored epoch is the one it claimed.
async fn still_leading(node: &TestNode, epoch: EpochState) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        node_role(node.addr()).await,
        Some(NodeRole::Leader),
        "the leader stepped down"
    );
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_best(SHOW, 1, None).await);
    assert_eq!(hold.seats.len(), 1);
    assert_eq!(
        node.store.current_epoch().await.expect("epoch"),
        epoch,
        "the fencing epoch moved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_role_terminal_cannot_be_added_and_an_old_one_authenticates_as_nothing() {
    let node = TestNode::start().await;
    let mut admin = node.client(Role::Admin, 0).await;
    let answer = admin
        .call(Request::AddTerminal {
            name: "peer".into(),
            role: Role::Node,
        })
        .await;
    let code = error_of(answer).code;
    assert!(
        matches!(code, ErrorCode::InvalidArgument | ErrorCode::Forbidden),
        "AddTerminal{{role: Node}} answered {code:?}"
    );
    let terminals = node.store.list_terminals().await.expect("terminals");
    assert!(terminals.iter().all(|t| t.role != Role::Node));

    // A row with role node, as an older version could store it, is no credential at all.
    let token = node.add_terminal("old-peer", Role::Node).await;
    let mut intruder = TestClient::connect_raw(node.addr()).await;
    let code = error_of(hello(&mut intruder, &token).await).code;
    assert_eq!(code, ErrorCode::Unauthenticated);
    let follow = intruder
        .call(Request::Follow {
            node_id: 1,
            positions: Vec::new(),
        })
        .await;
    assert_eq!(error_of(follow).code, ErrorCode::Unauthenticated);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_node_token_cannot_follow_nor_depose_the_leader() {
    let (node, _) = lone_leader().await;
    let epoch = node.store.current_epoch().await.expect("epoch");
    assert_eq!(epoch.leader_node_id, Some(2));

    let token = node.add_terminal("old-peer", Role::Node).await;
    let mut follower = TestClient::connect_raw(node.addr()).await;
    let _ = hello(&mut follower, &token).await;
    let follow = follower
        .call(Request::Follow {
            node_id: 1,
            positions: Vec::new(),
        })
        .await;
    let mut intruder = TestClient::connect_raw(node.addr()).await;
    let _ = hello(&mut intruder, &token).await;
    let forged = intruder
        .call(Request::Coordinator {
            node_id: 1,
            epoch: 1_000_000,
            client_addr: "127.0.0.1:1".into(),
        })
        .await;
    eprintln!("Follow: {follow:?}\nCoordinator: {forged:?}");
    assert!(follow.is_err(), "the minted token followed: {follow:?}");
    assert!(
        forged.is_err(),
        "the forged Coordinator was taken: {forged:?}"
    );
    still_leading(&node, epoch).await;
    node.stop().await;
}

/// Peer 1 of the lone leader's cluster, authenticated by the challenge-response.
async fn as_peer_1(node: &TestNode, secret: &str) -> Result<PeerConnection, PeerError> {
    let me = PeerIdentity {
        node_id: 1,
        secret,
        tls: None,
    };
    PeerConnection::open(&node.addr().to_string(), me, 2, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_peer_cannot_depose_the_leader_with_a_claim_the_store_denies() {
    let (node, _) = lone_leader().await;
    let epoch = node.store.current_epoch().await.expect("epoch");
    let mut peer = as_peer_1(&node, SECRET)
        .await
        .expect("peer 1 authenticates");
    let forged = [
        // Not claimed in the store.
        Request::Coordinator {
            node_id: 1,
            epoch: 1_000_000,
            client_addr: "127.0.0.1:1".into(),
        },
        // The current epoch, but node 2 claimed it.
        Request::Coordinator {
            node_id: 1,
            epoch: epoch.epoch,
            client_addr: "127.0.0.1:1".into(),
        },
        // In another node's name.
        Request::Coordinator {
            node_id: 2,
            epoch: epoch.epoch,
            client_addr: "127.0.0.1:1".into(),
        },
        Request::Coordinator {
            node_id: 7,
            epoch: epoch.epoch,
            client_addr: "127.0.0.1:1".into(),
        },
        Request::Election { node_id: 7 },
    ];
    for request in forged {
        match peer.call(request.clone(), 2).await {
            Err(PeerError::Refused(e)) => assert_eq!(e.code, ErrorCode::Forbidden, "{request:?}"),
            other => panic!("{request:?} was answered {other:?}"),
        }
    }
    still_leading(&node, epoch).await;
    // A true election message from peer 1 is still answered.
    let answer = peer.call(Request::Election { node_id: 1 }, 3).await;
    assert!(
        matches!(answer, Ok((Reply::NodeStatus { node_id: 2, .. }, _))),
        "{answer:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_another_secret_is_refused_in_both_directions() {
    let (node, _) = lone_leader().await;
    // The connecting side finds out first: the leader's proof does not verify with its secret.
    let wrong = as_peer_1(&node, "not-the-cluster-secret-0000").await;
    assert!(
        matches!(wrong, Err(PeerError::Impostor(_))),
        "connecting with another secret: {wrong:?}"
    );
    // The accepting side: a proof made without the secret (here: zeros, and a replay of a
    // good proof on a second challenge) is refused, and the connection stays unauthenticated.
    let mut raw = TestClient::connect_raw(node.addr()).await;
    let nonce = peer_auth::new_nonce();
    let challenge = raw
        .call(Request::PeerHello {
            version: PROTOCOL_VERSION,
            node_id: 1,
            nonce,
        })
        .await
        .expect("challenge");
    let good = peer_auth::answer(SECRET, 1, 2, nonce, &challenge).expect("the leader is real");
    let zeros = raw
        .call(Request::PeerProof {
            proof: [0; PEER_PROOF_BYTES],
        })
        .await;
    assert_eq!(error_of(zeros).code, ErrorCode::Unauthenticated);
    // The challenge was used up by the failed answer: the right proof comes too late.
    let late = raw.call(Request::PeerProof { proof: good }).await;
    assert_eq!(error_of(late).code, ErrorCode::Unauthenticated);
    let follow = raw
        .call(Request::Follow {
            node_id: 1,
            positions: Vec::new(),
        })
        .await;
    assert_eq!(error_of(follow).code, ErrorCode::Unauthenticated);

    // With a fresh challenge the right proof is welcomed, once.
    let nonce = peer_auth::new_nonce();
    let challenge = raw
        .call(Request::PeerHello {
            version: PROTOCOL_VERSION,
            node_id: 1,
            nonce,
        })
        .await
        .expect("challenge");
    let proof = peer_auth::answer(SECRET, 1, 2, nonce, &challenge).expect("real");
    match raw.call(Request::PeerProof { proof }).await {
        Ok(Reply::Welcome { role, .. }) => assert_eq!(role, Role::Node),
        other => panic!("the right proof: {other:?}"),
    }
    let replay = raw.call(Request::PeerProof { proof }).await;
    assert_eq!(error_of(replay).code, ErrorCode::Unauthenticated);

    // An id outside --peers gets no challenge at all.
    let stranger = raw
        .call(Request::PeerHello {
            version: PROTOCOL_VERSION,
            node_id: 9,
            nonce,
        })
        .await;
    assert_eq!(error_of(stranger).code, ErrorCode::Unauthenticated);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_secret_as_a_hello_token_is_no_credential() {
    let (node, _) = lone_leader().await;
    let mut client = TestClient::connect_raw(node.addr()).await;
    let answer = hello(&mut client, SECRET).await;
    assert_eq!(error_of(answer).code, ErrorCode::Unauthenticated);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_talk_over_tls_when_the_cluster_serves_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let files = TlsFiles {
        cert_path: dir.path().join("node.pem"),
        key_path: dir.path().join("node.key"),
    };
    std::fs::write(&files.cert_path, certified.cert.pem()).expect("cert");
    std::fs::write(&files.key_path, certified.signing_key.serialize_pem()).expect("key");
    let (node, _) = lone_leader_with(Some(files.clone())).await;
    let connector = tls::peer_connector(&files.cert_path).expect("connector");
    let me = PeerIdentity {
        node_id: 1,
        secret: SECRET,
        tls: Some(&connector),
    };
    let mut peer = PeerConnection::open(&node.addr().to_string(), me, 2, 1)
        .await
        .expect("peer 1 over TLS");
    let status = peer.call(Request::NodeStatus { node_id: 1 }, 2).await;
    assert!(
        matches!(status, Ok((Reply::NodeStatus { node_id: 2, .. }, _))),
        "{status:?}"
    );
    // Without TLS the node tells the peer it needs TLS; the handshake never starts.
    let plain = as_peer_1(&node, SECRET).await;
    assert!(plain.is_err(), "a plain peer was served: {plain:?}");
    node.stop().await;
}
