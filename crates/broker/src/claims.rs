//! Account JWT updates and lookups on the system account (operator mode), as nats-server's
//! resolvers serve them (accounts.go `DirAccResolver.Start`, events.go `accountClaimUpdate`):
//!
//! | subject | resolver | answer |
//! |---|---|---|
//! | `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`, `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE` | all | `jwt updated` (memory, URL: only for a loaded account, else `jwt update skipped`; cache: `jwt updated cache`, loaded accounts only) |
//! | `$SYS.REQ.CLAIMS.UPDATE` | full, cache | `jwt updated` (cache: as above) |
//! | `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP` | full | the JWT, or an empty message |
//! | `$SYS.REQ.CLAIMS.LIST` | full, cache | `{"server":…,"data":[ids]}` |
//! | `$SYS.REQ.CLAIMS.DELETE` | full, cache | `deleted N accounts` (full: needs `allow_delete`) |
//!
//! The remote resolvers (URL, cache) are served here too: the cache resolver's lookups are
//! sent by this task's internal client, and an account either fetched is put in force here
//! before the login that fetched it goes on.
//!
//! Only system-account clients can publish there, which is the real guard: the full resolver
//! stores any JWT that decodes (as nats-server's does) and trust is checked when it is put in
//! force. A JWT put in force for an account rebuilds the settings and makes that account's
//! live connections check themselves again (`reload_epoch`, `Settings::recheck_only`), so
//! revocations, lowered `conn` limits, removed signing keys and new permissions act at once,
//! and an update costs no signature checks for other accounts' clients. The same task wakes when a loaded
//! account JWT expires.

use crate::monitor::sys::ServerInfo;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use crate::operator::JwtMode;
use crate::resolver_cache::LookupJob;
use crate::state::ServerState;
use crate::system::{InternalClient, InternalError, InternalSubscription, Message};

const UPDATE_NEW: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE";
const UPDATE_OLD: &str = "$SYS.ACCOUNT.*.CLAIMS.UPDATE";
const UPDATE_ANY: &str = "$SYS.REQ.CLAIMS.UPDATE";
const LOOKUP: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP";
const LIST: &str = "$SYS.REQ.CLAIMS.LIST";
const DELETE: &str = "$SYS.REQ.CLAIMS.DELETE";

/// The longest the expiry watch sleeps before looking again (accounts loaded later may expire
/// sooner; an update also wakes it).
const EXPIRY_RECHECK: Duration = Duration::from_secs(60);

/// Starts the claim services of `jwt` on the system account, on the server's task tracker.
pub(crate) fn start(state: &Arc<ServerState>, jwt: Arc<JwtMode>) {
    let system = state.settings().system_account();
    let client = InternalClient::new(state, &system);
    let mut subs = Vec::new();
    let mut subjects = vec![UPDATE_NEW, UPDATE_OLD];
    if jwt.full {
        subjects.extend([UPDATE_ANY, LOOKUP, LIST, DELETE]);
    } else if jwt.cache {
        // accounts.go CacheDirAccResolver.Start: no lookups, it asks them.
        subjects.extend([UPDATE_ANY, LIST, DELETE]);
    }
    for subject in subjects {
        match client.subscribe(subject, None) {
            Ok(sub) => subs.push((subject, sub)),
            Err(e) => tracing::error!("Error setting up account claim handling on {subject}: {e}"),
        }
    }
    let lookups = jwt.lookup.as_ref().and_then(|l| l.connect());
    let fetched = jwt.accounts.resolver().is_remote().then(|| {
        let (tx, rx) = tokio::sync::mpsc::channel::<Fetched>(FETCHED_QUEUE);
        jwt.accounts.on_fetched(Box::new(move |key: &str| {
            // Called on the worker thread that fetched `key`: the login goes on once the
            // account's imports, exports and mappings are in force (or after a while).
            let (ack, done) = std::sync::mpsc::sync_channel(1);
            if tx.try_send((key.to_owned(), ack)).is_ok() {
                let _ = done.recv_timeout(FETCHED_WAIT);
            } else {
                tracing::warn!("Account {key} fetched but not put in force: too many updates");
            }
        }));
        rx
    });
    if fetched.is_some()
        && let Some(system) = jwt.system_account().map(str::to_owned)
    {
        // nats-server looks the system account up when it starts.
        let accounts = jwt.accounts.clone();
        state.tracker.spawn_blocking(move || {
            if let Err(reason) = accounts.get(&system, SystemTime::now()) {
                tracing::warn!("System account {system} not loaded: {reason}");
            }
        });
    }
    let services = Services {
        state: state.clone(),
        jwt,
        client,
    };
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        tokio::select! {
            () = services.serve(subs, lookups, fetched) => {}
            () = shutdown.cancelled() => {}
        }
    });
}

/// An account a remote resolver fetched, and who waits until it is in force.
type Fetched = (String, std::sync::mpsc::SyncSender<()>);

/// Most fetched accounts waiting to be put in force.
const FETCHED_QUEUE: usize = 64;
/// How long a login waits for its fetched account to be put in force.
const FETCHED_WAIT: Duration = Duration::from_secs(2);

struct Services {
    state: Arc<ServerState>,
    jwt: Arc<JwtMode>,
    client: InternalClient,
}

/// One request: which service, and the message.
type Request = (&'static str, Message);

impl Services {
    async fn serve(
        self,
        subs: Vec<(&'static str, InternalSubscription)>,
        lookups: Option<tokio::sync::mpsc::Receiver<LookupJob>>,
        fetched: Option<tokio::sync::mpsc::Receiver<Fetched>>,
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Request>(64);
        for (subject, mut sub) in subs {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    if tx.send((subject, m)).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        if let Some(mut lookups) = lookups {
            let client = self.client.clone();
            let timeout = self
                .jwt
                .lookup
                .as_ref()
                .map_or(Duration::ZERO, |l| l.timeout());
            tokio::spawn(async move {
                while let Some((key, answer)) = lookups.recv().await {
                    let client = client.clone();
                    tokio::spawn(async move {
                        let _ = answer.send(lookup(&client, &key, timeout).await);
                    });
                }
            });
        }
        let mut fetched = fetched;
        let mut checked = SystemTime::now();
        loop {
            let wake = self.next_expiry();
            tokio::select! {
                request = rx.recv() => match request {
                    Some((subject, m)) => self.handle(subject, &m),
                    None => return,
                },
                next = async {
                    match fetched.as_mut() {
                        Some(f) => f.recv().await,
                        None => std::future::pending().await,
                    }
                } => match next {
                    Some((key, ack)) => {
                        self.put_in_force(Some(&key));
                        let _ = ack.try_send(());
                        self.fetch_imports(&key);
                    }
                    None => fetched = None,
                },
                () = tokio::time::sleep(wake) => {
                    // An account JWT expired: its clients check themselves and are closed.
                    let now = SystemTime::now();
                    if self.expired_between(checked, now) {
                        self.put_in_force(None);
                    }
                    checked = now;
                }
            }
        }
    }

    /// Fetches, off the task, the accounts a fetched account imports from that are not
    /// loaded yet (nats-server looks them up while it builds the account); each is put in
    /// force when it arrives, which links the import.
    fn fetch_imports(&self, key: &str) {
        let Some(account) = self.jwt.accounts.loaded_account(key) else {
            return;
        };
        for import in &account.claims.imports {
            let exporter = import.account.clone();
            if exporter == key || self.jwt.accounts.loaded_account(&exporter).is_some() {
                continue;
            }
            let accounts = self.jwt.accounts.clone();
            self.state.tracker.spawn_blocking(move || {
                if let Err(reason) = accounts.get(&exporter, SystemTime::now()) {
                    tracing::warn!("Account {exporter} for an import not loaded: {reason}");
                }
            });
        }
    }

    /// How long until the next loaded account JWT expires (bounded).
    fn next_expiry(&self) -> Duration {
        let now = SystemTime::now();
        self.jwt
            .accounts
            .loaded()
            .iter()
            .filter_map(|a| a.claims.expires)
            .filter_map(|exp| exp.duration_since(now).ok())
            .map(|d| d + Duration::from_millis(1))
            .min()
            .unwrap_or(EXPIRY_RECHECK)
            .min(EXPIRY_RECHECK)
    }

    /// Whether a loaded account JWT expired after `from`, up to `to`.
    fn expired_between(&self, from: SystemTime, to: SystemTime) -> bool {
        self.jwt
            .accounts
            .loaded()
            .iter()
            .filter_map(|a| a.claims.expires)
            .any(|exp| exp > from && exp <= to)
    }

    fn handle(&self, service: &str, m: &Message) {
        let subject = String::from_utf8_lossy(&m.subject);
        let reply = m
            .reply
            .as_ref()
            .map(|r| String::from_utf8_lossy(r).into_owned());
        let body = String::from_utf8_lossy(&m.payload);
        let body = body.trim();
        match service {
            UPDATE_NEW | UPDATE_OLD => {
                // `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` or `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`.
                let tokens: Vec<&str> = subject.split('.').collect();
                let key = match tokens.len() {
                    6 => tokens[3],
                    5 => tokens[2],
                    _ => return,
                };
                let answer = if self.jwt.full {
                    self.store(body, Some(key))
                } else if self.jwt.cache {
                    self.update_cache(body, Some(key))
                } else {
                    self.update_loaded(body, key)
                };
                self.respond(reply.as_deref(), answer);
            }
            UPDATE_ANY => {
                let answer = if self.jwt.cache {
                    self.update_cache(body, None)
                } else {
                    self.store(body, None)
                };
                self.respond(reply.as_deref(), answer);
            }
            LOOKUP => {
                let Some(reply) = reply else { return };
                let key = subject.split('.').nth(3).unwrap_or_default();
                let jwt = self.jwt.accounts.resolver().fetch(key).unwrap_or_default();
                let _ = self.client.publish(&reply, None, None, jwt.as_bytes());
            }
            LIST => {
                let Some(reply) = reply else { return };
                let ids = self.jwt.accounts.resolver().list();
                // A Go map: its keys come out sorted, `data` first.
                let payload = json!({"data": ids, "server": self.server_info()});
                let _ = self
                    .client
                    .publish(&reply, None, None, payload.to_string().as_bytes());
            }
            DELETE => {
                let answer = self.delete(body);
                self.respond(reply.as_deref(), answer);
            }
            _ => {}
        }
    }

    /// A memory resolver's update (events.go `accountClaimUpdate`): only for an account that
    /// is loaded.
    fn update_loaded(&self, body: &str, key: &str) -> Answer {
        if body.is_empty() {
            return Answer::error(key, "jwt update error", "request body is empty");
        }
        let claims = match rnats_jwt::decode_account(body) {
            Ok(c) => c,
            Err(e) => return Answer::error(key, "jwt update resulted in error", e),
        };
        if claims.subject != key {
            return Answer::error(
                key,
                "jwt update resulted in error",
                "subject does not match jwt content",
            );
        }
        if self.jwt.accounts.loaded_account(key).is_none() {
            return Answer::ok(key, "jwt update skipped");
        }
        if let Err(reason) = self.put_jwt_in_force(body, key) {
            return Answer::error(key, "jwt update resulted in error", reason);
        }
        Answer::ok(key, "jwt updated")
    }

    /// A cache resolver's update (accounts.go `CacheDirAccResolver.Start`): stored and put
    /// in force only for an account that is loaded.
    fn update_cache(&self, body: &str, key: Option<&str>) -> Answer {
        const FAILED: &str = "jwt update cache resulted in error";
        let claims = match rnats_jwt::decode_account(body) {
            Ok(c) => c,
            Err(e) => return Answer::error(key.unwrap_or("n/a"), FAILED, e),
        };
        let account = key.unwrap_or(&claims.subject).to_owned();
        if key.is_some_and(|k| k != claims.subject) {
            return Answer::error(&account, FAILED, "subject does not match jwt content");
        }
        if let Some(op) = self.jwt.accounts.trust().first_is_strict()
            && claims.issuer == op
        {
            return Answer::error(
                &account,
                FAILED,
                "operator requires issuer to be a signing key",
            );
        }
        if self.jwt.accounts.loaded_account(&account).is_none() {
            return Answer::ok(&account, "jwt update cache skipped");
        }
        if let Err(reason) = rnats_auth::validate_account(&claims) {
            return Answer::error(
                &claims.subject,
                "jwt update cache validation failed",
                reason,
            );
        }
        match self.jwt.accounts.resolver().store(&account, body) {
            Err(e) => Answer::error(&account, FAILED, e),
            Ok(changed) => {
                if changed && let Err(reason) = self.put_jwt_in_force(body, &account) {
                    tracing::error!(
                        "DirResolver - Update resulted in error {reason} ({:?})",
                        account
                    );
                }
                Answer::ok(&account, "jwt updated cache")
            }
        }
    }

    /// A full resolver's update: checked as nats-server checks it, stored, then put in force.
    fn store(&self, body: &str, key: Option<&str>) -> Answer {
        let claims = match rnats_jwt::decode_account(body) {
            Ok(c) => c,
            Err(e) => {
                return Answer::error(key.unwrap_or("n/a"), "jwt update resulted in error", e);
            }
        };
        let account = key.unwrap_or(&claims.subject).to_owned();
        if let Err(reason) = rnats_auth::validate_account(&claims) {
            return Answer::error(&claims.subject, "jwt validation failed", reason);
        }
        if let Some(op) = self.jwt.accounts.trust().first_is_strict()
            && claims.issuer == op
        {
            return Answer::error(
                &account,
                "jwt update resulted in error",
                "operator requires issuer to be a signing key",
            );
        }
        if key.is_some_and(|k| k != claims.subject) {
            return Answer::error(
                &account,
                "jwt update resulted in error",
                "subject does not match jwt content",
            );
        }
        match self.jwt.accounts.resolver().store(&claims.subject, body) {
            Err(e) => Answer::error(&account, "jwt update resulted in error", e),
            Ok(changed) => {
                if changed && let Err(reason) = self.put_jwt_in_force(body, &claims.subject) {
                    // nats-server answers "jwt updated" (the store took it) and logs this.
                    tracing::error!(
                        "DirResolver - Update for account {:?} resulted in error {reason}",
                        claims.subject
                    );
                }
                Answer::ok(&account, "jwt updated")
            }
        }
    }

    /// `$SYS.REQ.CLAIMS.DELETE` (accounts.go `handleDeleteRequest`).
    fn delete(&self, body: &str) -> Answer {
        let mut subject = String::new();
        let checked = (|| -> Result<Vec<String>, String> {
            let g = rnats_jwt::decode_generic(body).map_err(|e| e.to_string())?;
            subject.clone_from(&g.subject);
            if !self.jwt.deletes {
                return Err("delete must be enabled in server config".to_owned());
            }
            if g.subject != g.issuer {
                return Err("not self signed".to_owned());
            }
            if !self.jwt.accounts.trust().may_delete(&g.issuer) {
                return Err("not trusted".to_owned());
            }
            let Some(Value::Array(list)) = g.data.get("accounts") else {
                return Err("malformed request".to_owned());
            };
            let system = self.jwt.system_account().unwrap_or_default();
            let mut ids = Vec::new();
            for entry in list {
                let id = entry.as_str().unwrap_or_default();
                let valid = nkeys::KeyPair::from_public_key(id)
                    .is_ok_and(|k| k.key_pair_type() == nkeys::KeyPairType::Account);
                if !valid {
                    return Err("malformed request".to_owned());
                }
                if id == system {
                    return Err("not allowed to delete system account".to_owned());
                }
                ids.push(id.to_owned());
            }
            Ok(ids)
        })();
        let ids = match checked {
            Ok(ids) => ids,
            Err(e) => {
                return Answer::error(
                    "",
                    &format!("delete accounts request by {subject} failed"),
                    e,
                );
            }
        };
        let mut errors = Vec::new();
        for id in &ids {
            match self.jwt.accounts.resolver().delete(id) {
                Ok(()) => {
                    self.jwt.accounts.unload(id);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        self.put_in_force(None);
        let passed = ids.len() - errors.len();
        if errors.is_empty() {
            Answer::ok("", &format!("deleted {passed} accounts"))
        } else {
            Answer::error(
                "",
                &format!("deleted {passed} accounts, failed for {}", errors.len()),
                errors.join("\n"),
            )
        }
    }

    /// Verifies `jwt` for account `key` and puts it in force.
    fn put_jwt_in_force(&self, jwt: &str, key: &str) -> Result<(), String> {
        self.jwt
            .accounts
            .load(jwt, Some(key), SystemTime::now())
            .map_err(|_| "account validation failed".to_owned())?;
        // A new JWT for one account concerns only that account's connections.
        self.put_in_force(Some(key));
        Ok(())
    }

    /// Rebuilds the settings from the accounts now loaded and has the live connections check
    /// themselves against them: those of `account`, or every one (`None`).
    fn put_in_force(&self, account: Option<&str>) {
        if let Err(e) = self.state.rebuild_settings(account) {
            tracing::error!("Account update not applied: {e}");
        }
    }

    fn respond(&self, reply: Option<&str>, answer: Answer) {
        match &answer {
            Answer::Ok { account, message } => {
                tracing::debug!("{message} - {account}");
            }
            Answer::Error {
                account,
                description,
            } => tracing::error!("{description} - {account}"),
        }
        let Some(reply) = reply else { return };
        let server = self.server_info();
        let body = match answer {
            Answer::Ok { account, message } => UpdateReply {
                server,
                data: Some(Status {
                    account,
                    code: 200,
                    message,
                }),
                error: None,
            },
            Answer::Error {
                account,
                description,
            } => UpdateReply {
                server,
                data: None,
                error: Some(Failure {
                    account,
                    code: 500,
                    description,
                }),
            },
        };
        if let Ok(body) = serde_json::to_vec(&body) {
            let _ = self.client.publish(reply, None, None, &body);
        }
    }

    /// The `server` object of the replies (without JetStream's `feature_flags`, as
    /// nats-server writes claim-update replies).
    fn server_info(&self) -> ServerInfo {
        crate::monitor::sys::server_info(&self.state, false)
    }
}

/// A cache resolver's lookup (server.go `fetch`): the first answer to
/// `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`, an empty one meaning the account is unknown.
async fn lookup(client: &InternalClient, key: &str, timeout: Duration) -> Result<String, String> {
    let subject = format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP");
    match client.request(&subject, b"", timeout).await {
        Ok(m) if m.payload.is_empty() => Err("account jwt not found".to_owned()),
        Ok(m) => String::from_utf8(m.payload.to_vec()).map_err(|_| "invalid JWT".to_owned()),
        // nats-server waits for an answer until the timeout either way.
        Err(InternalError::NoResponders | InternalError::Timeout) => {
            Err("fetching jwt timed out".to_owned())
        }
        Err(e) => Err(format!("fetching jwt failed: {e}")),
    }
}

/// `ServerAPIClaimUpdateResponse`.
#[derive(Serialize)]
struct UpdateReply {
    server: ServerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
}

/// `ClaimUpdateStatus`.
#[derive(Serialize)]
struct Status {
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    code: u16,
    message: String,
}

/// `ClaimUpdateError`.
#[derive(Serialize)]
struct Failure {
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    code: u16,
    description: String,
}

/// What a claim request is answered with.
enum Answer {
    Ok {
        account: String,
        message: String,
    },
    Error {
        account: String,
        description: String,
    },
}

impl Answer {
    fn ok(account: &str, message: &str) -> Self {
        Self::Ok {
            account: account.to_owned(),
            message: message.to_owned(),
        }
    }

    /// nats-server's `"<message> - <error>"`.
    fn error(account: &str, message: &str, err: impl std::fmt::Display) -> Self {
        Self::Error {
            account: account.to_owned(),
            description: format!("{message} - {err}"),
        }
    }
}
