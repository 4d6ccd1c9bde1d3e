//! The verified-secret cache.

use std::time::Instant;

use rnats_auth::{Authenticator, hash_password_bcrypt};

use crate::{login, server, token};

#[test]
fn second_login_is_served_from_the_cache() {
    let h = hash_password_bcrypt("pw", 6).unwrap();
    let auth = server(&format!(
        r#"authorization {{ users = [ {{ user: u, password: "{h}" }} ] }}"#
    ));
    assert!(auth.authenticate(&login("u", "pw")).is_ok());
    let s = auth.secret_cache_stats();
    assert_eq!((s.hits, s.misses, s.entries), (0, 1, 1));
    assert!(auth.authenticate(&login("u", "pw")).is_ok());
    assert_eq!(auth.secret_cache_stats().hits, 1);

    // A wrong password after a cached success still fails, and pays the hash (a miss).
    assert!(auth.authenticate(&login("u", "wrong")).is_err());
    let s = auth.secret_cache_stats();
    assert_eq!((s.hits, s.misses), (1, 2));

    // Reload: the cache is emptied.
    auth.clear_cache();
    assert_eq!(auth.secret_cache_stats().entries, 0);
    assert!(auth.authenticate(&login("u", "pw")).is_ok());
    assert_eq!(auth.secret_cache_stats().misses, 3);
}

#[test]
fn bcrypt_tokens_are_cached_too() {
    let h = hash_password_bcrypt("tok", 4).unwrap();
    let auth = server(&format!(r#"authorization {{ token: "{h}" }}"#));
    assert!(auth.authenticate(&token("tok")).is_ok());
    assert!(auth.authenticate(&token("tok")).is_ok());
    assert_eq!(auth.secret_cache_stats().hits, 1);
    assert!(auth.authenticate(&token("tok2")).is_err());
}

#[test]
fn plain_secrets_bypass_the_cache() {
    let auth = server(r#"authorization { users = [ { user: u, password: "pw" } ] }"#);
    assert!(auth.authenticate(&login("u", "pw")).is_ok());
    assert_eq!(auth.secret_cache_stats(), Default::default());
}

/// Reports bcrypt-cost-11 verification time against a cache hit (run with `--nocapture`).
#[test]
fn cost_11_verify_versus_cache_hit() {
    let h = hash_password_bcrypt("pw", 11).unwrap();
    let auth = server(&format!(
        r#"authorization {{ users = [ {{ user: u, password: "{h}" }} ] }}"#
    ));
    let t = Instant::now();
    assert!(auth.authenticate(&login("u", "pw")).is_ok());
    let slow = t.elapsed();
    let t = Instant::now();
    for _ in 0..100 {
        assert!(auth.authenticate(&login("u", "pw")).is_ok());
    }
    let fast = t.elapsed() / 100;
    eprintln!("bcrypt cost 11 verify: {slow:?}; cache hit: {fast:?}");
    assert_eq!(auth.secret_cache_stats().hits, 100);
    assert!(fast * 10 < slow);
}
