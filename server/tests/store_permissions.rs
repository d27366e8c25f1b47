//! The embedded store's directory and files are private to the node's user (issue 13, item 8).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Starts `cinebook-server run` on `data_dir`, waits until it listens, stops it.
fn start_and_stop(data_dir: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    let started = rx.recv_timeout(Duration::from_secs(60)).is_ok();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "the server did not start");
}

fn assert_private(data_dir: &Path) {
    assert_eq!(mode(data_dir), 0o700, "data directory");
    let mut files = 0;
    for entry in std::fs::read_dir(data_dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is readable by others",
            path.display()
        );
        files += 1;
    }
    assert!(files >= 2, "expected the database and the token file");
}

#[test]
fn a_new_data_directory_and_its_files_are_private() {
    let parent = tempfile::tempdir().expect("tempdir");
    let data_dir = parent.path().join("cinebook-data");
    start_and_stop(&data_dir);
    assert_private(&data_dir);
}

#[test]
fn an_existing_open_data_directory_is_tightened() {
    let parent = tempfile::tempdir().expect("tempdir");
    let data_dir = parent.path().join("cinebook-data");
    start_and_stop(&data_dir);
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for entry in std::fs::read_dir(&data_dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    start_and_stop(&data_dir);
    assert_private(&data_dir);
}
