//! The authentication audit trail (an rnats extension, `audit { … }`): one JSON record per
//! authentication decision — every method, accepted or refused, and the refusals that come
//! before any method runs (authentication timeout, connect-rate limit, connection limits) —
//! appended to a file rotated by size and/or published on
//! `$SYS.SERVER.<server id>.AUDIT.AUTH` in the system account.
//!
//! A connection builds its record only when auditing is on (one relaxed load otherwise) and
//! hands it to a bounded queue with `try_send`: a full queue drops the record and counts it,
//! never making a client wait. A dedicated thread serializes, writes and rotates
//! (`writer.rs`); a task of the runtime publishes on `$SYS`. No record holds a password,
//! token, seed, nonce signature or JWT: only names, public keys, public claims and the
//! refusal's reason as the server logs it (`record.rs`).

mod record;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use rnats_config::AuditConfig;

pub(crate) use record::{Outcome, Record};

/// Records waiting to be published on `$SYS` before new ones are dropped.
const PUBLISH_QUEUE: usize = 4096;

/// The subject records are published on, in the system account.
pub(crate) fn subject(server_id: &str) -> String {
    format!("$SYS.SERVER.{server_id}.AUDIT.AUTH")
}

/// What the writer thread shares with the server.
pub(crate) struct Shared {
    /// Records dropped because a queue was full.
    pub(crate) dropped: AtomicU64,
    /// The `$SYS` publisher's queue, once the system services run.
    publisher: Mutex<Option<tokio::sync::mpsc::Sender<Bytes>>>,
}

impl Shared {
    /// Queues one serialized record for `$SYS` (dropped and counted when the publisher is
    /// behind).
    fn publish(&self, line: Bytes) {
        let publisher = self.publisher.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = publisher.as_ref()
            && tx.try_send(line).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The trail: whether it is on, and the queue to its writer thread.
pub(crate) struct Audit {
    on: AtomicBool,
    sink: RwLock<Option<SyncSender<Record>>>,
    config: Mutex<Option<AuditConfig>>,
    /// The latest writer thread: the next one waits for it to finish before it opens the
    /// file, so two writers never append to (or rotate) the same file at once.
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    shared: Arc<Shared>,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            on: AtomicBool::new(false),
            sink: RwLock::new(None),
            config: Mutex::new(None),
            writer: Mutex::new(None),
            shared: Arc::new(Shared {
                dropped: AtomicU64::new(0),
                publisher: Mutex::new(None),
            }),
        }
    }
}

impl Audit {
    /// Whether decisions are recorded: callers build a [`Record`] only when this is true.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Records dropped since the server started.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Queues `record` for the writer; dropped (and counted) when the queue is full.
    pub(crate) fn record(&self, record: Record) {
        let sink = self.sink.read().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = sink.as_ref() {
            match tx.try_send(record) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Puts `config` in force (at start and on reload): a new writer thread when it changed,
    /// the old one finishing what it has queued first. A file that cannot be opened is an
    /// error and nothing changes.
    pub(crate) fn configure(&self, config: Option<&AuditConfig>) -> std::io::Result<()> {
        let mut current = self.config.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref() == config {
            return Ok(());
        }
        let open = |c: &AuditConfig| -> std::io::Result<Option<writer::RotatingFile>> {
            c.file
                .as_ref()
                .map(|path| {
                    writer::RotatingFile::open(path, c.max_size, c.max_files).map_err(|e| {
                        std::io::Error::new(e.kind(), format!("audit file {}: {e}", path.display()))
                    })
                })
                .transpose()
        };
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let sink = match config {
            None => None,
            Some(c) => {
                // Checked here, so that a reload fails with nothing changed; opened again by
                // the new thread once the old one is done with it.
                drop(open(c)?);
                let (tx, rx) = std::sync::mpsc::sync_channel(c.queue as usize);
                let shared = self.shared.clone();
                let (c, previous) = (c.clone(), writer.take());
                let handle = std::thread::Builder::new()
                    .name("rnats-audit".into())
                    .spawn(move || {
                        if let Some(previous) = previous {
                            let _ = previous.join();
                        }
                        let file = open(&c).unwrap_or_else(|e| {
                            tracing::error!("audit trail: {e}");
                            None
                        });
                        writer::run(&rx, file, c.subject, &shared);
                    })?;
                *writer = Some(handle);
                Some(tx)
            }
        };
        self.on.store(sink.is_some(), Ordering::Relaxed);
        // Dropping the old sender lets the old thread drain its queue and end.
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = sink;
        *current = config.cloned();
        Ok(())
    }
}

/// Starts the `$SYS` publisher: an internal client of the system account that publishes
/// what the writer thread hands it, until shutdown.
pub(crate) fn start(state: &Arc<crate::state::ServerState>) {
    let system = state.settings().system_account();
    let client = crate::system::InternalClient::new(state, &system);
    let subject = subject(&state.server_id);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(PUBLISH_QUEUE);
    *state
        .audit
        .shared
        .publisher
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                line = rx.recv() => match line {
                    Some(line) => {
                        let body = line.strip_suffix(b"\n").unwrap_or(&line);
                        if let Err(e) = client.publish(&subject, None, None, body) {
                            tracing::debug!("audit trail: cannot publish on {subject}: {e}");
                        }
                    }
                    None => return,
                },
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> crate::session::Peer {
        crate::session::Peer {
            addr: "127.0.0.1:4000".parse().unwrap(),
            cid: 7,
            transport: crate::websocket::Transport::Tcp,
            nonce: None,
            tls: None,
            tls_session: None,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let audit = Audit::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        *audit.sink.write().unwrap() = Some(tx);
        audit.on.store(true, Ordering::Relaxed);
        for _ in 0..3 {
            audit.record(Record::refused(&peer(), "none", "test"));
        }
        assert_eq!(audit.dropped(), 2);
        let kept = rx.try_recv().unwrap();
        assert_eq!((kept.cid, kept.port), (7, 4000));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn configure_turns_it_on_and_off_and_refuses_unopenable_files() {
        let audit = Audit::default();
        assert!(!audit.enabled());
        let dir = rnats_test_support::scratch_dir("audit-mod");
        let mut config = AuditConfig::to_file(dir.join("a.log"));
        config.queue = 1;
        audit.configure(Some(&config)).unwrap();
        assert!(audit.enabled());
        audit.configure(None).unwrap();
        assert!(!audit.enabled());
        let bad = AuditConfig::to_file(dir.join("missing").join("a.log"));
        let e = audit.configure(Some(&bad)).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(!audit.enabled());
    }
}
