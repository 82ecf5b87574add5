//! The socket server: one accept loop per listener, one task per connection. A connection
//! reads size-prefixed frames (bounded by `socket.request.max.bytes`), decodes the header by
//! API key and version, and handles requests one at a time — Kafka mutes a connection while
//! a request is in flight, which is what keeps responses in request order.
//!
//! Protocol violations (oversized or negative frames, unknown API keys, undecodable
//! requests, versions we do not implement for anything but ApiVersions) close the
//! connection, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::config::EndPoint;
use crate::handlers::{self, RequestContext};
use crate::server::Broker;

/// Accepts connections on `listener` until the broker shuts down.
pub async fn serve(broker: Arc<Broker>, endpoint: EndPoint, listener: TcpListener) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let b = broker.clone();
                let listener_name = endpoint.listener_name.clone();
                tokio::spawn(async move {
                    let mut shutdown = b.shutdown_signal();
                    tokio::select! {
                        r = connection(b.clone(), listener_name, stream, peer) => {
                            if let Err(e) = r {
                                tracing::debug!("connection from {peer} closed: {e}");
                            }
                        }
                        _ = shutdown.changed() => {}
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol; the text says how.
    #[error("{0}")]
    Protocol(String),
}

async fn connection(
    broker: Arc<Broker>,
    listener_name: String,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> Result<(), ConnectionError> {
    let max = broker.config.socket_request_max_bytes;
    // One buffer per connection, filled by plain reads into its spare capacity: no zeroing
    // of a fresh allocation per request, and pipelined requests arrive in one read.
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let Some(frame) = next_frame(&mut buf, max)? else {
            if buf.capacity() - buf.len() < READ_CHUNK {
                buf.reserve(READ_CHUNK);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return if buf.is_empty() {
                    Ok(())
                } else {
                    Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
                };
            }
            continue;
        };
        if let Some(out) = handle_frame(&broker, &listener_name, peer, frame).await? {
            stream.write_all(&out).await?;
        }
    }
}

/// How much a connection reads at least per call.
const READ_CHUNK: usize = 64 * 1024;

/// Takes the next whole request frame (without its size prefix) off `buf`; `None` until
/// all of it has arrived, after reserving room for the rest. A size over `max` or negative
/// is refused before anything is reserved for it.
fn next_frame(buf: &mut BytesMut, max: i32) -> Result<Option<Bytes>, ConnectionError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size > max {
        return Err(ConnectionError::Protocol(format!(
            "Invalid receive (size = {size} larger than {max})"
        )));
    }
    let total = 4 + size as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(4);
    Ok(Some(frame.freeze()))
}

/// A request frame after decoding: who asked what.
pub enum Decoded {
    /// A request we implement at this version.
    Request(RequestContext, RequestKind),
    /// ApiVersions at a version newer than ours: answered with our ranges.
    NewerApiVersions(RequestContext),
}

/// Decodes one request frame (no I/O, no broker state): the header by API key and version,
/// then the body. Anything malformed or unsupported is an error that closes the connection.
pub fn decode_request(
    listener_name: &str,
    peer: SocketAddr,
    mut frame: Bytes,
) -> Result<Decoded, ConnectionError> {
    if frame.len() < 4 {
        return Err(ConnectionError::Protocol(
            "request shorter than its header".into(),
        ));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api = ApiKey::try_from(key)
        .map_err(|_| ConnectionError::Protocol(format!("unknown API key {key}")))?;
    let supported = handlers::supported_versions(api);
    let in_range = supported.is_some_and(|(min, max)| (min..=max).contains(&version));
    if !in_range && api != ApiKey::ApiVersions {
        return Err(ConnectionError::Protocol(format!(
            "unsupported version {version} of {api:?}"
        )));
    }
    let header_version = api.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| ConnectionError::Protocol(format!("bad request header: {e}")))?;
    let ctx = RequestContext {
        api_key: api,
        api_version: version,
        correlation_id: header.correlation_id,
        client_id: header
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        listener_name: listener_name.to_owned(),
        peer,
    };
    if !in_range {
        return Ok(Decoded::NewerApiVersions(ctx));
    }
    let request = RequestKind::decode(api, &mut frame, version)
        .map_err(|e| ConnectionError::Protocol(format!("cannot decode {api:?} v{version}: {e}")))?;
    Ok(Decoded::Request(ctx, request))
}

/// Decodes one request frame, handles it and returns the encoded response frame (`None`
/// when the request gets no response, e.g. acks=0 produce).
pub async fn handle_frame(
    broker: &Arc<Broker>,
    listener_name: &str,
    peer: SocketAddr,
    frame: Bytes,
) -> Result<Option<BytesMut>, ConnectionError> {
    let (ctx, request) = match decode_request(listener_name, peer, frame)? {
        Decoded::Request(ctx, request) => (ctx, request),
        Decoded::NewerApiVersions(ctx) => {
            // ApiVersions from a newer client: answer v0 with UNSUPPORTED_VERSION and our
            // ranges, so it can pick a version we speak.
            let resp = handlers::api_versions_unsupported();
            return encode_response(&ctx, ApiKey::ApiVersions, 0, &resp).map(Some);
        }
    };
    let (api, version) = (ctx.api_key, ctx.api_version);
    let Some(response) = handlers::handle(broker, &ctx, request).await else {
        return Ok(None);
    };
    encode_kind(&ctx, api, version, &response).map(Some)
}

fn encode_header(
    ctx: &RequestContext,
    api: ApiKey,
    version: i16,
    buf: &mut BytesMut,
) -> Result<(), ConnectionError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = ctx.correlation_id;
    header
        .encode(buf, api.response_header_version(version))
        .map_err(|e| ConnectionError::Protocol(format!("cannot encode response header: {e}")))
}

/// A response buffer with room for the size prefix, which [`finish_frame`] fills in.
fn frame_buffer() -> BytesMut {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    buf
}

/// Writes the size prefix in place (no copy of the body).
fn finish_frame(mut buf: BytesMut) -> Result<BytesMut, ConnectionError> {
    let len = i32::try_from(buf.len() - 4)
        .map_err(|_| ConnectionError::Protocol("response too large".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

fn encode_response<M: Encodable>(
    ctx: &RequestContext,
    api: ApiKey,
    version: i16,
    body: &M,
) -> Result<BytesMut, ConnectionError> {
    let mut buf = frame_buffer();
    encode_header(ctx, api, version, &mut buf)?;
    body.encode(&mut buf, version)
        .map_err(|e| ConnectionError::Protocol(format!("cannot encode response: {e}")))?;
    finish_frame(buf)
}

fn encode_kind(
    ctx: &RequestContext,
    api: ApiKey,
    version: i16,
    body: &kafka_protocol::messages::ResponseKind,
) -> Result<BytesMut, ConnectionError> {
    let mut buf = frame_buffer();
    encode_header(ctx, api, version, &mut buf)?;
    body.encode(&mut buf, version).map_err(|e| {
        ConnectionError::Protocol(format!("cannot encode {api:?} v{version} response: {e}"))
    })?;
    finish_frame(buf)
}

#[cfg(test)]
mod decode_tests;

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn frames_are_split_as_they_arrive() {
        let mut buf = BytesMut::new();
        assert!(next_frame(&mut buf, 100).unwrap().is_none());
        buf.put_i32(3);
        buf.put_slice(b"ab");
        assert!(next_frame(&mut buf, 100).unwrap().is_none());
        buf.put_slice(b"c");
        buf.put_i32(0);
        buf.put_i32(1);
        assert_eq!(next_frame(&mut buf, 100).unwrap().unwrap(), &b"abc"[..]);
        assert_eq!(next_frame(&mut buf, 100).unwrap().unwrap(), &b""[..]);
        assert!(next_frame(&mut buf, 100).unwrap().is_none());
        assert_eq!(buf.len(), 4);
    }

    #[test]
    fn oversized_and_negative_sizes_are_refused_without_reserving() {
        let mut buf = BytesMut::new();
        buf.put_i32(101);
        assert!(next_frame(&mut buf, 100).is_err());
        let mut buf = BytesMut::new();
        buf.put_i32(-1);
        assert!(next_frame(&mut buf, 100).is_err());
        assert!(buf.capacity() < 100);
    }

    #[test]
    fn the_size_prefix_is_written_in_place() {
        let mut buf = frame_buffer();
        buf.put_slice(b"hello");
        assert_eq!(&finish_frame(buf).unwrap()[..], b"\0\0\0\x05hello");
    }
}
