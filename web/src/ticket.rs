//! The ticket's QR code on the confirmation page: what it encodes, and its SVG.
//!
//! [`ticket_qr_text`] is the one place that decides what the code says: the cinema's signed
//! ticket (`CB1:…`, made by the node's `GetTicket` with `cinebook_protocol::ticket::qr_text`),
//! which a door scanner checks offline. When the node cannot sign one (unreachable, or an older
//! node), the booking code, which a door terminal looks up online.

use cinebook_client::Client;
use cinebook_protocol::types::Booking;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Smallest side of the rendered code, SVG pixels (printable at about 5 cm).
pub const QR_SIDE_MIN_PX: u32 = 200;

/// Longest text put in a code, bytes: the longest signed ticket the protocol allows. A
/// four-seat ticket is under 300 characters of QR alphanumeric text (a version-13 code at
/// level M); the longest needs a version-25 code, still readable at the printed 5 cm by a
/// door scanner.
pub const QR_TEXT_MAX_BYTES: usize = cinebook_protocol::ticket::TICKET_PAYLOAD_MAX_CHARS;

/// The text of the ticket's QR code: the signed ticket, or the booking code if the node cannot
/// sign one now (logged; the page still shows a code the door can look up).
pub async fn ticket_qr_text(client: &Client, booking: &Booking) -> String {
    match client.ticket_qr_text(&booking.code).await {
        Ok(payload) => payload,
        Err(e) => {
            tracing::warn!(error = %e, code = %booking.code, "no signed ticket; the QR code holds the booking code");
            booking.code.clone()
        }
    }
}

/// Why a QR code could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// Over [`QR_TEXT_MAX_BYTES`].
    #[error("the ticket text has {0} bytes, more than a QR code here holds ({QR_TEXT_MAX_BYTES})")]
    TooLong(usize),
    /// The encoder refused it.
    #[error("the ticket text cannot be put in a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
}

/// The QR code of `text` as an inline SVG element, black on white, with its quiet zone.
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    if text.len() > QR_TEXT_MAX_BYTES {
        return Err(QrError::TooLong(text.len()));
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(QR_SIDE_MIN_PX, QR_SIDE_MIN_PX)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // The encoder starts with an XML declaration, which does not belong inside HTML.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_an_svg_and_a_long_text_is_refused() {
        let svg = qr_svg("CB-7K4M2Q").expect("svg");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
        assert!(qr_svg(&"x".repeat(QR_TEXT_MAX_BYTES + 1)).is_err());
    }
}
