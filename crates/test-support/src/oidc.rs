//! A test identity provider: signing keys of every algorithm OIDC uses, tokens minted with
//! any claims, forged tokens (`alg: none`, HMAC over a public key), and a loopback HTTP
//! responder serving the JWK Set that can rotate keys, stop and start again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_simple::prelude::*;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A 2048-bit RSA key made with `openssl genpkey` (RSA generation is slow in debug builds).
const RSA_PEM: &str = include_str!("../fixtures/oidc-rsa.pem");

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

enum Pair {
    Rs256(RS256KeyPair),
    Rs384(RS384KeyPair),
    Rs512(RS512KeyPair),
    Ps256(PS256KeyPair),
    Es256(ES256KeyPair),
    Es384(ES384KeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key of the test provider.
pub struct SigningKey {
    kid: String,
    alg: &'static str,
    pair: Pair,
}

fn claims_of(v: &Value) -> JWTClaims<Map<String, Value>> {
    let mut custom = v.as_object().cloned().unwrap_or_default();
    let mut take = |k: &str| custom.remove(k);
    let (iss, sub, aud, exp, nbf, iat) = (
        take("iss"),
        take("sub"),
        take("aud"),
        take("exp"),
        take("nbf"),
        take("iat"),
    );
    let mut c = Claims::with_custom_claims(custom, Duration::from_secs(0));
    let secs = |v: Option<Value>| v.and_then(|v| v.as_u64()).map(UnixTimeStamp::from_secs);
    c.expires_at = secs(exp);
    c.invalid_before = secs(nbf);
    c.issued_at = secs(iat);
    c.issuer = iss.and_then(|v| v.as_str().map(str::to_owned));
    c.subject = sub.and_then(|v| v.as_str().map(str::to_owned));
    c.audiences = match aud {
        Some(Value::String(s)) => Some(Audiences::AsString(s)),
        Some(Value::Array(a)) => Some(Audiences::AsSet(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )),
        _ => None,
    };
    c
}

impl SigningKey {
    /// A key for `alg` (RS256, RS384, RS512, PS256, ES256, ES384, EdDSA) named `kid`.
    pub fn new(alg: &str, kid: &str) -> Self {
        let pair = match alg {
            "RS256" => Pair::Rs256(
                RS256KeyPair::from_pem(RSA_PEM)
                    .expect("rsa")
                    .with_key_id(kid),
            ),
            "RS384" => Pair::Rs384(
                RS384KeyPair::from_pem(RSA_PEM)
                    .expect("rsa")
                    .with_key_id(kid),
            ),
            "RS512" => Pair::Rs512(
                RS512KeyPair::from_pem(RSA_PEM)
                    .expect("rsa")
                    .with_key_id(kid),
            ),
            "PS256" => Pair::Ps256(
                PS256KeyPair::from_pem(RSA_PEM)
                    .expect("rsa")
                    .with_key_id(kid),
            ),
            "ES256" => Pair::Es256(ES256KeyPair::generate().with_key_id(kid)),
            "ES384" => Pair::Es384(ES384KeyPair::generate().with_key_id(kid)),
            "EdDSA" => Pair::Ed(Ed25519KeyPair::generate().with_key_id(kid)),
            other => panic!("no test key for {other}"),
        };
        let alg = match alg {
            "RS256" => "RS256",
            "RS384" => "RS384",
            "RS512" => "RS512",
            "PS256" => "PS256",
            "ES256" => "ES256",
            "ES384" => "ES384",
            _ => "EdDSA",
        };
        Self {
            kid: kid.to_owned(),
            alg,
            pair,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Value {
        let text = match &self.pair {
            Pair::Rs256(k) => k.public_key().to_jwk(),
            Pair::Rs384(k) => k.public_key().to_jwk(),
            Pair::Rs512(k) => k.public_key().to_jwk(),
            Pair::Ps256(k) => k.public_key().to_jwk(),
            Pair::Es256(k) => k.public_key().to_jwk(),
            Pair::Es384(k) => k.public_key().to_jwk(),
            Pair::Ed(k) => k.public_key().to_jwk(),
        };
        let mut v: Value = serde_json::from_str(&text).expect("jwk");
        v["kid"] = json!(self.kid);
        v
    }

    /// The public key's bytes as an attacker would find them (the RSA public key in DER, or
    /// the raw EC/Ed25519 key), for HMAC confusion tokens.
    pub fn public_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rs256(k) => k.public_key().to_der().expect("der"),
            Pair::Rs384(k) => k.public_key().to_der().expect("der"),
            Pair::Rs512(k) => k.public_key().to_der().expect("der"),
            Pair::Ps256(k) => k.public_key().to_der().expect("der"),
            Pair::Es256(k) => k.public_key().to_bytes(),
            Pair::Es384(k) => k.public_key().to_bytes(),
            Pair::Ed(k) => k.public_key().to_bytes(),
        }
    }

    /// A token over `claims` (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat` as usual; anything else
    /// is a custom claim), signed by this key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let c = claims_of(claims);
        match &self.pair {
            Pair::Rs256(k) => k.sign(c),
            Pair::Rs384(k) => k.sign(c),
            Pair::Rs512(k) => k.sign(c),
            Pair::Ps256(k) => k.sign(c),
            Pair::Es256(k) => k.sign(c),
            Pair::Es384(k) => k.sign(c),
            Pair::Ed(k) => k.sign(c),
        }
        .expect("sign")
    }

    /// The algorithm.
    pub fn alg(&self) -> &'static str {
        self.alg
    }
}

/// `{"keys": [...]}` of these keys' public JWKs.
pub fn jwks(keys: &[&SigningKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() }).to_string()
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).expect("base64")
}

/// An unsigned token: `alg: none`, empty signature.
pub fn alg_none_token(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// An HS256 token whose HMAC key is `key_bytes` (the classic public-key confusion attack).
pub fn hmac_token(kid: &str, key_bytes: &[u8], claims: &Value) -> String {
    HS256Key::from_bytes(key_bytes)
        .with_key_id(kid)
        .authenticate(claims_of(claims))
        .expect("hmac")
}

/// A loopback HTTP server answering every request with the current JWK Set.
pub struct JwksServer {
    port: u16,
    body: Arc<std::sync::Mutex<String>>,
    served: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
    aborted: Option<JoinHandle<()>>,
}

impl JwksServer {
    /// Serves `body` on `127.0.0.1` on a free port.
    pub async fn start(body: String) -> Self {
        let mut s = Self {
            port: 0,
            body: Arc::new(std::sync::Mutex::new(body)),
            served: Arc::new(AtomicUsize::new(0)),
            task: None,
            aborted: None,
        };
        s.listen().await;
        s
    }

    /// A server that is not listening yet (the provider down): its URL refuses connections
    /// until [`JwksServer::resume`].
    pub async fn reserved(body: String) -> Self {
        let mut s = Self::start(body).await;
        s.stop();
        if let Some(t) = s.aborted.take() {
            let _ = t.await;
        }
        s
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind jwks server");
        self.port = listener.local_addr().expect("addr").port();
        let (body, served) = (self.body.clone(), self.served.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (body, served) = (body.clone(), served.clone());
                tokio::spawn(async move {
                    if crate::read_http_head(&mut sock).await.is_none() {
                        return;
                    }
                    let text = body.lock().expect("body").clone();
                    served.fetch_add(1, Ordering::SeqCst);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        }));
    }

    /// The JWK Set URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/certs", self.port)
    }

    /// Serves `body` from now on (a key rotation).
    pub fn set(&self, body: String) {
        *self.body.lock().expect("body") = body;
    }

    /// How many requests were answered.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Stops listening (the provider goes down).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            self.aborted = Some(t);
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        if let Some(t) = self.aborted.take() {
            // The listener is closed once the aborted task is gone.
            let _ = t.await;
        }
        self.listen().await;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}
