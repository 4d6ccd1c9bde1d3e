use std::time::Duration;

use rnats_jwt::{Permission, encode_authorization_response, encode_user};

use super::*;

struct Fixture {
    policy: CalloutPolicy,
    issuer: KeyPair,
    server: KeyPair,
    server_xkey: XKey,
    service_xkey: XKey,
}

fn fixture(local_first: bool, xkey: bool, allowed: &[&str]) -> Fixture {
    let issuer = KeyPair::new_account();
    let service_xkey = XKey::new();
    let mut cfg = AuthCalloutConfig::default();
    cfg.issuer = issuer.public_key();
    cfg.account = "AUTH".into();
    cfg.auth_users = vec!["auth".into()];
    cfg.xkey = xkey.then(|| service_xkey.public_key());
    cfg.allowed_accounts = allowed.iter().map(|a| (*a).to_owned()).collect();
    cfg.local_first = local_first;
    let accounts = vec![("AUTH".into(), None), ("APP".into(), None)];
    Fixture {
        policy: CalloutPolicy::new(&cfg, accounts, &[], &["auth".into()]),
        issuer,
        server: KeyPair::new_server(),
        server_xkey: XKey::new(),
        service_xkey,
    }
}

fn request(user: &str) -> AuthRequest {
    let mut r = AuthRequest::new("127.0.0.1:4000".parse().unwrap(), ConnectionType::Standard);
    r.user = Some(user.into());
    r.pass = Some("s3cret".into());
    r
}

impl Fixture {
    fn pending(&self, req: &AuthRequest) -> PendingCallout {
        let server = ServerId {
            id: self.server.public_key(),
            ..ServerId::default()
        };
        let identity = ServerIdentity {
            server,
            key: &self.server,
            xkey: &self.server_xkey,
        };
        let expires = SystemTime::now() + Duration::from_secs(2);
        self.policy
            .request(identity, req, &ClientDetails::default(), expires)
            .unwrap()
    }

    /// A response to `pending` with a user JWT for `sub` placed in `aud`.
    fn response(
        &self,
        pending: &PendingCallout,
        edit: impl FnOnce(&mut AuthorizationResponseClaims, &mut UserClaims),
    ) -> Vec<u8> {
        let mut r = AuthorizationResponseClaims::new(&pending.user_nkey, &pending.server_id);
        let mut u = UserClaims::new(&pending.user_nkey, self.issuer.public_key());
        u.audience = Some("APP".into());
        edit(&mut r, &mut u);
        if r.error.is_none() && r.jwt.is_none() {
            r.jwt = Some(encode_user(&u, &self.issuer));
        }
        encode_authorization_response(&r, &self.issuer)
            .unwrap()
            .into_bytes()
    }

    fn verify(&self, pending: &PendingCallout, body: &[u8]) -> Result<Authorized, String> {
        self.policy
            .verify_response(
                pending,
                &self.server_xkey,
                body,
                &request("alice"),
                SystemTime::now(),
            )
            .map_err(|e| e.0)
    }
}

#[test]
fn who_is_delegated() {
    let f = fixture(false, false, &[]);
    let ok = |account: &str| Ok(Authorized::new(account, "x", AuthMethod::Password));
    let refused = || Err(AuthError::UnknownUser { user: "x".into() });
    assert!(f.policy.delegates(&refused(), &request("alice")));
    assert!(f.policy.delegates(&ok("$G"), &request("alice")));
    assert!(f.policy.delegates(&ok("APP"), &request("alice")));
    // The auth users never are, whatever the local answer.
    assert!(!f.policy.delegates(&ok("AUTH"), &request("auth")));
    assert!(!f.policy.delegates(&refused(), &request("auth")));
    // allowed_accounts filters locally authenticated users of other accounts only.
    let f = fixture(false, false, &["APP"]);
    assert!(f.policy.delegates(&ok("APP"), &request("alice")));
    assert!(!f.policy.delegates(&ok("AUTH"), &request("bob")));
    assert!(f.policy.delegates(&ok("$G"), &request("alice")));
    assert!(f.policy.delegates(&refused(), &request("alice")));
    // local_first: whoever the local rules let in stays local.
    let f = fixture(true, false, &[]);
    assert!(!f.policy.delegates(&ok("APP"), &request("alice")));
    assert!(f.policy.delegates(&refused(), &request("alice")));
}

#[test]
fn the_request_is_signed_by_the_server_and_names_a_fresh_user() {
    let f = fixture(false, false, &[]);
    let a = f.pending(&request("alice"));
    let b = f.pending(&request("alice"));
    assert_ne!(a.user_nkey, b.user_nkey);
    assert!(a.xkey_header.is_none());
    let claims =
        rnats_jwt::decode_authorization_request(std::str::from_utf8(&a.payload).unwrap()).unwrap();
    assert_eq!(claims.issuer, f.server.public_key());
    assert_eq!(claims.subject, f.issuer.public_key());
    assert_eq!(claims.audience.as_deref(), Some(CALLOUT_AUDIENCE));
    assert_eq!(claims.user_nkey, a.user_nkey);
    assert_eq!(claims.client_info.user, "alice");
    assert_eq!(claims.connect_options.password, "s3cret");
    assert!(claims.expires.is_some());
}

#[test]
fn a_good_answer_places_the_user_with_its_permissions_and_expiry() {
    let f = fixture(false, false, &[]);
    let p = f.pending(&request("alice"));
    let exp = SystemTime::now() + Duration::from_secs(3600);
    let body = f.response(&p, |_, u| {
        u.name = Some("Alice".into());
        u.permissions.publish = Permission::allow(["app.>"]);
        u.expires = Some(exp);
    });
    let who = f.verify(&p, &body).unwrap();
    assert_eq!(who.account, "APP");
    assert_eq!(who.identity, "Alice");
    assert_eq!(who.method, AuthMethod::Callout);
    let perms = who.permissions.unwrap();
    assert!(perms.may_publish(b"app.x") && !perms.may_publish(b"other"));
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(who.expires.map(secs), Some(secs(exp)));
}

#[test]
fn refusals_carry_nats_server_reasons() {
    let f = fixture(false, false, &[]);
    let p = f.pending(&request("alice"));
    let other = KeyPair::new_account();
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            Vec::new(),
            "Auth callout violation: \"no reason supplied\" on account \"AUTH\"".into(),
        ),
        (
            f.response(&p, |r, _| r.error = Some("go away".into())),
            "Auth callout service returned an error: go away".into(),
        ),
        (
            f.response(&p, |r, _| r.subject = KeyPair::new_user().public_key()),
            "Auth callout violation: auth callout response is not for expected user".into(),
        ),
        (
            f.response(&p, |r, _| {
                r.audience = Some(KeyPair::new_server().public_key());
            }),
            "Auth callout violation: auth callout response is not for server".into(),
        ),
        (
            f.response(&p, |r, _| r.audience = Some("me".into())),
            "Authorization response had validation errors: Audience must be a server public key"
                .into(),
        ),
        (
            f.response(&p, |_, u| u.subject = KeyPair::new_user().public_key()),
            String::new(),
        ),
        (
            f.response(&p, |r, u| {
                u.issuer = other.public_key();
                r.jwt = Some(encode_user(u, &other));
            }),
            format!(
                "Wrong issuer for auth callout response on account \"AUTH\", expected {:?} got {:?}",
                f.issuer.public_key(),
                other.public_key()
            ),
        ),
        (
            f.response(&p, |_, u| u.audience = Some("NOPE".into())),
            "No valid account \"NOPE\" for auth callout response on account \"AUTH\": account not found".into(),
        ),
        (
            f.response(&p, |_, u| u.allowed_connection_types = vec!["MQTT".into()]),
            "Authorized user on account \"AUTH\" using invalid connection type".into(),
        ),
    ];
    for (body, reason) in cases {
        let got = f.verify(&p, &body).unwrap_err();
        if reason.is_empty() {
            assert!(got.starts_with("Expected authorized user of"), "{got}");
        } else {
            assert_eq!(got, reason);
        }
    }
    // Signed by a key the callout does not know (checked after the service's error, as
    // nats-server does).
    let mut r = AuthorizationResponseClaims::new(&p.user_nkey, &p.server_id);
    r.jwt = Some("eyJ.not.checked".into());
    let body = encode_authorization_response(&r, &other).unwrap();
    assert_eq!(
        f.verify(&p, body.as_bytes()).unwrap_err(),
        "Auth callout signing key is unknown"
    );
}

#[test]
fn sealed_both_ways_with_xkeys() {
    let f = fixture(false, true, &[]);
    let p = f.pending(&request("alice"));
    assert_eq!(p.xkey_header, Some(f.server_xkey.public_key()));
    assert!(!p.payload.starts_with(JWT_PREFIX));
    let opened = f.service_xkey.open(&p.payload, &f.server_xkey).unwrap();
    let claims =
        rnats_jwt::decode_authorization_request(std::str::from_utf8(&opened).unwrap()).unwrap();
    assert_eq!(claims.server.xkey, f.server_xkey.public_key());
    let body = f.response(&p, |_, _| {});
    let sealed = f.service_xkey.seal(&body, &f.server_xkey).unwrap();
    assert_eq!(f.verify(&p, &sealed).unwrap().account, "APP");
    // A plain answer is still read.
    assert_eq!(f.verify(&p, &body).unwrap().account, "APP");
    // Garbage that is not a JWT must open.
    assert!(
        f.verify(&p, b"xkv1garbage")
            .unwrap_err()
            .starts_with("Error decrypting auth callout response on account \"AUTH\"")
    );
}

#[test]
fn the_callout_account_may_not_publish_requests() {
    let f = fixture(false, false, &[]);
    let mut a = Authorized::new("AUTH", "auth", AuthMethod::Password);
    f.policy.restrict(&mut a);
    let p = a.permissions.unwrap();
    assert!(!p.may_publish(CALLOUT_SUBJECT.as_bytes()));
    assert!(p.may_publish(b"_INBOX.x"));
    let mut b = Authorized::new("APP", "x", AuthMethod::Password);
    f.policy.restrict(&mut b);
    assert!(b.permissions.is_none());
}
