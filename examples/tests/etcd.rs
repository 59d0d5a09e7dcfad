//! `greeter-server --etcd` and `greeter-client --etcd` against a real etcd (`--features etcd`;
//! a private etcd from `tests/etcd/etcd.sh`, which installs Debian's etcd-server if needed):
//! three server processes register, calls spread over all three (counted by the `location`
//! header each answers with), one is killed (SIGKILL, no deregistering) and calls keep
//! succeeding once its lease expires, one stops on ctrl-c and is gone from etcd at once; an
//! unreachable etcd at start is a clear error on both sides, not a hang.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use greeter_examples::client::{self, ClientConfig};
use greeter_examples::discovery::{self, EtcdConfig};
use greeter_tests::etcd::PrivateEtcd;

const SERVER: &str = env!("CARGO_BIN_EXE_greeter-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_greeter-client");
const TOKEN: &str = "etcd-test-token";
const TTL: &str = "2s";

/// A `greeter-server --etcd` process, killed on drop.
struct Server {
    child: Child,
}

impl Server {
    /// Starts one and waits until it says it is registered.
    fn start(etcd: &str, prefix: &str, location: &str) -> Self {
        let mut child = Command::new(SERVER)
            .args(["--addr", "127.0.0.1:0", "--quota", "0", "--token", TOKEN])
            .args([
                "--location",
                location,
                "--etcd",
                etcd,
                "--etcd-prefix",
                prefix,
            ])
            .args(["--etcd-ttl", TTL])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start greeter-server");
        let stdout = child.stdout.take().unwrap();
        let line = first_line_with(stdout, "registered in etcd", Duration::from_secs(20));
        assert!(
            line.contains(&format!("{prefix}/greeter.v1.Greeter/127.0.0.1:")),
            "{line}"
        );
        Self { child }
    }

    /// Sends ctrl-c (SIGINT) and waits for the process to end; returns its exit success.
    fn interrupt(&mut self) -> bool {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        wait_with_limit(&mut self.child, Duration::from_secs(10))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stdout` on a thread until a line containing `needle` (the process keeps running).
fn first_line_with(stdout: ChildStdout, needle: &'static str, limit: Duration) -> String {
    let (found, line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for text in BufReader::new(stdout).lines().map_while(Result::ok) {
            if text.contains(needle) {
                let _ = found.send(text);
            }
        }
    });
    line.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no `{needle}` line within {limit:?}"))
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        assert!(started.elapsed() < limit, "the process did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `command` with a time limit and returns its output.
fn run_with_limit(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn etcd_config(url: &str, prefix: &str) -> EtcdConfig {
    let mut config = EtcdConfig::new(vec![url.to_owned()]);
    config.prefix = prefix.to_owned();
    config
}

fn client_config() -> ClientConfig {
    ClientConfig {
        token: TOKEN.to_owned(),
        ..ClientConfig::default()
    }
}

/// Makes `calls` SayHello calls; counts the answers per `location` header.
async fn count_by_location(
    greeter: &mut client::GreeterClient,
    calls: usize,
) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for i in 0..calls {
        let reply = client::say_hello(greeter, &format!("caller-{i}"))
            .await
            .unwrap_or_else(|status| panic!("call {i} failed: {status:?}"));
        let location = reply.headers.get("location").expect("a location header");
        *counts
            .entry(location.to_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_register_and_the_client_spreads_calls_over_the_live_ones() {
    let etcd = tokio::task::spawn_blocking(PrivateEtcd::start)
        .await
        .unwrap();
    let prefix = "/example-test";
    let url = etcd.url().to_owned();
    let mut servers: Vec<Server> = ["server-a", "server-b", "server-c"]
        .into_iter()
        .map(|location| Server::start(&url, prefix, location))
        .collect();

    let etcd_config = etcd_config(&url, prefix);
    let (mut discovery, origin) = discovery::discover(&etcd_config, &client_config())
        .await
        .unwrap();
    let mut locations: Vec<String> = discovery
        .instances()
        .iter()
        .map(|instance| instance.metadata()["location"].clone())
        .collect();
    locations.sort();
    assert_eq!(locations, ["server-a", "server-b", "server-c"]);
    let mut greeter =
        client::with_settings(discovery.channel(), origin, &client_config(), true).unwrap();
    let counts = count_by_location(&mut greeter, 300).await;
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n >= 30), "not spread: {counts:?}");

    // The binary: `greeter-client --etcd` finds a server and greets.
    let output = run_with_limit(
        Command::new(CLIENT)
            .args(["--etcd", &url, "--etcd-prefix", prefix, "--token", TOKEN])
            .args(["--name", "Ann", "say-hello"]),
        Duration::from_secs(20),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reply: Hello Ann"), "{stdout}");
    assert!(stdout.contains("header location: server-"), "{stdout}");

    // server-a is killed: nothing deregisters it; its lease expires and the calls go on.
    let killed = Instant::now();
    servers[0].child.kill().unwrap();
    servers[0].child.wait().unwrap();
    let two_left = discovery.wait_for(|instances| instances.len() == 2);
    assert!(
        tokio::time::timeout(Duration::from_secs(6), two_left)
            .await
            .unwrap()
    );
    assert!(
        killed.elapsed() >= Duration::from_millis(900),
        "gone after {:?}: removed, not expired",
        killed.elapsed()
    );
    let counts = count_by_location(&mut greeter, 100).await;
    assert!(!counts.contains_key("server-a"), "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 100);

    // server-b stops on ctrl-c: it deregisters first, so it is gone from etcd at once.
    let stopping = Instant::now();
    assert!(servers[1].interrupt(), "server-b did not exit cleanly");
    let one_left = discovery.wait_for(|instances| instances.len() == 1);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), one_left)
            .await
            .unwrap()
    );
    assert!(stopping.elapsed() < Duration::from_secs(5));
    let counts = count_by_location(&mut greeter, 50).await;
    assert_eq!(counts, BTreeMap::from([("server-c".to_owned(), 50)]));
}

#[test]
fn an_unreachable_etcd_is_a_clear_error_on_both_sides() {
    // A loopback port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let server = run_with_limit(
        Command::new(SERVER).args(["--addr", "127.0.0.1:0", "--etcd", &url]),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&server.stderr);
    assert!(!server.status.success());
    assert!(
        stderr.contains(&format!("etcd at {url} is unreachable")),
        "{stderr}"
    );
    let client = run_with_limit(
        Command::new(CLIENT).args(["--etcd", &url, "say-hello"]),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&client.stderr);
    assert!(!client.status.success());
    assert!(
        stderr.contains(&format!("etcd at {url} is unreachable")),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_client_with_no_registered_server_says_so() {
    let etcd = tokio::task::spawn_blocking(PrivateEtcd::start)
        .await
        .unwrap();
    let config = etcd_config(etcd.url(), "/nobody-here");
    let Err(error) = discovery::connect(&config, &client_config()).await else {
        panic!("connected with no server registered");
    };
    assert_eq!(
        error.to_string(),
        format!(
            "no greeter.v1.Greeter server is registered under /nobody-here/greeter.v1.Greeter in etcd at {}",
            etcd.url()
        )
    );
}
