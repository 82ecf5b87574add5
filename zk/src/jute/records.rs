//! The records of Apache ZooKeeper 3.8's `zookeeper.jute`, field for field.

use super::{Buffer, Jute, Res};
use crate::jute_record;

jute_record! {
    /// An identity: scheme and id (world:anyone, digest:user:hash, ip:1.2.3.4, ...).
    pub struct Id { pub scheme: String, pub id: String }
}
jute_record! {
    /// One ACL entry.
    pub struct Acl { pub perms: i32, pub id: Id }
}
jute_record! {
    /// The Stat seen by clients (68 bytes).
    pub struct Stat {
        pub czxid: i64, pub mzxid: i64, pub ctime: i64, pub mtime: i64,
        pub version: i32, pub cversion: i32, pub aversion: i32,
        pub ephemeral_owner: i64, pub data_length: i32, pub num_children: i32, pub pzxid: i64,
    }
}
jute_record! {
    /// The Stat stored in snapshots (no dataLength/numChildren, stored cversion).
    pub struct StatPersisted {
        pub czxid: i64, pub mzxid: i64, pub ctime: i64, pub mtime: i64,
        pub version: i32, pub cversion: i32, pub aversion: i32,
        pub ephemeral_owner: i64, pub pzxid: i64,
    }
}
jute_record! {
    pub struct ClientInfo { pub auth_scheme: String, pub user: String }
}

// ---- connection ----

/// The first frame of a session. `read_only` is absent in frames from old clients, so
/// it is decoded by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Buffer,
    /// `None` when the client did not send the trailing byte (an "old client").
    pub read_only: Option<bool>,
}

impl Jute for ConnectRequest {
    const MIN_SIZE: usize = 28;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (i, protocol_version) = i32::read(i)?;
        let (i, last_zxid_seen) = i64::read(i)?;
        let (i, time_out) = i32::read(i)?;
        let (i, session_id) = i64::read(i)?;
        let (i, passwd) = Buffer::read(i)?;
        let (i, read_only) = if i.is_empty() {
            (i, None)
        } else {
            let (i, b) = bool::read(i)?;
            (i, Some(b))
        };
        Ok((
            i,
            ConnectRequest {
                protocol_version,
                last_zxid_seen,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.protocol_version.write(out);
        self.last_zxid_seen.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(b) = self.read_only {
            b.write(out);
        }
    }
}

/// The server's answer to ConnectRequest; `read_only` is written only when the request had it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Buffer,
    pub read_only: Option<bool>,
}

impl Jute for ConnectResponse {
    const MIN_SIZE: usize = 20;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (i, protocol_version) = i32::read(i)?;
        let (i, time_out) = i32::read(i)?;
        let (i, session_id) = i64::read(i)?;
        let (i, passwd) = Buffer::read(i)?;
        let (i, read_only) = if i.is_empty() {
            (i, None)
        } else {
            let (i, b) = bool::read(i)?;
            (i, Some(b))
        };
        Ok((
            i,
            ConnectResponse {
                protocol_version,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.protocol_version.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(b) = self.read_only {
            b.write(out);
        }
    }
}

jute_record! { pub struct RequestHeader { pub xid: i32, pub r#type: i32 } }
jute_record! { pub struct ReplyHeader { pub xid: i32, pub zxid: i64, pub err: i32 } }
jute_record! { pub struct WatcherEvent { pub r#type: i32, pub state: i32, pub path: String } }
jute_record! { pub struct AuthPacket { pub r#type: i32, pub scheme: String, pub auth: Buffer } }

// ---- requests ----

jute_record! { pub struct CreateRequest { pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub flags: i32 } }
jute_record! { pub struct CreateTtlRequest { pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub flags: i32, pub ttl: i64 } }
jute_record! { pub struct DeleteRequest { pub path: String, pub version: i32 } }
jute_record! {
    /// exists, getData, getChildren and getChildren2 requests share this shape.
    pub struct PathWatchRequest { pub path: String, pub watch: bool }
}
jute_record! {
    /// getACL, sync, getEphemerals, getAllChildrenNumber requests share this shape.
    pub struct PathRequest { pub path: String }
}
jute_record! { pub struct SetDataRequest { pub path: String, pub data: Buffer, pub version: i32 } }
jute_record! { pub struct SetAclRequest { pub path: String, pub acl: Vec<Acl>, pub version: i32 } }
jute_record! { pub struct CheckVersionRequest { pub path: String, pub version: i32 } }
jute_record! {
    /// removeWatches and checkWatches requests share this shape.
    pub struct WatchesRequest { pub path: String, pub r#type: i32 }
}
jute_record! { pub struct AddWatchRequest { pub path: String, pub mode: i32 } }
jute_record! {
    pub struct SetWatches {
        pub relative_zxid: i64, pub data_watches: Vec<String>, pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}
jute_record! {
    pub struct SetWatches2 {
        pub relative_zxid: i64, pub data_watches: Vec<String>, pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>, pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}
jute_record! { pub struct GetSaslRequest { pub token: Buffer } }
jute_record! {
    pub struct ReconfigRequest {
        pub joining_servers: String, pub leaving_servers: String, pub new_members: String,
        pub cur_config_id: i64,
    }
}
jute_record! { pub struct MultiHeader { pub r#type: i32, pub done: bool, pub err: i32 } }

// ---- responses ----

jute_record! { pub struct CreateResponse { pub path: String } }
jute_record! { pub struct Create2Response { pub path: String, pub stat: Stat } }
jute_record! {
    /// exists, setData and setACL responses share this shape.
    pub struct StatResponse { pub stat: Stat }
}
jute_record! { pub struct GetDataResponse { pub data: Buffer, pub stat: Stat } }
jute_record! { pub struct GetAclResponse { pub acl: Vec<Acl>, pub stat: Stat } }
jute_record! {
    /// getChildren and getEphemerals responses share this shape.
    pub struct StringsResponse { pub strings: Vec<String> }
}
jute_record! { pub struct GetChildren2Response { pub children: Vec<String>, pub stat: Stat } }
jute_record! { pub struct SyncResponse { pub path: String } }
jute_record! { pub struct GetAllChildrenNumberResponse { pub total_number: i32 } }
jute_record! { pub struct ErrorResponse { pub err: i32 } }
jute_record! { pub struct WhoAmIResponse { pub client_info: Vec<ClientInfo> } }

// ---- transactions (log payloads and proposals) ----

jute_record! {
    pub struct TxnHeader { pub client_id: i64, pub cxid: i32, pub zxid: i64, pub time: i64, pub r#type: i32 }
}
jute_record! {
    pub struct CreateTxn {
        pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub ephemeral: bool,
        pub parent_c_version: i32,
    }
}
jute_record! {
    /// Pre-3.3 create txn without parentCVersion (read only).
    pub struct CreateTxnV0 { pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub ephemeral: bool }
}
jute_record! {
    pub struct CreateTtlTxn {
        pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub parent_c_version: i32, pub ttl: i64,
    }
}
jute_record! {
    pub struct CreateContainerTxn { pub path: String, pub data: Buffer, pub acl: Vec<Acl>, pub parent_c_version: i32 }
}
jute_record! { pub struct DeleteTxn { pub path: String } }
jute_record! { pub struct SetDataTxn { pub path: String, pub data: Buffer, pub version: i32 } }
jute_record! { pub struct CheckVersionTxn { pub path: String, pub version: i32 } }
jute_record! { pub struct SetAclTxn { pub path: String, pub acl: Vec<Acl>, pub version: i32 } }
jute_record! { pub struct ErrorTxn { pub err: i32 } }
jute_record! { pub struct CreateSessionTxn { pub time_out: i32 } }
jute_record! { pub struct CloseSessionTxn { pub paths2_delete: Vec<String> } }
jute_record! {
    /// One sub-transaction of a multi: its type and its serialized record.
    pub struct Txn { pub r#type: i32, pub data: Buffer }
}
jute_record! { pub struct MultiTxn { pub txns: Vec<Txn> } }
jute_record! { pub struct TxnDigest { pub version: i32, pub tree_digest: i64 } }

// ---- files and quorum ----

jute_record! { pub struct FileHeader { pub magic: i32, pub version: i32, pub dbid: i64 } }
jute_record! { pub struct QuorumPacket { pub r#type: i32, pub zxid: i64, pub data: Buffer, pub authinfo: Vec<Id> } }
jute_record! { pub struct LearnerInfo { pub serverid: i64, pub protocol_version: i32, pub config_version: i64 } }

impl From<&StatPersisted> for Stat {
    /// The client-visible fields of a stored stat; dataLength, numChildren and the
    /// wire cversion are filled in by the caller.
    fn from(s: &StatPersisted) -> Self {
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: 0,
            num_children: 0,
            pzxid: s.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_68_bytes() {
        assert_eq!(Stat::default().to_bytes().len(), 68);
        assert_eq!(StatPersisted::default().to_bytes().len(), 60);
    }

    #[test]
    fn connect_request_old_and_new() {
        let mut r = ConnectRequest {
            time_out: 30000,
            passwd: Some(vec![0; 16]),
            ..Default::default()
        };
        assert_eq!(r.to_bytes().len(), 44);
        assert_eq!(ConnectRequest::decode(&r.to_bytes()).unwrap(), r);
        r.read_only = Some(false);
        assert_eq!(r.to_bytes().len(), 45);
        assert_eq!(ConnectRequest::decode(&r.to_bytes()).unwrap(), r);
        let resp = ConnectResponse {
            passwd: Some(vec![0; 16]),
            read_only: Some(false),
            ..Default::default()
        };
        // The C client reads a fixed 41-byte primer: 4 length + 37 body.
        assert_eq!(resp.to_bytes().len(), 37);
    }

    #[test]
    fn create_request_roundtrip() {
        let r = CreateRequest {
            path: "/a".into(),
            data: Some(b"x".to_vec()),
            acl: vec![Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            flags: 3,
        };
        assert_eq!(CreateRequest::decode(&r.to_bytes()).unwrap(), r);
    }
}
