//! A MariaDB server of the run's own (`--private-mysql`): its own data directory and a free port,
//! so the nemesis can SIGSTOP and SIGKILL the real `mariadbd` (the shared server on 3306 is never
//! touched). Started before the run, removed with its data directory afterwards.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `mariadbd` accepts connections within this long of starting (crash recovery included).
const START_TIMEOUT_MS: u64 = 60_000;

/// The server process and its files.
pub struct PrivateMysql {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    paused: bool,
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

impl PrivateMysql {
    /// Creates a data directory under `dir` (`mariadb-install-db`) and starts `mariadbd` on it.
    pub fn start(dir: &Path) -> Result<PrivateMysql, String> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let installed = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(["--user=root", "--skip-name-resolve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("mariadb-install-db: {e}"))?;
        if !installed.success() {
            return Err(format!("mariadb-install-db failed: {installed}"));
        }
        let mut server = PrivateMysql {
            dir: dir.to_path_buf(),
            port: free_port()?,
            child: None,
            paused: false,
        };
        server.spawn()?;
        server.wait_ready()?;
        Ok(server)
    }

    /// The server's URL (root, no password).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mariadbd.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!(
                "--socket={}",
                self.dir.join("mariadbd.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.join("mariadbd.pid").display()
            ))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
            ])
            .args(["--innodb-buffer-pool-size=32M", "--max-connections=500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("mariadbd: {e}"))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "mariadbd did not listen on port {} within {START_TIMEOUT_MS} ms (see {})",
            self.port,
            self.dir.join("mariadbd.log").display()
        ))
    }

    fn signal(&self, signal: &str) -> bool {
        self.child.as_ref().is_some_and(|child| {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// SIGSTOP: the server hangs with every connection open.
    pub fn pause(&mut self) {
        if !self.paused && self.signal("-STOP") {
            self.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        if self.paused && self.signal("-CONT") {
            self.paused = false;
        }
    }

    /// SIGKILL: every connection drops; what was committed is on disk (InnoDB's redo log).
    pub fn kill(&mut self) {
        self.resume();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again after [`PrivateMysql::kill`] (crash recovery runs; the nodes reconnect
    /// once it listens).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            return;
        }
        if let Err(e) = self.spawn() {
            eprintln!("chaos: the private MariaDB did not come back: {e}");
        }
    }

    /// Waits (bounded) until it accepts connections again.
    pub fn wait_up(&self) {
        if let Err(e) = self.wait_ready() {
            eprintln!("chaos: {e}");
        }
    }

    /// Heals whatever was done to it.
    pub fn heal(&mut self) {
        self.resume();
        self.restart();
    }
}

impl Drop for PrivateMysql {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
