//! Drawing the box office: a title bar, the current screen, a status line and the help line.

use cinebook_client::types::{Category, SeatState};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Screen};
use crate::{commands, grid, ticket, when};

pub fn draw(frame: &mut Frame, app: &App) {
    let [title, body, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let screen = match app.screen {
        Screen::Shows => "Shows",
        Screen::Seats => "Seats",
        Screen::Pay => "Payment",
        Screen::Ticket => "Ticket",
        Screen::Refund => "Refund",
        Screen::Report => "Shift report",
        Screen::Scan => "Admit",
    };
    frame.render_widget(
        Paragraph::new(format!(
            " CineBook box office — {screen}{}   {}",
            if app.busy { " (working…)" } else { "" },
            when::clock(app.now_ms)
        ))
        .style(Style::new().bg(Color::Blue).fg(Color::White)),
        title,
    );
    match app.screen {
        Screen::Shows => shows(frame, app, body),
        Screen::Seats | Screen::Pay => seats(frame, app, body),
        Screen::Ticket => ticket_screen(frame, app, body),
        Screen::Refund => refund(frame, app, body),
        Screen::Report => report(frame, app, body),
        Screen::Scan => super::scan::draw(frame, app, body),
    }
    frame.render_widget(
        Paragraph::new(format!(" {}", app.status)).style(Style::new().fg(Color::Yellow)),
        status,
    );
    frame.render_widget(
        Paragraph::new(format!(" {}", app.help()))
            .style(Style::new().add_modifier(Modifier::REVERSED)),
        help,
    );
}

fn shows(frame: &mut Frame, app: &App, area: Rect) {
    let visible = app.visible_shows();
    let search = if app.searching {
        format!("{}▏", app.search)
    } else if app.search.is_empty() {
        "-".into()
    } else {
        app.search.clone()
    };
    let mut lines = vec![
        Line::from(format!(
            "City: {}   Movie: {}   Time: {}   Search: {}",
            app.city_name(),
            app.movie_name(),
            app.time.name(),
            search
        )),
        Line::from(format!(
            "  {:<16}  {:<28}  {:<24}  {:>9}",
            "STARTS", "MOVIE", "THEATER / SCREEN", "FREE"
        ))
        .style(Style::new().add_modifier(Modifier::BOLD)),
    ];
    let rows = usize::from(area.height.saturating_sub(4));
    let offset = app.cursor.saturating_sub(rows.saturating_sub(1));
    for (i, s) in visible.iter().enumerate().skip(offset).take(rows) {
        let text = format!(
            "{} {:<16}  {:<28}  {:<24}  {:>9}",
            if i == app.cursor { ">" } else { " " },
            when::show_time(s.show.starts_at_ms),
            commands::truncate(&s.movie_title, 28),
            commands::truncate(&format!("{} / {}", s.theater_name, s.screen_name), 24),
            format!("{}/{}", s.seats_free, s.seats_total)
        );
        let style = if i == app.cursor {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if s.seats_free == 0 {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    if visible.is_empty() && !app.busy {
        lines.push(Line::from(
            "  no shows match (t: time filter, c: city, m: movie)",
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}

pub fn seat_color(category: Category, state: SeatState) -> Color {
    match state {
        SeatState::Free => match category {
            Category::Standard => Color::Green,
            Category::Premium => Color::Cyan,
            Category::Recliner => Color::Magenta,
            Category::Wheelchair | Category::Companion => Color::LightBlue,
        },
        SeatState::Held => Color::Yellow,
        SeatState::Sold => Color::Red,
        SeatState::Blocked => Color::DarkGray,
    }
}

fn seats(frame: &mut Frame, app: &App, area: Rect) {
    let Some(map) = &app.map else {
        frame.render_widget(
            Paragraph::new("loading seat map…").block(Block::bordered()),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(38)]).areas(area);
    let s = &map.summary;
    let rows = grid::rows(map);
    let width = rows.first().map_or(0, |r| r.cells.len());
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(1);
    let mut lines = vec![
        Line::from(format!(
            "{} — {} / {} — {}",
            s.movie_title,
            s.theater_name,
            s.screen_name,
            when::show_time(s.show.starts_at_ms)
        )),
        Line::from(format!("free: {}", commands::free_summary(map))),
        Line::from(""),
        Line::from(format!(
            "{:w$}  {:^sw$}",
            "",
            "SCREEN",
            w = name_width,
            sw = (width * 2).max(8)
        )),
    ];
    for row in &rows {
        let mut spans = vec![Span::raw(format!("{:>w$}  ", row.name, w = name_width))];
        for cell in &row.cells {
            let Some(index) = *cell else {
                spans.push(Span::raw("  "));
                continue;
            };
            let seat = &map.seats[index];
            let state = grid::state(map, index);
            let picked = app.selected.contains(&seat.id);
            let letter = if picked {
                '*'
            } else {
                grid::symbol(seat.category, state)
            };
            let mut style = Style::new().fg(if picked {
                Color::White
            } else {
                seat_color(seat.category, state)
            });
            if picked {
                style = style.add_modifier(Modifier::BOLD);
            }
            if app.seat_cursor == Some(index) && app.screen == Screen::Seats {
                style = style.add_modifier(Modifier::REVERSED);
            }
            spans.push(Span::styled(letter.to_string(), style));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(row.name.clone()));
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(grid::LEGEND));
    lines.push(Line::from(format!("{}  * picked", grid::LEGEND_STATES)));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" show {} ", s.show.id))),
        left,
    );

    let side = if app.screen == Screen::Pay {
        pay_lines(app)
    } else {
        pick_lines(app)
    };
    frame.render_widget(
        Paragraph::new(side)
            .wrap(Wrap { trim: false })
            .block(Block::bordered()),
        right,
    );
}

fn pick_lines(app: &App) -> Vec<Line<'static>> {
    let Some(map) = &app.map else {
        return Vec::new();
    };
    let currency = &map.summary.show.currency;
    let mut lines = vec![Line::from(format!(
        "best-available category: {}",
        app.best_category.map_or("any", |c| c.name())
    ))];
    if let Some(index) = app.seat_cursor {
        if let Some(seat) = map.seats.get(index) {
            let price = map
                .summary
                .show
                .prices
                .iter()
                .find(|p| p.category == seat.category)
                .map_or_else(
                    || "not for sale".into(),
                    |p| ticket::money(p.amount_minor, currency),
                );
            lines.push(Line::from(format!(
                "seat {} ({}, {}) {}",
                seat.label,
                seat.category.name(),
                crate::output::state_name(grid::state(map, index)),
                price
            )));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from("prices:"));
    for p in &map.summary.show.prices {
        lines.push(Line::from(format!(
            "  {:<11}{:>14}",
            p.category.name(),
            ticket::money(p.amount_minor, currency)
        )));
    }
    if !app.selected.is_empty() {
        let labels: Vec<&str> = app
            .selected
            .iter()
            .filter_map(|id| map.seats.get(*id as usize))
            .map(|s| s.label.as_str())
            .collect();
        lines.push(Line::from(""));
        lines.push(Line::from(format!("picked: {}", labels.join(", "))));
    }
    lines
}

fn pay_lines(app: &App) -> Vec<Line<'static>> {
    let Some(hold) = &app.hold else {
        return Vec::new();
    };
    let left = app.hold_left_s().unwrap_or(0);
    vec![
        Line::from(format!("HOLD {}", hold.hold_id))
            .style(Style::new().add_modifier(Modifier::BOLD)),
        Line::from(format!("seats: {}", hold.labels.join(", "))),
        Line::from(format!("total: {}", ticket::total(&hold.total))),
        Line::styled(
            format!("expires in {}:{:02}", left / 60, left % 60),
            if left < 60 {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            },
        ),
        Line::from(""),
        Line::from("take payment:"),
        Line::from("  1  cash"),
        Line::from("  2  card"),
        Line::from("  3  comp (free)"),
        Line::from(""),
        Line::from(format!(
            "e-mail (e): {}{}",
            if app.email.is_empty() && !app.typing_email {
                "none"
            } else {
                app.email.as_str()
            },
            if app.typing_email { "_" } else { "" }
        )),
    ]
}

fn ticket_screen(frame: &mut Frame, app: &App, area: Rect) {
    let Some(booking) = &app.booking else {
        return;
    };
    let mut lines = vec![
        Line::styled(
            format!("SOLD — booking code {}", booking.code),
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Line::from(""),
    ];
    lines.extend(
        ticket::render(booking, app.ticket_show.as_ref())
            .lines()
            .map(|l| Line::from(l.to_string())),
    );
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}

fn refund(frame: &mut Frame, app: &App, area: Rect) {
    let mut lines = vec![Line::from(format!("Booking code: {}▏", app.refund_input))];
    if let Some(b) = &app.refund_booking {
        lines.push(Line::from(""));
        lines.push(Line::from(format!(
            "{} — show {} — {} — {}",
            b.code,
            b.show_id,
            ticket::status(b.status),
            when::show_time(b.sold_at_ms)
        )));
        let labels: Vec<&str> = b.seats.iter().map(|s| s.label.as_str()).collect();
        lines.push(Line::from(format!("seats: {}", labels.join(", "))));
        lines.push(Line::from(format!(
            "paid {} {}",
            b.payment.method.name(),
            ticket::total(&b.payment.amount)
        )));
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!(
                "press y to cancel and refund {}",
                ticket::total(&b.payment.amount)
            ),
            Style::new().fg(Color::Yellow),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}

fn report(frame: &mut Frame, app: &App, area: Rect) {
    let text = app
        .report
        .as_ref()
        .map_or_else(|| "loading…".to_string(), commands::report_text);
    let lines: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), area);
}
