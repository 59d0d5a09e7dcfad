//! Processes and files: a temporary directory per test, children killed and reaped on drop,
//! runs bounded in time, and a server's port read from its startup line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to print its port (the Python one generates its stubs first).
const STARTUP: Duration = Duration::from_secs(60);

/// A directory of its own for one test, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("interop-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot make a temporary directory");
        Self(dir)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("cannot write a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped on drop (also when a test panics).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn report(&self) -> String {
        format!(
            "{}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, its output in files under `dir`; killed (and the test failed)
/// after `limit`.
pub fn run(mut command: Command, dir: &TempDir, limit: Duration) -> Finished {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (out, err) = (
        dir.0.join(format!("out-{n}")),
        dir.0.join(format!("err-{n}")),
    );
    let file = |path: &Path| File::create(path).expect("cannot make an output file");
    command
        .stdin(Stdio::null())
        .stdout(file(&out))
        .stderr(file(&err));
    let mut child = Running(
        command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}")),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("cannot wait for a child") {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(child);
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let (stdout, stderr) = (read(&out), read(&err));
    match status {
        Some(status) => Finished {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{command:?} did not finish within {limit:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        ),
    }
}

/// A running interop server and the port it listens on.
pub struct Server {
    pub port: u16,
    stderr: PathBuf,
    _process: Running,
}

impl Server {
    /// Starts `command` (a server given `--port 0`) and waits for its startup line.
    pub fn start(mut command: Command, dir: &TempDir) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stderr = dir
            .0
            .join(format!("server-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("cannot make the server's log"));
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = Running(child);
        // Read on a thread, so that the wait for the port is bounded; it keeps draining the
        // server's stdout afterwards.
        let (lines, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receive.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = listening_port(&line) {
                        return Self {
                            port,
                            stderr,
                            _process: process,
                        };
                    }
                }
                Err(_) => panic!(
                    "{command:?} printed no port within {STARTUP:?} (or exited)\n--- stderr\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                ),
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// The port of a startup line, `… listening on port N …`.
fn listening_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("listening on port ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
