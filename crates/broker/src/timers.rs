//! Sans-IO connection timers: the server's PINGs, stale detection and the authentication deadline.
//!
//! The connection task asks [`ConnTimers::poll_timeout`] when to wake and calls
//! [`ConnTimers::handle_timeout`] with the current time; no clock is read here, so the behaviour is
//! tested in microseconds (the quinn-proto way).

use std::time::{Duration, Instant};

/// nats-server sends its first PING to a client after at most this long (to measure RTT).
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// What the connection must do when a timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerAction {
    Nothing,
    SendPing,
    /// `ping_max` PINGs went unanswered: `-ERR 'Stale Connection'` and close.
    Stale,
    /// The client did not authenticate in time: `-ERR 'Authentication Timeout'` and close.
    AuthTimeout,
    /// The credentials' validity ended: `-ERR 'User Authentication Expired'` and close.
    Expired,
}

#[derive(Debug)]
pub(crate) struct ConnTimers {
    ping_interval: Duration,
    ping_max: u32,
    next_ping: Instant,
    pings_out: u32,
    last_in: Instant,
    /// No PONG seen yet: the first PINGs are sent even if the client is busy sending.
    need_rtt: bool,
    auth_deadline: Option<Instant>,
    expires: Option<Instant>,
}

impl ConnTimers {
    /// `jitter` (0.0..1.0) spreads the first PING over 20 % of the first interval, as nats-server.
    pub(crate) fn new(
        now: Instant,
        ping_interval: Duration,
        ping_max: u32,
        auth_timeout: Option<Duration>,
        jitter: f64,
    ) -> Self {
        let first = ping_interval.min(FIRST_PING_INTERVAL);
        let first = first + first.mul_f64(jitter.clamp(0.0, 1.0) / 5.0);
        Self {
            ping_interval,
            ping_max,
            next_ping: now + first,
            pings_out: 0,
            last_in: now,
            need_rtt: true,
            auth_deadline: auth_timeout.map(|d| now + d),
            expires: None,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Instant {
        [self.auth_deadline, self.expires]
            .into_iter()
            .flatten()
            .fold(self.next_ping, Instant::min)
    }

    /// When the connection's credentials stop being valid (`None`: never).
    pub(crate) fn set_expiry(&mut self, at: Option<Instant>) {
        self.expires = at;
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) -> TimerAction {
        if let Some(deadline) = self.auth_deadline
            && now >= deadline
        {
            self.auth_deadline = None;
            return TimerAction::AuthTimeout;
        }
        if self.expires.is_some_and(|at| now >= at) {
            self.expires = None;
            return TimerAction::Expired;
        }
        if now < self.next_ping {
            return TimerAction::Nothing;
        }
        self.next_ping = now + self.ping_interval;
        let idle = now.saturating_duration_since(self.last_in);
        if !self.need_rtt && idle < self.ping_interval {
            return TimerAction::Nothing;
        }
        if self.pings_out + 1 > self.ping_max {
            return TimerAction::Stale;
        }
        self.pings_out += 1;
        TimerAction::SendPing
    }

    /// Any bytes from the client.
    pub(crate) fn on_input(&mut self, now: Instant) {
        self.last_in = now;
    }

    pub(crate) fn on_pong(&mut self) {
        self.pings_out = 0;
        self.need_rtt = false;
    }

    /// The client authenticated: the deadline no longer applies.
    pub(crate) fn on_authenticated(&mut self) {
        self.auth_deadline = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn stale_after_ping_max_unanswered() {
        let t0 = Instant::now();
        let mut t = ConnTimers::new(t0, 100 * MS, 2, None, 0.0);
        assert_eq!(t.poll_timeout(), t0 + 100 * MS);
        assert_eq!(t.handle_timeout(t0 + 50 * MS), TimerAction::Nothing);
        assert_eq!(t.handle_timeout(t0 + 100 * MS), TimerAction::SendPing);
        assert_eq!(t.handle_timeout(t0 + 200 * MS), TimerAction::SendPing);
        assert_eq!(t.handle_timeout(t0 + 300 * MS), TimerAction::Stale);
    }

    #[test]
    fn pong_resets_and_activity_delays_pings() {
        let t0 = Instant::now();
        let mut t = ConnTimers::new(t0, 100 * MS, 2, None, 0.0);
        assert_eq!(t.handle_timeout(t0 + 100 * MS), TimerAction::SendPing);
        t.on_pong();
        t.on_input(t0 + 150 * MS);
        // Data came in within the interval: no PING needed.
        assert_eq!(t.handle_timeout(t0 + 200 * MS), TimerAction::Nothing);
        assert_eq!(t.handle_timeout(t0 + 300 * MS), TimerAction::SendPing);
        assert_eq!(t.handle_timeout(t0 + 400 * MS), TimerAction::SendPing);
        assert_eq!(t.handle_timeout(t0 + 500 * MS), TimerAction::Stale);
    }

    #[test]
    fn first_ping_is_capped_at_two_seconds() {
        let t0 = Instant::now();
        let t = ConnTimers::new(t0, Duration::from_secs(120), 2, None, 1.0);
        assert_eq!(t.poll_timeout(), t0 + Duration::from_millis(2400));
    }

    #[test]
    fn expiry_fires() {
        let t0 = Instant::now();
        let mut t = ConnTimers::new(t0, Duration::from_secs(120), 2, None, 0.0);
        t.set_expiry(Some(t0 + 10 * MS));
        assert_eq!(t.poll_timeout(), t0 + 10 * MS);
        assert_eq!(t.handle_timeout(t0 + 10 * MS), TimerAction::Expired);
        assert_eq!(t.poll_timeout(), t0 + 2000 * MS);
    }

    #[test]
    fn auth_deadline_fires_once_and_can_be_cleared() {
        let t0 = Instant::now();
        let mut t = ConnTimers::new(t0, Duration::from_secs(120), 2, Some(50 * MS), 0.0);
        assert_eq!(t.poll_timeout(), t0 + 50 * MS);
        assert_eq!(t.handle_timeout(t0 + 50 * MS), TimerAction::AuthTimeout);
        let mut t = ConnTimers::new(t0, Duration::from_secs(120), 2, Some(50 * MS), 0.0);
        t.on_authenticated();
        assert_eq!(t.handle_timeout(t0 + 50 * MS), TimerAction::Nothing);
    }
}
