//! The box office's scan mode: a booking code or a ticket's QR text (a barcode scanner types it
//! and presses Enter) admits at the door (`Scan`), the verdict shown large.

use cinebook_client::door::{ScanResult, ScanVerdict};
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{Action, App, Screen};
use crate::when;

/// The gate the box office admits at.
pub const BOX_OFFICE_GATE: &str = "box office";
/// The longest scanned text kept, in characters (a QR payload is at most 1,024).
pub const SCAN_INPUT_MAX_CHARS: usize = cinebook_client::ticket::TICKET_PAYLOAD_MAX_CHARS;

impl App {
    /// Keys of the scan screen.
    pub(super) fn key_scan(&mut self, code: KeyCode) -> Vec<Action> {
        match code {
            KeyCode::Esc => self.screen = Screen::Shows,
            KeyCode::Backspace => {
                self.scan_input.pop();
            }
            KeyCode::Enter if !self.scan_input.trim().is_empty() && !self.busy => {
                self.busy = true;
                self.status = "scanning…".into();
                return vec![Action::Scan(std::mem::take(&mut self.scan_input))];
            }
            KeyCode::Char(c)
                if !c.is_control() && self.scan_input.chars().count() < SCAN_INPUT_MAX_CHARS =>
            {
                self.scan_input.push(c)
            }
            _ => {}
        }
        Vec::new()
    }

    /// A scan's answer.
    pub(super) fn scanned(&mut self, result: ScanResult) {
        self.busy = false;
        self.status = result.reason.clone();
        self.scan_result = Some(result);
    }
}

/// Draws the scan screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let shown: String = app.scan_input.chars().take(60).collect();
    let mut lines = vec![Line::from(format!("Scan or type a ticket: {shown}▏"))];
    if let Some(result) = &app.scan_result {
        let admitted = result.verdict == ScanVerdict::Admitted;
        let (word, color) = if admitted {
            ("ADMIT", Color::Green)
        } else {
            ("REFUSED", Color::Red)
        };
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!("{word}  {}", result.verdict.name().replace('_', " ")),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::from(result.reason.clone()));
        if let Some(first) = result.admission.as_ref().filter(|_| !admitted) {
            lines.push(Line::from(format!(
                "first admitted {} at {} (terminal {})",
                when::show_time(first.at_ms),
                first.gate,
                first.terminal_id
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEvent, KeyModifiers};

    fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
        app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn a_scanned_line_is_sent_and_its_verdict_shown() {
        let mut app = App::new(0, (0, 1));
        app.busy = false;
        key(&mut app, KeyCode::Char('a'));
        assert_eq!(app.screen, Screen::Scan);
        for c in "k7qx-3mpa".chars() {
            key(&mut app, KeyCode::Char(c));
        }
        let sent = key(&mut app, KeyCode::Enter);
        assert_eq!(sent, vec![Action::Scan("k7qx-3mpa".into())]);
        assert!(app.scan_input.is_empty());
        app.event(super::super::app::Event::Scanned(ScanResult {
            verdict: ScanVerdict::AlreadyAdmitted,
            reason: "ticket K7QX-3MPA was already admitted at main door".into(),
            code: Some("K7QX-3MPA".into()),
            booking: None,
            admission: None,
        }));
        assert!(!app.busy);
        assert!(app.status.contains("already admitted"));
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Shows);
    }

    #[test]
    fn n_renews_the_hold_and_keeps_the_payment_key() {
        use super::super::app::Event;
        let mut app = App::new(0, (0, 1));
        let hold = cinebook_client::types::HoldInfo {
            hold_id: 9,
            show_id: 7,
            seats: vec![1],
            labels: vec!["A1".into()],
            expires_at_ms: 1_000,
            total: cinebook_client::types::Money {
                amount_minor: 1_200,
                currency: "EUR".into(),
            },
        };
        app.event(Event::Held(hold.clone()));
        let pay_key = app.pay_key.clone();
        assert_eq!(key(&mut app, KeyCode::Char('n')), vec![Action::Renew(9)]);
        app.event(Event::Renewed(cinebook_client::types::HoldInfo {
            expires_at_ms: 601_000,
            ..hold.clone()
        }));
        assert_eq!(app.hold.as_ref().map(|h| h.expires_at_ms), Some(601_000));
        assert_eq!(app.pay_key, pay_key);
        assert!(
            app.status.starts_with("hold renewed until"),
            "{}",
            app.status
        );
        key(&mut app, KeyCode::Char('n'));
        app.event(Event::Renewed(cinebook_client::types::HoldInfo {
            expires_at_ms: 601_000,
            ..hold
        }));
        assert!(app.status.contains("ceiling"), "{}", app.status);
    }
}
