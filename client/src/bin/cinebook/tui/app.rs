//! The box office's state machine: keys and server results in, actions out. No I/O, no clock:
//! everything it needs arrives as an [`Event`], everything it wants done leaves as an [`Action`].

use cinebook_client::types::{
    Booking, Category, City, HoldId, HoldInfo, Movie, Payment, PaymentMethod, SeatId, SeatMap,
    SeatSelection, SeatState, ShiftReport, ShowId, ShowSummary,
};
use cinebook_client::SeatUpdate;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::commands::payment_for;
use crate::grid;

const DAY_MS: u64 = 24 * 3_600_000;

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The show list with filters (start here).
    Shows,
    /// A show's live seat map.
    Seats,
    /// A hold waiting for payment.
    Pay,
    /// A sale's booking code and ticket.
    Ticket,
    /// Refund by booking code.
    Refund,
    /// The shift report.
    Report,
    /// Admit tickets at the door (scan mode).
    Scan,
}

/// The show list's time filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFilter {
    /// Not started more than 30 minutes ago.
    Upcoming,
    /// Starting today (local).
    Today,
    /// Starting tomorrow (local).
    Tomorrow,
    /// Every show.
    All,
}

impl TimeFilter {
    pub fn name(self) -> &'static str {
        match self {
            TimeFilter::Upcoming => "upcoming",
            TimeFilter::Today => "today",
            TimeFilter::Tomorrow => "tomorrow",
            TimeFilter::All => "all",
        }
    }

    fn next(self) -> Self {
        match self {
            TimeFilter::Upcoming => TimeFilter::Today,
            TimeFilter::Today => TimeFilter::Tomorrow,
            TimeFilter::Tomorrow => TimeFilter::All,
            TimeFilter::All => TimeFilter::Upcoming,
        }
    }
}

/// Longest customer e-mail the payment screen takes, bytes (the node's limit).
pub const EMAIL_INPUT_BYTES_MAX: usize = 254;

/// Something for the I/O side to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fetch cities, movies and shows.
    LoadCatalog,
    /// Follow a show's seat map (replacing any other).
    Watch(ShowId),
    /// Stop following.
    Unwatch,
    /// Hold seats.
    Hold {
        show_id: ShowId,
        selection: SeatSelection,
    },
    /// Give a hold back.
    Release(HoldId),
    /// Keep a hold alive longer (up to its ceiling).
    Renew(HoldId),
    /// Sell a hold.
    Confirm {
        hold_id: HoldId,
        payment: Payment,
        idempotency_key: String,
        /// The customer's e-mail, if one was typed (the ticket is sent there).
        email: Option<String>,
    },
    /// Look a booking up.
    FindBooking(String),
    /// Cancel a booking with a refund.
    Refund(String),
    /// Fetch today's shift report.
    LoadReport,
    /// Print a ticket with its QR code: a PDF in `cinebook-tickets/`, and ESC/POS to the
    /// receipt printer when one is configured (`CINEBOOK_PRINTER`). A second print is a REPRINT.
    PrintTicket {
        booking: Box<Booking>,
        show: Option<Box<ShowSummary>>,
    },
    /// Admit a ticket (a code or a QR payload) at the box office's gate.
    Scan(String),
    /// Leave.
    Quit,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The clock, once a second: now and today's local bounds.
    Tick {
        now_ms: u64,
        today_start_ms: u64,
        today_end_ms: u64,
    },
    /// Catalog loaded.
    Catalog {
        cities: Vec<City>,
        movies: Vec<Movie>,
        shows: Vec<ShowSummary>,
    },
    /// The followed show's seats.
    Seats(SeatUpdate),
    /// A hold was placed.
    Held(HoldInfo),
    /// A hold was released.
    Released,
    /// A hold was renewed: its new deadline.
    Renewed(HoldInfo),
    /// A sale went through.
    Booked(Booking),
    /// A booking was found.
    Found(Booking),
    /// A booking was refunded.
    Refunded(Booking),
    /// The shift report.
    Report(ShiftReport),
    /// A ticket was printed: what was done, for the status line.
    Saved(String),
    /// A scan's answer.
    Scanned(cinebook_client::door::ScanResult),
    /// Something failed; `hold_lost` if the hold is gone (expired or unknown).
    Failed { message: String, hold_lost: bool },
}

/// The whole state of the box office screen.
#[derive(Debug, Clone)]
pub struct App {
    pub screen: Screen,
    pub now_ms: u64,
    pub today: (u64, u64),
    pub cities: Vec<City>,
    pub movies: Vec<Movie>,
    pub shows: Vec<ShowSummary>,
    pub city: Option<u64>,
    pub movie: Option<u64>,
    pub time: TimeFilter,
    pub search: String,
    pub searching: bool,
    pub cursor: usize,
    pub show_id: Option<ShowId>,
    pub map: Option<SeatMap>,
    pub seat_cursor: Option<usize>,
    pub selected: Vec<SeatId>,
    pub best_category: Option<Category>,
    pub hold: Option<HoldInfo>,
    pub pay_key: String,
    /// The customer's e-mail typed on the payment screen (optional).
    pub email: String,
    /// Whether keys go into [`App::email`].
    pub typing_email: bool,
    pub booking: Option<Booking>,
    pub ticket_show: Option<ShowSummary>,
    pub refund_input: String,
    pub refund_booking: Option<Booking>,
    pub report: Option<ShiftReport>,
    pub scan_input: String,
    pub scan_result: Option<cinebook_client::door::ScanResult>,
    pub status: String,
    pub busy: bool,
}

impl App {
    pub fn new(now_ms: u64, today: (u64, u64)) -> Self {
        App {
            screen: Screen::Shows,
            now_ms,
            today,
            cities: Vec::new(),
            movies: Vec::new(),
            shows: Vec::new(),
            city: None,
            movie: None,
            time: TimeFilter::Upcoming,
            search: String::new(),
            searching: false,
            cursor: 0,
            show_id: None,
            map: None,
            seat_cursor: None,
            selected: Vec::new(),
            best_category: None,
            hold: None,
            pay_key: String::new(),
            email: String::new(),
            typing_email: false,
            booking: None,
            ticket_show: None,
            refund_input: String::new(),
            refund_booking: None,
            report: None,
            scan_input: String::new(),
            scan_result: None,
            status: "loading shows…".into(),
            busy: true,
        }
    }

    /// The shows the filters let through, by start time.
    pub fn visible_shows(&self) -> Vec<&ShowSummary> {
        let (today_start, today_end) = self.today;
        let search = self.search.to_lowercase();
        let mut shows: Vec<&ShowSummary> = self
            .shows
            .iter()
            .filter(|s| self.city.is_none_or(|c| s.city_id == c))
            .filter(|s| self.movie.is_none_or(|m| s.show.movie_id == m))
            .filter(|s| {
                let at = s.show.starts_at_ms;
                match self.time {
                    TimeFilter::Upcoming => at + 30 * 60_000 >= self.now_ms,
                    TimeFilter::Today => (today_start..today_end).contains(&at),
                    TimeFilter::Tomorrow => (today_end..today_end + DAY_MS).contains(&at),
                    TimeFilter::All => true,
                }
            })
            .filter(|s| {
                search.is_empty()
                    || s.movie_title.to_lowercase().contains(&search)
                    || s.theater_name.to_lowercase().contains(&search)
            })
            .collect();
        shows.sort_by_key(|s| (s.show.starts_at_ms, s.show.id));
        shows
    }

    pub fn city_name(&self) -> String {
        self.city
            .and_then(|id| self.cities.iter().find(|c| c.id == id))
            .map_or_else(|| "all".into(), |c| c.name.clone())
    }

    pub fn movie_name(&self) -> String {
        self.movie
            .and_then(|id| self.movies.iter().find(|m| m.id == id))
            .map_or_else(|| "all".into(), |m| m.title.clone())
    }

    /// The keys that work on this screen, for the help line.
    pub fn help(&self) -> &'static str {
        match self.screen {
            Screen::Shows if self.searching => "type to search  Enter/Esc done  Backspace delete",
            Screen::Shows => {
                "↑↓ choose  Enter seats  c city  m movie  t time  / search  g reload  r refund  a admit  s shift report  q quit"
            }
            Screen::Seats => {
                "1-9 best N  Tab category  ←↑↓→ move  Space pick  Enter hold picked  Esc shows"
            }
            Screen::Pay if self.typing_email => "type the e-mail  Enter/Esc done  Backspace delete",
            Screen::Pay => "1 cash  2 card  3 comp  n renew  e e-mail (optional)  Esc release",
            Screen::Ticket => "Enter next sale (same show)  p print  Esc shows",
            Screen::Refund if self.refund_booking.is_some() => "y refund  Esc other code",
            Screen::Refund => "type booking code  Enter find  Esc shows",
            Screen::Report => "g reload  Esc shows",
            Screen::Scan => "scan or type a ticket  Enter admit  Esc shows",
        }
    }

    /// A key was pressed.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return match (&self.hold, self.screen) {
                (Some(hold), Screen::Pay) => vec![Action::Release(hold.hold_id), Action::Quit],
                _ => vec![Action::Quit],
            };
        }
        // Alt or Ctrl chords mean nothing here; a fast Esc followed by a key can arrive as Alt+key.
        if key
            .modifiers
            .intersects(KeyModifiers::ALT | KeyModifiers::CONTROL)
        {
            return Vec::new();
        }
        match self.screen {
            Screen::Shows => self.key_shows(key.code),
            Screen::Seats => self.key_seats(key.code),
            Screen::Pay => self.key_pay(key.code),
            Screen::Ticket => self.key_ticket(key.code),
            Screen::Refund => self.key_refund(key.code),
            Screen::Report => self.key_report(key.code),
            Screen::Scan => self.key_scan(key.code),
        }
    }

    fn key_shows(&mut self, code: KeyCode) -> Vec<Action> {
        if self.searching {
            match code {
                KeyCode::Enter | KeyCode::Esc => self.searching = false,
                KeyCode::Backspace => {
                    self.search.pop();
                }
                KeyCode::Char(c) => self.search.push(c),
                _ => {}
            }
            self.cursor = 0;
            return Vec::new();
        }
        let count = self.visible_shows().len();
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.cursor = (self.cursor + 1).min(count.saturating_sub(1))
            }
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(10),
            KeyCode::PageDown => self.cursor = (self.cursor + 10).min(count.saturating_sub(1)),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = count.saturating_sub(1),
            KeyCode::Enter => {
                let Some(show) = self.visible_shows().get(self.cursor).map(|s| s.show.id) else {
                    return Vec::new();
                };
                self.open_show(show);
                return vec![Action::Watch(show)];
            }
            KeyCode::Char('/') => {
                self.searching = true;
                self.search.clear();
            }
            KeyCode::Char('c') => {
                self.city = cycle(self.city, self.cities.iter().map(|c| c.id));
                self.cursor = 0;
            }
            KeyCode::Char('m') => {
                self.movie = cycle(self.movie, self.movies.iter().map(|m| m.id));
                self.cursor = 0;
            }
            KeyCode::Char('t') => {
                self.time = self.time.next();
                self.cursor = 0;
            }
            KeyCode::Char('g') => {
                self.busy = true;
                self.status = "reloading…".into();
                return vec![Action::LoadCatalog];
            }
            KeyCode::Char('r') => {
                self.screen = Screen::Refund;
                self.refund_input.clear();
                self.refund_booking = None;
            }
            KeyCode::Char('a') => {
                self.screen = Screen::Scan;
                self.scan_input.clear();
                self.scan_result = None;
            }
            KeyCode::Char('s') => {
                self.screen = Screen::Report;
                self.busy = true;
                return vec![Action::LoadReport];
            }
            KeyCode::Char('q') | KeyCode::Esc => return vec![Action::Quit],
            _ => {}
        }
        Vec::new()
    }

    fn open_show(&mut self, show: ShowId) {
        self.screen = Screen::Seats;
        self.show_id = Some(show);
        self.map = None;
        self.seat_cursor = None;
        self.selected.clear();
        self.status = "loading seat map…".into();
    }

    fn key_seats(&mut self, code: KeyCode) -> Vec<Action> {
        let Some(show_id) = self.show_id else {
            return Vec::new();
        };
        match code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.screen = Screen::Shows;
                self.show_id = None;
                self.map = None;
                self.selected.clear();
                return vec![Action::Unwatch];
            }
            KeyCode::Char(digit @ '1'..='9') if !self.busy => {
                let count = digit as u16 - '0' as u16;
                self.busy = true;
                self.status = format!("holding best {count}…");
                return vec![Action::Hold {
                    show_id,
                    selection: SeatSelection::Best {
                        count,
                        category: self.best_category,
                    },
                }];
            }
            KeyCode::Tab => {
                self.best_category = cycle(self.best_category, Category::ALL.into_iter());
            }
            KeyCode::Left => self.move_seat(Dir::Left),
            KeyCode::Right => self.move_seat(Dir::Right),
            KeyCode::Up => self.move_seat(Dir::Up),
            KeyCode::Down => self.move_seat(Dir::Down),
            KeyCode::Char(' ') => self.toggle_seat(),
            KeyCode::Enter if !self.selected.is_empty() && !self.busy => {
                self.busy = true;
                self.status = "holding…".into();
                return vec![Action::Hold {
                    show_id,
                    selection: SeatSelection::Ids(self.selected.clone()),
                }];
            }
            _ => {}
        }
        Vec::new()
    }

    fn toggle_seat(&mut self) {
        let (Some(map), Some(index)) = (&self.map, self.seat_cursor) else {
            return;
        };
        let Some(seat) = map.seats.get(index) else {
            return;
        };
        if let Some(pos) = self.selected.iter().position(|id| *id == seat.id) {
            self.selected.remove(pos);
        } else if grid::state(map, index) == SeatState::Free {
            self.selected.push(seat.id);
        } else {
            self.status = format!("{} is not free", seat.label);
        }
    }

    fn move_seat(&mut self, dir: Dir) {
        let Some(map) = &self.map else {
            return;
        };
        let rows = grid::rows(map);
        let Some(current) = self.seat_cursor else {
            self.seat_cursor = first_seat(&rows);
            return;
        };
        let Some((r, c)) = position(&rows, current) else {
            self.seat_cursor = first_seat(&rows);
            return;
        };
        let found = match dir {
            Dir::Left => rows[r].cells[..c].iter().rev().find_map(|x| *x),
            Dir::Right => rows[r].cells[c + 1..].iter().find_map(|x| *x),
            Dir::Up => r
                .checked_sub(1)
                .and_then(|up| nearest_in_row(&rows[up].cells, c)),
            Dir::Down => rows
                .get(r + 1)
                .and_then(|row| nearest_in_row(&row.cells, c)),
        };
        if let Some(index) = found {
            self.seat_cursor = Some(index);
        }
    }

    fn key_pay(&mut self, code: KeyCode) -> Vec<Action> {
        if self.typing_email {
            match code {
                KeyCode::Enter | KeyCode::Esc => self.typing_email = false,
                KeyCode::Backspace => {
                    self.email.pop();
                }
                KeyCode::Char(c) if self.email.len() < EMAIL_INPUT_BYTES_MAX => self.email.push(c),
                _ => {}
            }
            return Vec::new();
        }
        let Some(hold) = &self.hold else {
            self.screen = Screen::Seats;
            return Vec::new();
        };
        let method = match code {
            KeyCode::Char('e') if !self.busy => {
                self.typing_email = true;
                return Vec::new();
            }
            KeyCode::Char('1') => PaymentMethod::Cash,
            KeyCode::Char('2') => PaymentMethod::Card,
            KeyCode::Char('3') => PaymentMethod::Comp,
            KeyCode::Char('n') if !self.busy => {
                self.busy = true;
                self.status = "renewing…".into();
                return vec![Action::Renew(hold.hold_id)];
            }
            KeyCode::Esc if !self.busy => {
                let hold_id = hold.hold_id;
                self.hold = None;
                self.screen = Screen::Seats;
                self.status = "hold released".into();
                return vec![Action::Release(hold_id)];
            }
            _ => return Vec::new(),
        };
        if self.busy {
            return Vec::new();
        }
        self.busy = true;
        self.status = format!("taking {} payment…", method.name());
        vec![Action::Confirm {
            hold_id: hold.hold_id,
            payment: payment_for(method, &hold.total),
            idempotency_key: self.pay_key.clone(),
            email: Some(self.email.trim().to_owned()).filter(|e| !e.is_empty()),
        }]
    }

    fn key_ticket(&mut self, code: KeyCode) -> Vec<Action> {
        match code {
            KeyCode::Enter => {
                // Next customer, same show: the live map is still followed.
                self.screen = Screen::Seats;
                self.status.clear();
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.screen = Screen::Shows;
                self.show_id = None;
                self.map = None;
                return vec![Action::Unwatch];
            }
            KeyCode::Char('p') => {
                if let Some(booking) = &self.booking {
                    return vec![Action::PrintTicket {
                        booking: Box::new(booking.clone()),
                        show: self.ticket_show.clone().map(Box::new),
                    }];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn key_refund(&mut self, code: KeyCode) -> Vec<Action> {
        if let Some(booking) = &self.refund_booking {
            match code {
                KeyCode::Char('y') if !self.busy => {
                    self.busy = true;
                    self.status = format!("refunding {}…", booking.code);
                    return vec![Action::Refund(booking.code.clone())];
                }
                KeyCode::Esc => {
                    self.refund_booking = None;
                    self.refund_input.clear();
                }
                _ => {}
            }
            return Vec::new();
        }
        match code {
            KeyCode::Esc => self.screen = Screen::Shows,
            KeyCode::Backspace => {
                self.refund_input.pop();
            }
            KeyCode::Enter if !self.refund_input.is_empty() && !self.busy => {
                self.busy = true;
                return vec![Action::FindBooking(self.refund_input.clone())];
            }
            KeyCode::Char(c) if c.is_ascii_alphanumeric() || c == '-' => {
                self.refund_input.push(c.to_ascii_uppercase())
            }
            _ => {}
        }
        Vec::new()
    }

    fn key_report(&mut self, code: KeyCode) -> Vec<Action> {
        match code {
            KeyCode::Esc | KeyCode::Char('q') => self.screen = Screen::Shows,
            KeyCode::Char('g') => {
                self.busy = true;
                return vec![Action::LoadReport];
            }
            _ => {}
        }
        Vec::new()
    }

    /// Something happened on the I/O side.
    pub fn event(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Tick {
                now_ms,
                today_start_ms,
                today_end_ms,
            } => {
                self.now_ms = now_ms;
                self.today = (today_start_ms, today_end_ms);
            }
            Event::Catalog {
                cities,
                movies,
                shows,
            } => {
                self.cities = cities;
                self.movies = movies;
                self.shows = shows;
                self.busy = false;
                self.status = format!("{} shows", self.shows.len());
                self.cursor = self
                    .cursor
                    .min(self.visible_shows().len().saturating_sub(1));
            }
            Event::Seats(update) => self.seats(update),
            Event::Held(hold) => {
                self.busy = false;
                self.selected.clear();
                self.status = format!("held {}", hold.labels.join(", "));
                self.pay_key = cinebook_client::new_idempotency_key();
                self.email.clear();
                self.typing_email = false;
                self.hold = Some(hold);
                self.screen = Screen::Pay;
            }
            Event::Released => self.busy = false,
            Event::Renewed(renewed) => {
                self.busy = false;
                // The payment key stays: a confirm whose outcome was unknown is retried with it.
                if let Some(hold) = self.hold.as_mut().filter(|h| h.hold_id == renewed.hold_id) {
                    let gained = renewed.expires_at_ms.saturating_sub(hold.expires_at_ms);
                    hold.expires_at_ms = renewed.expires_at_ms;
                    self.status = if gained == 0 {
                        format!(
                            "hold at its ceiling: expires {}; take the payment",
                            crate::when::clock(renewed.expires_at_ms)
                        )
                    } else {
                        format!(
                            "hold renewed until {}",
                            crate::when::clock(renewed.expires_at_ms)
                        )
                    };
                }
            }
            Event::Booked(booking) => {
                self.busy = false;
                self.hold = None;
                self.status = format!("sold: booking {}", booking.code);
                self.ticket_show = self.map.as_ref().map(|m| m.summary.clone());
                self.booking = Some(booking);
                self.screen = Screen::Ticket;
            }
            Event::Found(booking) => {
                self.busy = false;
                self.status.clear();
                self.refund_booking = Some(booking);
            }
            Event::Refunded(booking) => {
                self.busy = false;
                self.status = format!(
                    "booking {} {}",
                    booking.code,
                    crate::ticket::status(booking.status)
                );
                self.refund_booking = None;
                self.refund_input.clear();
            }
            Event::Report(report) => {
                self.busy = false;
                self.report = Some(report);
            }
            Event::Saved(done) => self.status = done,
            Event::Scanned(result) => self.scanned(result),
            Event::Failed { message, hold_lost } => {
                self.busy = false;
                self.status = message;
                if hold_lost && self.screen == Screen::Pay {
                    self.hold = None;
                    self.screen = Screen::Seats;
                }
            }
        }
        Vec::new()
    }

    fn seats(&mut self, update: SeatUpdate) {
        let show = match &update {
            SeatUpdate::Snapshot(map) => map.summary.show.id,
            SeatUpdate::Changes { show_id, .. } => *show_id,
        };
        if Some(show) != self.show_id {
            return;
        }
        let first = self.map.is_none();
        update.apply(&mut self.map);
        let Some(map) = &self.map else {
            return;
        };
        if first {
            self.status.clear();
            self.seat_cursor = first_seat(&grid::rows(map));
        }
        // A seat someone else just took can no longer be picked.
        let mut taken = Vec::new();
        self.selected.retain(|id| {
            let free = grid::state(map, *id as usize) == SeatState::Free;
            if !free {
                if let Some(seat) = map.seats.get(*id as usize) {
                    taken.push(seat.label.clone());
                }
            }
            free
        });
        if !taken.is_empty() {
            self.status = format!("just taken: {}", taken.join(", "));
        }
    }

    /// Seconds until the hold expires (0 once it has).
    pub fn hold_left_s(&self) -> Option<u64> {
        self.hold
            .as_ref()
            .map(|h| h.expires_at_ms.saturating_sub(self.now_ms) / 1_000)
    }
}

#[derive(Debug, Clone, Copy)]
enum Dir {
    Left,
    Right,
    Up,
    Down,
}

/// The next value of an optional filter: none → each value in turn → none.
fn cycle<T: PartialEq + Copy>(current: Option<T>, values: impl Iterator<Item = T>) -> Option<T> {
    let values: Vec<T> = values.collect();
    match current.and_then(|c| values.iter().position(|v| *v == c)) {
        None => values.first().copied(),
        Some(i) => values.get(i + 1).copied(),
    }
}

fn first_seat(rows: &[grid::Row]) -> Option<usize> {
    rows.iter().find_map(|r| r.cells.iter().find_map(|c| *c))
}

fn position(rows: &[grid::Row], index: usize) -> Option<(usize, usize)> {
    rows.iter().enumerate().find_map(|(r, row)| {
        row.cells
            .iter()
            .position(|c| *c == Some(index))
            .map(|c| (r, c))
    })
}

fn nearest_in_row(cells: &[Option<usize>], column: usize) -> Option<usize> {
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|index| (i.abs_diff(column), index)))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, index)| index)
}
