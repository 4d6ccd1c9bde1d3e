//! Many non-blocking connections on one `mio::Poll`, one thread: the client side costs as little as
//! it can, so the measurement is of the server.
//!
//! Each connection has a read buffer, parsed in place by `rnats-protocol`'s [`ServerParser`]
//! (fields borrowed from the buffer: nothing is copied or allocated per message) into ops handed
//! to a callback together with that connection's write buffer, and a write buffer flushed until the socket
//! would block (mio is edge-triggered: a `WouldBlock` write waits for the next writable event).
//! A server `PING` is answered here; `-ERR` and a closed connection end the run with an error.
//!
//! With a [`TlsClient`], every connection starts TLS the NATS way: the server's `INFO` arrives in
//! plain text (saying `tls_required`), then a rustls `ClientConnection` runs the handshake over
//! the same socket, and everything after (`CONNECT` on) goes inside TLS. The read and write
//! buffers then hold plaintext: rustls encrypts out of `wbuf` and decrypts into `rbuf`, so the
//! scenarios and the parser do not know TLS is there. Without it, the plain path is what it was:
//! one `read` into `rbuf`, one `write` out of `wbuf`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rnats_protocol::{Limits, PONG, ServerOp, ServerOpRef, ServerParser};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Error, Result};

/// Read this much per `read` call; the buffer grows only for payloads larger than this.
const READ_CHUNK: usize = 256 * 1024;
/// A connection's first reads use this much; a read that fills its buffer doubles the next,
/// up to [`READ_CHUNK`]. Zeroing 512 KiB for every new connection (its page faults) was most of
/// loadgen's time in the connection rows.
const READ_CHUNK_MIN: usize = 4 * 1024;

/// What the parser accepts: a control line longer than this is a broken stream (INFO with many
/// `connect_urls` is the longest line a server sends, a few KiB at most), and no message is
/// refused for its size (the server enforces its own `max_payload`).
const LIMITS: Limits = Limits {
    max_control_line: 64 * 1024,
    max_payload: usize::MAX,
};

/// An index into [`Net`]'s connections, also the `mio::Token`.
pub(crate) type ConnId = usize;

/// What every connection needs to start TLS after the server's INFO.
#[derive(Clone)]
pub(crate) struct TlsClient {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl TlsClient {
    /// Trusts the CA certificates in `ca` (PEM), presents `client_auth` (certificate chain and
    /// key, PEM) when given, and checks the server's certificate against `server_name`.
    ///
    /// Without `resume` every connection makes a full handshake, as a client's first
    /// connection to a server does, so `connect` measures certificate signing and checking.
    /// With it, connections share rustls' session store and resume with the server's tickets,
    /// as a client that reconnects does.
    pub(crate) fn new(
        ca: &Path,
        client_auth: Option<(&Path, &Path)>,
        server_name: ServerName<'static>,
        resume: bool,
        verify: bool,
    ) -> Result<Self> {
        let pem_err = |path: &Path, e: &dyn std::fmt::Display| -> Error {
            format!("{}: {e}", path.display()).into()
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pem_err(ca, &e))? {
            roots
                .add(cert.map_err(|e| pem_err(ca, &e))?)
                .map_err(|e| pem_err(ca, &e))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no CA certificate in it", ca.display()).into());
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots);
        let mut config = match client_auth {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| pem_err(cert, &e))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| pem_err(cert, &e))?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, &e))?;
                builder.with_client_auth_cert(chain, key_der)?
            }
        };
        if !resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        if !verify {
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(TrustEverything(
                    rustls::crypto::ring::default_provider()
                        .signature_verification_algorithms
                        .supported_schemes(),
                )));
        }
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// A benchmark-only verifier that checks nothing: neither the chain nor the handshake
/// signature, so a client handshake costs only the key exchange.
#[derive(Debug)]
struct TrustEverything(Vec<rustls::SignatureScheme>);

impl rustls::client::danger::ServerCertVerifier for TrustEverything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.clone()
    }
}

/// How a connection's bytes reach the socket.
enum Transport {
    Plain,
    /// TLS starts after the server's INFO, which comes in plain text.
    AwaitingInfo(TlsClient),
    Tls(Box<TlsSession>),
}

/// A rustls client session and the ciphertext read from the socket that it has not taken yet.
struct TlsSession {
    session: ClientConnection,
    /// Ciphertext is `cbuf[cpos..clen]`: read in [`READ_CHUNK`]s, one syscall each, then handed
    /// to rustls (which takes at most a record or so per `read_tls`).
    cbuf: Vec<u8>,
    cpos: usize,
    clen: usize,
    /// The size of `cbuf` for the next read.
    cchunk: usize,
}

impl TlsSession {
    fn new(tls: &TlsClient) -> Result<Self> {
        let mut session = ClientConnection::new(tls.config.clone(), tls.server_name.clone())?;
        // rustls takes this much plaintext from `wbuf` before its records must go out.
        session.set_buffer_limit(Some(READ_CHUNK));
        Ok(Self {
            session,
            cbuf: Vec::new(),
            cpos: 0,
            clen: 0,
            cchunk: READ_CHUNK_MIN,
        })
    }

    /// Decrypts into `dst` (not empty): `Some(n)` with `n` plaintext bytes, `Some(0)` when the
    /// handshake has something to send first, `None` once the socket would block.
    fn read_plaintext(&mut self, stream: &mut TcpStream, dst: &mut [u8]) -> Result<Option<usize>> {
        loop {
            match self.session.reader().read(dst) {
                Ok(0) => return Err("connection closed by the server (TLS close_notify)".into()),
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("TLS: {e}").into()),
            }
            if self.cpos < self.clen {
                self.cpos += self
                    .session
                    .read_tls(&mut &self.cbuf[self.cpos..self.clen])?;
                self.session
                    .process_new_packets()
                    .map_err(|e| format!("TLS: {e}"))?;
                if self.session.wants_write() {
                    return Ok(Some(0));
                }
                continue;
            }
            if self.cbuf.len() < self.cchunk {
                self.cbuf.resize(self.cchunk, 0);
            }
            self.cpos = 0;
            self.clen = 0;
            match stream.read(&mut self.cbuf) {
                Ok(0) => return Err("connection closed by the server".into()),
                Ok(n) => {
                    self.clen = n;
                    if n == self.cbuf.len() && self.cchunk < READ_CHUNK {
                        self.cchunk *= 2;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Encrypts `wbuf[*wpos..]` and writes the records until done or the socket would block.
    fn flush(
        &mut self,
        stream: &mut TcpStream,
        wbuf: &[u8],
        wpos: &mut usize,
        writable: &mut bool,
    ) -> io::Result<()> {
        loop {
            while self.session.wants_write() {
                if !*writable {
                    return Ok(());
                }
                match self.session.write_tls(stream) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if *wpos == wbuf.len() {
                return Ok(());
            }
            // Before the handshake ends rustls keeps this as plaintext, to send once it can.
            let n = self.session.writer().write(&wbuf[*wpos..])?;
            *wpos += n;
            if n == 0 && !self.session.wants_write() {
                return Ok(()); // its buffer is full until the handshake is done
            }
        }
    }
}

pub(crate) struct Conn {
    stream: TcpStream,
    transport: Transport,
    parser: ServerParser,
    rbuf: Vec<u8>,
    /// Unparsed bytes are `rbuf[rpos..rlen]`.
    rpos: usize,
    rlen: usize,
    /// How much room a read gets: doubles while reads fill it, up to [`READ_CHUNK`].
    chunk: usize,
    /// Bytes queued for the server; `wbuf[wpos..]` is still unsent.
    pub(crate) wbuf: BytesMut,
    wpos: usize,
    /// False after a write hit `WouldBlock`, until the next writable event.
    writable: bool,
}

impl Conn {
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// Writes queued bytes until done or the socket would block.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Plain => {
                while self.wpos < self.wbuf.len() && self.writable {
                    match self.stream.write(&self.wbuf[self.wpos..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => self.wpos += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            // Nothing goes out in plain text on a TLS connection: it waits for the handshake.
            Transport::AwaitingInfo(_) => {}
            Transport::Tls(tls) => tls.flush(
                &mut self.stream,
                &self.wbuf,
                &mut self.wpos,
                &mut self.writable,
            )?,
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        Ok(())
    }

    /// Reads until the socket would block, handing every complete op to `on_op`.
    fn read_ops(
        &mut self,
        id: ConnId,
        on_op: &mut impl FnMut(ConnId, ServerOpRef<'_>, &mut BytesMut) -> Result<()>,
    ) -> Result<()> {
        loop {
            if self.rbuf.len() - self.rlen < self.chunk / 4 {
                let want = self.parser.pending_len().unwrap_or(0);
                let len = (self.rlen + self.chunk).max(self.rpos + want);
                self.rbuf.resize(len, 0);
            }
            let dst = &mut self.rbuf[self.rlen..];
            let room = dst.len();
            let n = if let Transport::Tls(tls) = &mut self.transport {
                match tls.read_plaintext(&mut self.stream, dst)? {
                    Some(n) => n,
                    None => return Ok(()),
                }
            } else {
                match self.stream.read(dst) {
                    Ok(0) => return Err("connection closed by the server".into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            self.rlen += n;
            if n == room && self.chunk < READ_CHUNK {
                self.chunk *= 2;
            }
            while let Some((op, used)) = self
                .parser
                .parse_slice(&self.rbuf[self.rpos..self.rlen])
                .map_err(|e| format!("protocol error from server: {e}"))?
            {
                let mut start_tls = None;
                match op {
                    ServerOp::Ping => self.wbuf.extend_from_slice(PONG),
                    ServerOp::Err(text) => {
                        return Err(
                            format!("server sent -ERR {}", String::from_utf8_lossy(text)).into(),
                        );
                    }
                    ServerOp::Info(info)
                        if matches!(self.transport, Transport::AwaitingInfo(_)) =>
                    {
                        if !(info.tls_required || info.tls_available) {
                            return Err("--tls-ca given, but the server's INFO offers no TLS \
                                        (tls_required/tls_available)"
                                .into());
                        }
                        // CONNECT and the rest go into `wbuf` now, and out once TLS is up.
                        on_op(id, ServerOp::Info(info), &mut self.wbuf)?;
                        if let Transport::AwaitingInfo(tls) = &self.transport {
                            start_tls = Some(TlsSession::new(tls)?);
                        }
                    }
                    op => on_op(id, op, &mut self.wbuf)?,
                }
                self.rpos += used;
                if let Some(session) = start_tls {
                    if self.rpos != self.rlen {
                        return Err("the server sent plain-text bytes after its INFO, \
                                    where the TLS handshake should be"
                            .into());
                    }
                    self.transport = Transport::Tls(Box::new(session));
                }
            }
            // Keep the unparsed tail at the front so the buffer does not creep.
            self.rbuf.copy_within(self.rpos..self.rlen, 0);
            self.rlen -= self.rpos;
            self.rpos = 0;
            self.flush()?;
        }
    }
}

pub(crate) struct Net {
    tls: Option<TlsClient>,
    poll: Poll,
    events: Events,
    conns: Vec<Option<Conn>>,
    free: Vec<ConnId>,
}

impl Net {
    /// Connections start TLS after the server's INFO when `tls` is given.
    pub(crate) fn new(tls: Option<TlsClient>) -> Result<Self> {
        Ok(Self {
            tls,
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            conns: Vec::new(),
            free: Vec::new(),
        })
    }

    /// Starts a non-blocking connect; the server's INFO arrives through [`Net::poll`].
    pub(crate) fn connect(&mut self, addr: SocketAddr) -> Result<ConnId> {
        let mut stream = TcpStream::connect(addr)?;
        // As nats.go and async-nats do: small requests and replies go out at once.
        stream.set_nodelay(true)?;
        let id = self.free.pop().unwrap_or(self.conns.len());
        self.poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let conn = Conn {
            stream,
            transport: self
                .tls
                .clone()
                .map_or(Transport::Plain, Transport::AwaitingInfo),
            parser: ServerParser::new(LIMITS),
            rbuf: Vec::new(),
            rpos: 0,
            rlen: 0,
            chunk: READ_CHUNK_MIN,
            wbuf: BytesMut::new(),
            wpos: 0,
            writable: true,
        };
        if id == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[id] = Some(conn);
        }
        Ok(id)
    }

    /// Whether connections run over TLS, for CONNECT's `tls_required`.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Closes a connection; its id may be reused by the next [`Net::connect`].
    pub(crate) fn close(&mut self, id: ConnId) -> Result<()> {
        if let Some(mut conn) = self.conns.get_mut(id).and_then(Option::take) {
            self.poll.registry().deregister(&mut conn.stream)?;
            self.free.push(id);
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self, id: ConnId) -> Result<&mut Conn> {
        self.conns
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| Error::from(format!("no connection {id}")))
    }

    /// Queues `bytes` on a connection and writes what the socket takes now.
    pub(crate) fn send(&mut self, id: ConnId, bytes: &[u8]) -> Result<()> {
        let conn = self.conn(id)?;
        conn.wbuf.extend_from_slice(bytes);
        conn.flush()?;
        Ok(())
    }

    /// Writes what the socket takes now of a connection's queued bytes.
    pub(crate) fn flush(&mut self, id: ConnId) -> Result<()> {
        self.conn(id)?.flush()?;
        Ok(())
    }

    /// Waits up to `timeout` for socket events, then reads every readable connection to
    /// `WouldBlock`, calling `on_op(conn, op, that conn's write buffer)` for each op, and flushes.
    pub(crate) fn poll(
        &mut self,
        timeout: Duration,
        mut on_op: impl FnMut(ConnId, ServerOpRef<'_>, &mut BytesMut) -> Result<()>,
    ) -> Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        for event in &self.events {
            let id = event.token().0;
            let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            if event.is_error() {
                let err = conn.stream.take_error()?;
                return Err(format!("connection {id}: {}", display_opt(err)).into());
            }
            if event.is_writable() {
                conn.writable = true;
                conn.flush()?;
            }
            if event.is_readable() || event.is_read_closed() {
                conn.read_ops(id, &mut on_op)?;
            }
        }
        Ok(())
    }
}

fn display_opt(err: Option<io::Error>) -> String {
    err.map_or_else(|| "socket error".to_owned(), |e| e.to_string())
}
