//! Transactions: what a write becomes once validated, in the bytes of a log entry and a
//! quorum proposal (`TxnHeader` + txn record + optional `TxnDigest`).

use crate::jute::*;
use crate::proto::op;

/// The record of one transaction, tagged by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession(CreateSessionTxn),
    /// `None` for logs written by ZooKeeper ≤ 3.5, which carry no record.
    CloseSession(Option<CloseSessionTxn>),
    Create(CreateTxn),
    Create2(CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    Delete(DeleteTxn),
    DeleteContainer(DeleteTxn),
    SetData(SetDataTxn),
    Reconfig(SetDataTxn),
    SetAcl(SetAclTxn),
    Error(ErrorTxn),
    Check(CheckVersionTxn),
    Multi(Vec<TxnBody>),
}

/// A decoded log entry or proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub hdr: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

/// Why a txn payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("txn record: {0}")]
    Decode(#[from] DecodeError),
    #[error("unknown txn type {0}")]
    UnknownType(i32),
}

impl TxnBody {
    /// The opcode this body is logged under.
    pub fn type_code(&self) -> i32 {
        match self {
            TxnBody::CreateSession(_) => op::CREATE_SESSION,
            TxnBody::CloseSession(_) => op::CLOSE_SESSION,
            TxnBody::Create(_) => op::CREATE,
            TxnBody::Create2(_) => op::CREATE2,
            TxnBody::CreateTtl(_) => op::CREATE_TTL,
            TxnBody::CreateContainer(_) => op::CREATE_CONTAINER,
            TxnBody::Delete(_) => op::DELETE,
            TxnBody::DeleteContainer(_) => op::DELETE_CONTAINER,
            TxnBody::SetData(_) => op::SET_DATA,
            TxnBody::Reconfig(_) => op::RECONFIG,
            TxnBody::SetAcl(_) => op::SET_ACL,
            TxnBody::Error(_) => op::ERROR,
            TxnBody::Check(_) => op::CHECK,
            TxnBody::Multi(_) => op::MULTI,
        }
    }

    /// Appends the record (no header).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            TxnBody::CreateSession(t) => t.write(out),
            TxnBody::CloseSession(t) => {
                if let Some(t) = t {
                    t.write(out)
                }
            }
            TxnBody::Create(t) | TxnBody::Create2(t) => t.write(out),
            TxnBody::CreateTtl(t) => t.write(out),
            TxnBody::CreateContainer(t) => t.write(out),
            TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => t.write(out),
            TxnBody::SetData(t) | TxnBody::Reconfig(t) => t.write(out),
            TxnBody::SetAcl(t) => t.write(out),
            TxnBody::Error(t) => t.write(out),
            TxnBody::Check(t) => t.write(out),
            TxnBody::Multi(subs) => {
                (subs.len() as i32).write(out);
                for s in subs {
                    s.type_code().write(out);
                    let mut data = Vec::new();
                    s.write(&mut data);
                    write_buffer(out, Some(&data));
                }
            }
        }
    }

    /// Decodes a record of type `ty` from the front of `i`.
    pub fn read(ty: i32, i: &[u8]) -> Result<(&[u8], TxnBody), TxnError> {
        fn r<T: Jute>(i: &[u8]) -> Result<(&[u8], T), TxnError> {
            T::read(i).map_err(|e| TxnError::Decode(e.into()))
        }
        Ok(match ty {
            op::CREATE_SESSION => {
                let (i, t) = r(i)?;
                (i, TxnBody::CreateSession(t))
            }
            op::CLOSE_SESSION => {
                // Exactly a TxnDigest left, or nothing: a ≤3.5 record-less close.
                if i.is_empty() || (i.len() == 12 && i[..4] == [0, 0, 0, 2]) {
                    (i, TxnBody::CloseSession(None))
                } else {
                    let (i, t) = r(i)?;
                    (i, TxnBody::CloseSession(Some(t)))
                }
            }
            op::CREATE | op::CREATE2 => {
                let (i, t): (_, CreateTxn) = match r::<CreateTxn>(i) {
                    Ok(v) => v,
                    Err(_) => {
                        let (i, v0): (_, CreateTxnV0) = r(i)?;
                        let t = CreateTxn {
                            path: v0.path,
                            data: v0.data,
                            acl: v0.acl,
                            ephemeral: v0.ephemeral,
                            parent_c_version: -1,
                        };
                        (i, t)
                    }
                };
                (
                    i,
                    if ty == op::CREATE {
                        TxnBody::Create(t)
                    } else {
                        TxnBody::Create2(t)
                    },
                )
            }
            op::CREATE_TTL => {
                let (i, t) = r(i)?;
                (i, TxnBody::CreateTtl(t))
            }
            op::CREATE_CONTAINER => {
                let (i, t) = r(i)?;
                (i, TxnBody::CreateContainer(t))
            }
            op::DELETE => {
                let (i, t) = r(i)?;
                (i, TxnBody::Delete(t))
            }
            op::DELETE_CONTAINER => {
                let (i, t) = r(i)?;
                (i, TxnBody::DeleteContainer(t))
            }
            op::SET_DATA => {
                let (i, t) = r(i)?;
                (i, TxnBody::SetData(t))
            }
            op::RECONFIG => {
                let (i, t) = r(i)?;
                (i, TxnBody::Reconfig(t))
            }
            op::SET_ACL => {
                let (i, t) = r(i)?;
                (i, TxnBody::SetAcl(t))
            }
            op::ERROR => {
                let (i, t) = r(i)?;
                (i, TxnBody::Error(t))
            }
            op::CHECK => {
                let (i, t) = r(i)?;
                (i, TxnBody::Check(t))
            }
            op::MULTI => {
                let (i, m): (_, MultiTxn) = r(i)?;
                let mut subs = Vec::with_capacity(m.txns.len());
                for t in m.txns {
                    let data = t.data.unwrap_or_default();
                    if t.r#type == op::MULTI {
                        return Err(TxnError::UnknownType(t.r#type));
                    }
                    let (_, b) = TxnBody::read(t.r#type, &data)?;
                    subs.push(b);
                }
                (i, TxnBody::Multi(subs))
            }
            other => return Err(TxnError::UnknownType(other)),
        })
    }
}

impl TxnEntry {
    /// The payload bytes of a log entry or proposal.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.hdr.write(&mut out);
        self.body.write(&mut out);
        if let Some(d) = &self.digest {
            d.write(&mut out);
        }
        out
    }

    /// Decodes a payload; a trailing TxnDigest is read when present.
    pub fn decode(payload: &[u8]) -> Result<TxnEntry, TxnError> {
        let (i, hdr) = TxnHeader::read(payload).map_err(|e| TxnError::Decode(e.into()))?;
        let (i, body) = TxnBody::read(hdr.r#type, i)?;
        let digest = if i.len() >= 12 {
            TxnDigest::decode(i).ok()
        } else {
            None
        };
        Ok(TxnEntry { hdr, body, digest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_multi_with_digest() {
        let e = TxnEntry {
            hdr: TxnHeader {
                client_id: 7,
                cxid: 3,
                zxid: 0x100000002,
                time: 99,
                r#type: op::MULTI,
            },
            body: TxnBody::Multi(vec![
                TxnBody::Create(CreateTxn {
                    path: "/a".into(),
                    data: None,
                    acl: vec![],
                    ephemeral: false,
                    parent_c_version: 1,
                }),
                TxnBody::Error(ErrorTxn { err: -101 }),
            ]),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: 12345,
            }),
        };
        assert_eq!(TxnEntry::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn close_session_forms() {
        for body in [
            TxnBody::CloseSession(None),
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: vec!["/e".into()],
            })),
        ] {
            for digest in [
                None,
                Some(TxnDigest {
                    version: 2,
                    tree_digest: 1,
                }),
            ] {
                let e = TxnEntry {
                    hdr: TxnHeader {
                        r#type: op::CLOSE_SESSION,
                        ..Default::default()
                    },
                    body: body.clone(),
                    digest,
                };
                assert_eq!(TxnEntry::decode(&e.encode()).unwrap(), e);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = TxnEntry::decode(&data);
        }
    }
}
