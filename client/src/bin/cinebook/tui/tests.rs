//! The box office's screens, drawn on ratatui's `TestBackend`, driven by keys and events.

use cinebook_client::types::{
    ChangeCause, City, HoldInfo, MethodTotals, Money, Movie, PaymentMethod, SeatChange,
    SeatSelection, SeatState, ShiftReport, ShowSummary,
};
use cinebook_client::SeatUpdate;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use super::app::{Action, App, Event, Screen};
use super::ui;
use crate::grid::tests::sample_map;
use crate::ticket::tests::sample_booking;

const NOW_MS: u64 = 1_700_000_000_000 - 3_600_000;

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(110, 24)).expect("terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("draw");
    let buffer = terminal.backend().buffer();
    let width = buffer.area.width as usize;
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|cell| cell.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn show(id: u64, city_id: u64, movie_id: u64, title: &str, starts_at_ms: u64) -> ShowSummary {
    let mut summary = sample_map().summary;
    summary.show.id = id;
    summary.show.movie_id = movie_id;
    summary.show.starts_at_ms = starts_at_ms;
    summary.city_id = city_id;
    summary.movie_title = title.into();
    summary
}

fn loaded_app() -> App {
    let mut app = App::new(NOW_MS, (NOW_MS - 10 * 3_600_000, NOW_MS + 14 * 3_600_000));
    app.event(Event::Catalog {
        cities: vec![
            City {
                id: 1,
                name: "Lisbon".into(),
            },
            City {
                id: 2,
                name: "Porto".into(),
            },
        ],
        movies: vec![
            Movie {
                id: 2,
                title: "Metropolis".into(),
                runtime_min: 153,
                rating: "PG".into(),
            },
            Movie {
                id: 3,
                title: "Nosferatu".into(),
                runtime_min: 94,
                rating: "12".into(),
            },
        ],
        shows: vec![
            show(8, 2, 3, "Nosferatu", NOW_MS + 7_200_000),
            show(7, 1, 2, "Metropolis", NOW_MS + 3_600_000),
        ],
    });
    app
}

fn hold_info() -> HoldInfo {
    HoldInfo {
        hold_id: 11,
        show_id: 7,
        seats: vec![0, 2],
        labels: vec!["A1".into(), "A4".into()],
        expires_at_ms: NOW_MS + 600_000,
        total: Money {
            amount_minor: 2_400,
            currency: "EUR".into(),
        },
    }
}

#[test]
fn the_show_list_is_sorted_filterable_and_always_shows_help() {
    let mut app = loaded_app();
    let text = screen(&app);
    assert!(text.contains("CineBook box office — Shows"));
    let metropolis = text.find("Metropolis").expect("listed");
    let nosferatu = text.find("Nosferatu").expect("listed");
    assert!(metropolis < nosferatu, "sorted by start time:\n{text}");
    assert!(text.contains("> "), "a cursor");
    assert!(text.contains("Enter seats"), "help line:\n{text}");

    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('c'));
    let text = screen(&app);
    assert!(text.contains("City: Porto"));
    assert!(
        text.contains("Nosferatu") && !text.contains("Metropolis"),
        "{text}"
    );

    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('/'));
    for c in "metro".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let text = screen(&app);
    assert!(text.contains("Search: metro"));
    assert!(
        text.contains("Metropolis") && !text.contains("Nosferatu"),
        "{text}"
    );

    key(&mut app, KeyCode::Esc);
    assert_eq!(key(&mut app, KeyCode::Char('q')), [Action::Quit]);
}

#[test]
fn the_time_filter_hides_past_shows_until_all() {
    let mut app = loaded_app();
    app.shows
        .push(show(9, 1, 2, "Yesterday's", NOW_MS - 86_400_000));
    assert_eq!(app.visible_shows().len(), 2, "upcoming");
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.visible_shows().len(), 2, "today");
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.visible_shows().len(), 0, "tomorrow");
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.visible_shows().len(), 3, "all");
}

#[test]
fn a_whole_sale_takes_three_keystrokes_from_the_show_list() {
    let mut app = loaded_app();
    let mut keys = 0;

    keys += 1;
    assert_eq!(key(&mut app, KeyCode::Enter), [Action::Watch(7)]);
    assert_eq!(app.screen, Screen::Seats);
    assert!(screen(&app).contains("loading seat map"));
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));

    keys += 1;
    let actions = key(&mut app, KeyCode::Char('2'));
    assert_eq!(
        actions,
        [Action::Hold {
            show_id: 7,
            selection: SeatSelection::Best {
                count: 2,
                category: None
            }
        }]
    );
    app.event(Event::Held(hold_info()));
    assert_eq!(app.screen, Screen::Pay);
    let text = screen(&app);
    assert!(text.contains("HOLD 11"), "{text}");
    assert!(text.contains("total: 24.00 EUR"));
    assert!(text.contains("expires in 10:00"));
    assert!(text.contains("2  card"));

    keys += 1;
    let actions = key(&mut app, KeyCode::Char('2'));
    let [Action::Confirm {
        hold_id,
        payment,
        idempotency_key,
        email,
    }] = actions.as_slice()
    else {
        panic!("expected a confirm, got {actions:?}");
    };
    assert_eq!(*hold_id, 11);
    assert_eq!(payment.method, PaymentMethod::Card);
    assert_eq!(payment.amount.amount_minor, 2_400);
    assert!(!idempotency_key.is_empty());
    assert_eq!(*email, None, "no e-mail typed");
    // A second press while the payment is in flight does nothing.
    assert!(key(&mut app, KeyCode::Char('2')).is_empty());

    app.event(Event::Booked(sample_booking()));
    assert_eq!(app.screen, Screen::Ticket);
    let text = screen(&app);
    assert!(text.contains("SOLD — booking code K7QX-3MPA"), "{text}");
    assert!(text.contains("CINEBOOK  K7QX-3MPA"));
    assert!(text.contains("Metropolis"));
    assert!(keys <= 10);

    let save = key(&mut app, KeyCode::Char('p'));
    assert!(
        matches!(save.as_slice(), [Action::PrintTicket { booking, .. }] if booking.code == "K7QX-3MPA")
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Seats, "next customer, same show");
}

#[test]
fn a_failed_payment_keeps_the_key_and_an_expired_hold_goes_back_to_the_map() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    key(&mut app, KeyCode::Char('2'));
    app.event(Event::Held(hold_info()));
    let first = key(&mut app, KeyCode::Char('1'));
    app.event(Event::Failed {
        message: "payment: no answer".into(),
        hold_lost: false,
    });
    let again = key(&mut app, KeyCode::Char('1'));
    let key_of = |actions: &[Action]| match actions {
        [Action::Confirm {
            idempotency_key, ..
        }] => idempotency_key.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        key_of(&first),
        key_of(&again),
        "a retry can never sell twice"
    );

    app.event(Event::Failed {
        message: "payment: hold expired".into(),
        hold_lost: true,
    });
    assert_eq!(app.screen, Screen::Seats);
    assert!(screen(&app).contains("payment: hold expired"));
}

#[test]
fn the_seat_map_is_drawn_live_and_picked_seats_are_held_by_id() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    let text = screen(&app);
    assert!(text.contains("SCREEN"));
    assert!(
        text.contains("A  S x   S A"),
        "row A with an aisle:\n{text}"
    );
    assert!(text.contains("B  P P   + B"), "row B:\n{text}");
    assert!(text.contains("free: standard 2, premium 2"));

    // Pick A1 (the cursor starts there) and A4 (right past the sold seat and the aisle).
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.selected, [0, 2]);
    assert!(screen(&app).contains("picked: A1, A4"));

    // Another terminal sells A4: it drops out of the pick and is drawn sold.
    app.event(Event::Seats(SeatUpdate::Changes {
        show_id: 7,
        seq: 10,
        cause: ChangeCause::Sold,
        changes: vec![SeatChange {
            seat_id: 2,
            state: SeatState::Sold,
        }],
    }));
    assert_eq!(app.selected, [0]);
    let text = screen(&app);
    assert!(text.contains("just taken: A4"));
    assert!(text.contains("A  * x   x A"), "{text}");

    // Updates for another show are ignored.
    app.event(Event::Seats(SeatUpdate::Changes {
        show_id: 8,
        seq: 11,
        cause: ChangeCause::Sold,
        changes: vec![SeatChange {
            seat_id: 0,
            state: SeatState::Sold,
        }],
    }));
    assert_eq!(app.selected, [0]);

    assert_eq!(
        key(&mut app, KeyCode::Enter),
        [Action::Hold {
            show_id: 7,
            selection: SeatSelection::Ids(vec![0])
        }]
    );
    app.event(Event::Held(hold_info()));
    assert_eq!(key(&mut app, KeyCode::Esc), [Action::Release(11)]);
    assert_eq!(app.screen, Screen::Seats);
    assert_eq!(key(&mut app, KeyCode::Esc), [Action::Unwatch]);
    assert_eq!(app.screen, Screen::Shows);
}

#[test]
fn tab_chooses_the_best_available_category() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert!(screen(&app).contains("best-available category: premium"));
    assert_eq!(
        key(&mut app, KeyCode::Char('4')),
        [Action::Hold {
            show_id: 7,
            selection: SeatSelection::Best {
                count: 4,
                category: Some(cinebook_client::types::Category::Premium)
            }
        }]
    );
}

#[test]
fn a_refund_by_booking_code() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.screen, Screen::Refund);
    for c in "k7qx-3mpa".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert!(screen(&app).contains("Booking code: K7QX-3MPA"));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        [Action::FindBooking("K7QX-3MPA".into())]
    );
    app.event(Event::Found(sample_booking()));
    let text = screen(&app);
    assert!(text.contains("seats: A1, A4"), "{text}");
    assert!(text.contains("press y to cancel and refund 24.00 EUR"));
    assert!(text.contains("y refund"), "help line:\n{text}");
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        [Action::Refund("K7QX-3MPA".into())]
    );
    let mut refunded = sample_booking();
    refunded.status = cinebook_client::types::BookingStatus::Refunded;
    app.event(Event::Refunded(refunded));
    assert!(screen(&app).contains("booking K7QX-3MPA refunded"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Shows);
}

#[test]
fn the_shift_report_has_its_own_screen() {
    let mut app = loaded_app();
    assert_eq!(key(&mut app, KeyCode::Char('s')), [Action::LoadReport]);
    assert!(screen(&app).contains("CineBook box office — Shift report"));
    app.event(Event::Report(ShiftReport {
        terminal_id: 3,
        from_ms: NOW_MS - 3_600_000,
        to_ms: NOW_MS,
        currency: "EUR".into(),
        lines: vec![MethodTotals {
            method: PaymentMethod::Cash,
            sales: 4,
            seats: 9,
            sales_minor: 10_800,
            refunds: 1,
            refunds_minor: 2_400,
        }],
    }));
    let text = screen(&app);
    assert!(text.contains("shift report, terminal 3"), "{text}");
    assert!(text.contains("cash"));
    assert!(text.contains("108.00 EUR"));
    assert!(text.contains("net 84.00 EUR"));
    assert!(text.contains("g reload"));
}

#[test]
fn alt_chords_are_ignored() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    // A quick Esc then `3` can arrive as Alt+3: it must not hold three seats.
    let actions = app.key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT));
    assert!(actions.is_empty());
    assert_eq!(app.screen, Screen::Seats);
    let text = screen(&app);
    assert!(
        text.contains("+ held  x sold  # blocked  * picked"),
        "{text}"
    );
}

#[test]
fn ctrl_c_releases_a_hold_before_quitting() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    key(&mut app, KeyCode::Char('2'));
    app.event(Event::Held(hold_info()));
    let actions = app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(actions, [Action::Release(11), Action::Quit]);
}

#[test]
fn the_box_office_may_type_the_customers_email_before_taking_payment() {
    let mut app = loaded_app();
    key(&mut app, KeyCode::Enter);
    app.event(Event::Seats(SeatUpdate::Snapshot(sample_map())));
    app.event(Event::Held(hold_info()));
    assert_eq!(app.screen, Screen::Pay);
    assert!(screen(&app).contains("e-mail (e): none"));
    assert!(key(&mut app, KeyCode::Char('e')).is_empty());
    for c in "ana@exampl1.ch".chars() {
        assert!(
            key(&mut app, KeyCode::Char(c)).is_empty(),
            "typing sells nothing"
        );
    }
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Char('h'));
    key(&mut app, KeyCode::Enter);
    assert!(screen(&app).contains("e-mail (e): ana@exampl1.ch"));
    let actions = key(&mut app, KeyCode::Char('1'));
    match actions.as_slice() {
        [Action::Confirm { email, payment, .. }] => {
            assert_eq!(email.as_deref(), Some("ana@exampl1.ch"));
            assert_eq!(payment.method, PaymentMethod::Cash);
        }
        other => panic!("expected a confirm, got {other:?}"),
    }
}
