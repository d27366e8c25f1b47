//! The server binary and whoever consumes its output: it stops on SIGINT within its grace
//! period even when nobody reads its stderr (a full pipe, a paused or dead `tee`), and writes no
//! ANSI colour codes when its output is not a terminal. Embedded store, no MariaDB needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use cinebook_protocol::{preface, Envelope, Request, PROTOCOL_VERSION};

/// The server's default `shutdown_grace_ms`, plus slack for a loaded test machine.
const EXIT_WITHIN: Duration = Duration::from_secs(10 + 5);

/// Kills the child if a test fails before it exited.
struct Server {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server with stdout and stderr piped; reads stdout only up to the listening line.
fn start() -> Server {
    let data = tempfile::tempdir().expect("data dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
        .args(["--listen", "127.0.0.1:0", "--no-sample", "--data-dir"])
        .arg(data.path())
        .env("CINEBOOK_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cinebook-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .expect("stdout");
        if let Some((_, rest)) = line.split_once("listening on ") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Stdout is not read any more from here on: keep the pipe open but unread.
    std::mem::forget(lines);
    Server {
        child,
        addr,
        _data: data,
    }
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([name, &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_exit(server: &mut Server, within: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Sends `count` guest `Hello`s on one connection without reading the answers: each one logs a
/// line of about 250 bytes on the server.
fn hellos(addr: &str, count: u64) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(&preface::encode(PROTOCOL_VERSION))
        .expect("preface");
    let name = "x".repeat(120);
    let mut bytes = Vec::new();
    for id in 1..=count {
        let hello = Envelope::request(
            id,
            id,
            Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: name.clone(),
                token: None,
            },
        );
        bytes.extend(cinebook_protocol::codec::encode_frame(&hello).expect("encode"));
    }
    stream.write_all(&bytes).expect("hellos");
    stream
}

#[test]
fn sigint_stops_the_server_within_its_grace_period_when_nobody_reads_its_stderr() {
    let mut server = start();
    // Far more log than a pipe holds (64 KiB): nobody reads stderr.
    let _connections: Vec<TcpStream> = (0..4).map(|_| hellos(&server.addr, 1_000)).collect();
    std::thread::sleep(Duration::from_millis(1_500));
    signal(&server, "-INT");
    let status = wait_exit(&mut server, EXIT_WITHIN);
    assert!(
        status.is_some(),
        "cinebook-server still running {EXIT_WITHIN:?} after SIGINT with its stderr unread"
    );
    let still_listening = TcpStream::connect(&server.addr).is_ok();
    assert!(!still_listening, "still listening after exit");
}

fn read_all(stderr: ChildStderr) -> String {
    let mut text = String::new();
    BufReader::new(stderr)
        .read_to_string(&mut text)
        .expect("stderr");
    text
}

#[test]
fn no_colour_codes_when_the_output_is_a_pipe() {
    let mut server = start();
    let stderr = server.child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || read_all(stderr));
    drop(hellos(&server.addr, 3));
    std::thread::sleep(Duration::from_millis(300));
    signal(&server, "-TERM");
    let status = wait_exit(&mut server, EXIT_WITHIN).expect("exit after SIGTERM");
    assert!(status.success(), "{status:?}");
    let log = reader.join().expect("reader");
    assert!(log.contains("hello"), "the log has the hellos: {log}");
    assert!(log.contains("shut down"), "the log has the shutdown: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in piped output: {log:?}"
    );
}
