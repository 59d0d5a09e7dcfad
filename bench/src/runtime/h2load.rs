//! The cross-check with h2load (Debian `nghttp2-client`), for unary against (a) and (b): an
//! independent C load generator, so a client-side quirk of tonic cannot flatter either server.
//! h2load counts HTTP statuses only, not `grpc-status`; the run's own load generator is the one
//! that checks every call.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;

use super::floor::encode_frame;
use super::handlers::TOKEN;
use super::pb::tonic::HelloRequest;

/// Settings of the h2load runs.
pub struct H2load {
    pub connections: usize,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Pin h2load here, where the run's own load generator ran.
    pub cpu: Option<usize>,
}

/// `h2load` on `PATH`, if any.
pub fn find() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("h2load"))
        .find(|path| path.is_file())
}

impl H2load {
    /// Loads SayHello at `addr` and returns h2load's requests per second and its status line.
    pub fn run(&self, h2load: &PathBuf, addr: SocketAddr) -> Result<(f64, String), String> {
        let body = body_file()?;
        let mut command = Command::new(h2load);
        command
            .arg(format!("--clients={}", self.connections))
            .arg(format!("--max-concurrent-streams={}", self.concurrency))
            // Five windows' worth: h2load takes whole seconds, which makes short runs coarse.
            .arg(format!(
                "--duration={}",
                (self.duration.as_secs_f64() * 5.0).max(1.0).ceil()
            ))
            .arg(format!(
                "--warm-up-time={}",
                self.warmup.as_secs_f64().max(1.0).ceil()
            ))
            .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
            .args(["-H", &format!("authorization: Bearer {TOKEN}")])
            .arg(format!("--data={}", body.display()))
            .arg(format!("http://{addr}/greeter.v1.Greeter/SayHello"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", h2load.display()))?;
        if let Some(cpu) = self.cpu {
            let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
            super::server::pin(pid, cpu).map_err(|e| format!("cannot pin h2load: {e}"))?;
        }
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&body);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "h2load exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        parse(&stdout).ok_or_else(|| format!("cannot read h2load's output:\n{stdout}"))
    }
}

/// The request body: one gRPC frame holding a HelloRequest.
fn body_file() -> Result<PathBuf, String> {
    let mut frame = BytesMut::new();
    encode_frame(
        &HelloRequest {
            name: "h2load".to_owned(),
        },
        &mut frame,
    );
    let path =
        std::env::temp_dir().join(format!("greeter-bench-h2load-{}.bin", std::process::id()));
    std::fs::write(&path, &frame).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Requests per second from `finished in 10.00s, 41234.50 req/s, 3.2MB/s`, and the status codes
/// line.
fn parse(stdout: &str) -> Option<(f64, String)> {
    let finished = stdout.lines().find(|l| l.starts_with("finished in"))?;
    let rate = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))?
        .trim()
        .parse()
        .ok()?;
    let statuses = stdout
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .unwrap_or("status codes: ?")
        .trim()
        .to_owned();
    Some((rate, statuses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_and_statuses() {
        let stdout = "starting benchmark...\n\
            finished in 2.00s, 41234.50 req/s, 3.21MB/s\n\
            requests: 82469 total, 82469 started, 82469 done, 82469 succeeded, 0 failed, 0 errored, 0 timeout\n\
            status codes: 82469 2xx, 0 3xx, 0 4xx, 0 5xx\n";
        let (rate, statuses) = parse(stdout).unwrap();
        assert_eq!(rate, 41234.5);
        assert_eq!(statuses, "status codes: 82469 2xx, 0 3xx, 0 4xx, 0 5xx");
        assert!(parse("h2load: connection refused\n").is_none());
    }
}
