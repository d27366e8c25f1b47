//! ESC/POS for receipt printers (Epson TM and compatibles): the ticket's lines, then its QR
//! code with the printer's own QR command (`GS ( k`, model 2, error correction M), then a cut.

use super::{latin1, PrintedTicket, REPRINT};

const ESC: u8 = 0x1b;
const GS: u8 = 0x1d;
/// QR module size in printer dots (1..=16); 6 makes a 4-seat ticket's code about 3 cm wide.
pub const QR_MODULE_DOTS: u8 = 6;
/// The largest QR payload the `GS ( k` store command takes, in bytes.
pub const QR_STORE_MAX_BYTES: usize = 7_089;

/// The bytes that print `ticket`.
pub fn render(ticket: &PrintedTicket) -> Vec<u8> {
    let mut out = vec![ESC, b'@']; // initialise
    out.extend([ESC, b't', 16]); // code page WPC1252 (Latin-1 superset)
    for line in ticket.lines() {
        if line == REPRINT {
            out.extend([ESC, b'!', 0x38]); // bold, double height and width
            out.extend(latin1(&line));
            out.extend([ESC, b'!', 0x00, b'\n']);
        } else {
            out.extend(latin1(&line));
            out.push(b'\n');
        }
    }
    out.extend([ESC, b'a', 1]); // centre
    qr(&mut out, ticket.payload.as_bytes());
    out.extend([ESC, b'a', 0]);
    out.extend(latin1(&ticket.booking.code));
    out.extend([b'\n', ESC, b'd', 4]); // feed four lines
    out.extend([GS, b'V', 66, 0]); // partial cut after feeding
    out
}

/// `GS ( k`: model 2, module size, error correction M, store the data, print it.
fn qr(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() <= QR_STORE_MAX_BYTES);
    let function = |out: &mut Vec<u8>, body: &[u8]| {
        let len = body.len() as u16;
        out.extend([GS, b'(', b'k', (len & 0xff) as u8, (len >> 8) as u8]);
        out.extend_from_slice(body);
    };
    function(out, &[0x31, 0x41, 0x32, 0x00]); // model 2
    function(out, &[0x31, 0x43, QR_MODULE_DOTS]); // module size
    function(out, &[0x31, 0x45, 0x31]); // error correction M
    let mut store = vec![0x31, 0x50, 0x30];
    store.extend_from_slice(&data[..data.len().min(QR_STORE_MAX_BYTES)]);
    function(out, &store);
    function(out, &[0x31, 0x51, 0x30]); // print
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_command_carries_the_payload_with_its_length() {
        let ticket = PrintedTicket {
            booking: crate::ticket::tests::sample_booking(),
            show: None,
            payload: "CB1:ABCDEF234567".into(),
            reprint: true,
        };
        let bytes = render(&ticket);
        assert!(bytes.starts_with(&[ESC, b'@']));
        let store = [GS, b'(', b'k', 19, 0, 0x31, 0x50, 0x30];
        let at = bytes
            .windows(store.len())
            .position(|w| w == store)
            .expect("QR store command");
        assert_eq!(&bytes[at + 8..at + 24], b"CB1:ABCDEF234567");
        assert!(bytes
            .windows(REPRINT.len())
            .any(|w| w == REPRINT.as_bytes()));
        assert!(bytes.ends_with(&[GS, b'V', 66, 0]));
    }
}
