//! The HTTPS client that fetches the JWK Sets of `oidc` issuers with a `jwks_url` (the auth
//! crate does no I/O of its own): `ureq` over rustls with the `ring` provider and the
//! platform's root certificates, a bounded time and size, no redirects.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rnats_auth::oidc::JwksFetcher;

/// How long one fetch may take, connecting and reading the body included.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWK Set read, in bytes.
const MAX_BODY: u64 = 1024 * 1024;

/// Fetches JWK Sets over HTTPS (or plain HTTP to loopback, which the configuration allows
/// only there). Called from a background thread and from login checks the driver runs on
/// the hashing gate's worker threads.
#[derive(Default)]
pub(crate) struct HttpsFetcher {
    agent: OnceLock<ureq::Agent>,
}

impl HttpsFetcher {
    pub(crate) fn shared() -> Arc<dyn JwksFetcher> {
        Arc::new(Self::default())
    }

    fn agent(&self) -> &ureq::Agent {
        self.agent.get_or_init(|| {
            let roots = rustls_native_certs::load_native_certs();
            let certs: Vec<ureq::tls::Certificate<'static>> = roots
                .certs
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            let tls = ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::Rustls)
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
                .unversioned_rustls_crypto_provider(Arc::new(
                    tokio_rustls::rustls::crypto::ring::default_provider(),
                ))
                .build();
            ureq::Agent::config_builder()
                .timeout_global(Some(FETCH_TIMEOUT))
                .http_status_as_error(false)
                .max_redirects(0)
                .tls_config(tls)
                .build()
                .into()
        })
    }
}

impl JwksFetcher for HttpsFetcher {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .agent()
            .get(url)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| format!("fetching {url}: {e}"))?;
        if response.status() != 200 {
            return Err(format!("fetching {url}: HTTP status {}", response.status()));
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("reading {url}: {e}"))
    }
}
