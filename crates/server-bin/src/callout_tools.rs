//! `rnats-server jwt callout-issuer` and `rnats-server jwt authorize`: the two steps of an auth
//! callout service, for scripts and for trying the callout without writing one.
//!
//! `callout-issuer` makes the account key that signs what the service answers (its public key
//! goes into `auth_callout { issuer }`). `authorize` reads one `authorization_request` JWT on
//! standard input, checks its CONNECT user and password against `--allow USER:PASS` pairs and
//! writes the signed `authorization_response` on standard output: a user JWT placing the user
//! in `ACCOUNT`, or an error. A loop that subscribes to `$SYS.REQ.USER.AUTH` and publishes what
//! `authorize` prints to each request's reply subject is a complete (if small) service.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rnats_jwt::{
    AuthorizationResponseClaims, UserClaims, decode_authorization_request,
    encode_authorization_response, encode_user,
};

/// Where the issuer's seed is kept in the tool's directory.
const ISSUER_FILE: &str = "callout-issuer.nk";

/// Makes the issuer account key in `dir` and prints its public key.
#[allow(clippy::print_stdout)] // reason: the public key is the tool's output
pub(crate) fn issuer(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = nkeys::KeyPair::new_account();
    super::jwt_tools::write_secret(&dir.join(ISSUER_FILE), &super::jwt_tools::seed_of(&key)?)?;
    println!("{}", key.public_key());
    Ok(())
}

/// Answers the request on standard input for `account`, letting in the `allow` pairs.
#[allow(clippy::print_stdout)] // reason: the response JWT is the tool's output
pub(crate) fn authorize(dir: &Path, account: &str, allow: &[String]) -> Result<()> {
    let issuer = super::jwt_tools::read_seed(&dir.join(ISSUER_FILE))?;
    let mut request = String::new();
    std::io::stdin()
        .read_to_string(&mut request)
        .context("reading the request")?;
    let request = decode_authorization_request(request.trim())
        .context("the request is not a valid authorization request")?;
    let response = answer(&request, &issuer, account, allow)?;
    println!("{response}");
    Ok(())
}

/// The signed response to `request`.
fn answer(
    request: &rnats_jwt::AuthorizationRequestClaims,
    issuer: &nkeys::KeyPair,
    account: &str,
    allow: &[String],
) -> Result<String> {
    let opts = &request.connect_options;
    let mut response = AuthorizationResponseClaims::new(&request.user_nkey, &request.server.id);
    let known = allow.iter().any(|pair| match pair.split_once(':') {
        Some((user, pass)) => {
            user == opts.username && same_secret(pass.as_bytes(), opts.password.as_bytes())
        }
        None => false,
    });
    if known {
        let mut user = UserClaims::new(&request.user_nkey, issuer.public_key());
        user.name = Some(opts.username.clone());
        user.audience = Some(account.to_owned());
        response.jwt = Some(encode_user(&user, issuer));
    } else {
        response.error = Some("unknown user or wrong password".to_owned());
    }
    encode_authorization_response(&response, issuer).context("signing the response")
}

/// Compares two secrets in time that depends only on their lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the `--allow` values before any request is read.
pub(crate) fn check_allow(allow: &[String]) -> Result<()> {
    for pair in allow {
        if !pair.contains(':') {
            bail!("--allow takes USER:PASSWORD");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnats_jwt::{AuthorizationRequestClaims, encode_authorization_request};

    fn request(user: &str, pass: &str) -> AuthorizationRequestClaims {
        let server = nkeys::KeyPair::new_server();
        let user_key = nkeys::KeyPair::new_user();
        let mut claims = AuthorizationRequestClaims::new("A", user_key.public_key());
        claims.server.id = server.public_key();
        claims.connect_options.username = user.into();
        claims.connect_options.password = pass.into();
        let jwt = encode_authorization_request(&claims, &server).unwrap();
        decode_authorization_request(&jwt).unwrap()
    }

    #[test]
    fn a_listed_user_gets_a_user_jwt_for_the_account_and_others_an_error() {
        let issuer = nkeys::KeyPair::new_account();
        let allow = ["alice:secret".to_owned()];
        let good = request("alice", "secret");
        let token = answer(&good, &issuer, "APP", &allow).unwrap();
        let res = rnats_jwt::decode_authorization_response(&token).unwrap();
        assert_eq!(res.subject, good.user_nkey);
        assert_eq!(res.audience.as_deref(), Some(good.server.id.as_str()));
        let user = rnats_jwt::decode_user(res.jwt.as_deref().unwrap()).unwrap();
        assert_eq!(user.subject, good.user_nkey);
        assert_eq!(user.audience.as_deref(), Some("APP"));
        assert_eq!(user.issuer, issuer.public_key());

        for (u, p) in [("alice", "wrong"), ("bob", "secret"), ("alice", "")] {
            let token = answer(&request(u, p), &issuer, "APP", &allow).unwrap();
            let res = rnats_jwt::decode_authorization_response(&token).unwrap();
            assert!(res.jwt.is_none(), "{u}:{p}");
            assert_eq!(res.error.as_deref(), Some("unknown user or wrong password"));
        }
        assert!(check_allow(&["nocolon".to_owned()]).is_err());
    }
}
