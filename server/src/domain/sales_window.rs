//! Sales windows: until when a caller may hold and confirm seats of a show.
//!
//! Kiosks and the web (which sells through kiosk tokens) sell until the show starts; the box
//! office and admins until `box_office_late_min` minutes after the start, for latecomers at the
//! counter. The node computes the closing time with [`sales_close_at_ms`] and passes it into
//! `Command::Hold` and [`super::ShowState::begin_sale`], which compare it with `now_ms`: the
//! state machine still reads no clock and no configuration.

use cinebook_protocol::types::Role;

/// Default of `box_office_late_min` (`--box-office-late-min`): minutes after a show's start
/// during which the box office may still sell it.
pub const BOX_OFFICE_LATE_MIN_DEFAULT: u64 = 15;

/// A window that never closes (tests, benchmarks, replays of what was already decided).
pub const SALES_NEVER_CLOSE: u64 = u64::MAX;

/// The first millisecond at which `role` may no longer hold or confirm seats of a show that
/// starts at `starts_at_ms`.
pub fn sales_close_at_ms(starts_at_ms: u64, role: Role, box_office_late_min: u64) -> u64 {
    match role {
        Role::BoxOffice | Role::Admin => {
            starts_at_ms.saturating_add(box_office_late_min.saturating_mul(60_000))
        }
        _ => starts_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_office_sells_late_kiosks_do_not() {
        let start = 1_000_000_000;
        assert_eq!(sales_close_at_ms(start, Role::Kiosk, 15), start);
        assert_eq!(sales_close_at_ms(start, Role::Guest, 15), start);
        assert_eq!(
            sales_close_at_ms(start, Role::BoxOffice, 15),
            start + 900_000
        );
        assert_eq!(sales_close_at_ms(start, Role::Admin, 0), start);
        assert_eq!(
            sales_close_at_ms(u64::MAX - 1, Role::Admin, u64::MAX),
            u64::MAX
        );
    }
}
