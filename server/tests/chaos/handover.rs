//! Hand-overs, read from the nodes' JSON logs: when the sitting leader stopped granting
//! ("handing over") and when the node it handed over to led ("leading"), and the longest
//! stretch without an acknowledged sale around it.

use std::path::Path;

/// One hand-over.
#[derive(Debug, Clone)]
pub struct Handover {
    /// The node handed over to.
    pub to: u32,
    /// From "handing over" on the old leader to "leading" on the new one, in ms.
    pub handover_ms: u64,
    /// The longest stretch without an acknowledged sale from 200 ms before the hand-over began
    /// to 1 s after the new leader led (ms).
    pub no_sale_ms: u64,
}

/// (wall ms, message, node field, to field) of every log line of interest.
type Line = (u64, String, Option<u64>, Option<u64>);

fn lines(dir: &Path) -> Vec<Line> {
    let mut out = Vec::new();
    for id in super::cluster::NODES {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("node{id}.log"))) else {
            continue;
        };
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let fields = &value["fields"];
            let message = fields["message"].as_str().unwrap_or_default();
            if message != "leading" && !message.starts_with("handing over") {
                continue;
            }
            let Some(at) = value["timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
            else {
                continue;
            };
            out.push((
                at,
                message.to_owned(),
                fields["node"].as_u64(),
                fields["to"].as_u64(),
            ));
        }
    }
    out.sort_by_key(|l| l.0);
    out
}

/// Every hand-over in the logs; `sales` are acknowledged sales as (sent, answered) ms since
/// `start_wall_ms`; the kiosks stopped at `stopped_ms` (a window is cut there: a hand-over in
/// the last second of the run counted the end of the traffic as a stretch without sales).
pub fn handovers(
    dir: &Path,
    start_wall_ms: u64,
    sales: &[(u64, u64)],
    stopped_ms: u64,
) -> Vec<Handover> {
    let lines = lines(dir);
    let mut out = Vec::new();
    for (i, (began, message, _, to)) in lines.iter().enumerate() {
        let Some(to) = to.filter(|_| message.starts_with("handing over")) else {
            continue;
        };
        let led = lines[i..]
            .iter()
            .find(|(_, m, node, _)| m == "leading" && *node == Some(to))
            .map(|l| l.0);
        let Some(led) = led.filter(|l| l - began < 5_000) else {
            continue;
        };
        let from = began.saturating_sub(200).saturating_sub(start_wall_ms);
        let until = (led + 1_000).saturating_sub(start_wall_ms).min(stopped_ms);
        let mut answers: Vec<u64> = sales
            .iter()
            .map(|(_, answered)| *answered)
            .filter(|a| (from..=until).contains(a))
            .collect();
        answers.sort_unstable();
        let mut last = from;
        let mut longest = 0;
        for a in answers.into_iter().chain([until]) {
            longest = longest.max(a.saturating_sub(last));
            last = a;
        }
        out.push(Handover {
            to: u32::try_from(to).unwrap_or(0),
            handover_ms: led - began,
            no_sale_ms: longest,
        });
    }
    out
}
