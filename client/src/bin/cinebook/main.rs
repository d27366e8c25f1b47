//! `cinebook`: the CineBook terminal client — scriptable commands and the full-screen box office.

mod args;
mod commands;
mod door;
mod draw;
mod exit;
mod grid;
mod names;
mod output;
mod print;
mod report_all;
mod ticket;
mod tui;
mod when;

use std::path::Path;
use std::process::ExitCode;

use cinebook_client::{Client, ClientConfig};

use args::{Cli, Command, DEFAULT_TOKEN_FILE};
use exit::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cinebook: cannot start: {error}");
            return ExitCode::from(exit::OTHER);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            let (code, kind) = exit::classify(&error);
            if json {
                let doc = output::ErrorOut {
                    error: output::ErrorDetail {
                        kind,
                        message: format!("{error:#}"),
                        exit_code: code,
                    },
                };
                match serde_json::to_string_pretty(&doc) {
                    Ok(text) => println!("{text}"),
                    Err(_) => eprintln!("cinebook: {error:#}"),
                }
            } else {
                eprintln!("cinebook: {error:#}");
            }
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let token = resolve_token(
        cli.token.clone(),
        cli.token_file.as_deref(),
        std::env::var("CINEBOOK_TOKEN").ok(),
        Path::new(DEFAULT_TOKEN_FILE),
    )?;
    let name = match cli.command {
        Command::Tui => "cinebook-tui",
        _ => "cinebook-cli",
    };
    let config = ClientConfig {
        client_name: format!("{name}/{}", env!("CARGO_PKG_VERSION")),
        token,
        tls: (cli.tls || cli.tls_ca.is_some()).then(|| cinebook_client::TlsOptions {
            ca_file: cli.tls_ca.clone(),
            server_name: None,
        }),
        ..ClientConfig::default()
    };
    let had_token = config.token.is_some();
    let offline = door::offline_scan(&cli.command);
    if let Some((args, true)) = &offline {
        return door::scan_offline(args, commands::Out::new(cli.json));
    }
    let client = match (Client::connect(cli.addr.clone(), config).await, offline) {
        (Ok(client), _) => client,
        // A door with the ticket key goes on admitting by signature while the server is away.
        (Err(error), Some((args, _))) if exit::code_of(&error) == exit::SERVER => {
            eprintln!("cinebook: {error}; checking tickets by signature (offline)");
            return door::scan_offline(&args, commands::Out::new(cli.json));
        }
        (Err(error), _) => return Err(error.into()),
    };
    commands::run(&client, cli.command, commands::Out::new(cli.json))
        .await
        .map_err(|error| explain_unauthenticated(error, had_token, Path::new(DEFAULT_TOKEN_FILE)))
}

/// A command that needs a terminal but ran as a guest says where a token was looked for and how
/// to give one.
fn explain_unauthenticated(
    error: anyhow::Error,
    had_token: bool,
    default_file: &Path,
) -> anyhow::Error {
    let guest = matches!(
        error.downcast_ref::<cinebook_client::Error>(),
        Some(cinebook_client::Error::Unauthenticated { .. })
    );
    if !guest || had_token {
        return error;
    }
    error.context(format!(
        "this command needs a terminal token, and none was given: no --token, no --token-file, \
         no CINEBOOK_TOKEN, and no {} here. Give one with --token-file FILE (such as the \
         box-office.token a first server start writes into its data directory) or \
         CINEBOOK_TOKEN=…",
        default_file.display()
    ))
}

/// `--token`, then `--token-file`, then `CINEBOOK_TOKEN`, then the default file if it exists.
fn resolve_token(
    flag: Option<String>,
    file: Option<&Path>,
    env: Option<String>,
    default_file: &Path,
) -> anyhow::Result<Option<String>> {
    if let Some(token) = flag {
        return Ok(Some(token));
    }
    if let Some(file) = file {
        return read_token(file).map(Some);
    }
    if let Some(token) = env.filter(|t| !t.trim().is_empty()) {
        return Ok(Some(token.trim().to_string()));
    }
    if default_file.is_file() {
        return read_token(default_file).map(Some);
    }
    Ok(None)
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::usage(format!("token file {} is empty", path.display())).into());
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_refusal_names_the_token_file_looked_for() {
        let refused = || {
            anyhow::Error::new(cinebook_client::Error::Unauthenticated {
                message: "a guest may not hold".into(),
            })
        };
        let default = Path::new("./cinebook-data/box-office.token");
        let explained = format!("{:#}", explain_unauthenticated(refused(), false, default));
        assert!(
            explained.contains("./cinebook-data/box-office.token"),
            "{explained}"
        );
        assert!(explained.contains("--token-file"), "{explained}");
        // Still an authentication error for the exit code.
        assert_eq!(
            exit::classify(&explain_unauthenticated(refused(), false, default)).0,
            exit::AUTH
        );
        // With a token the server's answer stands alone (the token is unknown or revoked).
        let kept = format!("{:#}", explain_unauthenticated(refused(), true, default));
        assert!(!kept.contains("--token-file"), "{kept}");
    }

    #[test]
    fn token_sources_in_order() {
        let dir = std::env::temp_dir().join(format!("cinebook-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("t.token");
        std::fs::write(&file, "from-file\n").expect("write");
        let default = dir.join("box-office.token");
        let missing = dir.join("missing.token");

        let got = |flag: Option<&str>, f: Option<&Path>, env: Option<&str>, d: &Path| {
            resolve_token(flag.map(String::from), f, env.map(String::from), d).expect("token")
        };
        assert_eq!(
            got(Some("flag"), Some(&file), Some("env"), &default),
            Some("flag".into())
        );
        assert_eq!(
            got(None, Some(&file), Some("env"), &default),
            Some("from-file".into())
        );
        assert_eq!(got(None, None, Some("env"), &default), Some("env".into()));
        assert_eq!(got(None, None, None, &missing), None);
        std::fs::write(&default, "box-office\n").expect("write");
        assert_eq!(got(None, None, None, &default), Some("box-office".into()));

        let error = resolve_token(None, Some(&missing), None, &default).expect_err("missing");
        assert_eq!(exit::classify(&error).0, exit::USAGE);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
