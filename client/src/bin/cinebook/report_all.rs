//! `cinebook report shift --all`: the manager's report over every terminal (admin), added up
//! per payment method from each terminal's own report.

use cinebook_client::types::{MethodTotals, ShiftReport};
use cinebook_client::Client;

use crate::exit::CliError;

/// Terminals one `--all` report asks about at most.
pub const TERMINALS_MAX: usize = 1_000;

/// Every terminal's report in `[from_ms, to_ms)`, added up (terminal id 0: all).
pub async fn shift_all(client: &Client, from_ms: u64, to_ms: u64) -> anyhow::Result<ShiftReport> {
    let terminals = client.list_terminals().await?;
    if terminals.len() > TERMINALS_MAX {
        return Err(CliError::usage(format!(
            "{} terminals: --all adds up at most {TERMINALS_MAX}",
            terminals.len()
        ))
        .into());
    }
    let mut reports = Vec::with_capacity(terminals.len());
    for terminal in &terminals {
        reports.push(
            client
                .shift_report(Some(terminal.id), from_ms, to_ms)
                .await?,
        );
    }
    merge(&reports, from_ms, to_ms)
}

/// Adds reports up per method. Reports with sales in different currencies cannot be added.
pub fn merge(reports: &[ShiftReport], from_ms: u64, to_ms: u64) -> anyhow::Result<ShiftReport> {
    let active: Vec<&ShiftReport> = reports.iter().filter(|r| !r.lines.is_empty()).collect();
    let currency = active
        .first()
        .or(reports.first().as_ref())
        .map_or_else(String::new, |r| r.currency.clone());
    if let Some(other) = active.iter().find(|r| r.currency != currency) {
        return Err(CliError::usage(format!(
            "terminal {} reports in {}, others in {currency}: run the report per terminal",
            other.terminal_id, other.currency
        ))
        .into());
    }
    let mut lines: Vec<MethodTotals> = Vec::new();
    for line in active.iter().flat_map(|r| &r.lines) {
        match lines.iter_mut().find(|l| l.method == line.method) {
            Some(sum) => {
                sum.sales += line.sales;
                sum.seats += line.seats;
                sum.sales_minor += line.sales_minor;
                sum.refunds += line.refunds;
                sum.refunds_minor += line.refunds_minor;
            }
            None => lines.push(line.clone()),
        }
    }
    Ok(ShiftReport {
        terminal_id: 0,
        from_ms,
        to_ms,
        currency,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_client::types::PaymentMethod;

    fn report(terminal_id: u64, currency: &str, lines: Vec<MethodTotals>) -> ShiftReport {
        ShiftReport {
            terminal_id,
            from_ms: 0,
            to_ms: 1,
            currency: currency.into(),
            lines,
        }
    }

    fn line(method: PaymentMethod, sales: u32, minor: i64) -> MethodTotals {
        MethodTotals {
            method,
            sales,
            seats: sales,
            sales_minor: minor,
            refunds: 0,
            refunds_minor: 0,
        }
    }

    #[test]
    fn terminals_add_up_per_method_in_one_currency() {
        let merged = merge(
            &[
                report(1, "CHF", vec![line(PaymentMethod::Cash, 2, 3_000)]),
                report(
                    2,
                    "CHF",
                    vec![
                        line(PaymentMethod::Cash, 1, 1_500),
                        line(PaymentMethod::Card, 1, 1_500),
                    ],
                ),
                report(3, "EUR", vec![]),
            ],
            0,
            1,
        )
        .expect("merge");
        assert_eq!(merged.currency, "CHF");
        assert_eq!(merged.terminal_id, 0);
        assert_eq!(merged.lines.len(), 2);
        assert_eq!(merged.lines[0].sales_minor, 4_500);
        assert_eq!(merged.lines[0].sales, 3);
        let mixed = merge(
            &[
                report(1, "CHF", vec![line(PaymentMethod::Cash, 1, 1)]),
                report(2, "EUR", vec![line(PaymentMethod::Cash, 1, 1)]),
            ],
            0,
            1,
        );
        assert!(mixed.is_err());
    }
}
