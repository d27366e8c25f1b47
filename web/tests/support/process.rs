//! Real processes for the replica tests: `cinebook-web` (the binary of this package) and Debian's
//! nginx with `deploy/nginx-web.conf`, each killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to start serving.
pub const START_WAIT_MS: u64 = 15_000;

/// A `cinebook-web` child process.
pub struct WebProcess {
    child: Child,
    /// Where it serves.
    pub addr: SocketAddr,
}

impl WebProcess {
    /// Starts `cinebook-web --listen 127.0.0.1:0` against the node at `node`, with the shared
    /// `cookie_secret` and `extra` flags; answers once it prints its address.
    pub fn spawn(node: SocketAddr, token: &str, cookie_secret: &str, extra: &[&str]) -> WebProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cinebook-web"))
            .args(["--listen", "127.0.0.1:0", "--addr", &node.to_string()])
            .args(["--token", token, "--cookie-secret", cookie_secret])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cinebook-web");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the address, then drains the pipe so the process never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("cinebook-web serving on http://") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_millis(START_WAIT_MS))
            .expect("cinebook-web printed its address")
            .parse()
            .expect("an address");
        WebProcess { child, addr }
    }

    /// SIGKILL (no shutdown of any kind); answers the signal it died of.
    pub fn sigkill(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        // `Child::kill` is SIGKILL on Unix.
        self.child.kill().expect("kill");
        self.child.wait().expect("wait").signal()
    }
}

impl Drop for WebProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in the foreground with a configuration generated into its own directory.
pub struct Nginx {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its directory (configuration, pid, logs).
    pub dir: PathBuf,
}

/// Installs Debian's nginx if it is missing; fails loudly if that is impossible.
fn ensure_nginx() {
    if std::path::Path::new("/usr/sbin/nginx").exists() {
        return;
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "nginx"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get to install nginx");
    assert!(status.success(), "installing nginx failed");
}

/// `deploy/nginx-web.conf` with the lines marked `# test:` made local: the upstream servers,
/// the listen address, the proxy's source address `proxy_from`, the pid, log and temp paths.
pub fn nginx_config(
    dir: &std::path::Path,
    listen: SocketAddr,
    upstreams: &[SocketAddr],
    proxy_from: &str,
) -> String {
    let shipped = include_str!("../../../deploy/nginx-web.conf");
    let d = dir.display();
    let mut out = String::new();
    for line in shipped.lines() {
        let Some((_, mark)) = line.split_once("# test: ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let directive = line.split_whitespace().next().unwrap_or("");
        let local = match mark.trim() {
            "pid" => format!("pid {d}/nginx.pid;"),
            "access_log" => format!("access_log {d}/access.log;"),
            "error_log" => format!("error_log {d}/error.log notice;"),
            "temp" => format!("{directive} {d}/{directive};"),
            "upstream" => upstreams
                .iter()
                .map(|a| format!("server {a} max_fails=1 fail_timeout=5s;"))
                .collect::<Vec<_>>()
                .join("\n"),
            "listen" => format!("listen {listen};"),
            "bind" => format!(
                "{}\nproxy_bind {proxy_from};",
                line.split('#').next().unwrap_or("")
            ),
            other => panic!("unknown test mark {other:?} in deploy/nginx-web.conf"),
        };
        out.push_str(&local);
        out.push('\n');
    }
    // Temp paths the shipped file leaves at their defaults (unused by this site).
    let extra = ["fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"]
        .map(|t| format!("    {t} {d}/{t};\n"))
        .concat();
    out.replacen("http {\n", &format!("http {{\n{extra}"), 1)
}

impl Nginx {
    /// Starts nginx in front of `upstreams`, its proxy side bound to `proxy_from`.
    pub async fn start(upstreams: &[SocketAddr], proxy_from: &str) -> Nginx {
        ensure_nginx();
        let dir = std::env::temp_dir().join(format!(
            "cinebook-nginx-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let port = super::browser::free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_config(&dir, addr, upstreams, proxy_from)).expect("config");
        let child = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            // One process: killing it leaves no workers behind.
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let nginx = Nginx { child, addr, dir };
        let deadline = Instant::now() + Duration::from_millis(START_WAIT_MS);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "nginx did not start: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nginx
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
