//! The server side: one thread, pinned to its own core, running a current-thread tokio runtime
//! that serves every variant on its own loopback port. All server work of every variant then
//! happens on that thread, so its CPU clock measures what the variant cost.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::handlers::{self, BenchGreeter, Link};
use super::pb;
use super::plan::Variant;

/// A thread's CPU clock, readable from any thread of the process.
#[derive(Clone, Copy, Debug)]
pub struct CpuClock(libc::clockid_t);

impl CpuClock {
    /// The clock of the calling thread.
    pub fn of_current_thread() -> io::Result<Self> {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: pthread_self() is the calling thread, alive; `clock` is a valid out pointer.
        let error = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
        if error == 0 {
            Ok(Self(clock))
        } else {
            Err(io::Error::from_raw_os_error(error))
        }
    }

    /// CPU time the thread has used so far.
    pub fn now(self) -> Duration {
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `time` is a valid out pointer; the clock id came from pthread_getcpuclockid
        // for a thread that lives as long as the `Servers` this clock belongs to.
        let result = unsafe { libc::clock_gettime(self.0, &mut time) };
        assert_eq!(result, 0, "clock_gettime on the server thread's CPU clock");
        Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
    }
}

/// The CPUs this process may run on, in order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect())
    }
}

/// Pins the calling thread (or, with `pid`, that process) to `cpu`.
pub fn pin(pid: libc::pid_t, cpu: usize) -> io::Result<()> {
    // SAFETY: as above; the set names one CPU the process is allowed on.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(pid, size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The running servers: one address per variant and the server thread's CPU clock.
pub struct Servers {
    pub addrs: BTreeMap<Variant, SocketAddr>,
    pub cpu: CpuClock,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Servers {
    /// Starts the server thread (pinned to `cpu` when given) serving every variant, (c) with the
    /// interceptors of `links`.
    pub fn start(cpu: Option<usize>, links: Vec<Link>) -> io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("greeter-bench-server".to_owned())
            .spawn(move || {
                let started = (|| {
                    if let Some(cpu) = cpu {
                        pin(0, cpu)?;
                    }
                    let clock = CpuClock::of_current_thread()?;
                    super::allocations::count_server_thread();
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    Ok::<_, io::Error>((clock, runtime))
                })();
                let (clock, runtime) = match started {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match spawn_all(&links).await {
                        Ok(addrs) => {
                            let _ = ready_tx.send(Ok((addrs, clock)));
                            let _ = shutdown_rx.await;
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                        }
                    }
                });
            })?;
        let (addrs, cpu) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the server thread died while starting"))??;
        Ok(Self {
            addrs,
            cpu,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds a loopback port per variant and spawns its server on the current runtime.
pub async fn spawn_all(links: &[Link]) -> io::Result<BTreeMap<Variant, SocketAddr>> {
    let mut addrs = BTreeMap::new();
    for variant in Variant::ALL {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        addrs.insert(variant, listener.local_addr()?);
        match variant {
            Variant::Tonic => serve_tonic(
                Routes::new(pb::tonic::greeter_server::GreeterServer::new(BenchGreeter)),
                listener,
            ),
            Variant::Greeter => serve_tonic(
                Routes::new(pb::greeter::greeter_server::GreeterServer::new(
                    BenchGreeter,
                )),
                listener,
            ),
            Variant::GreeterChain => serve_tonic(
                Routes::new(
                    pb::greeter::greeter_server::GreeterServer::new(BenchGreeter)
                        .with_interceptors(handlers::chain(links)),
                ),
                listener,
            ),
            Variant::TonicIntercepted => serve_tonic(
                Routes::new(pb::tonic::greeter_server::GreeterServer::with_interceptor(
                    BenchGreeter,
                    handlers::tonic_bearer_check(),
                )),
                listener,
            ),
            Variant::Floor => {
                tokio::spawn(super::floor::serve(listener));
            }
        }
    }
    Ok(addrs)
}

/// Serves one service with tonic's server and its default settings, as tonic users do.
fn serve_tonic(routes: Routes, listener: TcpListener) {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(incoming),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_threads_cpu_clock_is_readable_from_here() {
        let (clock_tx, clock_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let clock = CpuClock::of_current_thread().unwrap();
            clock_tx.send(clock).unwrap();
            let mut x = 0u64;
            while clock.now() < Duration::from_millis(20) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            // Stay alive (and idle) while the test reads the clock.
            done_rx.recv().unwrap();
        });
        let clock = clock_rx.recv().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while clock.now() < Duration::from_millis(20) {
            assert!(
                std::time::Instant::now() < deadline,
                "the worker's clock never advanced"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Idle now: its clock stops, unlike this thread's wall time.
        let spun = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() - spun < Duration::from_millis(10));
        done_tx.send(()).unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn the_process_may_run_somewhere() {
        assert!(!allowed_cpus().unwrap().is_empty());
    }
}
