//! Idle polling (`idle_poll`): on a server with one runtime worker (one CPU, as in a container
//! limited to one core), for a short window after a client's last input one task keeps
//! yielding, so the worker polls the kernel for I/O without sleeping instead of parking its
//! CPU at once. A reply that arrives inside the window is read by a running CPU; one that
//! arrives later waits for an idle CPU to be woken, as without the window. Go's scheduler,
//! and so nats-server, spins the same way before it sleeps.
//!
//! The cost is bounded: the window (default 50 µs) after each read, and only while the worker
//! has nothing else to run, because a yielding task runs after every other ready task.
//! With more than one worker the window is not used: the worker that yields would not hold
//! the I/O driver, and waking the other workers for every event costs more than it saves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Notify;

use crate::state::ServerState;

/// What the read loops tell the spinner.
#[derive(Default)]
pub(crate) struct IdlePoll {
    /// Set once the spinner runs; until then (and with several workers) reads skip the rest.
    enabled: AtomicBool,
    /// Client reads so far; the spinner watches it change.
    reads: AtomicU64,
    /// The spinner is inside a window: reads need not wake it.
    spinning: AtomicBool,
    wake: Notify,
}

impl IdlePoll {
    /// Called by a connection after each read.
    #[inline]
    pub(crate) fn activity(&self) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        if !self.spinning.load(Ordering::Relaxed) && !self.spinning.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }
}

/// Runs until shutdown: after a read, yields until `idle_poll` passes without another one.
pub(crate) async fn run(state: Arc<ServerState>) {
    if tokio::runtime::Handle::current().metrics().num_workers() != 1 {
        return;
    }
    let poll = &state.idle_poll;
    poll.enabled.store(true, Ordering::Relaxed);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = poll.wake.notified() => {}
        }
        let window = state.config().idle_poll;
        let mut seen = poll.reads.load(Ordering::Relaxed);
        let mut last = Instant::now();
        while !window.is_zero() && !state.shutdown.is_cancelled() {
            tokio::task::yield_now().await;
            let now = poll.reads.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                last = Instant::now();
            } else if last.elapsed() >= window {
                break;
            }
        }
        poll.spinning.store(false, Ordering::Release);
        // A read between the last look and the store above saw `spinning` set and did not
        // wake us: look once more.
        if poll.reads.load(Ordering::Acquire) != seen && !poll.spinning.swap(true, Ordering::AcqRel)
        {
            poll.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::state::{ServerState, Settings};

    fn state(conf: &str) -> Arc<ServerState> {
        let loaded = rnats_config::load_str(conf, None).expect("config");
        let settings =
            Settings::new(loaded.config, "NTEST", 4222, 0, None, None).expect("settings");
        ServerState::new(Arc::new(settings), "NTEST".into(), None)
    }

    /// Waits (yielding, so the spinner runs) until `done` holds, at most 5 s.
    async fn until(done: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !done() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("in time");
    }

    /// A spinner for a server with `conf`, running (on this one-worker runtime).
    async fn started(conf: &str) -> (Arc<ServerState>, tokio::task::JoinHandle<()>) {
        let state = state(conf);
        let spinner = tokio::spawn(super::run(state.clone()));
        until(|| state.idle_poll.enabled.load(Ordering::Relaxed)).await;
        (state, spinner)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_worker_polls_for_the_window_after_a_read_then_sleeps() {
        let (state, spinner) = started("idle_poll: \"1ms\"").await;
        let poll = &state.idle_poll;
        assert!(!poll.spinning.load(Ordering::Relaxed));
        poll.activity();
        assert!(
            poll.spinning.load(Ordering::Relaxed),
            "a read starts a window"
        );
        until(|| !poll.spinning.load(Ordering::Relaxed)).await;
        // Another read starts another window.
        poll.activity();
        assert!(poll.spinning.load(Ordering::Relaxed));
        until(|| !poll.spinning.load(Ordering::Relaxed)).await;
        state.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), spinner)
            .await
            .expect("the spinner stops at shutdown")
            .expect("no panic");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_zero_window_never_spins() {
        let (state, spinner) = started("idle_poll: 0").await;
        let poll = &state.idle_poll;
        poll.activity();
        until(|| !poll.spinning.load(Ordering::Relaxed)).await;
        state.shutdown.cancel();
        spinner.await.expect("no panic");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_workers_never_spin() {
        let state = state("");
        tokio::spawn(super::run(state.clone()))
            .await
            .expect("returns at once");
        let poll = &state.idle_poll;
        poll.activity();
        assert!(!poll.enabled.load(Ordering::Relaxed));
        assert!(!poll.spinning.load(Ordering::Relaxed), "reads cost nothing");
    }
}
