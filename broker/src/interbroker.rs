//! A minimal Kafka protocol client for controller-to-broker requests (LeaderAndIsr,
//! UpdateMetadata, StopReplica): one connection per delivery, request/response framing with
//! the header versions each API version needs, a bound on the response size and a timeout.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted from a broker.
const MAX_RESPONSE_BYTES: i32 = 16 << 20;

/// A failed inter-broker request.
#[derive(Debug, thiserror::Error)]
pub enum InterBrokerError {
    #[error("broker {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("broker {addr}: timed out")]
    Timeout { addr: String },
    #[error("broker {addr}: {msg}")]
    Protocol { addr: String, msg: String },
}

/// An open connection to another broker.
pub struct BrokerConnection {
    addr: String,
    stream: TcpStream,
    client_id: String,
    next_correlation: i32,
    timeout: Duration,
    max_response: i32,
}

impl BrokerConnection {
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<BrokerConnection, InterBrokerError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| InterBrokerError::Timeout {
                addr: addr.to_owned(),
            })?
            .map_err(|source| InterBrokerError::Io {
                addr: addr.to_owned(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(BrokerConnection {
            addr: addr.to_owned(),
            stream,
            client_id: client_id.to_owned(),
            next_correlation: 0,
            timeout,
            max_response: MAX_RESPONSE_BYTES,
        })
    }

    /// The address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How long one request/response exchange may take (long polls need more).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The largest response accepted (a consumer's fetch.max.bytes needs more than the
    /// inter-broker default).
    pub fn set_max_response(&mut self, bytes: i32) {
        self.max_response = bytes.max(0);
    }

    fn protocol(&self, msg: impl Into<String>) -> InterBrokerError {
        InterBrokerError::Protocol {
            addr: self.addr.clone(),
            msg: msg.into(),
        }
    }

    /// Sends `req` as `version` and decodes the response.
    pub async fn send<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, InterBrokerError>
    where
        R::Response: Decodable,
    {
        let api = ApiKey::try_from(R::KEY).map_err(|_| self.protocol("unknown api key"))?;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = self.next_correlation;
        header.client_id = Some(StrBytes::from_string(self.client_id.clone()));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(version))
            .map_err(|e| self.protocol(format!("encode header: {e}")))?;
        req.encode(&mut body, version)
            .map_err(|e| self.protocol(format!("encode {api:?}: {e}")))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.put_slice(body.chunk());
        let addr = self.addr.clone();
        let io = |source| InterBrokerError::Io {
            addr: addr.clone(),
            source,
        };
        let timeout = self.timeout;
        let exchange = async {
            self.stream.write_all(&frame).await.map_err(io)?;
            let size = self.stream.read_i32().await.map_err(io)?;
            if !(0..=self.max_response).contains(&size) {
                return Err(self.protocol(format!("response size {size}")));
            }
            let mut buf = vec![0u8; size as usize];
            self.stream.read_exact(&mut buf).await.map_err(io)?;
            Ok(buf)
        };
        let buf = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| InterBrokerError::Timeout {
                addr: self.addr.clone(),
            })??;
        let mut bytes = Bytes::from(buf);
        let rh = ResponseHeader::decode(&mut bytes, api.response_header_version(version))
            .map_err(|e| self.protocol(format!("decode response header: {e}")))?;
        if rh.correlation_id != self.next_correlation {
            return Err(self.protocol("correlation id mismatch"));
        }
        R::Response::decode(&mut bytes, version)
            .map_err(|e| self.protocol(format!("decode {api:?} response: {e}")))
    }
}
