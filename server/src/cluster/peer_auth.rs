//! Peer authentication: a node proves it knows the cluster secret by HMAC-SHA256
//! challenge-response, and so does the node it connects to. The secret never crosses the wire,
//! both node ids are bound into every proof, every nonce is fresh, used once and short-lived,
//! and proofs are compared in constant time. The frames are specified in docs/PROTOCOL.md 11.8:
//!
//! ```text
//! connecting node A                         accepting node B
//!   PeerHello{version, node_id: a, nonce: na}  ->
//!   <-  PeerChallenge{node_id: b, nonce: nb, proof: MAC(02, a, b, na, nb)}
//!   (A checks b is the node it dialled and the proof: B knows the secret)
//!   PeerProof{proof: MAC(01, a, b, na, nb)}   ->
//!   <-  Welcome{role: Node}                   (B checks the proof: A knows the secret)
//! ```
//!
//! `MAC(side, a, b, na, nb) = HMAC-SHA256(key = secret, "CINEBOOK-PEER-V1" ‖ side ‖ a ‖ b ‖ na ‖ nb)`
//! with `a` and `b` as u32 big-endian. The two sides use different `side` bytes, so one side's
//! proof is never a valid proof of the other.

use std::time::{Duration, Instant};

use cinebook_protocol::types::Role;
use cinebook_protocol::{
    ErrorBody, ErrorCode, Reply, PEER_NONCE_BYTES, PEER_PROOF_BYTES, PROTOCOL_VERSION,
    PROTOCOL_VERSION_MIN,
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::node::handlers::Caller;
use crate::node::{now_ms, Node};

/// The context string every proof starts with (16 bytes, ASCII).
pub const PROOF_CONTEXT: &[u8; 16] = b"CINEBOOK-PEER-V1";

/// A challenge is answered within this long or not at all (ms since its `PeerChallenge`).
pub const PEER_CHALLENGE_TTL_MS: u64 = 10_000;

/// A nonce.
pub type Nonce = [u8; PEER_NONCE_BYTES];

/// A proof: an HMAC-SHA256 tag.
pub type Proof = [u8; PEER_PROOF_BYTES];

/// Which side of the handshake a proof is from (its byte in the MAC input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The node that opened the connection (`PeerProof`): byte `01`.
    Connecting = 1,
    /// The node that accepted it (`PeerChallenge`): byte `02`.
    Accepting = 2,
}

/// The two node ids and two nonces of one handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The connecting node's id.
    pub connecting: u32,
    /// The accepting node's id.
    pub accepting: u32,
    /// The connecting node's nonce (`PeerHello.nonce`).
    pub connecting_nonce: Nonce,
    /// The accepting node's nonce (`PeerChallenge.nonce`).
    pub accepting_nonce: Nonce,
}

impl Handshake {
    /// The proof `side` gives for this handshake.
    pub fn proof(&self, secret: &[u8], side: Side) -> Proof {
        self.mac(secret, side).finalize().into_bytes().into()
    }

    /// Whether `proof` is `side`'s proof for this handshake; compared in constant time.
    pub fn verify(&self, secret: &[u8], side: Side, proof: &Proof) -> bool {
        let expected = self.proof(secret, side);
        bool::from(expected.ct_eq(proof))
    }

    fn mac(&self, secret: &[u8], side: Side) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(PROOF_CONTEXT);
        mac.update(&[side as u8]);
        mac.update(&self.connecting.to_be_bytes());
        mac.update(&self.accepting.to_be_bytes());
        mac.update(&self.connecting_nonce);
        mac.update(&self.accepting_nonce);
        mac
    }
}

/// A fresh nonce from the operating system's CSPRNG (through `rand`'s thread-local ChaCha
/// generator, itself seeded and reseeded from the OS).
pub fn new_nonce() -> Nonce {
    let mut nonce = [0u8; PEER_NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

/// A challenge this node sent and has not seen answered: one per connection, used once.
#[derive(Debug, Clone)]
pub struct PendingChallenge {
    handshake: Handshake,
    issued: Instant,
}

/// Answers `PeerHello`: the challenge to keep on the connection and the `PeerChallenge` reply.
pub fn challenge(
    node: &Node,
    version: u16,
    peer: u32,
    peer_nonce: Nonce,
) -> Result<(PendingChallenge, Reply), ErrorBody> {
    let Some(cluster) = &node.cluster else {
        return Err(refused(
            ErrorCode::Forbidden,
            "this node is not part of a cluster; PeerHello is for cluster nodes",
        ));
    };
    if !(PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
        return Err(ErrorBody::new(
            ErrorCode::UnsupportedVersion {
                min: PROTOCOL_VERSION_MIN,
                max: PROTOCOL_VERSION,
            },
            format!("protocol version {version} is not supported"),
        ));
    }
    let me = node.config.node_id;
    if peer == me || !cluster.config.peers.contains_key(&peer) {
        return Err(refused(
            ErrorCode::Unauthenticated,
            &format!("node {peer} is not another node of this cluster's --peers"),
        ));
    }
    let handshake = Handshake {
        connecting: peer,
        accepting: me,
        connecting_nonce: peer_nonce,
        accepting_nonce: new_nonce(),
    };
    let reply = Reply::PeerChallenge {
        node_id: me,
        nonce: handshake.accepting_nonce,
        proof: handshake.proof(cluster.config.secret.as_bytes(), Side::Accepting),
    };
    let pending = PendingChallenge {
        handshake,
        issued: Instant::now(),
    };
    Ok((pending, reply))
}

/// Answers `PeerProof` against the connection's pending challenge (taken: it is used once,
/// whatever the outcome). The caller it gives is the only way to the `Node` role.
pub fn accept(
    node: &Node,
    pending: Option<PendingChallenge>,
    proof: &Proof,
) -> Result<(Caller, Reply), ErrorBody> {
    let (Some(cluster), Some(pending)) = (&node.cluster, pending) else {
        return Err(refused(
            ErrorCode::Unauthenticated,
            "no challenge to answer: send PeerHello first",
        ));
    };
    if pending.issued.elapsed() > Duration::from_millis(PEER_CHALLENGE_TTL_MS) {
        return Err(refused(
            ErrorCode::Unauthenticated,
            "the challenge expired; send PeerHello again",
        ));
    }
    let handshake = pending.handshake;
    if !handshake.verify(cluster.config.secret.as_bytes(), Side::Connecting, proof) {
        return Err(refused(
            ErrorCode::Unauthenticated,
            &format!(
                "node {} did not prove the cluster secret",
                handshake.connecting
            ),
        ));
    }
    tracing::info!(peer = handshake.connecting, "peer authenticated");
    let caller = Caller {
        role: Role::Node,
        terminal_id: 0,
        peer_node_id: Some(handshake.connecting),
    };
    Ok((caller, welcome(node)))
}

/// `Welcome` for an authenticated peer.
fn welcome(node: &Node) -> Reply {
    Reply::Welcome {
        node_id: node.config.node_id,
        node_role: node.node_role(),
        leader: node.leader_addr(),
        lamport: node.lamport.now(),
        role: Role::Node,
        terminal_id: None,
        server_time_ms: now_ms(),
        hold_ttl_ms: node.config.hold.hold_ttl_ms,
    }
}

/// The error for a refused handshake, logged (rate-limited: a stranger can send many).
fn refused(code: ErrorCode, message: &str) -> ErrorBody {
    super::claims::warn_refused("peer authentication refused", message);
    ErrorBody::new(code, message)
}

/// What the connecting node checks in `PeerChallenge`: that it comes from the node it dialled
/// and that that node knows the secret. Returns the `PeerProof` to send.
pub fn answer(
    secret: &str,
    me: u32,
    expected_peer: u32,
    my_nonce: Nonce,
    challenge: &Reply,
) -> Result<Proof, String> {
    let Reply::PeerChallenge {
        node_id,
        nonce,
        proof,
    } = challenge
    else {
        return Err(format!("expected PeerChallenge, got {challenge:?}"));
    };
    if *node_id != expected_peer {
        return Err(format!(
            "dialled node {expected_peer}, but node {node_id} answered"
        ));
    }
    let handshake = Handshake {
        connecting: me,
        accepting: expected_peer,
        connecting_nonce: my_nonce,
        accepting_nonce: *nonce,
    };
    if !handshake.verify(secret.as_bytes(), Side::Accepting, proof) {
        return Err(format!(
            "node {expected_peer} did not prove the cluster secret: not a peer of this cluster"
        ));
    }
    Ok(handshake.proof(secret.as_bytes(), Side::Connecting))
}

/// A terminal token never gives the `Node` role: refuses to create one.
pub fn check_terminal_role(role: Role) -> Result<(), ErrorBody> {
    if role == Role::Node {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            NODE_TERMINAL_REFUSED,
        ));
    }
    Ok(())
}

/// Why a node terminal cannot be created (command line and wire).
pub const NODE_TERMINAL_REFUSED: &str = "the node role is not a terminal: cluster nodes \
     authenticate with the cluster secret (--cluster-secret) by challenge-response";

/// The error for a stored terminal whose role is `node` (from an older version): it
/// authenticates as nothing.
pub fn node_terminal_hello() -> ErrorBody {
    super::claims::warn_refused(
        "a node-role terminal token was presented",
        "refused: nodes authenticate by challenge-response; revoke that terminal",
    );
    ErrorBody::new(
        ErrorCode::Unauthenticated,
        "node-role terminal tokens are not accepted: cluster nodes authenticate with the \
         cluster secret by challenge-response (PeerHello)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Handshake {
        Handshake {
            connecting: 1,
            accepting: 3,
            connecting_nonce: [7; PEER_NONCE_BYTES],
            accepting_nonce: [9; PEER_NONCE_BYTES],
        }
    }

    #[test]
    fn a_proof_verifies_only_for_its_side_ids_nonces_and_secret() {
        let h = handshake();
        let proof = h.proof(b"secret", Side::Connecting);
        assert!(h.verify(b"secret", Side::Connecting, &proof));
        assert!(!h.verify(b"secret", Side::Accepting, &proof));
        assert!(!h.verify(b"other", Side::Connecting, &proof));
        let swapped = Handshake {
            connecting: 3,
            accepting: 1,
            ..h
        };
        assert!(!swapped.verify(b"secret", Side::Connecting, &proof));
        let replayed = Handshake {
            accepting_nonce: [8; PEER_NONCE_BYTES],
            ..h
        };
        assert!(!replayed.verify(b"secret", Side::Connecting, &proof));
    }

    #[test]
    fn the_proof_is_hmac_sha256_over_the_documented_bytes() {
        // docs/PROTOCOL.md 11.8: the MAC input spelled out byte by byte.
        let h = handshake();
        let mut input = b"CINEBOOK-PEER-V1".to_vec();
        input.push(1);
        input.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 3]);
        input.extend_from_slice(&[7; 32]);
        input.extend_from_slice(&[9; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").expect("key");
        mac.update(&input);
        let want: Proof = mac.finalize().into_bytes().into();
        assert_eq!(h.proof(b"secret", Side::Connecting), want);
    }

    #[test]
    fn the_documented_test_vector() {
        // docs/PROTOCOL.md 11.8.
        let mut connecting_nonce = [0u8; 32];
        let mut accepting_nonce = [0u8; 32];
        for i in 0..32u8 {
            connecting_nonce[usize::from(i)] = i;
            accepting_nonce[usize::from(i)] = 32 + i;
        }
        let h = Handshake {
            connecting: 1,
            accepting: 3,
            connecting_nonce,
            accepting_nonce,
        };
        let secret = b"example-cluster-secret";
        assert_eq!(
            hex::encode(h.proof(secret, Side::Connecting)),
            "77dfbf48cbc0f97946006e0a0d5f7947c7bf6b1c9f65c52cd298b102841ee33d"
        );
        assert_eq!(
            hex::encode(h.proof(secret, Side::Accepting)),
            "1e1326d5db545be728114b4ddaba9d991b4ea268445d06689647502bfe81bcb9"
        );
    }

    #[test]
    fn nonces_are_fresh() {
        assert_ne!(new_nonce(), new_nonce());
    }

    #[test]
    fn the_connecting_side_refuses_an_impostor_and_the_wrong_node() {
        let h = handshake();
        let good = Reply::PeerChallenge {
            node_id: 3,
            nonce: h.accepting_nonce,
            proof: h.proof(b"secret", Side::Accepting),
        };
        let proof = answer("secret", 1, 3, h.connecting_nonce, &good).expect("real peer");
        assert_eq!(proof, h.proof(b"secret", Side::Connecting));
        assert!(answer("secret", 1, 2, h.connecting_nonce, &good).is_err());
        assert!(answer("other", 1, 3, h.connecting_nonce, &good).is_err());
        let impostor = Reply::PeerChallenge {
            node_id: 3,
            nonce: h.accepting_nonce,
            proof: [0; PEER_PROOF_BYTES],
        };
        assert!(answer("secret", 1, 3, h.connecting_nonce, &impostor).is_err());
    }
}
