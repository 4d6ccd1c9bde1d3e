//! `resolver: URL("http://host:port/jwt/v1/accounts/")`: account JWTs fetched with an HTTP
//! GET of the URL followed by the account's public key (nats-server `URLAccResolver`: a `/`
//! is added to a URL not ending in one; the answer must be `200 OK` and its body is the JWT).
//!
//! `ureq` over rustls with the `ring` provider. HTTPS uses `resolver_tls`: its `ca_file` as
//! the only trusted roots (else the platform's), its `cert_file`/`key_file` as the client
//! certificate. A fetch takes at most [`FETCH_TIMEOUT`] (nats-server's 1.9 s), reads at most
//! [`MAX_BODY`] bytes and follows no redirect.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rnats_config::TlsConfig;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts};

use crate::resolver_remote::Source;

/// How long one fetch may take, connecting and reading the body included (nats-server's
/// `DEFAULT_ACCOUNT_FETCH_TIMEOUT`).
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_millis(1900);
/// Largest answer read, in bytes (a JWT is far smaller).
const MAX_BODY: u64 = 1024 * 1024;

/// Fetches account JWTs from a base URL.
pub(crate) struct UrlSource {
    base: String,
    agent: ureq::Agent,
}

impl UrlSource {
    /// A source for `url` (a `/` added when missing), with `tls` for HTTPS. The error names
    /// what could not be read (never the URL, which may hold credentials).
    pub(crate) fn new(url: &str, tls: Option<&TlsConfig>) -> Result<Self, String> {
        let mut base = url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let lower = base.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err("the resolver URL must start with http:// or https://".to_owned());
        }
        let roots = match tls.and_then(|t| t.ca_file.as_deref()) {
            Some(ca) => read_certs(ca)?,
            None => rustls_native_certs::load_native_certs()
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        };
        let client_cert = match tls.map(|t| (&t.cert_file, &t.key_file)) {
            Some((Some(cert), Some(key))) => Some(ClientCert::new_with_certs(
                &read_certs(cert)?,
                read_key(key)?,
            )),
            Some((None, None)) | None => None,
            Some(_) => {
                return Err("resolver_tls needs both cert_file and key_file".to_owned());
            }
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .client_cert(client_cert)
            .unversioned_rustls_crypto_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .build()
            .into();
        Ok(Self { base, agent })
    }
}

impl Source for UrlSource {
    fn get(&self, account: &str) -> Result<String, String> {
        let url = format!("{}{account}", self.base);
        let shown = redact_url(&url);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| format!("could not fetch <{shown:?}>: {e}"))?;
        let status = response.status();
        if status != 200 {
            return Err(format!(
                "could not fetch <{shown:?}>: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            ));
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| format!("could not fetch <{shown:?}>: {e}"))
    }

    fn timeout(&self) -> Duration {
        FETCH_TIMEOUT
    }
}

/// `url` with the password of its user information, if any, replaced by `xxxxx` (as
/// nats-server's `redactURLString` shows it).
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:xxxxx{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("resolver_tls: reading {}: {e}", path.display()))
}

fn read_certs(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = read_pem(path)?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "resolver_tls: no certificate in {}",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKey<'static>, String> {
    let pem = read_pem(path)?;
    ureq::tls::parse_pem(&pem)
        .find_map(|item| match item {
            Ok(PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        })
        .ok_or_else(|| format!("resolver_tls: no private key in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("http://user:secret@host:9090/jwt/v1/accounts/AB"),
            "http://user:xxxxx@host:9090/jwt/v1/accounts/AB"
        );
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_url("https://tok@host/x"), "https://tok@host/x");
    }

    #[test]
    fn only_http_urls() {
        assert!(UrlSource::new("ftp://host/", None).is_err());
        let s = UrlSource::new("http://127.0.0.1:1/jwt/v1/accounts", None).unwrap();
        assert_eq!(s.base, "http://127.0.0.1:1/jwt/v1/accounts/");
    }
}
