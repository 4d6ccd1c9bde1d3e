//! Password hashing off the I/O threads, bounded.
//!
//! bcrypt and argon2id are slow on purpose, and argon2id holds its memory (19 MiB with the
//! default parameters) while it runs. Failed logins never hit the verification cache, so an
//! attacker can make every login hash. The gate bounds that work: a few long-lived worker
//! threads run hashes (so memory is bounded by workers × one hash: short-lived threads would
//! each leave the allocator an arena of that size), a capped number of logins may wait for them,
//! and one client address may hold only a small share of the places, so a flood from one
//! address cannot keep everybody else waiting. Past a cap a login is refused at once. Returning
//! users whose secret was verified recently skip the gate entirely (see
//! `Authenticator::may_block`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use std::sync::mpsc;

/// Most logins waiting for or running a hash, server-wide.
pub(crate) const MAX_PENDING: usize = 128;
/// Most of those places one client address may hold.
pub(crate) const MAX_PENDING_PER_ADDRESS: usize = 16;

/// Why a login was not hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Every place is taken.
    Full,
    /// This address holds its share already.
    AddressFull,
    /// The hashing task failed (panicked).
    Failed,
}

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct HashGate {
    /// Jobs for the worker threads; they stop when this is dropped.
    jobs: Mutex<mpsc::Sender<Job>>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Gives a login's place back when it is done (or abandoned).
struct Place<'a> {
    gate: &'a HashGate,
    addr: IpAddr,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut p = self.gate.lock();
        p.total -= 1;
        if let Some(n) = p.by_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                p.by_address.remove(&self.addr);
            }
        }
    }
}

impl HashGate {
    /// A gate with one worker per core, at most four (a hash already uses a whole core).
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_workers(cores.clamp(1, 4))
    }

    pub(crate) fn with_workers(workers: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("rnats-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job.
                        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(job) = job else { return };
                        // A panicking hash loses its login (the caller sees `Failed`), not the
                        // worker.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("could not start a password hashing thread: {e}");
            }
        }
        Self {
            jobs: Mutex::new(tx),
            pending: Mutex::new(Pending::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logins waiting for or running a hash now.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.lock().total
    }

    fn take_place(&self, addr: IpAddr) -> Result<Place<'_>, Refused> {
        let mut p = self.lock();
        if p.total >= MAX_PENDING {
            return Err(Refused::Full);
        }
        let mine = p.by_address.entry(addr).or_insert(0);
        if *mine >= MAX_PENDING_PER_ADDRESS {
            return Err(Refused::AddressFull);
        }
        *mine += 1;
        p.total += 1;
        Ok(Place { gate: self, addr })
    }

    /// Runs `work` (a hash) on a blocking thread once a worker is free, or refuses at once when
    /// the caps are reached.
    pub(crate) async fn run<R, F>(&self, addr: IpAddr, work: F) -> Result<R, Refused>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let _place = self.take_place(addr)?;
        self.run_waiting(work).await
    }

    /// Runs `work` once a worker is free, without the caps: for connections that already
    /// logged in and re-check their credentials after a reload (their number is bounded by
    /// the connections, and refusing them would close healthy clients).
    pub(crate) async fn run_waiting<R, F>(&self, work: F) -> Result<R, Refused>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| Refused::Failed)?;
        rx.await.map_err(|_| Refused::Failed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const USER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    /// One address fills its share, the rest of the places stay open for others; nothing
    /// runs more hashes at once than there are workers; every place is given back.
    #[tokio::test]
    async fn one_address_cannot_take_every_place() {
        let gate = Arc::new(HashGate::with_workers(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (release, hold) = mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let mut tasks = Vec::new();
        for _ in 0..MAX_PENDING_PER_ADDRESS {
            let (gate, running, peak, hold) =
                (gate.clone(), running.clone(), peak.clone(), hold.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(ATTACKER, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let _ = hold.lock().unwrap().recv();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        while gate.pending() < MAX_PENDING_PER_ADDRESS {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            gate.run(ATTACKER, || ()).await,
            Err(Refused::AddressFull),
            "the attacker's share is full"
        );
        // Another address still gets a place (it waits for a worker like everybody).
        let user = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(USER, || 7).await })
        };
        for _ in 0..=MAX_PENDING_PER_ADDRESS {
            release.send(()).unwrap();
        }
        assert_eq!(user.await.unwrap(), Ok(7));
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "never more hashes than workers"
        );
        assert_eq!(gate.pending(), 0);
    }

    #[tokio::test]
    async fn the_server_wide_cap_refuses_at_once() {
        let gate = Arc::new(HashGate::with_workers(1));
        let (release, hold) = mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let mut tasks = Vec::new();
        for i in 0..MAX_PENDING {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0100 + i as u32));
            let (gate, hold) = (gate.clone(), hold.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(addr, move || {
                    let _ = hold.lock().unwrap().recv();
                })
                .await
            }));
        }
        while gate.pending() < MAX_PENDING {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.run(USER, || ()).await, Err(Refused::Full));
        for _ in 0..MAX_PENDING {
            release.send(()).unwrap();
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(gate.pending(), 0);
    }
}
