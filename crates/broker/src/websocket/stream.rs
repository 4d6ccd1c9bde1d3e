//! A WebSocket as a byte stream for the connection code.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_websockets::{Message, WebSocketStream};

use super::*;

// ----- frames as a byte stream -----

/// A WebSocket as a byte stream: reads yield the payloads of data messages in order (ping,
/// pong and close are answered by the library), each write goes out as one binary message.
pub(crate) struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the current message.
    chunk: Bytes,
    /// A write accepted into the sink and being flushed: its length.
    sending: Option<usize>,
}

impl<S> WsIo<S> {
    pub(crate) fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            chunk: Bytes::new(),
            sending: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(std::io::Error::other(e))),
                Some(Ok(msg)) if msg.is_binary() || msg.is_text() => {
                    this.chunk = Bytes::from(msg.into_payload());
                }
                Some(Ok(msg)) if msg.is_close() => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.sending.is_none() {
            ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(std::io::Error::other)?;
            let n = data.len().min(MAX_WRITE_MESSAGE);
            Pin::new(&mut this.ws)
                .start_send(Message::binary(Bytes::copy_from_slice(&data[..n])))
                .map_err(std::io::Error::other)?;
            this.sending = Some(n);
        }
        ready!(Pin::new(&mut this.ws).poll_flush(cx)).map_err(std::io::Error::other)?;
        Poll::Ready(Ok(this.sending.take().unwrap_or(0)))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_flush(cx)
            .map_err(std::io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_close(cx)
            .map_err(std::io::Error::other)
    }
}
