//! Printed tickets: a PDF page or ESC/POS for a receipt printer, each with the booking's signed
//! QR code (docs/OPERATIONS.md, "Printing tickets"). A reprint says REPRINT.

pub mod escpos;
pub mod pdf;

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use cinebook_client::types::{Booking, ShowSummary};
use qrcode::{Color, EcLevel, QrCode};

use crate::exit::CliError;

/// How long connecting to and writing to a network printer may take.
pub const PRINTER_TIMEOUT_MS: u64 = 5_000;

/// Everything on a printed ticket.
#[derive(Debug, Clone)]
pub struct PrintedTicket {
    /// The booking.
    pub booking: Booking,
    /// Film, place and time, if the show could be read.
    pub show: Option<ShowSummary>,
    /// The signed text of the QR code.
    pub payload: String,
    /// A second (or later) print of the same booking.
    pub reprint: bool,
}

impl PrintedTicket {
    /// The ticket's text lines (32 columns), REPRINT first on a reprint.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.reprint {
            lines.push(REPRINT.to_owned());
        }
        lines.extend(
            crate::ticket::render(&self.booking, self.show.as_ref())
                .lines()
                .map(str::to_owned),
        );
        lines
    }
}

/// The banner on a reprinted ticket.
pub const REPRINT: &str = "*** REPRINT ***";

/// The QR code's modules, row by row (`true`: dark), and its width in modules.
pub fn qr_modules(payload: &str) -> anyhow::Result<(usize, Vec<bool>)> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| CliError::usage(format!("the ticket does not fit a QR code: {e}")))?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((width, dark))
}

/// Where ESC/POS goes: `tcp://HOST:PORT` (a network receipt printer, usually port 9100) or a
/// device or file path (`/dev/usb/lp0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printer {
    /// A network printer.
    Tcp(String),
    /// A device or file.
    Device(PathBuf),
}

impl Printer {
    /// Parses `--printer`.
    pub fn parse(text: &str) -> Result<Printer, String> {
        match text.strip_prefix("tcp://") {
            Some(addr) if addr.contains(':') => {
                Ok(Printer::Tcp(addr.trim_end_matches('/').to_owned()))
            }
            Some(_) => Err(format!(
                "`{text}`: give the port too, such as tcp://HOST:9100"
            )),
            None if text.is_empty() => {
                Err("--printer needs tcp://HOST:PORT or a device path".into())
            }
            None => Ok(Printer::Device(PathBuf::from(text))),
        }
    }

    /// Sends `bytes`; a printer that cannot be reached in [`PRINTER_TIMEOUT_MS`] is an error.
    pub fn send(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let limit = Duration::from_millis(PRINTER_TIMEOUT_MS);
        match self {
            Printer::Tcp(addr) => {
                let target = addr
                    .to_socket_addrs()
                    .map_err(|e| CliError::usage(format!("printer {addr}: {e}")))?
                    .next()
                    .ok_or_else(|| CliError::usage(format!("printer {addr}: no address")))?;
                let mut stream = std::net::TcpStream::connect_timeout(&target, limit)
                    .map_err(|e| printer_error(addr, e))?;
                stream
                    .set_write_timeout(Some(limit))
                    .map_err(|e| printer_error(addr, e))?;
                stream
                    .write_all(bytes)
                    .map_err(|e| printer_error(addr, e))?;
                stream.flush().map_err(|e| printer_error(addr, e))?;
                Ok(())
            }
            Printer::Device(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| printer_error(&path.display().to_string(), e))?;
                file.write_all(bytes)
                    .map_err(|e| printer_error(&path.display().to_string(), e))?;
                Ok(())
            }
        }
    }
}

fn printer_error(what: &str, error: std::io::Error) -> anyhow::Error {
    CliError {
        code: crate::exit::SERVER,
        kind: "Printer",
        message: format!("printer {what}: {error}"),
    }
    .into()
}

/// Text for a printer or a PDF's built-in font: Latin-1 where it can be, `?` elsewhere.
pub fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Prints `booking` as `args` asks (after the confirm or the lookup); returns what was done,
/// one line each.
pub async fn deliver(
    client: &cinebook_client::Client,
    booking: &Booking,
    show: Option<ShowSummary>,
    reprint: bool,
    args: &crate::args::PrintArgs,
) -> anyhow::Result<Vec<String>> {
    use crate::args::PrintFormat;
    let ticket = PrintedTicket {
        payload: client.ticket_qr_text(&booking.code).await?,
        booking: booking.clone(),
        show,
        reprint,
    };
    let mut done = Vec::new();
    if let Some(format) = args.print {
        let (bytes, extension) = match format {
            PrintFormat::Pdf => (pdf::render(&ticket)?, "pdf"),
            PrintFormat::Escpos => (escpos::render(&ticket), "escpos"),
        };
        let path = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("ticket-{}.{extension}", booking.code)));
        std::fs::write(&path, bytes)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        done.push(format!("ticket written to {}", path.display()));
    }
    if let Some(printer) = &args.printer {
        printer.send(&escpos::render(&ticket))?;
        let target = match printer {
            Printer::Tcp(addr) => format!("tcp://{addr}"),
            Printer::Device(path) => path.display().to_string(),
        };
        done.push(format!("ticket sent to printer {target}"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printers_are_tcp_addresses_or_paths() {
        assert_eq!(
            Printer::parse("tcp://10.0.0.5:9100"),
            Ok(Printer::Tcp("10.0.0.5:9100".into()))
        );
        assert_eq!(
            Printer::parse("/dev/usb/lp0"),
            Ok(Printer::Device("/dev/usb/lp0".into()))
        );
        assert!(Printer::parse("tcp://printer").is_err());
        assert!(Printer::parse("").is_err());
    }

    #[test]
    fn a_reprint_says_so_first() {
        let ticket = PrintedTicket {
            booking: crate::ticket::tests::sample_booking(),
            show: None,
            payload: "CB1:AAAA".into(),
            reprint: true,
        };
        assert_eq!(ticket.lines()[0], REPRINT);
        let original = PrintedTicket {
            reprint: false,
            ..ticket
        };
        assert!(!original.lines().iter().any(|l| l.contains("REPRINT")));
    }

    #[test]
    fn a_payload_makes_a_square_qr_code() {
        let (width, modules) = qr_modules(&format!("CB1:{}", "A".repeat(300))).expect("qr");
        assert_eq!(modules.len(), width * width);
        assert!(modules.iter().any(|m| *m) && modules.iter().any(|m| !*m));
        assert_eq!(latin1("Zürich €"), b"Z\xfcrich ?");
    }
}
