//! `cinebook tui`: the full-screen box office. This module is the I/O shell — terminal, keys, the
//! clock and the server — around the pure state machine in [`app`], drawn by [`ui`].

pub mod app;
mod scan;
#[cfg(test)]
mod tests;
pub mod ui;

use std::time::Duration;

use cinebook_client::types::ShowFilter;
use cinebook_client::{Client, Error};
use futures::StreamExt;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use app::{Action, App, Event};

use crate::when;

/// Runs the box office until the cashier quits.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, client).await;
    ratatui::try_restore()?;
    result
}

/// Now, and today's local bounds.
fn now() -> (u64, (u64, u64)) {
    let now_ms = when::now_ms();
    (now_ms, when::day_of(now_ms).unwrap_or((0, u64::MAX)))
}

fn tick() -> Event {
    let (now_ms, (today_start_ms, today_end_ms)) = now();
    Event::Tick {
        now_ms,
        today_start_ms,
        today_end_ms,
    }
}

async fn event_loop(terminal: &mut ratatui::DefaultTerminal, client: Client) -> anyhow::Result<()> {
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    // `None` asks for a redraw (the terminal was resized).
    let (keys_tx, mut keys) = mpsc::unbounded_channel::<Option<KeyEvent>>();
    std::thread::Builder::new()
        .name("cinebook-keys".into())
        .spawn(move || loop {
            let sent = match event::read() {
                Ok(TermEvent::Key(key)) if key.kind == KeyEventKind::Press => {
                    keys_tx.send(Some(key))
                }
                Ok(TermEvent::Resize(..)) => keys_tx.send(None),
                Ok(_) => Ok(()),
                Err(_) => return,
            };
            if sent.is_err() {
                return;
            }
        })?;

    let (now_ms, today) = now();
    let mut app = App::new(now_ms, today);
    let mut io = Io {
        client,
        events: events_tx,
        watch: None,
        printer: std::env::var("CINEBOOK_PRINTER")
            .ok()
            .and_then(|p| crate::print::Printer::parse(&p).ok()),
        printed: std::collections::HashSet::new(),
    };
    io.perform(Action::LoadCatalog);
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    loop {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let actions = tokio::select! {
            key = keys.recv() => match key {
                Some(Some(key)) => app.key(key),
                Some(None) => Vec::new(),
                None => vec![Action::Quit],
            },
            Some(event) = events.recv() => app.event(event),
            _ = clock.tick() => app.event(tick()),
        };
        for action in actions {
            if action == Action::Quit {
                return Ok(());
            }
            io.perform(action);
        }
    }
}

/// Carries out actions in background tasks; results come back as events.
struct Io {
    client: Client,
    events: mpsc::UnboundedSender<Event>,
    watch: Option<JoinHandle<()>>,
    /// The receipt printer (`CINEBOOK_PRINTER`: tcp://HOST:PORT or a device path), if any.
    printer: Option<crate::print::Printer>,
    /// Bookings printed in this session: printing one again is a REPRINT.
    printed: std::collections::HashSet<String>,
}

/// Where the box office keeps the PDF tickets it printed.
const TICKET_DIR: &str = "cinebook-tickets";

/// The ticket as a PDF in [`TICKET_DIR`], and to the receipt printer if there is one.
async fn print_ticket(
    client: &Client,
    booking: cinebook_client::types::Booking,
    show: Option<cinebook_client::types::ShowSummary>,
    reprint: bool,
    printer: Option<crate::print::Printer>,
) -> anyhow::Result<String> {
    use crate::print::{escpos, pdf, PrintedTicket};
    let ticket = PrintedTicket {
        payload: client.ticket_qr_text(&booking.code).await?,
        booking,
        show,
        reprint,
    };
    let dir = std::path::Path::new(TICKET_DIR);
    let suffix = if reprint { "-reprint" } else { "" };
    let path = dir.join(format!("{}{suffix}.pdf", ticket.booking.code));
    std::fs::create_dir_all(dir)?;
    std::fs::write(&path, pdf::render(&ticket)?)?;
    let mut done = format!("ticket saved to {}", path.display());
    if let Some(printer) = printer {
        printer.send(&escpos::render(&ticket))?;
        done.push_str(" and sent to the printer");
    }
    if reprint {
        done.push_str(" (REPRINT)");
    }
    Ok(done)
}

fn failed(what: &str, error: &Error) -> Event {
    Event::Failed {
        message: format!("{what}: {error}"),
        hold_lost: matches!(error, Error::HoldExpired { .. } | Error::NotFound { .. }),
    }
}

impl Io {
    fn perform(&mut self, action: Action) {
        let client = self.client.clone();
        let events = self.events.clone();
        let send = move |event: Event| {
            // The screen is gone when this fails; nothing left to tell.
            let _ = events.send(event);
        };
        match action {
            Action::Quit => {}
            Action::LoadCatalog => {
                tokio::spawn(async move {
                    let loaded = async {
                        let cities = client.list_cities().await?;
                        let movies = client.list_movies(None).await?;
                        let shows = client.list_shows(ShowFilter::default()).await?;
                        Ok::<_, Error>(Event::Catalog {
                            cities,
                            movies,
                            shows,
                        })
                    };
                    send(loaded.await.unwrap_or_else(|e| failed("loading shows", &e)));
                });
            }
            Action::Watch(show_id) => {
                self.unwatch();
                self.watch = Some(tokio::spawn(async move {
                    let mut updates = client.subscribe(show_id);
                    while let Some(update) = updates.next().await {
                        send(match update {
                            Ok(update) => Event::Seats(update),
                            Err(e) => Event::Failed {
                                message: format!("live seat map: {e}"),
                                hold_lost: false,
                            },
                        });
                    }
                }));
            }
            Action::Unwatch => self.unwatch(),
            Action::Hold { show_id, selection } => {
                tokio::spawn(async move {
                    send(match client.hold(show_id, selection).await {
                        Ok(hold) => Event::Held(hold),
                        Err(e) => failed("hold", &e),
                    });
                });
            }
            Action::Release(hold_id) => {
                tokio::spawn(async move {
                    send(match client.release(hold_id).await {
                        Ok(()) => Event::Released,
                        Err(e) => failed("release", &e),
                    });
                });
            }
            Action::Confirm {
                hold_id,
                payment,
                idempotency_key,
                email,
            } => {
                let contact = cinebook_client::types::Contact { email, phone: None };
                tokio::spawn(async move {
                    send(
                        match client
                            .confirm_with_contact(hold_id, payment, &idempotency_key, contact)
                            .await
                        {
                            Ok(booking) => Event::Booked(booking),
                            Err(e) => failed("payment", &e),
                        },
                    );
                });
            }
            Action::FindBooking(code) => {
                tokio::spawn(async move {
                    send(match client.booking(&code).await {
                        Ok(booking) => Event::Found(booking),
                        Err(e) => failed(&format!("booking {code}"), &e),
                    });
                });
            }
            Action::Refund(code) => {
                tokio::spawn(async move {
                    send(
                        match client.cancel(&code, true, "refund at the box office").await {
                            Ok(booking) => Event::Refunded(booking),
                            Err(e) => failed(&format!("refund {code}"), &e),
                        },
                    );
                });
            }
            Action::LoadReport => {
                tokio::spawn(async move {
                    let (from, to) = when::day_of(when::now_ms()).unwrap_or((0, u64::MAX));
                    send(match client.shift_report(None, from, to).await {
                        Ok(report) => Event::Report(report),
                        Err(e) => failed("shift report", &e),
                    });
                });
            }
            Action::Renew(hold_id) => {
                tokio::spawn(async move {
                    send(match client.renew(hold_id).await {
                        Ok(hold) => Event::Renewed(hold),
                        Err(e) => failed("renew", &e),
                    });
                });
            }
            Action::Scan(text) => {
                tokio::spawn(async move {
                    let place = cinebook_client::door::DoorPlace::default();
                    send(
                        match client.scan(&text, scan::BOX_OFFICE_GATE, place).await {
                            Ok(result) => Event::Scanned(result),
                            Err(e) => failed("scan", &e),
                        },
                    );
                });
            }
            Action::PrintTicket { booking, show } => {
                let reprint = !self.printed.insert(booking.code.clone());
                let printer = self.printer.clone();
                let (booking, show) = (*booking, show.map(|s| *s));
                tokio::spawn(async move {
                    send(
                        match print_ticket(&client, booking, show, reprint, printer).await {
                            Ok(done) => Event::Saved(done),
                            Err(e) => Event::Failed {
                                message: format!("print: {e:#}"),
                                hold_lost: false,
                            },
                        },
                    );
                });
            }
        }
    }

    fn unwatch(&mut self) {
        if let Some(task) = self.watch.take() {
            // Dropping the subscription inside the task unsubscribes.
            task.abort();
        }
    }
}
