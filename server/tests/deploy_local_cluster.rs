//! `deploy/local-cluster.sh` end to end: deploy/nginx.conf with Debian's nginx in front of three
//! `cinebook-server` processes over MariaDB, a sale through nginx with the `cinebook` CLI, the
//! node nginx routes to SIGKILLed, and more sales through nginx afterwards.
//!
//! The script installs nginx (apt-get) when it is missing and needs MariaDB at
//! `CINEBOOK_TEST_MYSQL_URL` like the other MySQL tests. The `cinebook` binary belongs to the
//! client crate: `cargo test --workspace` builds it next to this crate's binary.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole script (install aside) takes a few seconds; this bounds a hung run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);
/// After SIGTERM, how long the script's clean-up may take before it is killed.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

fn client_binary(server: &std::path::Path) -> PathBuf {
    let name = format!("cinebook{}", std::env::consts::EXE_SUFFIX);
    server.with_file_name(name)
}

#[test]
fn local_cluster_script_sells_through_nginx_and_survives_a_killed_node() {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_cinebook-server"));
    let client = client_binary(&server);
    assert!(
        client.exists(),
        "{} is missing: run `cargo test --workspace` (or `cargo build -p cinebook-client`) so that \
         the cinebook CLI is built next to cinebook-server",
        client.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/local-cluster.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .env("CINEBOOK_SERVER_BIN", &server)
        .env("CINEBOOK_CLIENT_BIN", &client)
        .env_remove("LOCAL_CLUSTER_KEEP")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bash deploy/local-cluster.sh");
    // Read both pipes on threads so a chatty script never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_LIMIT {
            // SIGTERM lets the script's trap stop nginx and the nodes and drop its database.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let cleanup = Instant::now();
            while child.try_wait().ok().flatten().is_none() && cleanup.elapsed() < CLEANUP_LIMIT {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let report: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.starts_with("[local-cluster"))
        .collect();
    eprintln!("{}", report.join("\n"));
    let Some(status) = status else {
        panic!(
            "deploy/local-cluster.sh took longer than {} s:\n{stdout}\n{stderr}",
            SCRIPT_LIMIT.as_secs()
        );
    };
    assert!(
        status.success(),
        "deploy/local-cluster.sh failed ({status}):\n{stdout}\n{stderr}"
    );
    for step in [
        "every node answers /readyz: ready",
        "sale 1 through nginx: booking",
        "SIGKILLed node",
        "sale 2 through nginx: booking",
        "confirmed on",
        "PASSED",
        "cleaned up (exit 0)",
    ] {
        assert!(
            report.iter().any(|l| l.contains(step)),
            "the script's report lacks {step:?}:\n{}",
            report.join("\n")
        );
    }
}
