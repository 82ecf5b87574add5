//! A minimal pipelining ZooKeeper client session speaking the wire protocol directly.
//!
//! One [`Session`] is one TCP connection and one ZooKeeper session. Requests are encoded
//! with the `zk::jute` records into a write buffer ([`Session::send`], [`Session::send_raw`])
//! and only hit the socket when the caller waits for a reply ([`Session::next_reply`]) and no
//! complete reply is buffered any more, so a window of outstanding requests costs one
//! `write` per batch rather than one per request. Replies are parsed as
//! `ReplyHeader` + body; the body stays in the read buffer until the next call.
//!
//! The client is driven by a single task per session (no locks, no channels). Because
//! ZooKeeper answers a session's requests in order, the caller matches replies to requests
//! with a FIFO of xids.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use zk::jute::{Acl, ConnectRequest, ConnectResponse, Id, Jute, ReplyHeader, RequestHeader};
use zk::proto::{op, perm, xid};

/// Largest reply frame we accept (jute.maxbuffer default is 1 MiB; leave headroom).
const MAX_FRAME: usize = 16 << 20;
/// How long we wait for the server to send anything while requests are outstanding.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Size of a ReplyHeader on the wire (xid i32, zxid i64, err i32).
const REPLY_HEADER_LEN: usize = 16;

/// `world:anyone` with all permissions (ZooDefs.Ids.OPEN_ACL_UNSAFE).
pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perm::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// One connected ZooKeeper session.
pub struct Session {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    /// Received bytes; `rbuf[rstart..rend]` is not consumed yet.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// Body of the last reply returned by `next_reply`: `rbuf[body.0..body.1]`.
    body: (usize, usize),
    /// Encoded requests not yet written to the socket.
    wbuf: Vec<u8>,
    next_xid: i32,
    pub session_id: i64,
}

impl Session {
    /// Connects and runs the handshake (ConnectRequest / ConnectResponse).
    pub async fn connect(addr: SocketAddr, session_timeout_ms: i32) -> Result<Session> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connect to {addr} timed out"))?
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut s = Session {
            rd,
            wr,
            rbuf: vec![0; 256 * 1024],
            rstart: 0,
            rend: 0,
            body: (0, 0),
            wbuf: Vec::with_capacity(64 * 1024),
            next_xid: 1,
            session_id: 0,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: session_timeout_ms,
            session_id: 0,
            passwd: Some(vec![0; 16]),
            read_only: Some(false),
        };
        s.push_frame(|out| req.write(out));
        let frame = tokio::time::timeout(Duration::from_secs(10), s.next_frame())
            .await
            .map_err(|_| anyhow!("handshake with {addr} timed out"))??;
        let resp = ConnectResponse::decode(&s.rbuf[frame.0..frame.1])
            .context("decoding ConnectResponse")?;
        ensure!(
            resp.session_id != 0 && resp.time_out > 0,
            "server refused the session: {resp:?}"
        );
        s.session_id = resp.session_id;
        Ok(s)
    }

    /// Queues one request (header + already-encoded body); returns its xid.
    pub fn send_raw(&mut self, opcode: i32, body: &[u8]) -> i32 {
        let x = self.take_xid();
        self.push_frame(|out| {
            RequestHeader {
                xid: x,
                r#type: opcode,
            }
            .write(out);
            out.extend_from_slice(body);
        });
        x
    }

    /// Queues one request, encoding `body` with its jute record; returns its xid.
    pub fn send<J: Jute>(&mut self, opcode: i32, body: &J) -> i32 {
        let x = self.take_xid();
        self.push_frame(|out| {
            RequestHeader {
                xid: x,
                r#type: opcode,
            }
            .write(out);
            body.write(out);
        });
        x
    }

    /// Waits for the next reply to a request (notifications and pings are skipped). Any
    /// queued requests are flushed before blocking. The body is available from
    /// [`Session::body`] until the next call.
    pub async fn next_reply(&mut self) -> Result<ReplyHeader> {
        loop {
            let (start, end) = self.next_frame().await?;
            ensure!(
                end - start >= REPLY_HEADER_LEN,
                "short reply frame ({} bytes)",
                end - start
            );
            let h = ReplyHeader::decode(&self.rbuf[start..end]).context("decoding ReplyHeader")?;
            if h.xid == xid::NOTIFICATION || h.xid == xid::PING {
                continue;
            }
            self.body = (start + REPLY_HEADER_LEN, end);
            return Ok(h);
        }
    }

    /// The body of the reply last returned by [`Session::next_reply`].
    pub fn body(&self) -> &[u8] {
        &self.rbuf[self.body.0..self.body.1]
    }

    /// Sends one request and waits for its reply (no other request may be outstanding).
    pub async fn call<J: Jute>(&mut self, opcode: i32, body: &J) -> Result<ReplyHeader> {
        let x = self.send(opcode, body);
        let h = self.next_reply().await?;
        ensure!(
            h.xid == x,
            "reply xid {} does not match request xid {x}",
            h.xid
        );
        Ok(h)
    }

    /// Closes the session (closeSession request) and then the connection.
    pub async fn close(mut self) -> Result<()> {
        let x = self.take_xid();
        self.push_frame(|out| {
            RequestHeader {
                xid: x,
                r#type: op::CLOSE_SESSION,
            }
            .write(out)
        });
        let r = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let h = self.next_reply().await?;
                if h.xid == x {
                    return Ok::<_, anyhow::Error>(());
                }
            }
        })
        .await;
        // The server closes the connection after answering closeSession; wait briefly for
        // that so it does not log our side's close as an unexpected end of stream.
        let mut scratch = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(n) = self.rd.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        let _ = self.wr.shutdown().await;
        match r {
            Ok(r) => r,
            Err(_) => bail!("closeSession timed out"),
        }
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    /// Appends a length-prefixed frame whose payload `fill` writes.
    fn push_frame(&mut self, fill: impl FnOnce(&mut Vec<u8>)) {
        let at = self.wbuf.len();
        self.wbuf.extend_from_slice(&[0; 4]);
        fill(&mut self.wbuf);
        let len = (self.wbuf.len() - at - 4) as u32;
        self.wbuf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.wbuf.is_empty() {
            self.wr
                .write_all(&self.wbuf)
                .await
                .context("writing requests")?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Returns the payload range of the next complete frame in `rbuf`, flushing queued
    /// requests and reading from the socket when none is buffered.
    async fn next_frame(&mut self) -> Result<(usize, usize)> {
        loop {
            let avail = self.rend - self.rstart;
            if avail >= 4 {
                let b = &self.rbuf[self.rstart..self.rstart + 4];
                let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                ensure!(
                    len >= 0 && (len as usize) <= MAX_FRAME,
                    "bad frame length {len}"
                );
                let len = len as usize;
                if avail >= 4 + len {
                    let start = self.rstart + 4;
                    self.rstart = start + len;
                    return Ok((start, start + len));
                }
                if self.rbuf.len() < 4 + len {
                    self.rbuf.resize(4 + len, 0);
                }
            }
            self.flush().await?;
            // Make room: move the partial frame to the front of the buffer.
            if self.rstart > 0 {
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rend -= self.rstart;
                self.rstart = 0;
            }
            if self.rend == self.rbuf.len() {
                let n = self.rbuf.len() * 2;
                self.rbuf.resize(n, 0);
            }
            let n = tokio::time::timeout(REPLY_TIMEOUT, self.rd.read(&mut self.rbuf[self.rend..]))
                .await
                .map_err(|_| anyhow!("no reply from the server for {REPLY_TIMEOUT:?}"))?
                .context("reading replies")?;
            if n == 0 {
                bail!("server closed the connection");
            }
            self.rend += n;
        }
    }
}
