//! The version range this client speaks for each API. A request goes out at the highest
//! version both sides support. The ceilings are the Kafka 2.8 versions whose fields the tools
//! fill in (newer ones add topic ids and fields the tools would have to handle).

use kafka_protocol::messages::ApiKey;

const CLIENT: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 8),
    (ApiKey::Fetch, 4, 11),
    (ApiKey::ListOffsets, 1, 5),
    (ApiKey::Metadata, 1, 9),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 1, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 0, 5),
    (ApiKey::DeleteTopics, 0, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 0, 3),
    (ApiKey::AlterConfigs, 0, 1),
    (ApiKey::CreatePartitions, 0, 2),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 0),
];

/// The (lowest, highest) version this client speaks for `api`.
pub fn client_versions(api: ApiKey) -> Option<(i16, i16)> {
    CLIENT
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// The version to use given the broker's range, if the ranges overlap.
pub fn pick(ours: (i16, i16), theirs: (i16, i16)) -> Option<i16> {
    let hi = ours.1.min(theirs.1);
    (hi >= ours.0.max(theirs.0)).then_some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        assert_eq!(pick((3, 8), (0, 9)), Some(8));
        assert_eq!(pick((3, 8), (0, 5)), Some(5));
        assert_eq!(pick((3, 8), (0, 2)), None);
        assert!(client_versions(ApiKey::Fetch).is_some());
        assert!(client_versions(ApiKey::LeaderAndIsr).is_none());
    }
}
