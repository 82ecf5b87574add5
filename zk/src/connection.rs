//! One client connection: four-letter-word detection, the connect handshake, length-prefixed
//! jute frames in, replies and notifications out. Frames are bounded by jute.maxbuffer
//! before anything is allocated; a bad frame closes only this connection.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

use crate::config::{Config, FOUR_LETTER_WORDS};
use crate::core::{CoreMsg, Out};
use crate::jute::{ConnectRequest, Jute};
use crate::stats::ConnStats;
use crate::watch::ConnId;

/// Requests a connection may have outstanding before we stop reading from it.
const MAX_OUTSTANDING_PER_CONN: usize = 1000;

pub struct ConnCtx {
    pub id: ConnId,
    pub addr: SocketAddr,
    pub cfg: Arc<Config>,
    pub core: crossbeam_channel::Sender<CoreMsg>,
}

/// Runs a connection to its end.
pub async fn serve(sock: TcpStream, ctx: ConnCtx) {
    let _ = sock.set_nodelay(true);
    let (rd, wr) = sock.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    let mut first = [0u8; 4];
    if rd.read_exact(&mut first).await.is_err() {
        return;
    }
    // Telnet's "interrupt process" sequence is a known (never whitelisted) word too.
    if first == [0xff, 0xf4, 0xff, 0xfd] {
        if !ctx.cfg.four_letter_all {
            let _ = wr
                .write_all(b"telnet close is not executed because it is not in the whitelist.\n")
                .await;
            let _ = wr.flush().await;
        }
        let _ = wr.shutdown().await;
        return;
    }
    if let Ok(word) = std::str::from_utf8(&first) {
        if FOUR_LETTER_WORDS.contains(&word) {
            let text = if ctx.cfg.four_letter_whitelist.iter().any(|w| w == word) {
                let (tx, rx) = std::sync::mpsc::channel();
                if ctx
                    .core
                    .send(CoreMsg::FourLetter {
                        cmd: word.to_owned(),
                        asker: Some(ctx.addr),
                        reply: tx,
                    })
                    .is_err()
                {
                    "This ZooKeeper instance is not currently serving requests\n".to_owned()
                } else {
                    tokio::task::spawn_blocking(move || rx.recv().unwrap_or_default())
                        .await
                        .unwrap_or_default()
                }
            } else {
                format!("{word} is not executed because it is not in the whitelist.\n")
            };
            let _ = wr.write_all(text.as_bytes()).await;
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            return;
        }
    }
    let max = ctx.cfg.jute_max_buffer as i64;
    let len = i32::from_be_bytes(first) as i64;
    if len < 0 || len > max {
        tracing::warn!(
            "closing connection from {}: connect frame length {len} outside 0..={max}",
            ctx.addr
        );
        return;
    }
    let mut body = vec![0u8; len as usize];
    if rd.read_exact(&mut body).await.is_err() {
        return;
    }
    let req = match ConnectRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "closing connection from {}: bad connect request: {e}",
                ctx.addr
            );
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    let stats = Arc::new(ConnStats::default());
    let permits = Arc::new(Semaphore::new(MAX_OUTSTANDING_PER_CONN));
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<()>();
    let writer_permits = permits.clone();
    let writer_stats = stats.clone();
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            let mut close = false;
            while let Some(out) = next.take() {
                match out {
                    Out::Reply(f, received) => {
                        if received.is_some() {
                            writer_permits.add_permits(1);
                            writer_stats.outstanding.fetch_sub(1, Ordering::Relaxed);
                        }
                        if wr.write_all(&f).await.is_err() {
                            close = true;
                        }
                    }
                    Out::Notify(f) => {
                        if wr.write_all(&f).await.is_err() {
                            close = true;
                        }
                    }
                    Out::Close => close = true,
                }
                if close {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if wr.flush().await.is_err() || close {
                break;
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        let _ = closed_tx.send(());
    });
    if ctx
        .core
        .send(CoreMsg::Connect {
            conn: ctx.id,
            addr: ctx.addr,
            tx,
            req,
            stats: stats.clone(),
        })
        .is_err()
    {
        return;
    }
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p,
            _ = &mut closed_rx => break,
        };
        let Ok(permit) = permit else { break };
        permit.forget();
        let mut lenb = [0u8; 4];
        let r = tokio::select! {
            r = rd.read_exact(&mut lenb) => r,
            _ = &mut closed_rx => break,
        };
        if r.is_err() {
            break;
        }
        let len = i32::from_be_bytes(lenb) as i64;
        if len < 8 || len > max {
            tracing::warn!(
                "closing connection from {}: frame length {len} outside 8..={max}",
                ctx.addr
            );
            break;
        }
        let mut body = vec![0u8; len as usize];
        let r = tokio::select! {
            r = rd.read_exact(&mut body) => r,
            _ = &mut closed_rx => break,
        };
        if r.is_err() {
            break;
        }
        let received = Instant::now();
        let xid = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let op = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        body.drain(..8);
        stats.outstanding.fetch_add(1, Ordering::Relaxed);
        if ctx
            .core
            .send(CoreMsg::Request {
                conn: ctx.id,
                xid,
                op,
                body,
                received,
            })
            .is_err()
        {
            break;
        }
    }
    let _ = ctx.core.send(CoreMsg::Closed { conn: ctx.id });
    let _ = writer.await;
}

/// Checks the jute frame helpers here do not drift from the decoder's bound.
#[cfg(test)]
mod tests {
    #[test]
    fn four_letter_words_are_four_bytes() {
        for w in super::FOUR_LETTER_WORDS {
            assert_eq!(w.len(), 4);
        }
    }
}
