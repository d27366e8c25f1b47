//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit;

/// The token file used when neither `--token`, `--token-file` nor `CINEBOOK_TOKEN` is given.
pub const DEFAULT_TOKEN_FILE: &str = "./cinebook-data/box-office.token";

/// CineBook terminal client: sell, refund and report from the command line or the box office.
#[derive(Debug, Parser)]
#[command(name = "cinebook", version, after_help = exit::HELP)]
pub struct Cli {
    /// Server addresses, comma-separated; the client fails over between them.
    #[arg(
        long,
        global = true,
        env = "CINEBOOK_ADDR",
        default_value = "127.0.0.1:7878",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub addr: Vec<String>,

    /// Terminal token [env: CINEBOOK_TOKEN] (default: ./cinebook-data/box-office.token if it exists).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,

    /// Read the terminal token from FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Connect over TLS (the server runs with --tls-cert/--tls-key). Without --tls-ca the
    /// server's certificate must chain to a public web PKI root.
    #[arg(long, global = true, env = "CINEBOOK_TLS")]
    pub tls: bool,

    /// With --tls: trust only the CA certificate(s) in FILE (PEM), such as the cinema's own CA
    /// or the node's self-signed certificate. Implies --tls.
    #[arg(long, global = true, env = "CINEBOOK_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Print one JSON document per command (`watch`: one per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// A command.
#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// List cities.
    Cities,
    /// List movies, optionally only those playing in a city.
    Movies {
        /// City id or name.
        #[arg(long, value_name = "C")]
        city: Option<String>,
    },
    /// List shows whose sales are open (started at most 15 minutes ago, the box office's window).
    Shows {
        /// City id or name.
        #[arg(long, value_name = "C")]
        city: Option<String>,
        /// Movie id or title.
        #[arg(long, value_name = "M")]
        movie: Option<String>,
        /// Only shows starting on this local day.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Also list shows whose sales window has closed (started or ended).
        #[arg(long)]
        all: bool,
    },
    /// Draw a show's seat map.
    Seats {
        /// Show id.
        show: u64,
    },
    /// Hold seats: exact labels, or the best N adjacent seats.
    Hold {
        /// Show id.
        show: u64,
        /// Seat labels, comma-separated, such as A1,A2.
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "A1,A2",
            required_unless_present = "best",
            conflicts_with = "best"
        )]
        seats: Vec<String>,
        /// Number of adjacent seats the server picks.
        #[arg(long, value_name = "N")]
        best: Option<u16>,
        /// Category for --best: standard, premium, recliner, wheelchair, companion.
        #[arg(long, value_name = "C", value_parser = parse_category)]
        category: Option<cinebook_client::types::Category>,
    },
    /// Pay for a hold and print the booking code and ticket.
    Confirm {
        /// Hold id.
        hold: u64,
        /// Payment method.
        #[arg(long, value_enum)]
        pay: Pay,
        /// Reuse the key of an earlier attempt whose outcome is unknown: it can never sell twice.
        #[arg(long, value_name = "K")]
        idempotency_key: Option<String>,
        /// Why a comp is given (required with --pay comp; kept as the payment's reference).
        #[arg(long, value_name = "TEXT", required_if_eq("pay", "comp"))]
        reason: Option<String>,
        #[command(flatten)]
        print: PrintArgs,
        /// The customer's e-mail: the ticket (code, seats, time, QR code) is sent there.
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
        /// The customer's phone number, for an SMS.
        #[arg(long, value_name = "NUMBER")]
        phone: Option<String>,
    },
    /// Give a hold's seats back.
    Release {
        /// Hold id.
        hold: u64,
    },
    /// Keep a hold alive longer, up to its ceiling (shown).
    Renew {
        /// Hold id.
        hold: u64,
    },
    /// Cancel a booking, freeing its seats.
    Cancel {
        /// Booking code.
        code: String,
        /// Record a refund of the amount paid.
        #[arg(long)]
        refund: bool,
    },
    /// Show (or reprint) a booking; a printed one is marked REPRINT.
    Booking {
        /// Booking code.
        code: String,
        #[command(flatten)]
        print: PrintArgs,
    },
    /// Door: admit a ticket (booking code or QR payload); without one, scan one per line from
    /// standard input (a barcode scanner that types). Exit 7 when refused.
    Scan {
        /// A booking code or the text of a ticket's QR code.
        ticket: Option<String>,
        /// This gate's name, recorded with each admission.
        #[arg(long, default_value = "door", value_name = "NAME")]
        gate: String,
        /// Admit only to this show.
        #[arg(long, value_name = "ID")]
        show: Option<u64>,
        /// Admit only to this screen.
        #[arg(long, value_name = "ID")]
        screen: Option<u64>,
        /// Check by signature only, without the server (needs --key); admissions go to --log.
        #[arg(long, requires = "key")]
        offline: bool,
        /// The ticket public key (`cinebook ticket-key --save FILE`); with it a scan the server
        /// cannot answer is checked offline.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Where offline admissions are kept until --sync.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_ADMISSIONS_LOG)]
        log: PathBuf,
        /// Report the offline admissions of --log to the server (duplicates are flagged), then
        /// start a new log.
        #[arg(long, conflicts_with_all = ["ticket", "offline"])]
        sync: bool,
    },
    /// Print (or save) the cinema's ticket public key, for offline door scanners.
    TicketKey {
        /// Also write it to FILE.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// House seats: take seats of a show out of sale, with a reason.
    Block {
        /// Show id.
        show: u64,
        /// Seat labels (A1 A2 or A1,A2).
        #[arg(required = true, value_delimiter = ',', num_args = 1..)]
        seats: Vec<String>,
        /// Why (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Put blocked seats back on sale.
    Unblock {
        /// Show id.
        show: u64,
        /// Seat labels (A1 A2 or A1,A2).
        #[arg(required = true, value_delimiter = ',', num_args = 1..)]
        seats: Vec<String>,
        /// Why (kept in the audit trail).
        #[arg(long, default_value = "back on sale")]
        reason: String,
    },
    /// Print seat changes of a show as they happen (Ctrl-C to stop).
    Watch {
        /// Show id.
        show: u64,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        report: Report,
    },
    /// The full-screen box office.
    Tui,
}

impl Cli {
    /// Parses the process's arguments; a usage error exits with code 2.
    pub fn parse_checked() -> Cli {
        match Cli::try_parse().and_then(Cli::checked) {
            Ok(cli) => cli,
            Err(error) => error.exit(),
        }
    }

    /// Rules clap's attributes cannot say.
    pub fn checked(self) -> Result<Cli, clap::Error> {
        if let Command::Hold {
            best: None,
            category: Some(_),
            ..
        } = &self.command
        {
            use clap::CommandFactory;
            return Err(Cli::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--category needs --best N",
            ));
        }
        Ok(self)
    }
}

/// A report.
#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum Report {
    /// Sales, refunds and comps by payment method for this terminal (default: today).
    Shift {
        /// Start: RFC 3339, YYYY-MM-DD or ms since 1970 (default: today's local midnight).
        #[arg(long, value_name = "T", value_parser = crate::when::parse_instant)]
        from: Option<u64>,
        /// End, exclusive (default: the next local midnight).
        #[arg(long, value_name = "T", value_parser = crate::when::parse_instant)]
        to: Option<u64>,
        /// Every terminal added up (the manager's report; needs an admin token).
        #[arg(long)]
        all: bool,
    },
}

/// Where offline door admissions are kept until `scan --sync`.
pub const DEFAULT_ADMISSIONS_LOG: &str = "./cinebook-data/door-admissions.jsonl";

/// Printing a ticket (`confirm`, `booking`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct PrintArgs {
    /// Also print the ticket with its QR code: `pdf` writes a PDF, `escpos` writes receipt
    /// printer bytes, to --out.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub print: Option<PrintFormat>,
    /// The file --print writes (default: ticket-CODE.pdf or ticket-CODE.escpos here).
    #[arg(long, value_name = "FILE", requires = "print")]
    pub out: Option<PathBuf>,
    /// Send the ticket to a receipt printer as ESC/POS: tcp://HOST:9100 or a device path.
    #[arg(long, value_name = "tcp://HOST:PORT|DEVICE", value_parser = crate::print::Printer::parse)]
    pub printer: Option<crate::print::Printer>,
}

impl PrintArgs {
    /// Whether anything is to be printed.
    pub fn any(&self) -> bool {
        self.print.is_some() || self.printer.is_some()
    }
}

/// What `--print` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrintFormat {
    /// A one-page PDF ticket.
    Pdf,
    /// ESC/POS bytes for a receipt printer.
    Escpos,
}

/// A payment method on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pay {
    /// Cash at the box office.
    Cash,
    /// Card.
    Card,
    /// Complimentary (amount zero).
    Comp,
}

impl Pay {
    pub fn method(self) -> cinebook_client::types::PaymentMethod {
        use cinebook_client::types::PaymentMethod;
        match self {
            Pay::Cash => PaymentMethod::Cash,
            Pay::Card => PaymentMethod::Card,
            Pay::Comp => PaymentMethod::Comp,
        }
    }
}

fn parse_category(text: &str) -> Result<cinebook_client::types::Category, String> {
    cinebook_client::types::Category::parse(text).ok_or_else(|| {
        format!("`{text}` is not a category: standard, premium, recliner, wheelchair, companion")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_client::types::Category;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cinebook").chain(args.iter().copied()))
            .and_then(Cli::checked)
    }

    #[test]
    fn addresses_are_comma_separated_and_flags_are_global() {
        let cli = parse(&["seats", "7", "--addr", "a:1,b:2", "--json"]).expect("parse");
        assert_eq!(cli.addr, ["a:1", "b:2"]);
        assert!(cli.json);
        assert_eq!(cli.command, Command::Seats { show: 7 });
    }

    #[test]
    fn hold_takes_labels_or_best_with_a_category() {
        let cli = parse(&["hold", "7", "--seats", "A1,A2"]).expect("labels");
        assert!(
            matches!(cli.command, Command::Hold { ref seats, best: None, .. } if seats == &["A1", "A2"])
        );
        let cli = parse(&["hold", "7", "--best", "3", "--category", "Premium"]).expect("best");
        assert!(matches!(
            cli.command,
            Command::Hold {
                best: Some(3),
                category: Some(Category::Premium),
                ..
            }
        ));
        for bad in [
            &["hold", "7"][..],
            &["hold", "7", "--seats", "A1", "--best", "2"],
            &["hold", "7", "--seats", "A1", "--category", "premium"],
            &["hold", "7", "--best", "2", "--category", "balcony"],
        ] {
            let error = parse(bad).expect_err("usage error");
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn confirm_needs_a_payment_method() {
        let cli = parse(&[
            "confirm",
            "11",
            "--pay",
            "comp",
            "--idempotency-key",
            "k1",
            "--reason",
            "staff",
        ])
        .expect("parse");
        assert_eq!(
            cli.command,
            Command::Confirm {
                hold: 11,
                pay: Pay::Comp,
                idempotency_key: Some("k1".into()),
                reason: Some("staff".into()),
                print: PrintArgs::default(),
                email: None,
                phone: None,
            }
        );
        let cli = parse(&[
            "confirm", "12", "--pay", "cash", "--email", "a@b.ch", "--phone", "+41 79",
        ])
        .expect("parse");
        assert!(matches!(
            cli.command,
            Command::Confirm { email: Some(ref e), phone: Some(ref p), .. } if e == "a@b.ch" && p == "+41 79"
        ));
        assert!(parse(&["confirm", "11"]).is_err());
        // A comp needs a reason; cash does not.
        assert_eq!(
            parse(&["confirm", "11", "--pay", "comp"])
                .map(|_| ())
                .map_err(|e| e.exit_code()),
            Err(2)
        );
        assert!(parse(&["confirm", "11", "--pay", "cash"]).is_ok());
        assert!(parse(&["confirm", "11", "--pay", "cheque"]).is_err());
    }

    #[test]
    fn token_and_token_file_exclude_each_other() {
        assert!(parse(&["--token", "t", "--token-file", "f", "cities"]).is_err());
        let cli = parse(&["--token-file", "f", "cities"]).expect("parse");
        assert_eq!(cli.token_file, Some(PathBuf::from("f")));
    }

    #[test]
    fn report_shift_accepts_three_time_spellings() {
        let cli = parse(&[
            "report",
            "shift",
            "--from",
            "1700000000000",
            "--to",
            "2023-11-14T22:13:21Z",
        ])
        .expect("parse");
        assert_eq!(
            cli.command,
            Command::Report {
                report: Report::Shift {
                    from: Some(1_700_000_000_000),
                    to: Some(1_700_000_001_000),
                    all: false,
                }
            }
        );
        assert!(parse(&["report", "shift", "--from", "2023-11-14"]).is_ok());
        assert!(parse(&["report", "shift", "--from", "soon"]).is_err());
    }

    #[test]
    fn every_command_of_the_issue_parses() {
        for args in [
            &["cities"][..],
            &["movies", "--city", "Lisbon"],
            &[
                "shows",
                "--city",
                "1",
                "--movie",
                "Metropolis",
                "--date",
                "2025-05-01",
            ],
            &["release", "11"],
            &["cancel", "K7QX-3MPA", "--refund"],
            &["booking", "K7QX-3MPA"],
            &["watch", "7"],
            &["tui"],
            &["booking", "K7QX-3MPA", "--print", "pdf", "--out", "t.pdf"],
            &[
                "confirm",
                "11",
                "--pay",
                "cash",
                "--printer",
                "tcp://127.0.0.1:9100",
            ],
            &["scan", "K7QX-3MPA", "--gate", "main", "--show", "7"],
            &["scan", "--sync"],
            &["scan", "CB1:AAAA", "--offline", "--key", "k.pub"],
            &["ticket-key", "--save", "k.pub"],
            &["block", "7", "A1", "A2", "--reason", "director"],
            &["unblock", "7", "A1,A2"],
        ] {
            parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let help = parse(&["--help"]).expect_err("help exits");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().contains("Exit codes:"));
        assert!(help.to_string().contains("5  authentication"));
    }
}
