//! `.creds` files and decorated JWT files.

use nkeys::KeyPair;
use rnats_jwt::{
    JwtError, OperatorClaims, Seed, UserClaims, decorate_jwt, decorate_seed, encode_operator,
    encode_user, format_user_creds, parse_decorated_jwt, parse_decorated_seed, parse_user_creds,
};

fn user_creds() -> (String, String, KeyPair) {
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let jwt = encode_user(&UserClaims::new(user.public_key(), ""), &account);
    let seed = user.seed().unwrap();
    (jwt, seed, user)
}

#[test]
fn formatted_creds_parse_back() {
    let (jwt, seed, user) = user_creds();
    let text = format_user_creds(&jwt, &Seed::new(seed.clone()).unwrap()).unwrap();
    assert!(text.starts_with("-----BEGIN NATS USER JWT-----\n"));
    assert!(text.contains("\n------END USER NKEY SEED------\n"));
    let creds = parse_user_creds(&text).unwrap();
    assert_eq!(creds.jwt, jwt);
    assert_eq!(creds.seed.expose_secret(), seed);
    assert_eq!(
        creds.seed.key_pair().unwrap().public_key(),
        user.public_key()
    );
    // Windows line endings read the same.
    let crlf = parse_user_creds(&text.replace('\n', "\r\n")).unwrap();
    assert_eq!(
        (crlf.jwt.as_str(), crlf.seed.expose_secret()),
        (jwt.as_str(), seed.as_str())
    );
}

#[test]
fn debug_output_hides_secrets() {
    let (jwt, seed, _) = user_creds();
    let creds =
        parse_user_creds(&format_user_creds(&jwt, &Seed::new(seed.clone()).unwrap()).unwrap())
            .unwrap();
    let shown = format!("{creds:?}");
    assert!(!shown.contains(&seed) && !shown.contains(&jwt), "{shown}");
}

#[test]
fn a_bare_seed_line_is_found_without_a_second_block() {
    let (jwt, seed, _) = user_creds();
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n  {seed}  \n"
    );
    assert_eq!(parse_user_creds(&text).unwrap().seed.expose_secret(), seed);
}

#[test]
fn creds_errors_never_show_the_seed() {
    let (jwt, seed, _) = user_creds();
    let jwt_block =
        format!("-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n");
    assert_eq!(
        parse_user_creds("nothing here").unwrap_err(),
        JwtError::CredsMissingJwt
    );
    assert_eq!(
        parse_user_creds(&jwt_block).unwrap_err(),
        JwtError::CredsMissingSeed
    );
    // A broken seed: the error says so without repeating it.
    let mut broken = seed.clone();
    broken.replace_range(5..6, if &seed[5..6] == "A" { "B" } else { "A" });
    let text = format!(
        "{jwt_block}-----BEGIN USER NKEY SEED-----\n{broken}\n------END USER NKEY SEED------\n"
    );
    let err = parse_user_creds(&text).unwrap_err();
    assert_eq!(err, JwtError::InvalidSeed);
    assert!(!err.to_string().contains(&broken[2..]));
    // An account seed is not a user's.
    let acc_seed = KeyPair::new_account().seed().unwrap();
    let text = format!(
        "{jwt_block}-----BEGIN ACCOUNT NKEY SEED-----\n{acc_seed}\n------END ACCOUNT NKEY SEED------\n"
    );
    assert!(matches!(
        parse_user_creds(&text),
        Err(JwtError::WrongSeedKind { .. })
    ));
    assert_eq!(
        parse_decorated_seed(&text)
            .unwrap()
            .key_pair()
            .unwrap()
            .public_key()
            .chars()
            .next(),
        Some('A')
    );
}

#[test]
fn format_checks_the_seed_belongs_to_the_user() {
    let (jwt, _, _) = user_creds();
    let other = Seed::new(KeyPair::new_user().seed().unwrap()).unwrap();
    assert!(matches!(
        format_user_creds(&jwt, &other),
        Err(JwtError::SeedMismatch { .. })
    ));
    let op = KeyPair::new_operator();
    let op_jwt = encode_operator(&OperatorClaims::new(op.public_key()), &op).unwrap();
    assert!(matches!(
        format_user_creds(&op_jwt, &other),
        Err(JwtError::WrongClaimType { .. })
    ));
}

#[test]
fn operator_files_are_read_decorated_or_bare() {
    let op = KeyPair::new_operator();
    let jwt = encode_operator(&OperatorClaims::new(op.public_key()), &op).unwrap();
    let decorated = decorate_jwt(&jwt).unwrap();
    assert!(decorated.starts_with("-----BEGIN NATS OPERATOR JWT-----\n"));
    assert_eq!(parse_decorated_jwt(&decorated), jwt);
    assert_eq!(parse_decorated_jwt(&format!("\n{jwt}\n")), jwt);
    let seed = Seed::new(op.seed().unwrap()).unwrap();
    let text = decorate_seed(&seed).unwrap();
    assert!(text.contains("-----BEGIN OPERATOR NKEY SEED-----\n"));
    assert_eq!(parse_decorated_seed(&text).unwrap(), seed);
}
