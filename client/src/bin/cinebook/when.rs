//! Times on the command line (`--from`, `--to`, `--date`) and on screen, in the local time zone.

use chrono::{DateTime, Local, NaiveDate, NaiveTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Parses `--from`/`--to`: RFC 3339 (`2025-05-01T19:55:00+01:00`), a local date (`2025-05-01`,
/// meaning its local midnight), or milliseconds since the Unix epoch.
pub fn parse_instant(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().map_err(|e| format!("`{text}`: {e}"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return to_ms(at.timestamp_millis(), text);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local_midnight_ms(date);
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2025-05-01T19:55:00+01:00), YYYY-MM-DD or milliseconds since 1970"
    ))
}

/// `[local midnight of date, local midnight of the next day)` in ms.
pub fn parse_day(text: &str) -> Result<(u64, u64), String> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date: use YYYY-MM-DD"))?;
    day_range(date)
}

/// The local day containing `ms`, as `[start, end)`.
pub fn day_of(ms: u64) -> Result<(u64, u64), String> {
    let at = local(ms);
    day_range(at.date_naive())
}

fn day_range(date: NaiveDate) -> Result<(u64, u64), String> {
    let next = date
        .succ_opt()
        .ok_or_else(|| format!("no day after {date}"))?;
    Ok((local_midnight_ms(date)?, local_midnight_ms(next)?))
}

fn local_midnight_ms(date: NaiveDate) -> Result<u64, String> {
    let naive = date.and_time(NaiveTime::MIN);
    // On a day whose midnight is skipped by a DST change, take the earliest valid instant.
    let at = Local
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            Local
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .ok_or_else(|| format!("{date} has no local midnight"))?;
    to_ms(at.timestamp_millis(), &date.to_string())
}

fn to_ms(ms: i64, text: &str) -> Result<u64, String> {
    u64::try_from(ms).map_err(|_| format!("`{text}` is before 1970"))
}

fn local(ms: u64) -> DateTime<Local> {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    Local
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::UNIX_EPOCH.with_timezone(&Local))
}

/// `2025-05-01 19:55` in local time, for people.
pub fn show_time(ms: u64) -> String {
    local(ms).format("%Y-%m-%d %H:%M").to_string()
}

/// `19:55:03` in local time, for people.
pub fn clock(ms: u64) -> String {
    local(ms).format("%H:%M:%S").to_string()
}

/// RFC 3339 with the local offset, for JSON.
pub fn rfc3339(ms: u64) -> String {
    local(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_three_spellings() {
        assert_eq!(parse_instant("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_instant("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_instant("2023-11-14T23:13:20+01:00"),
            Ok(1_700_000_000_000)
        );
        let midnight = parse_instant("2023-11-14").expect("date");
        assert_eq!(rfc3339(midnight).get(..19), Some("2023-11-14T00:00:00"));
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("1969-12-31T00:00:00Z").is_err());
    }

    #[test]
    fn a_day_is_its_local_midnight_to_the_next() {
        let (from, to) = parse_day("2024-03-10").expect("day");
        assert!(to > from);
        assert!((23 * 3_600_000..=25 * 3_600_000).contains(&(to - from)));
        assert_eq!(day_of(from + 1_000), Ok((from, to)));
        assert!(parse_day("10/03/2024").is_err());
    }
}
