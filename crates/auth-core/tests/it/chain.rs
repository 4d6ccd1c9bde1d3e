//! `AuthChain` built by hand: nats-server's order, no fallback, and what the chain answers
//! to the broker's questions; `ServerAuth`'s notion of "configured".

use std::sync::Arc;
use std::time::SystemTime;

use nkeys::KeyPair;
use rnats_auth::{
    AllowAll, AuthChain, AuthError, AuthMethod, AuthRequest, Authenticator, Authorized,
    ChainMember, NkeyAuth, NoAuthUser, PasswordAuth, TokenAuth, UserGrant, UserTable,
    hash_password_bcrypt,
};

use crate::{anonymous, login, nkey_login, server, token};

fn users(hashed: bool) -> Arc<UserTable> {
    let mut t = UserTable::new();
    let pw = if hashed {
        hash_password_bcrypt("pw", 4).unwrap()
    } else {
        "pw".to_owned()
    };
    t.insert("alice", Some(&pw), UserGrant::global()).unwrap();
    t.insert("guest", None, UserGrant::new("GUESTS")).unwrap();
    Arc::new(t)
}

#[test]
fn an_nkey_never_falls_back_to_passwords() {
    let known = KeyPair::new_user();
    let mut nkeys = NkeyAuth::new();
    nkeys
        .insert(&known.public_key(), UserGrant::global())
        .unwrap();
    let chain = AuthChain::new()
        .with(nkeys)
        .with(PasswordAuth::new(users(false)));
    let stranger = KeyPair::new_user();
    let mut req = nkey_login(&stranger, "n");
    req.user = Some("alice".into());
    req.pass = Some("pw".into());
    assert!(matches!(
        chain.authenticate(&req),
        Err(AuthError::UnknownNkey { .. })
    ));
    assert_eq!(
        chain.authenticate(&login("alice", "pw")).unwrap().method,
        AuthMethod::Password
    );
}

#[test]
fn nothing_presented_is_the_no_auth_user() {
    let table = users(false);
    let guest = table.grant("guest").unwrap().clone();
    let chain = AuthChain::new()
        .with(NoAuthUser::new("guest", guest))
        .with(PasswordAuth::new(table));
    let who = chain.authenticate(&anonymous()).unwrap();
    assert_eq!(
        (who.account.as_str(), who.identity.as_str(), who.method),
        ("GUESTS", "guest", AuthMethod::NoAuthUser)
    );
    assert_eq!(
        chain.authenticate(&login("alice", "pw")).unwrap().method,
        AuthMethod::Password
    );
    // A token is not "nothing", and no member takes it.
    assert!(matches!(
        chain.authenticate(&token("t")),
        Err(AuthError::NoCredentials)
    ));
    assert!(chain.configured() && !chain.auth_required());
}

#[test]
fn empty_chain_lets_everyone_in_without_being_configured() {
    let chain = AuthChain::new();
    assert!(!chain.configured() && !chain.auth_required() && !chain.needs_nonce());
    let who = chain.authenticate(&login("x", "y")).unwrap();
    assert_eq!((who.account.as_str(), who.method), ("$G", AuthMethod::None));
    let open = AuthChain::new().with(AllowAll);
    assert!(open.configured() && !open.auth_required());
}

#[test]
fn the_chain_answers_for_the_member_that_decides() {
    let known = KeyPair::new_user();
    let mut nkeys = NkeyAuth::new();
    nkeys
        .insert(&known.public_key(), UserGrant::global())
        .unwrap();
    let chain = AuthChain::new()
        .with(nkeys)
        .with(PasswordAuth::new(users(true)))
        .with(TokenAuth::new("t").unwrap());
    assert!(chain.needs_nonce() && chain.auth_required());
    assert!(chain.may_block(&login("alice", "pw")));
    assert!(!chain.may_block(&token("t")));
    assert!(!chain.may_block(&nkey_login(&known, "n")));
    assert!(
        !chain.may_block(&anonymous()),
        "nobody decides: refused at once"
    );
    chain.authenticate(&login("alice", "pw")).unwrap();
    assert!(!chain.may_block(&login("alice", "pw")), "verified recently");
    chain.clear_cache();
    assert!(chain.may_block(&login("alice", "pw")));
}

/// A member written outside the crate, ahead of a built-in one.
#[derive(Debug)]
struct Ticket;

impl Authenticator for Ticket {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        match req.token.as_deref() {
            Some("ticket-1") => Ok(Authorized::new("TICKETS", "t1", AuthMethod::Token)),
            _ => Err(AuthError::BadToken),
        }
    }

    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

impl ChainMember for Ticket {
    fn applies(&self, req: &AuthRequest) -> bool {
        req.token
            .as_deref()
            .is_some_and(|t| t.starts_with("ticket-"))
    }
}

#[test]
fn a_custom_member_takes_its_requests() {
    let chain = AuthChain::new()
        .with(Ticket)
        .with(TokenAuth::new("shared").unwrap());
    assert_eq!(
        chain.authenticate(&token("ticket-1")).unwrap().account,
        "TICKETS"
    );
    assert!(matches!(
        chain.authenticate(&token("ticket-2")),
        Err(AuthError::BadToken)
    ));
    assert_eq!(chain.authenticate(&token("shared")).unwrap().account, "$G");
    let shared: Arc<dyn Authenticator> = Arc::new(chain);
    assert!(
        shared
            .authenticate_at(&token("ticket-1"), SystemTime::now())
            .is_ok()
    );
}

#[test]
fn configured_is_whether_the_file_says_anything_about_auth() {
    // Nothing: the broker never asks.
    let none = server("port: 1");
    assert!(!none.configured() && !none.auth_required());
    // A block without credentials: asked, everyone in.
    let identity_only = format!(
        "accounts {{ A {{ nkey: {} }} }}",
        KeyPair::new_account().public_key()
    );
    for conf in [
        "authorization { timeout: 3 }",
        "accounts { A {} }",
        &identity_only,
    ] {
        let a = server(conf);
        assert!(a.configured() && !a.auth_required(), "{conf}");
        let who = a.authenticate(&login("someone", "x")).unwrap();
        assert_eq!((who.account.as_str(), who.method), ("$G", AuthMethod::None));
    }
    // Credentials: asked, required unless there is a no_auth_user.
    let t = server("authorization { token: t }");
    assert!(t.configured() && t.auth_required());
    let n = server("authorization { users = [ { user: a, password: p } ] }\nno_auth_user: a");
    assert!(n.configured() && !n.auth_required());
}
