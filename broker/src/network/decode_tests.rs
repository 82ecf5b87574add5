//! Property tests of the request decoding path: every implemented (API, version) decodes a
//! well-formed frame, and random or mutated frames give an error or a request, never a
//! panic or an allocation of a claimed length.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;

use super::{decode_request, Decoded};
use crate::handlers::SUPPORTED;

// The production allocator: a decoder that reserves a huge declared array count gets address
// space, not memory, so a bogus count cannot abort the test process.
#[global_allocator]
static ALLOC: crate::alloc::ReservingAllocator = crate::alloc::ReservingAllocator;

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// A default (empty) request body of `api`.
fn default_request(api: ApiKey) -> Option<RequestKind> {
    Some(match api {
        ApiKey::Produce => RequestKind::Produce(Default::default()),
        ApiKey::Fetch => RequestKind::Fetch(Default::default()),
        ApiKey::ListOffsets => RequestKind::ListOffsets(Default::default()),
        ApiKey::Metadata => RequestKind::Metadata(Default::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(Default::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(Default::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(Default::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(Default::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(Default::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(Default::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(Default::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(Default::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(Default::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(Default::default()),
        ApiKey::CreateTopics => RequestKind::CreateTopics(Default::default()),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(Default::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(Default::default()),
        ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(Default::default()),
        ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(Default::default()),
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(Default::default()),
        ApiKey::CreatePartitions => RequestKind::CreatePartitions(Default::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(Default::default()),
        ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(Default::default()),
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(Default::default()),
        ApiKey::LeaderAndIsr => RequestKind::LeaderAndIsr(Default::default()),
        ApiKey::UpdateMetadata => RequestKind::UpdateMetadata(Default::default()),
        ApiKey::StopReplica => RequestKind::StopReplica(Default::default()),
        _ => return None,
    })
}

/// A well-formed frame body (no size prefix) of `api` at `version`.
fn frame(api: ApiKey, version: i16) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("proptest"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .expect("encode header");
    default_request(api)
        .expect("a default request for every supported API")
        .encode(&mut buf, version)
        .expect("encode body");
    buf.freeze()
}

fn all_versions() -> Vec<(ApiKey, i16)> {
    SUPPORTED
        .iter()
        .flat_map(|(api, lo, hi)| (*lo..=*hi).map(move |v| (*api, v)))
        .collect()
}

#[test]
fn every_supported_version_decodes_a_well_formed_frame() {
    for (api, version) in all_versions() {
        match decode_request("PLAINTEXT", peer(), frame(api, version)) {
            Ok(Decoded::Request(ctx, _)) => {
                assert_eq!(
                    (ctx.api_key, ctx.api_version, ctx.correlation_id),
                    (api, version, 7)
                );
                assert_eq!(ctx.client_id, "proptest");
            }
            Ok(Decoded::NewerApiVersions(_)) => panic!("{api:?} v{version}: not in range"),
            Err(e) => panic!("{api:?} v{version}: {e}"),
        }
    }
}

#[test]
fn newer_api_versions_is_answered_and_other_unknowns_close() {
    let mut f = BytesMut::new();
    f.put_i16(ApiKey::ApiVersions as i16);
    f.put_i16(99);
    f.put_i32(1);
    f.put_i16(-1);
    f.put_u8(0); // no tagged fields (flexible header)
    assert!(matches!(
        decode_request("PLAINTEXT", peer(), f.freeze()),
        Ok(Decoded::NewerApiVersions(_))
    ));
    let mut f = BytesMut::new();
    f.put_i16(ApiKey::Produce as i16);
    f.put_i16(99);
    f.put_i32(1);
    assert!(decode_request("PLAINTEXT", peer(), f.freeze()).is_err());
    assert!(decode_request("PLAINTEXT", peer(), Bytes::from_static(&[0, 0])).is_err());
    assert!(decode_request("PLAINTEXT", peer(), Bytes::from_static(&[0x7f, 0, 0, 0])).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Random bodies after a valid API key and version.
    #[test]
    fn random_bodies_never_panic(
        which in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let versions = all_versions();
        let (api, version) = versions[which.index(versions.len())];
        let mut f = BytesMut::new();
        f.put_i16(api as i16);
        f.put_i16(version);
        f.put_slice(&body);
        let _ = decode_request("PLAINTEXT", peer(), f.freeze());
    }

    /// Well-formed frames with bytes overwritten (array counts and string lengths turned
    /// huge or negative, among others), truncated, or extended with garbage.
    #[test]
    fn mutated_frames_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let versions = all_versions();
        let (api, version) = versions[which.index(versions.len())];
        let mut bytes = frame(api, version).to_vec();
        for (at, value) in edits {
            // Keep the API key and version so the mutation reaches the body decoder.
            if bytes.len() > 4 {
                let i = 4 + at.index(bytes.len() - 4);
                bytes[i] = value;
            }
        }
        if truncate && bytes.len() > 4 {
            bytes.truncate(4 + cut.index(bytes.len() - 4));
        } else {
            bytes.extend_from_slice(&tail);
        }
        let _ = decode_request("PLAINTEXT", peer(), Bytes::from(bytes));
    }
}
