//! Discovering a service's instances: a listing, then a watch on the service's prefix feeding a
//! balanced tonic channel.

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions};
use tokio::sync::{mpsc, watch};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use super::{Error, Instance, Registry, bounded};

/// How many changes may wait for the balancer.
const CHANGES_BUFFER: usize = 64;

/// Why an instance gets no endpoint: anything the caller's endpoint maker says.
pub type EndpointError = Box<dyn std::error::Error + Send + Sync>;

/// Makes the endpoint a channel connects to for an instance.
type MakeEndpoint = Box<dyn Fn(&Instance) -> Result<Endpoint, EndpointError> + Send>;

impl Registry {
    /// A channel balanced over the live instances of `service`, connecting to each over plain
    /// HTTP/2 (`http://<address>`, or the URL registered) with a connect timeout.
    ///
    /// The current instances are listed before this returns (so an unreachable etcd is an
    /// error here); a background task then watches the service's keys and adds or removes
    /// instances as they come and go, for as long as the channel (or a clone) is in use.
    pub async fn discover(&self, service: &str) -> Result<Discovery, Error> {
        let connect_timeout = self.timeout;
        self.discover_with(service, move |instance| {
            Ok(Endpoint::from_shared(instance.url())?.connect_timeout(connect_timeout))
        })
        .await
    }

    /// [`discover`](Self::discover), with the endpoint for each instance made by `endpoint`
    /// (TLS settings, timeouts, `https://` for `host:port` addresses …). An instance it gives
    /// no endpoint for (an error: a bad address, or one the caller refuses to call) is left out
    /// and logged with the error.
    pub async fn discover_with(
        &self,
        service: &str,
        endpoint: impl Fn(&Instance) -> Result<Endpoint, EndpointError> + Send + 'static,
    ) -> Result<Discovery, Error> {
        let prefix = self.service_prefix(service)?;
        let (instances, revision) = list(&self.client, &prefix, self.timeout).await?;
        let (channel, changes) = Channel::balance_channel(CHANGES_BUFFER);
        let (published, seen) = watch::channel(Vec::new());
        let mut watcher = Watcher {
            client: self.client.clone(),
            prefix,
            timeout: self.timeout,
            endpoint: Box::new(endpoint),
            changes,
            known: BTreeMap::new(),
            published,
        };
        watcher.replace_all(instances).await;
        tokio::spawn(watcher.run(revision));
        Ok(Discovery { channel, seen })
    }
}

/// The live instances of a service and a channel balanced over them. The watch goes on while
/// the channel, or any clone of it, is in use, even after this handle is dropped.
#[derive(Debug, Clone)]
pub struct Discovery {
    channel: Channel,
    seen: watch::Receiver<Vec<Instance>>,
}

impl Discovery {
    /// The balanced channel, for a generated client's `new` (or `with_origin`).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The instances the channel balances over now, in key order.
    pub fn instances(&self) -> Vec<Instance> {
        self.seen.borrow().clone()
    }

    /// Waits until the instances satisfy `ready` (checked now, then on every change); `false`
    /// if the watch has ended.
    pub async fn wait_for(&mut self, mut ready: impl FnMut(&[Instance]) -> bool) -> bool {
        self.seen
            .wait_for(|instances| ready(instances))
            .await
            .is_ok()
    }
}

/// Lists the keys under `prefix`: their instances (unreadable values logged and left out) and
/// the store's revision the listing is at.
pub(super) async fn list(
    client: &Client,
    prefix: &str,
    timeout: Duration,
) -> Result<(Vec<Instance>, i64), Error> {
    let mut client = client.clone();
    let get = client.get(prefix, Some(GetOptions::new().with_prefix()));
    let answer = bounded("get", timeout, get).await?;
    let revision = answer.header().map_or(0, |header| header.revision());
    let instances = answer
        .kvs()
        .iter()
        .filter_map(|kv| read(prefix, kv))
        .collect();
    Ok((instances, revision))
}

/// The instance a key holds; `None` (logged) for a key deeper than one segment under the prefix
/// or a value that is not an instance.
fn read(prefix: &str, kv: &KeyValue) -> Option<Instance> {
    let id = instance_id(prefix, kv)?;
    match Instance::from_value(id, kv.value()) {
        Ok(instance) => Some(instance),
        Err(error) => {
            tracing::warn!(key = %String::from_utf8_lossy(kv.key()), %error, "ignoring an unreadable instance in etcd");
            None
        }
    }
}

/// The key's last segment, if the key is `<prefix><id>` with a one-segment UTF-8 id.
fn instance_id<'kv>(prefix: &str, kv: &'kv KeyValue) -> Option<&'kv str> {
    let id = kv.key_str().ok()?.strip_prefix(prefix)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The task behind a [`Discovery`]: follows the keys and tells the balancer.
struct Watcher {
    client: Client,
    prefix: String,
    timeout: Duration,
    endpoint: MakeEndpoint,
    changes: mpsc::Sender<Change<String, Endpoint>>,
    /// What the balancer has now: the instance behind each id.
    known: BTreeMap<String, Instance>,
    published: watch::Sender<Vec<Instance>>,
}

impl Watcher {
    /// Watches from the revision after `revision`; when the watch fails or is cancelled
    /// (compacted history, etcd restarted), lists again and watches from there. Ends when the
    /// channel is gone.
    async fn run(mut self, mut revision: i64) {
        let mut pause = Duration::from_millis(200);
        loop {
            let changes = self.changes.clone();
            tokio::select! {
                () = changes.closed() => return,
                ended = self.follow(revision + 1) => {
                    tracing::warn!(prefix = %self.prefix, reason = %ended, "etcd watch ended; listing again");
                }
            }
            loop {
                tokio::select! {
                    () = changes.closed() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                match list(&self.client, &self.prefix, self.timeout).await {
                    Ok((instances, now)) => {
                        self.replace_all(instances).await;
                        revision = now;
                        pause = Duration::from_millis(200);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(prefix = %self.prefix, %error, "cannot list instances in etcd");
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
    }

    /// Applies the watch's events from `start` on; returns why it stopped.
    async fn follow(&mut self, start: i64) -> String {
        let mut client = self.client.clone();
        let options = WatchOptions::new().with_prefix().with_start_revision(start);
        let watch = client.watch(self.prefix.as_str(), Some(options));
        let mut stream = match bounded("watch", self.timeout, watch).await {
            Ok(stream) => stream,
            Err(error) => return error.to_string(),
        };
        loop {
            let answer = match stream.message().await {
                Ok(Some(answer)) => answer,
                Ok(None) => return "the watch stream ended".to_owned(),
                Err(error) => return error.to_string(),
            };
            if answer.canceled() {
                return format!("cancelled: {}", answer.cancel_reason());
            }
            for event in answer.events() {
                let Some(kv) = event.kv() else { continue };
                let Some(id) = instance_id(&self.prefix, kv) else {
                    continue;
                };
                match event.event_type() {
                    EventType::Put => match read(&self.prefix, kv) {
                        Some(instance) => self.insert(instance).await,
                        None => self.remove(id).await,
                    },
                    EventType::Delete => self.remove(id).await,
                }
            }
            self.publish();
        }
    }

    /// Makes the balancer's set exactly `instances`.
    async fn replace_all(&mut self, instances: Vec<Instance>) {
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|id| {
                !instances
                    .iter()
                    .any(|instance| instance.id() == id.as_str())
            })
            .cloned()
            .collect();
        for id in gone {
            self.remove(&id).await;
        }
        for instance in instances {
            self.insert(instance).await;
        }
        self.publish();
    }

    /// Adds an instance, or replaces it if its address or metadata changed.
    async fn insert(&mut self, instance: Instance) {
        if self.known.get(instance.id()) == Some(&instance) {
            return;
        }
        let endpoint = match (self.endpoint)(&instance) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                tracing::warn!(instance = instance.id(), address = instance.address(), %error, "leaving out a discovered instance");
                self.remove(instance.id()).await;
                return;
            }
        };
        let id = instance.id().to_owned();
        tracing::debug!(instance = %id, address = instance.address(), "instance discovered");
        // The balancer replaces a service inserted again under the same key.
        let _ = self
            .changes
            .send(Change::Insert(id.clone(), endpoint))
            .await;
        self.known.insert(id, instance);
    }

    async fn remove(&mut self, id: &str) {
        if self.known.remove(id).is_some() {
            tracing::debug!(instance = %id, "instance gone");
            let _ = self.changes.send(Change::Remove(id.to_owned())).await;
        }
    }

    fn publish(&self) {
        let instances: Vec<Instance> = self.known.values().cloned().collect();
        self.published.send_if_modified(|seen| {
            let modified = *seen != instances;
            if modified {
                *seen = instances;
            }
            modified
        });
    }
}
