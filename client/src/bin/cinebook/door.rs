//! `cinebook scan` (online, offline by signature, `--sync`) and `cinebook ticket-key`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use cinebook_client::door::{DoorPlace, OfflineAdmission, ScanResult, ScanVerdict};
use cinebook_client::ticket::{self, TicketVerifier};
use cinebook_client::Client;
use serde::{Deserialize, Serialize};

use crate::commands::Out;
use crate::exit::{self, CliError};
use crate::when;

/// A scan as the command line has it.
#[derive(Debug, Clone)]
pub struct ScanArgs {
    pub ticket: Option<String>,
    pub gate: String,
    pub place: DoorPlace,
    pub key: Option<PathBuf>,
    pub log: PathBuf,
}

/// The longest line read from standard input in scan mode, in bytes.
pub const SCAN_LINE_MAX_BYTES: usize = ticket::TICKET_PAYLOAD_MAX_CHARS + 64;
/// Offline admissions one log holds at most (then `--sync` is due).
pub const OFFLINE_LOG_MAX_ENTRIES: usize = 100_000;

/// What one scan printed.
#[derive(Debug, Serialize)]
pub struct ScanOut {
    pub verdict: &'static str,
    pub admitted: bool,
    pub reason: String,
    pub code: Option<String>,
    pub seats: Vec<String>,
    pub first_admitted_at_ms: Option<u64>,
    pub first_gate: Option<String>,
    pub offline: bool,
}

impl ScanOut {
    fn from_result(result: &ScanResult, offline: bool) -> ScanOut {
        let first = result
            .admission
            .as_ref()
            .filter(|_| result.verdict != ScanVerdict::Admitted);
        ScanOut {
            verdict: result.verdict.name(),
            admitted: result.verdict == ScanVerdict::Admitted,
            reason: result.reason.clone(),
            code: result.code.clone(),
            seats: result
                .booking
                .iter()
                .flat_map(|b| b.seats.iter().map(|s| s.label.clone()))
                .collect(),
            first_admitted_at_ms: first.map(|a| a.at_ms),
            first_gate: first.map(|a| a.gate.clone()),
            offline,
        }
    }

    fn text(&self) -> String {
        let head = if self.admitted { "ADMIT" } else { "REFUSED" };
        let mut line = format!("{head}: {}", self.reason);
        if let Some(at) = self.first_admitted_at_ms {
            line.push_str(&format!(" (first admitted {})", when::show_time(at)));
        }
        if self.offline {
            line.push_str(" [offline]");
        }
        line
    }
}

/// For a `scan` that may run without the server: its arguments, and whether it must
/// (`--offline`). `None` for other commands, `--sync`, and scans without `--key`.
pub fn offline_scan(command: &crate::args::Command) -> Option<(ScanArgs, bool)> {
    let crate::args::Command::Scan {
        ticket,
        gate,
        show,
        screen,
        offline,
        key: Some(key),
        log,
        sync: false,
    } = command
    else {
        return None;
    };
    let args = ScanArgs {
        ticket: ticket.clone(),
        gate: gate.clone(),
        place: DoorPlace {
            show_id: *show,
            screen_id: *screen,
        },
        key: Some(key.clone()),
        log: log.clone(),
    };
    Some((args, *offline))
}

/// `cinebook scan` with a server: one ticket, or one per input line. Exit 7 if the last was
/// refused.
pub async fn scan(client: &Client, args: &ScanArgs, out: Out) -> anyhow::Result<()> {
    let mut refused = false;
    for text in tickets(args)? {
        let result = client.scan(&text, &args.gate, args.place.clone()).await?;
        let shown = ScanOut::from_result(&result, false);
        refused = !shown.admitted;
        out.print(&shown, || shown.text())?;
    }
    refusal(refused)
}

/// `cinebook scan --offline` (or a scan the server could not answer, with `--key`): the
/// signature and the door's place decide; the log refuses a second scan on this scanner.
pub fn scan_offline(args: &ScanArgs, out: Out) -> anyhow::Result<()> {
    let key = args
        .key
        .as_deref()
        .ok_or_else(|| CliError::usage("offline scanning needs --key FILE"))?;
    let verifier = read_key(key)?;
    let mut refused = false;
    for text in tickets(args)? {
        let result = admit_offline(&verifier, &text, args, when::now_ms())?;
        let shown = ScanOut::from_result(&result, true);
        refused = !shown.admitted;
        out.print(&shown, || shown.text())?;
    }
    refusal(refused)
}

fn refusal(refused: bool) -> anyhow::Result<()> {
    if refused {
        return Err(CliError {
            code: exit::REFUSED,
            kind: "Refused",
            message: "ticket refused".into(),
        }
        .into());
    }
    Ok(())
}

/// One offline admission: checked against the key, the place and this scanner's log.
pub fn admit_offline(
    verifier: &TicketVerifier,
    text: &str,
    args: &ScanArgs,
    now_ms: u64,
) -> anyhow::Result<ScanResult> {
    let refused = |verdict, reason: String, code| ScanResult {
        verdict,
        reason,
        code,
        booking: None,
        admission: None,
    };
    if !ticket::is_payload(text) {
        let reason = "offline, only a ticket's QR code can be checked (not a typed code)".into();
        return Ok(refused(ScanVerdict::NotValid, reason, None));
    }
    let claims = match verifier.verify(text) {
        Ok(claims) => claims,
        Err(e) => return Ok(refused(ScanVerdict::NotValid, e.to_string(), None)),
    };
    let code = Some(claims.code.clone());
    if let Err((verdict, reason)) = ticket::door_check(&claims, &args.place, now_ms) {
        return Ok(refused(verdict, reason, code));
    }
    let log = read_log(&args.log)?;
    if let Some(first) = log.iter().find(|e| e.code == claims.code) {
        let reason = format!(
            "ticket {} was already admitted at gate {} by this scanner",
            claims.code, first.gate
        );
        let mut result = refused(ScanVerdict::AlreadyAdmitted, reason, code);
        result.admission = Some(first.admission(0));
        return Ok(result);
    }
    if log.len() >= OFFLINE_LOG_MAX_ENTRIES {
        return Err(CliError::usage(format!(
            "{} holds {OFFLINE_LOG_MAX_ENTRIES} admissions: run `cinebook scan --sync` first",
            args.log.display()
        ))
        .into());
    }
    let entry = LogEntry {
        code: claims.code.clone(),
        ticket: text.trim().to_owned(),
        at_ms: now_ms,
        gate: args.gate.clone(),
    };
    append_log(&args.log, &entry)?;
    Ok(ScanResult {
        verdict: ScanVerdict::Admitted,
        reason: format!(
            "admit {} ({}): {}",
            claims.seats.len(),
            claims.seats.join(", "),
            claims.code
        ),
        code,
        booking: None,
        admission: Some(entry.admission(0)),
    })
}

/// `cinebook scan --sync`: reports the log, prints every result, flags duplicates, and moves
/// the log aside (`FILE.synced`, appended) once the server has all of it.
pub async fn sync(client: &Client, log: &Path, out: Out) -> anyhow::Result<()> {
    let entries = read_log(log)?;
    let mut shown = Vec::new();
    for chunk in entries.chunks(cinebook_client::ADMISSIONS_REPORT_MAX) {
        let admissions = chunk
            .iter()
            .map(|e| OfflineAdmission {
                ticket: e.ticket.clone(),
                at_ms: e.at_ms,
                gate: e.gate.clone(),
            })
            .collect();
        for result in client.report_admissions(admissions).await? {
            shown.push(ScanOut::from_result(&result, true));
        }
    }
    if !entries.is_empty() {
        let done = log.with_extension("jsonl.synced");
        let mut file = open_append(&done)?;
        for entry in &entries {
            writeln!(file, "{}", serde_json::to_string(entry)?)?;
        }
        std::fs::remove_file(log).map_err(|e| io_error(log, e))?;
    }
    let duplicates = shown
        .iter()
        .filter(|s| s.verdict == ScanVerdict::Duplicate.name())
        .count();
    out.print(&shown, || {
        let mut lines: Vec<String> = shown
            .iter()
            .map(|s| {
                let flag = if s.verdict == ScanVerdict::Duplicate.name() {
                    "DUPLICATE"
                } else if s.admitted {
                    "recorded"
                } else {
                    "refused"
                };
                format!("{flag}: {}", s.reason)
            })
            .collect();
        lines.push(format!(
            "{} admissions reported, {duplicates} duplicate(s) flagged",
            shown.len()
        ));
        lines.join("\n")
    })
}

/// `cinebook ticket-key`: the key as hex, optionally saved.
pub async fn ticket_key(client: &Client, save: Option<&Path>, out: Out) -> anyhow::Result<()> {
    let key = client.ticket_key().await?;
    let hex = key.to_hex();
    if let Some(path) = save {
        std::fs::write(path, format!("{hex}\n")).map_err(|e| io_error(path, e))?;
    }
    #[derive(Serialize)]
    struct KeyOut<'a> {
        public_key: &'a str,
        key_id: String,
    }
    out.print(
        &KeyOut {
            public_key: &hex,
            key_id: key.key_id(),
        },
        || hex.clone(),
    )
}

fn read_key(path: &Path) -> anyhow::Result<TicketVerifier> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    TicketVerifier::from_hex(&text)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())).into())
}

/// The tickets to scan: the argument, or each non-empty line of standard input.
fn tickets(args: &ScanArgs) -> anyhow::Result<Vec<String>> {
    if let Some(text) = &args.ticket {
        return Ok(vec![text.clone()]);
    }
    let mut all = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.len() > SCAN_LINE_MAX_BYTES {
            return Err(CliError::usage(format!(
                "a scanned line has at most {SCAN_LINE_MAX_BYTES} bytes"
            ))
            .into());
        }
        if !line.trim().is_empty() {
            all.push(line.trim().to_owned());
        }
    }
    Ok(all)
}

/// One offline admission in the log (a JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogEntry {
    code: String,
    ticket: String,
    at_ms: u64,
    gate: String,
}

impl LogEntry {
    fn admission(&self, show_id: u64) -> cinebook_client::door::Admission {
        cinebook_client::door::Admission {
            code: self.code.clone(),
            show_id,
            at_ms: self.at_ms,
            terminal_id: 0,
            gate: self.gate.clone(),
            offline: true,
        }
    }
}

fn read_log(path: &Path) -> anyhow::Result<Vec<LogEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path, e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                CliError::usage(format!(
                    "{}: a line is not an admission: {e}",
                    path.display()
                ))
                .into()
            })
        })
        .collect()
}

fn append_log(path: &Path, entry: &LogEntry) -> anyhow::Result<()> {
    let mut file = open_append(path)?;
    writeln!(file, "{}", serde_json::to_string(entry)?).map_err(|e| io_error(path, e))?;
    file.sync_all().map_err(|e| io_error(path, e))
}

fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, error: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("{}: {error}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_client::ticket::{TicketClaims, TicketSigner};

    fn claims(code: &str, now: u64) -> TicketClaims {
        TicketClaims {
            key_id: [0; 4],
            code: code.into(),
            show_id: 7,
            screen_id: 3,
            starts_at_ms: now,
            seats: vec!["A1".into()],
            valid_from_ms: now - 1_000,
            valid_until_ms: now + 1_000,
            issued_at_ms: now,
        }
    }

    #[test]
    fn offline_admits_once_by_signature_and_keeps_the_log() {
        let dir = tempfile::tempdir().expect("dir");
        let signer = TicketSigner::from_seed(&[4; 32]);
        let args = ScanArgs {
            ticket: None,
            gate: "north".into(),
            place: DoorPlace {
                show_id: Some(7),
                screen_id: None,
            },
            key: None,
            log: dir.path().join("log.jsonl"),
        };
        let now = 1_800_000_000_000;
        let payload = signer.sign(&claims("AAAA-BBBB", now));
        let verifier = signer.verifier();
        let first = admit_offline(&verifier, &payload, &args, now).expect("first");
        assert_eq!(first.verdict, ScanVerdict::Admitted);
        let again = admit_offline(&verifier, &payload, &args, now).expect("again");
        assert_eq!(again.verdict, ScanVerdict::AlreadyAdmitted);
        assert!(again.reason.contains("north"));
        let forged = TicketSigner::from_seed(&[5; 32]).sign(&claims("CCCC-DDDD", now));
        let refused = admit_offline(&verifier, &forged, &args, now).expect("forged");
        assert_eq!(refused.verdict, ScanVerdict::NotValid);
        let other = signer.sign(&TicketClaims {
            show_id: 8,
            ..claims("EEEE-FFFF", now)
        });
        let wrong = admit_offline(&verifier, &other, &args, now).expect("other show");
        assert_eq!(wrong.verdict, ScanVerdict::WrongShow);
        let typed = admit_offline(&verifier, "AAAA-BBBB", &args, now).expect("typed");
        assert_eq!(typed.verdict, ScanVerdict::NotValid);
        assert_eq!(read_log(&args.log).expect("log").len(), 1);
    }
}
