//! Offsets the tools ask for: a partition's offset by time (ListOffsets, sent to each
//! partition's leader) and a group's committed offsets (OffsetFetch, sent to its coordinator).

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    BrokerId, GroupId, ListOffsetsRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{ClientError, KafkaClient};

/// ListOffsets' special timestamps.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// Errors after which the metadata is refreshed and the request retried once:
/// NOT_LEADER_OR_FOLLOWER (6), LEADER_NOT_AVAILABLE (5), UNKNOWN_TOPIC_OR_PARTITION (3)
/// right after creation, FENCED/UNKNOWN_LEADER_EPOCH (74, 76).
fn stale_metadata(code: i16) -> bool {
    matches!(code, 3 | 5 | 6 | 74 | 76)
}

impl KafkaClient {
    /// The offset of each of `partitions` of `topic` at `timestamp` (LATEST, EARLIEST or a
    /// time in ms: the first offset whose timestamp is at or after it; -1 if none).
    pub async fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[i32],
        timestamp: i64,
    ) -> Result<BTreeMap<i32, i64>, ClientError> {
        let mut out = BTreeMap::new();
        let mut pending: Vec<i32> = partitions.to_vec();
        for attempt in 0..3 {
            let info = self.topic(topic).await?;
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for p in &pending {
                let leader = info
                    .partitions
                    .iter()
                    .find(|pi| pi.partition == *p)
                    .map(|pi| pi.leader)
                    .ok_or(ClientError::Kafka {
                        context: format!("partition {topic}-{p}"),
                        code: 3,
                    })?;
                by_leader.entry(leader).or_default().push(*p);
            }
            let mut retry = Vec::new();
            let mut last_code = 0;
            for (leader, parts) in by_leader {
                if leader < 0 {
                    retry.extend(parts);
                    last_code = 5;
                    continue;
                }
                let mut req = ListOffsetsRequest::default();
                req.replica_id = BrokerId(-1);
                let mut t = ListOffsetsTopic::default();
                t.name = TopicName(StrBytes::from_string(topic.to_owned()));
                t.partitions = parts
                    .iter()
                    .map(|p| {
                        let mut lp = ListOffsetsPartition::default();
                        lp.partition_index = *p;
                        lp.current_leader_epoch = -1;
                        lp.timestamp = timestamp;
                        lp.max_num_offsets = 1;
                        lp
                    })
                    .collect();
                req.topics = vec![t];
                let (resp, _) = self.send_to_node(leader, &req, None).await?;
                for rt in resp.topics {
                    for rp in rt.partitions {
                        if rp.error_code == 0 {
                            out.insert(rp.partition_index, rp.offset);
                        } else if stale_metadata(rp.error_code) && attempt < 2 {
                            retry.push(rp.partition_index);
                            last_code = rp.error_code;
                        } else {
                            return Err(ClientError::Kafka {
                                context: format!("offsets of {topic}-{}", rp.partition_index),
                                code: rp.error_code,
                            });
                        }
                    }
                }
            }
            if retry.is_empty() {
                return Ok(out);
            }
            if attempt == 2 {
                return Err(ClientError::Kafka {
                    context: format!("offsets of {topic}"),
                    code: last_code,
                });
            }
            pending = retry;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok(out)
    }

    /// `group`'s committed offsets, (topic, partition) -> offset, for `topics` (None: every
    /// topic the group has committed). Partitions without a commit are left out.
    pub async fn committed_offsets(
        &mut self,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<BTreeMap<(String, i32), i64>, ClientError> {
        let coordinator = self.find_coordinator(group).await?;
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.topics = topics.map(|ts| {
            ts.iter()
                .map(|(name, parts)| {
                    let mut t = OffsetFetchRequestTopic::default();
                    t.name = TopicName(StrBytes::from_string(name.clone()));
                    t.partition_indexes = parts.clone();
                    t
                })
                .collect()
        });
        let (resp, _) = self.send_to_node(coordinator, &req, None).await?;
        if resp.error_code != 0 {
            return Err(ClientError::Kafka {
                context: format!("committed offsets of group {group}"),
                code: resp.error_code,
            });
        }
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code != 0 {
                    return Err(ClientError::Kafka {
                        context: format!(
                            "committed offset of {}-{}",
                            t.name.0.as_str(),
                            p.partition_index
                        ),
                        code: p.error_code,
                    });
                }
                if p.committed_offset >= 0 {
                    out.insert(
                        (t.name.0.as_str().to_owned(), p.partition_index),
                        p.committed_offset,
                    );
                }
            }
        }
        Ok(out)
    }
}
