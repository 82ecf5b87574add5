//! Errors of the tools' Kafka client.

use kafka_protocol::error::ResponseError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No bootstrap server answered within the timeout.
    #[error("could not connect to any of the bootstrap servers {servers} within {timeout_ms} ms")]
    Bootstrap { servers: String, timeout_ms: u128 },
    /// A broker could not be reached or broke the exchange.
    #[error(transparent)]
    Broker(#[from] broker::interbroker::InterBrokerError),
    /// The broker supports no version of an API that this client speaks.
    #[error("broker {addr} does not support {api} (versions {min}..={max} needed)")]
    Unsupported {
        addr: String,
        api: String,
        min: i16,
        max: i16,
    },
    /// A broker id the metadata does not list.
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// A Kafka error code in a response.
    #[error("{context}: {}", error_name(*.code))]
    Kafka { context: String, code: i16 },
    /// Anything else the caller reports as is.
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// The Kafka error code, when that is what failed.
    pub fn code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Kafka's name for an error code (`UNKNOWN_TOPIC_OR_PARTITION`), as its tools print them.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        // The crate maps codes it does not know to a catch-all variant (`Unknown(n)`).
        Some(e) if !format!("{e:?}").contains('(') => {
            // The crate's variant names are Kafka's in CamelCase; Kafka prints UPPER_SNAKE.
            let camel = format!("{e:?}");
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, ch) in camel.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_uppercase());
            }
            out
        }
        _ if code == 0 => "NONE".to_owned(),
        _ => format!("UNKNOWN_ERROR_CODE_{code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(-30000), "UNKNOWN_ERROR_CODE_-30000");
    }
}
