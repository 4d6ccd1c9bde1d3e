//! Shared helpers: temporary directories with generated certificates, openssl for RSA/SEC1
//! keys, and an in-memory TLS handshake.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rnats_config::TlsConfig;
use rnats_tls::PeerIdentity;
use rnats_tls::testcerts::{self, Files};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The identity `rnats-auth` maps, copied from a peer certificate's names as the broker does.
pub(crate) fn auth_identity(peer: &PeerIdentity) -> rnats_auth::TlsIdentity {
    rnats_auth::TlsIdentity {
        subject_dn: peer.subject_dn.clone(),
        subject_dn_without_dc: peer.subject_dn_without_dc.clone(),
        emails: peer.emails.clone(),
        dns_names: peer.dns_names.clone(),
        uris: peer.uris.clone(),
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rnats-tls-it-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A temp dir holding the `testcerts::write_all` set.
pub(crate) fn certs() -> (TempDir, Files) {
    let dir = TempDir::new();
    let files = testcerts::write_all(&dir.0).expect("generate certificates");
    (dir, files)
}

/// Options for `server.pem`/`server-key.pem` (or another stem) without client auth.
pub(crate) fn server_opts(dir: &Path, stem: &str) -> TlsConfig {
    let mut opts = TlsConfig::default();
    opts.cert_file = Some(dir.join(format!("{stem}.pem")));
    opts.key_file = Some(dir.join(format!("{stem}-key.pem")));
    opts
}

/// Runs `openssl` with `args`, returning stdout.
pub(crate) fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command line tool is needed to make RSA and SEC1 test keys");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A client configuration trusting `ca.pem` in `dir`, with an optional client cert stem.
pub(crate) fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(cert.expect("ca cert")).expect("add root");
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("client cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert");
            let key = PrivateKeyDer::from_pem_file(key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
    };
    Arc::new(config)
}

/// What the server saw of one in-memory handshake.
pub(crate) struct Outcome {
    /// The server's handshake result: peer certificates on success.
    pub(crate) server: Result<Option<Vec<CertificateDer<'static>>>, String>,
    /// The negotiated suite name, when the server side succeeded.
    pub(crate) suite: Option<String>,
    /// The negotiated key exchange group, when the server side succeeded.
    pub(crate) group: Option<String>,
    /// Whether the client finished its side and read the server's greeting.
    pub(crate) client_ok: bool,
}

/// Runs a handshake over `tokio::io::duplex` and exchanges one line.
pub(crate) async fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Outcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = TlsAcceptor::from(server);
    let connector = TlsConnector::from(client);
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let server_side = async move {
        match acceptor.accept(server_io).await {
            Ok(mut tls) => {
                let (_, conn) = tls.get_ref();
                let peers = conn
                    .peer_certificates()
                    .map(|c| c.iter().map(|c| c.clone().into_owned()).collect::<Vec<_>>());
                let suite = conn
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()));
                let group = conn
                    .negotiated_key_exchange_group()
                    .map(|g| format!("{:?}", g.name()));
                let _ = tls.write_all(b"INFO {}\r\n").await;
                let _ = tls.flush().await;
                Outcome {
                    server: Ok(peers),
                    suite,
                    group,
                    client_ok: false,
                }
            }
            Err(e) => Outcome {
                server: Err(e.to_string()),
                suite: None,
                group: None,
                client_ok: false,
            },
        }
    };
    let client_side = async move {
        let Ok(mut tls) = connector.connect(name, client_io).await else {
            return false;
        };
        let mut buf = [0u8; 9];
        tls.read_exact(&mut buf).await.is_ok() && &buf == b"INFO {}\r\n"
    };
    let (mut outcome, client_ok) = tokio::join!(server_side, client_side);
    outcome.client_ok = client_ok;
    outcome
}
