//! Many non-blocking connections on one `mio::Poll`, one thread: the client side costs as little as
//! it can, so the measurement is of the server.
//!
//! Each connection has a read buffer, parsed in place into [`ServerOp`]s handed to a callback
//! together with that connection's write buffer, and a write buffer flushed until the socket
//! would block (mio is edge-triggered: a `WouldBlock` write waits for the next writable event).
//! A server `PING` is answered here; `-ERR` and a closed connection end the run with an error.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::wire::{self, ServerOp};
use crate::{Error, Result};

/// Read this much per `read` call; the buffer grows only for payloads larger than this.
const READ_CHUNK: usize = 256 * 1024;

/// An index into [`Net`]'s connections, also the `mio::Token`.
pub(crate) type ConnId = usize;

pub(crate) struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    /// Unparsed bytes are `rbuf[rpos..rlen]`.
    rpos: usize,
    rlen: usize,
    /// Bytes queued for the server; `wbuf[wpos..]` is still unsent.
    pub(crate) wbuf: Vec<u8>,
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
        while self.wpos < self.wbuf.len() && self.writable {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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
        on_op: &mut impl FnMut(ConnId, ServerOp<'_>, &mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        loop {
            if self.rbuf.len() - self.rlen < READ_CHUNK / 4 {
                let want = wire::needed(&self.rbuf[self.rpos..self.rlen]).unwrap_or(0);
                let len = (self.rlen + READ_CHUNK).max(self.rpos + want);
                self.rbuf.resize(len, 0);
            }
            let n = match self.stream.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => return Err("connection closed by the server".into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.rlen += n;
            while let Some((op, used)) = wire::parse(&self.rbuf[self.rpos..self.rlen])? {
                match op {
                    ServerOp::Ping => self.wbuf.extend_from_slice(b"PONG\r\n"),
                    ServerOp::Err(text) => {
                        return Err(
                            format!("server sent -ERR {}", String::from_utf8_lossy(text)).into(),
                        );
                    }
                    op => on_op(id, op, &mut self.wbuf)?,
                }
                self.rpos += used;
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
    poll: Poll,
    events: Events,
    conns: Vec<Option<Conn>>,
    free: Vec<ConnId>,
}

impl Net {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
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
            rbuf: Vec::new(),
            rpos: 0,
            rlen: 0,
            wbuf: Vec::new(),
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
        mut on_op: impl FnMut(ConnId, ServerOp<'_>, &mut Vec<u8>) -> Result<()>,
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
