//! A one-page PDF ticket (A6 portrait): the ticket's lines in Courier, the QR code as filled
//! squares below them, REPRINT in large letters on a reprint.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::{latin1, qr_modules, PrintedTicket, REPRINT};

/// A6 in PDF points (1/72 inch).
const PAGE_WIDTH_PT: f32 = 297.6;
const PAGE_HEIGHT_PT: f32 = 419.5;
const MARGIN_PT: f32 = 24.0;
const FONT_SIZE_PT: f32 = 9.0;
const LINE_PT: f32 = 11.0;
/// Quiet zone around the QR code, in modules (the standard asks for four).
const QR_QUIET_MODULES: usize = 4;

/// The PDF's bytes.
pub fn render(ticket: &PrintedTicket) -> anyhow::Result<Vec<u8>> {
    let (catalog, pages, page, font, bold, content_id) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
        Ref::new(6),
    );
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH_PT, PAGE_HEIGHT_PT));
    p.parent(pages);
    p.contents(content_id);
    {
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), font);
        fonts.pair(Name(b"F2"), bold);
    }
    p.finish();
    for (id, name) in [(font, &b"Courier"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let content = page_content(ticket)?;
    pdf.stream(content_id, &content.finish());
    Ok(pdf.finish())
}

fn page_content(ticket: &PrintedTicket) -> anyhow::Result<Content> {
    let mut c = Content::new();
    let mut y = PAGE_HEIGHT_PT - MARGIN_PT - LINE_PT;
    for line in ticket.lines() {
        c.begin_text();
        if line == REPRINT {
            c.set_font(Name(b"F2"), 20.0);
            c.next_line(MARGIN_PT, y - 8.0);
            c.show(Str(b"REPRINT"));
            y -= 28.0;
        } else {
            c.set_font(Name(b"F1"), FONT_SIZE_PT);
            c.next_line(MARGIN_PT, y);
            c.show(Str(&latin1(&line)));
            y -= LINE_PT;
        }
        c.end_text();
    }
    let (width, modules) = qr_modules(&ticket.payload)?;
    // The page is wider than 72 pt plus its margins, so the bounds are ordered.
    let side = (y - MARGIN_PT).clamp(72.0, PAGE_WIDTH_PT - 2.0 * MARGIN_PT);
    let module = side / (width + 2 * QR_QUIET_MODULES) as f32;
    let left = (PAGE_WIDTH_PT - side) / 2.0 + module * QR_QUIET_MODULES as f32;
    let top = y - module * QR_QUIET_MODULES as f32;
    c.set_fill_gray(0.0);
    for (i, dark) in modules.iter().enumerate() {
        if *dark {
            let (col, row) = (i % width, i / width);
            c.rect(
                left + col as f32 * module,
                top - (row + 1) as f32 * module,
                module,
                module,
            );
        }
    }
    c.fill_nonzero();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_is_one_page_with_the_code_and_the_qr_squares() {
        let ticket = PrintedTicket {
            booking: crate::ticket::tests::sample_booking(),
            show: None,
            payload: format!("CB1:{}", "A".repeat(200)),
            reprint: true,
        };
        let bytes = render(&ticket).expect("pdf");
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 1"));
        assert!(text.contains("K7QX-3MPA"), "the code is printed");
        assert!(text.contains("REPRINT"));
        assert!(text.matches(" re\n").count() > 100, "QR modules are drawn");
    }
}
