//! Registering an instance: its key under a lease, and the task that keeps the lease alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use etcd_client::{Client, PutOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Error, Instance, Registry, bounded, check_segment};

/// The shortest lease etcd grants, in seconds (it raises shorter requests to about this).
const MIN_TTL_SECONDS: u64 = 2;

impl Registry {
    /// Puts `instance` under `<prefix>/<service>/<instance id>` with a lease of `ttl` (whole
    /// seconds, at least 2), and keeps the lease alive in the background until
    /// [`Registration::deregister`] or until the [`Registration`] is dropped, after which the
    /// key expires within `ttl`.
    ///
    /// If etcd loses the lease (it was down longer than `ttl`, say), the instance is registered
    /// again under a new one as soon as etcd answers.
    pub async fn register(
        &self,
        service: &str,
        instance: Instance,
        ttl: Duration,
    ) -> Result<Registration, Error> {
        let prefix = self.service_prefix(service)?;
        check_segment("instance id", instance.id())?;
        if instance.address().is_empty() {
            return Err(Error::Invalid {
                what: "address",
                reason: format!("instance `{}` has an empty address", instance.id()),
            });
        }
        if ttl < Duration::from_secs(MIN_TTL_SECONDS) {
            return Err(Error::Invalid {
                what: "ttl",
                reason: format!("{ttl:?} is shorter than etcd's {MIN_TTL_SECONDS} s minimum"),
            });
        }
        let lease = Lease {
            client: self.client.clone(),
            key: format!("{prefix}{}", instance.id()),
            value: instance.to_value(),
            ttl,
            timeout: self.timeout,
        };
        let id = lease.grant_and_put().await?;
        let current = Arc::new(AtomicI64::new(id));
        let (stop, stopped) = oneshot::channel();
        let keeper = tokio::spawn(lease.clone().keep_alive(current.clone(), stopped));
        tracing::info!(key = %lease.key, lease = id, ttl_s = ttl.as_secs(), "registered in etcd");
        Ok(Registration {
            lease,
            current,
            stop: Some(stop),
            keeper: Some(keeper),
        })
    }
}

/// A registered instance. [`deregister`](Self::deregister) removes it at once; dropping it stops
/// the keep-alive, so the key expires within the lease's TTL, as when the process dies.
#[derive(Debug)]
pub struct Registration {
    lease: Lease,
    /// The lease the key is under now (a new one after etcd lost the first).
    current: Arc<AtomicI64>,
    stop: Option<oneshot::Sender<()>>,
    keeper: Option<JoinHandle<()>>,
}

impl Registration {
    /// The instance's key.
    pub fn key(&self) -> &str {
        &self.lease.key
    }

    /// The id of the lease the key is under now.
    pub fn lease_id(&self) -> i64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Stops the keep-alive and revokes the lease, deleting the key at once: watchers stop
    /// sending calls here before the server goes. If etcd cannot be reached the error says so,
    /// and the key expires within the TTL anyway.
    pub async fn deregister(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.await;
        }
        let id = self.lease_id();
        let mut client = self.lease.client.clone();
        bounded("lease revoke", self.lease.timeout, client.lease_revoke(id)).await?;
        tracing::info!(key = %self.lease.key, lease = id, "deregistered from etcd");
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
    }
}

/// What the keep-alive task needs to renew the lease, or to register again under a new one.
#[derive(Clone)]
struct Lease {
    client: Client,
    key: String,
    value: Vec<u8>,
    ttl: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// How one keep-alive session ended.
enum Ended {
    /// Deregistering: stop.
    Stopped,
    /// The lease is gone (etcd said so, or it cannot have outlived its TTL): register again.
    Lost,
    /// The stream failed: keep the lease if it still lives, else register again.
    Failed(String),
}

impl Lease {
    /// Grants a lease and puts the key under it; returns the lease's id.
    async fn grant_and_put(&self) -> Result<i64, Error> {
        let mut client = self.client.clone();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let granted = bounded("lease grant", self.timeout, client.lease_grant(ttl, None)).await?;
        let options = PutOptions::new().with_lease(granted.id());
        let put = client.put(self.key.as_str(), self.value.clone(), Some(options));
        bounded("put", self.timeout, put).await?;
        Ok(granted.id())
    }

    /// Renews the lease every third of its TTL until told to stop; when the lease is lost,
    /// registers again under a new one, retrying with backoff while etcd is unreachable.
    async fn keep_alive(self, current: Arc<AtomicI64>, mut stop: oneshot::Receiver<()>) {
        let mut backoff = Backoff::new(self.ttl / 4);
        loop {
            let id = current.load(Ordering::Relaxed);
            let lost = match self.session(id, &mut stop).await {
                Ended::Stopped => return,
                Ended::Lost => true,
                Ended::Failed(error) => {
                    tracing::warn!(key = %self.key, lease = id, %error, "etcd keep-alive failed");
                    false
                }
            };
            // Register again (after a pause when etcd just failed) until it works or we stop.
            let mut pause = if lost { None } else { Some(backoff.next()) };
            loop {
                if let Some(pause) = pause {
                    tokio::select! {
                        _ = &mut stop => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                if !lost && self.still_alive(id).await {
                    break;
                }
                match self.grant_and_put().await {
                    Ok(new) => {
                        current.store(new, Ordering::Relaxed);
                        tracing::info!(key = %self.key, lease = new, "registered in etcd again");
                        // The old lease, if it lives, holds no key now; let it expire.
                        backoff.reset();
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(key = %self.key, %error, "cannot register in etcd again");
                        pause = Some(backoff.next());
                    }
                }
            }
        }
    }

    /// One keep-alive stream: a renewal every third of the TTL, until the stream fails, etcd
    /// reports the lease gone, no renewal is acknowledged for a whole TTL, or `stop`.
    async fn session(&self, id: i64, stop: &mut oneshot::Receiver<()>) -> Ended {
        let mut client = self.client.clone();
        let (mut keeper, mut acks) = match bounded(
            "lease keep-alive",
            self.timeout,
            client.lease_keep_alive(id),
        )
        .await
        {
            Ok(stream) => stream,
            Err(error) => return Ended::Failed(error.to_string()),
        };
        let period = (self.ttl / 3).max(Duration::from_millis(500));
        let mut renew = tokio::time::interval(period);
        let mut acknowledged = Instant::now();
        loop {
            tokio::select! {
                _ = &mut *stop => return Ended::Stopped,
                _ = renew.tick() => {
                    if acknowledged.elapsed() >= self.ttl {
                        return Ended::Lost;
                    }
                    if let Err(error) = keeper.keep_alive().await {
                        return Ended::Failed(error.to_string());
                    }
                }
                ack = acks.message() => match ack {
                    Ok(Some(ack)) if ack.ttl() > 0 => acknowledged = Instant::now(),
                    Ok(Some(_)) => {
                        tracing::warn!(key = %self.key, lease = id, "etcd lost the lease");
                        return Ended::Lost;
                    }
                    Ok(None) => return Ended::Failed("keep-alive stream ended".to_owned()),
                    Err(error) => return Ended::Failed(error.to_string()),
                },
            }
        }
    }

    /// Whether lease `id` still has time to live (so the key is still there).
    async fn still_alive(&self, id: i64) -> bool {
        let mut client = self.client.clone();
        let ask = client.lease_time_to_live(id, None);
        matches!(bounded("lease ttl", self.timeout, ask).await, Ok(answer) if answer.ttl() > 0)
    }
}

/// Pauses between retries: doubling from `first` up to 8 × `first`.
struct Backoff {
    first: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration) -> Self {
        let first = first.max(Duration::from_millis(100));
        Self { first, next: first }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.first * 8);
        pause
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_eight_times_the_first_pause() {
        let mut backoff = Backoff::new(Duration::from_millis(250));
        let pauses: Vec<u64> = (0..6).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 2000, 2000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(250));
    }
}
