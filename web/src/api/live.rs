//! `GET /api/shows/{id}/live`: a WebSocket per open seat map, fed by the node's subscription.
//! The first message is always a `snapshot` (and again after any gap the client library saw),
//! then `changes`, each one more than the previous `seq`.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cinebook_client::SeatUpdate;
use futures::{SinkExt, StreamExt};
use serde_json::json;

use super::shows::show_id;
use crate::json::{state_name, SeatMapJson};
use crate::{ApiError, App};

/// Largest message a viewer may send (viewers only receive; anything bigger closes the socket).
pub const VIEWER_MESSAGE_MAX_BYTES: usize = 1024;

pub(crate) async fn socket(
    State(app): State<App>,
    Path(raw): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let id = show_id(&raw)?;
    // Refuse an unknown show before upgrading, with a typed error.
    app.client().seat_map(id).await?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::invalid("This endpoint is a WebSocket: open it with a WebSocket upgrade.")
    })?;
    Ok(upgrade
        .max_message_size(VIEWER_MESSAGE_MAX_BYTES)
        .on_upgrade(move |ws| feed(app, id, ws))
        .into_response())
}

/// One update as the JSON text the browser reads.
pub fn encode(update: &SeatUpdate) -> String {
    match update {
        SeatUpdate::Snapshot(map) => {
            json!({"type": "snapshot", "map": SeatMapJson::from(map)}).to_string()
        }
        SeatUpdate::Changes {
            show_id,
            seq,
            cause,
            changes,
        } => {
            let changes: Vec<_> = changes
                .iter()
                .map(|c| json!({"seat_id": c.seat_id, "state": state_name(c.state)}))
                .collect();
            json!({
                "type": "changes",
                "show_id": show_id,
                "seq": seq,
                "cause": format!("{cause:?}").to_lowercase(),
                "changes": changes,
            })
            .to_string()
        }
    }
}

async fn feed(app: App, show_id: u64, ws: WebSocket) {
    let joined = app.inner.live.join(app.client(), show_id);
    let (mut sink, mut incoming) = ws.split();
    if let Some(snapshot) = joined.snapshot {
        if sink.send(Message::Text(snapshot.into())).await.is_err() {
            return;
        }
    }
    let mut updates = joined.updates;
    loop {
        tokio::select! {
            update = updates.recv() => {
                let text = match update {
                    Ok(text) => text,
                    // Too far behind, or the feed ended: close; the page reconnects and starts
                    // again from a snapshot.
                    Err(_) => {
                        let _ = sink.send(Message::Close(None)).await;
                        return;
                    }
                };
                // The feed's one buffer, shared (a reference count, not a copy).
                if sink.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
