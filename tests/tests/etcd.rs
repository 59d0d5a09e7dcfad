//! Registry and discovery over a real etcd (`--features etcd`; a private etcd per test, from
//! `tests/etcd/etcd.sh`): three Greeter servers register, a client discovers them through one
//! balanced channel and spreads its calls over all three; an instance that stops renewing its
//! lease (as a killed process) leaves within the TTL and the calls go on; one that deregisters
//! leaves at once; a lease etcd loses is replaced by a new one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use greeter_runtime::etcd::{Instance, Registration, Registry};
use greeter_tests::etcd::PrivateEtcd;
use greeter_tests::greeter::HelloRequest;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_methods::SERVICE_NAME;
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::scripted::{Runs, Scripted};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;

const TTL: Duration = Duration::from_secs(2);

/// A Greeter server registered in etcd, and its call count.
struct Member {
    runs: Arc<Runs>,
    registration: Option<Registration>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Member {
    async fn start(registry: &Registry, id: &str) -> Self {
        let scripted = Scripted::default();
        let runs = Arc::clone(&scripted.runs);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            Server::builder()
                .add_service(GreeterServer::new(scripted))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
        });
        let instance = Instance::new(id, addr.to_string()).with_metadata("zone", id);
        let registration = registry
            .register(SERVICE_NAME, instance, TTL)
            .await
            .unwrap();
        Self {
            runs,
            registration: Some(registration),
            stop: Some(stop),
            server,
        }
    }

    fn calls(&self) -> usize {
        self.runs.started.load(Ordering::SeqCst)
    }
}

async fn registry(etcd: &PrivateEtcd, test: &str) -> Registry {
    Registry::connect(&[etcd.url()])
        .await
        .unwrap()
        .with_prefix(format!("/greeter-tests/{test}"))
}

async fn start_etcd() -> PrivateEtcd {
    tokio::task::spawn_blocking(PrivateEtcd::start)
        .await
        .unwrap()
}

async fn say_hello_times(client: &mut GreeterClient<tonic::transport::Channel>, times: usize) {
    for i in 0..times {
        let request = HelloRequest {
            name: format!("caller {i}"),
        };
        let reply = client.say_hello(request).await.unwrap().into_inner().reply;
        assert_eq!(reply, format!("hello caller {i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_the_live_instances_as_they_come_and_go() {
    let etcd = start_etcd().await;
    let registry = registry(&etcd, "spread").await;
    let mut members = Vec::new();
    for id in ["a", "b", "c"] {
        members.push(Member::start(&registry, id).await);
    }

    let mut discovery = registry.discover(SERVICE_NAME).await.unwrap();
    let all_three = discovery.wait_for(|instances| instances.len() == 3);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), all_three)
            .await
            .unwrap()
    );
    let zones: Vec<String> = discovery
        .instances()
        .iter()
        .map(|instance| instance.metadata()["zone"].clone())
        .collect();
    assert_eq!(zones, ["a", "b", "c"]);

    let mut client = GreeterClient::new(discovery.channel());
    say_hello_times(&mut client, 300).await;
    let counts: Vec<usize> = members.iter().map(Member::calls).collect();
    assert_eq!(counts.iter().sum::<usize>(), 300);
    assert!(
        counts.iter().all(|&count| count >= 30),
        "calls not spread over the three: {counts:?}"
    );

    // "a" dies: its lease is no longer renewed (nothing revokes it), its server goes.
    let a = &mut members[0];
    drop(a.registration.take());
    a.server.abort();
    let died = Instant::now();
    let two_left = discovery.wait_for(|instances| instances.len() == 2);
    assert!(
        tokio::time::timeout(TTL + Duration::from_secs(3), two_left)
            .await
            .unwrap()
    );
    let expired_after = died.elapsed();
    assert!(
        expired_after >= Duration::from_millis(900),
        "gone after {expired_after:?}: the lease was revoked, not expired"
    );
    let a_calls = members[0].calls();
    say_hello_times(&mut client, 100).await;
    assert_eq!(
        members[0].calls(),
        a_calls,
        "calls still reach the dead instance"
    );
    assert_eq!(members.iter().map(Member::calls).sum::<usize>(), 400);

    // "b" stops gracefully: deregistered first, it leaves at once, then its server stops.
    let b = &mut members[1];
    let stopping = Instant::now();
    b.registration.take().unwrap().deregister().await.unwrap();
    let one_left = discovery.wait_for(|instances| instances.len() == 1);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), one_left)
            .await
            .unwrap()
    );
    assert!(stopping.elapsed() < Duration::from_secs(1));
    let _ = b.stop.take().unwrap().send(());
    let (b_calls, c_calls) = (members[1].calls(), members[2].calls());
    say_hello_times(&mut client, 50).await;
    assert_eq!(members[1].calls(), b_calls);
    assert_eq!(members[2].calls(), c_calls + 50);
    assert!(registry.instances(SERVICE_NAME).await.unwrap().len() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_etcd_lost_is_replaced_and_the_instance_comes_back() {
    let etcd = start_etcd().await;
    let registry = registry(&etcd, "lost").await;
    let member = Member::start(&registry, "only").await;
    let registration = member.registration.as_ref().unwrap();
    let first_lease = registration.lease_id();
    let mut discovery = registry.discover(SERVICE_NAME).await.unwrap();
    assert_eq!(discovery.instances().len(), 1);

    // etcd forgets the lease (an operator revoked it, or etcd lost it): the key goes with it.
    registry
        .client()
        .clone()
        .lease_revoke(first_lease)
        .await
        .unwrap();

    // The next renewal finds the lease gone and registers again under a new one. (The key's
    // absence may be too short for the watch to show: the renewal can come at once.)
    let started = Instant::now();
    while registration.lease_id() == first_lease {
        assert!(started.elapsed() < TTL * 2, "not registered again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = registry.instances(SERVICE_NAME).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let back = discovery.wait_for(|instances| instances.len() == 1);
    assert!(tokio::time::timeout(TTL, back).await.unwrap());
    let mut client = GreeterClient::new(discovery.channel());
    say_hello_times(&mut client, 5).await;
    assert_eq!(member.calls(), 5);
}

#[tokio::test]
async fn bad_registrations_are_refused_with_the_reason() {
    let etcd = start_etcd().await;
    let registry = registry(&etcd, "bad").await;
    let short = registry
        .register(
            SERVICE_NAME,
            Instance::new("x", "127.0.0.1:1"),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert_eq!(
        short.to_string(),
        "invalid ttl: 1s is shorter than etcd's 2 s minimum"
    );
    let nested = registry
        .register(SERVICE_NAME, Instance::new("x/y", "127.0.0.1:1"), TTL)
        .await
        .unwrap_err();
    assert_eq!(
        nested.to_string(),
        "invalid instance id: `x/y` contains '/'"
    );
    let no_address = registry
        .register(SERVICE_NAME, Instance::new("x", ""), TTL)
        .await
        .unwrap_err();
    assert_eq!(
        no_address.to_string(),
        "invalid address: instance `x` has an empty address"
    );
    assert!(registry.instances(SERVICE_NAME).await.unwrap().is_empty());
}
