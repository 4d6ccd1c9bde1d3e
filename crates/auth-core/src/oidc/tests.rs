//! Unit tests: every check of a token, with keys given directly or through a fake fetcher.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rnats_test_support::oidc::{SigningKey, alg_none_token, hmac_token, jwks, now_secs};
use serde_json::{Value, json};

use super::*;
use crate::methods::test_util::{login, token};

const ISS: &str = "https://idp.example.com/realms/nats";

fn config(extra: &str) -> ServerConfig {
    rnats_config::load_str(
        &format!(
            r#"accounts {{ APP {{}}, OPS {{}} }}
authorization {{
  oidc: [ {{ issuer: "{ISS}", audience: ["nats"], jwks_url: "http://127.0.0.1:9/certs", {extra} }} ]
}}"#
        ),
        None,
    )
    .unwrap()
    .config
}

fn auth_with(extra: &str, keys: &[&SigningKey]) -> OidcAuth {
    let set = KeySet::parse(jwks(keys).as_bytes()).unwrap();
    OidcAuth::with_keys(&config(extra), vec![set]).unwrap()
}

fn good_claims() -> Value {
    let now = now_secs();
    json!({"iss": ISS, "aud": "nats", "sub": "u-1", "exp": now + 300, "iat": now,
           "preferred_username": "alice", "groups": ["admin", "dev"], "nats_account": "OPS"})
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn reason(r: Result<Authorized, AuthError>) -> String {
    match r {
        Err(AuthError::Oidc { reason, .. }) => reason,
        other => panic!("expected an oidc refusal, got {other:?}"),
    }
}

#[test]
fn every_algorithm_verifies() {
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    ] {
        let key = SigningKey::new(alg, &format!("k-{alg}"));
        let auth = auth_with("", &[&key]);
        let claims = good_claims();
        let req = token(&key.sign(&claims));
        assert!(auth.applies(&req), "{alg}");
        assert!(!auth.may_block(&req), "{alg}: known key, no fetch");
        let who = auth
            .authenticate(&req)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(
            (who.account.as_str(), who.identity.as_str(), who.method),
            ("$G", "u-1", AuthMethod::Oidc),
            "{alg}"
        );
        assert!(who.permissions.is_none(), "no permissions configured");
        let exp = claims["exp"].as_u64().unwrap();
        assert_eq!(who.expires, Some(UNIX_EPOCH + Duration::from_secs(exp)));
    }
}

#[test]
fn time_claims_with_leeway() {
    let key = SigningKey::new("ES256", "k1");
    let auth = auth_with("leeway: \"10s\"", &[&key]);
    let now = now_secs();
    let expired = with(good_claims(), "exp", json!(now - 60));
    assert_eq!(
        reason(auth.authenticate(&token(&key.sign(&expired)))),
        "Token has expired"
    );
    let in_leeway = with(good_claims(), "exp", json!(now - 5));
    auth.authenticate(&token(&key.sign(&in_leeway))).unwrap();
    let not_yet = with(good_claims(), "nbf", json!(now + 60));
    assert!(reason(auth.authenticate(&token(&key.sign(&not_yet)))).contains("not valid yet"));
    let future_iat = with(good_claims(), "iat", json!(now + 60));
    assert!(!reason(auth.authenticate(&token(&key.sign(&future_iat)))).is_empty());
    let mut no_exp = good_claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        reason(auth.authenticate(&token(&key.sign(&no_exp)))),
        "token has no exp"
    );
    // The clock is an argument: the same token is refused an hour later.
    let later = SystemTime::now() + Duration::from_secs(3600);
    let good = token(&key.sign(&good_claims()));
    assert_eq!(
        reason(auth.authenticate_at(&good, later)),
        "Token has expired"
    );
}

#[test]
fn audience_and_issuer() {
    let key = SigningKey::new("ES256", "k1");
    let auth = auth_with("", &[&key]);
    let wrong_aud = with(good_claims(), "aud", json!(["account", "web"]));
    assert!(reason(auth.authenticate(&token(&key.sign(&wrong_aud)))).contains("audience"));
    let many = with(good_claims(), "aud", json!(["web", "nats"]));
    auth.authenticate(&token(&key.sign(&many))).unwrap();
    // Another issuer's token is not this method's: other methods (or none) decide.
    let other = with(good_claims(), "iss", json!("https://evil.example.com"));
    let req = token(&key.sign(&other));
    assert!(!auth.applies(&req));
    assert!(matches!(
        auth.authenticate(&req),
        Err(AuthError::NoCredentials)
    ));
}

#[test]
fn forged_tokens_are_refused() {
    let rsa = SigningKey::new("RS256", "rsa");
    let ec = SigningKey::new("ES256", "ec");
    let auth = auth_with("", &[&rsa, &ec]);
    let none = alg_none_token("rsa", &good_claims());
    assert!(auth.applies(&token(&none)), "decided here, not passed on");
    assert_eq!(
        reason(auth.authenticate(&token(&none))),
        "alg \"none\" is never accepted"
    );
    let hs = hmac_token("rsa", &rsa.public_bytes(), &good_claims());
    assert_eq!(
        reason(auth.authenticate(&token(&hs))),
        "alg \"HS256\" is never accepted"
    );
    // An ES256 token naming the RSA key: the key type does not fit the algorithm.
    let mut confused = ec.sign(&good_claims());
    let header =
        Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"ES256","typ":"JWT","kid":"rsa"}"#)
            .unwrap();
    confused.replace_range(..confused.find('.').unwrap(), &header);
    assert!(
        reason(auth.authenticate(&token(&confused)))
            .starts_with("key \"rsa\" cannot verify alg \"ES256\"")
    );
    // A valid token with a flipped signature byte.
    let good = rsa.sign(&good_claims());
    let mut bad = good.into_bytes();
    let last = bad.len() - 2;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(!reason(auth.authenticate(&token(&bad))).is_empty());
    // A key of the set signing as a different RSA algorithm than its JWK names.
    let rs384_kid_rsa = SigningKey::new("RS384", "rsa");
    assert!(
        reason(auth.authenticate(&token(&rs384_kid_rsa.sign(&good_claims()))))
            .starts_with("key \"rsa\" cannot verify alg \"RS384\"")
    );
}

#[test]
fn identity_account_and_templates() {
    let key = SigningKey::new("EdDSA", "k1");
    let auth = auth_with(
        r#"user_claim: preferred_username, account_claim: nats_account,
           permissions: { publish: ["svc.{{claim(sub)}}.>"], subscribe: ["_INBOX.>"] },
           roles_claim: groups,
           roles: { admin: { publish: "admin.>" }, ops: { subscribe: "ops.>" } }"#,
        &[&key],
    );
    let who = auth
        .authenticate(&token(&key.sign(&good_claims())))
        .unwrap();
    assert_eq!(
        (who.identity.as_str(), who.account.as_str()),
        ("alice", "OPS")
    );
    let p = who.permissions.unwrap();
    assert!(p.may_publish(b"svc.u-1.x") && p.may_publish(b"admin.x"));
    assert!(!p.may_publish(b"svc.u-2.x") && !p.may_publish(b"other"));
    assert!(p.may_subscribe(b"_INBOX.a", None) && !p.may_subscribe(b"ops.a", None));

    let mut no_sub = good_claims();
    no_sub.as_object_mut().unwrap().remove("sub");
    let e = auth.authenticate(&token(&key.sign(&no_sub))).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "oidc token of issuer \"{ISS}\" for \"alice\" in account \"OPS\": permission template: claim \"sub\" is missing"
        )
    );
    let sneaky = with(good_claims(), "sub", json!("a.>"));
    assert!(
        reason(auth.authenticate(&token(&key.sign(&sneaky))))
            .contains("cannot be used in a subject")
    );
    for bad in [json!("NOPE"), json!("$SYS"), json!(7)] {
        let c = with(good_claims(), "nats_account", bad);
        assert!(reason(auth.authenticate(&token(&key.sign(&c)))).contains("account_claim"));
    }
    let mut anon = good_claims();
    anon.as_object_mut().unwrap().remove("preferred_username");
    assert_eq!(
        reason(auth.authenticate(&token(&key.sign(&anon)))),
        "user_claim: claim \"preferred_username\" is missing"
    );
}

#[test]
fn token_as_password_and_what_applies() {
    let key = SigningKey::new("ES384", "k1");
    let auth = auth_with("account: APP", &[&key]);
    let t = key.sign(&good_claims());
    let who = auth.authenticate(&login("anything", &t)).unwrap();
    assert_eq!(
        (who.account.as_str(), who.identity.as_str()),
        ("APP", "u-1")
    );
    assert!(!auth.applies(&login("bob", "plain-password")));
    assert!(!auth.applies(&token("shared-secret")));
    assert!(
        !auth.applies(&token("a.b.c")),
        "not JSON with a trusted iss"
    );
    let mut pass_only = login("", &t);
    pass_only.user = None;
    assert!(!auth.applies(&pass_only), "pass counts only with a user");
    assert!(!auth.applies(&token(&"a".repeat(MAX_TOKEN_BYTES + 1))));
    let e = auth
        .authenticate(&token(&t[..t.len() - 4]))
        .unwrap_err()
        .to_string();
    assert!(!e.contains(&t[..20]), "no token in the reason: {e}");
}

/// A fetcher serving whatever `body` holds; `None` is a provider that is down.
fn fake_provider(
    body: Arc<Mutex<Option<String>>>,
    count: Arc<Mutex<usize>>,
) -> Arc<dyn JwksFetcher> {
    Arc::new(move |_url: &str| {
        *count.lock().unwrap() += 1;
        body.lock()
            .unwrap()
            .clone()
            .map(String::into_bytes)
            .ok_or_else(|| "connection refused".to_owned())
    })
}

fn wait_until(mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rotation_refetches_an_unknown_kid_once() {
    let old = SigningKey::new("ES256", "old");
    let new = SigningKey::new("ES256", "new");
    let body = Arc::new(Mutex::new(Some(jwks(&[&old]))));
    let count = Arc::new(Mutex::new(0));
    let auth = OidcAuth::from_config(
        &config(""),
        Some(fake_provider(body.clone(), count.clone())),
    )
    .unwrap();
    let req = token(&old.sign(&good_claims()));
    wait_until(|| auth.authenticate(&req).is_ok());
    let fetched = *count.lock().unwrap();

    *body.lock().unwrap() = Some(jwks(&[&old, &new]));
    let rotated = token(&new.sign(&good_claims()));
    assert!(
        auth.may_block(&rotated),
        "an unknown kid fetches: off the I/O thread"
    );
    auth.authenticate(&rotated).unwrap();
    assert_eq!(*count.lock().unwrap(), fetched + 1);
    assert!(!auth.may_block(&rotated));

    // A login answered inline (no fetch granted by may_block) never waits on the network.
    let newer = SigningKey::new("ES256", "newer");
    *body.lock().unwrap() = Some(jwks(&[&new, &newer]));
    let inline = token(&newer.sign(&good_claims()));
    assert_eq!(
        reason(auth.authenticate(&inline)),
        "no signing key with kid \"newer\""
    );
    assert_eq!(*count.lock().unwrap(), fetched + 1);

    // Unknown kids cannot make the server hammer the provider.
    let stranger = SigningKey::new("ES256", "stranger");
    let req = token(&stranger.sign(&good_claims()));
    assert!(!auth.may_block(&req), "rate-limited: answered at once");
    assert_eq!(
        reason(auth.authenticate(&req)),
        "no signing key with kid \"stranger\""
    );
    assert_eq!(*count.lock().unwrap(), fetched + 1);
}

#[test]
fn provider_down_at_start_then_back() {
    let key = SigningKey::new("RS256", "k1");
    let body = Arc::new(Mutex::new(None));
    let count = Arc::new(Mutex::new(0));
    let auth = OidcAuth::from_config(
        &config(""),
        Some(fake_provider(body.clone(), count.clone())),
    )
    .unwrap();
    let req = token(&key.sign(&good_claims()));
    wait_until(|| *count.lock().unwrap() >= 2);
    assert_eq!(
        reason(auth.authenticate(&req)),
        "signing keys of the issuer are not loaded (provider unreachable?)"
    );
    *body.lock().unwrap() = Some(jwks(&[&key]));
    wait_until(|| auth.authenticate(&req).is_ok());
    drop(auth);
    // The refresher stops with the authenticator.
    let after = *count.lock().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(*count.lock().unwrap() <= after + 1);
}

#[test]
fn without_fetcher_url_issuers_refuse() {
    let key = SigningKey::new("ES256", "k1");
    let auth = OidcAuth::from_config(&config(""), None).unwrap();
    assert!(reason(auth.authenticate(&token(&key.sign(&good_claims())))).contains("not loaded"));
}
