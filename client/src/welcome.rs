//! [`Welcome`]: what a server said about itself and about us when the connection opened.

use cinebook_protocol::types::{NodeRole, Role, TerminalId};
use cinebook_protocol::Reply;

use crate::{Error, Result};

/// The server's `Welcome`, kept for the life of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The address this connection was opened to.
    pub addr: String,
    /// The node's id.
    pub node_id: u32,
    /// The node's cluster role.
    pub node_role: NodeRole,
    /// The leader's client address, if known.
    pub leader: Option<String>,
    /// The node's Lamport time.
    pub lamport: u64,
    /// Our role (`Guest` without a token).
    pub role: Role,
    /// Our terminal id, if authenticated.
    pub terminal_id: Option<TerminalId>,
    /// The server's wall-clock time, ms since the Unix epoch.
    pub server_time_ms: u64,
    /// How long a new hold lives, in ms.
    pub hold_ttl_ms: u64,
}

impl Welcome {
    pub(crate) fn placeholder(addr: &str) -> Self {
        Welcome {
            addr: addr.to_string(),
            node_id: 0,
            node_role: NodeRole::Standalone,
            leader: None,
            lamport: 0,
            role: Role::Guest,
            terminal_id: None,
            server_time_ms: 0,
            hold_ttl_ms: 0,
        }
    }

    pub(crate) fn from_reply(addr: &str, reply: Reply) -> Result<Self> {
        match reply {
            Reply::Welcome {
                node_id,
                node_role,
                leader,
                lamport,
                role,
                terminal_id,
                server_time_ms,
                hold_ttl_ms,
            } => Ok(Welcome {
                addr: addr.to_string(),
                node_id,
                node_role,
                leader,
                lamport,
                role,
                terminal_id,
                server_time_ms,
                hold_ttl_ms,
            }),
            other => Err(Error::UnexpectedReply {
                request: "hello",
                got: format!("{other:?}"),
            }),
        }
    }
}
