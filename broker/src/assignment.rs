//! Replica assignment, as Kafka 2.x's `AdminUtils.assignReplicasToBrokers` and
//! `AdminZkClient.createNewPartitionsAssignment` do it, plus the checks on manual assignments.
//!
//! Rack-unaware: leaders go round-robin from a random broker (`start_index`); each further
//! replica sits `1 + (shift + j) % (n - 1)` brokers after the leader, and `shift` grows by one
//! every `n` partitions so that followers spread too. Rack-aware (every broker has a rack): the
//! same walk over a rack-alternating broker list, skipping a broker whose rack (or itself)
//! already holds a replica while another rack (broker) has none. The random draws are
//! parameters here so tests can fix them.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

/// Partition id → replica broker ids, first = preferred leader.
pub type Assignment = BTreeMap<i32, Vec<i32>>;

/// Why an assignment cannot be made or is invalid; the texts are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("Number of partitions must be larger than 0.")]
    InvalidPartitions,
    #[error("Replication factor must be larger than 0.")]
    InvalidReplicationFactor,
    #[error("Replication factor: {replication_factor} larger than available brokers: {brokers}.")]
    ReplicationFactorTooLarge {
        replication_factor: i32,
        brokers: usize,
    },
    /// Rack-aware assignment was required but some brokers have no rack.
    #[error("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")]
    MixedRackInformation,
    /// A manual assignment breaks a rule; the text says which.
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    /// A manual assignment names brokers that are not registered.
    #[error("{0}")]
    BrokerNotAvailable(String),
    #[error("The number of partitions for a topic can only be increased. Topic {topic} currently has {current} partitions, {requested} would not be an increase.")]
    NotAnIncrease {
        topic: String,
        current: usize,
        requested: i32,
    },
    #[error("Unexpected existing replica assignment for topic '{0}', partition id 0 is missing.")]
    MissingPartitionZero(String),
}

/// A broker as assignment sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMetadata {
    pub id: i32,
    pub rack: Option<String>,
}

/// How rack information is used (`RackAwareMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RackAwareMode {
    /// Use racks; fail if only some brokers have one (the tools' default).
    Enforced,
    /// Use racks only if every broker has one (automatic topic creation).
    Safe,
    /// Ignore racks (`--disable-rack-aware`).
    Disabled,
}

/// The brokers sorted by id with rack information kept or dropped per `mode`
/// (`AdminZkClient.getBrokerMetadatas`).
pub fn broker_metadatas(
    brokers: &[BrokerMetadata],
    mode: RackAwareMode,
) -> Result<Vec<BrokerMetadata>, AssignmentError> {
    let mut out = brokers.to_vec();
    out.sort_by_key(|b| b.id);
    let with_rack = out.iter().filter(|b| b.rack.is_some()).count();
    let mixed = with_rack != 0 && with_rack != out.len();
    match mode {
        RackAwareMode::Enforced if mixed => return Err(AssignmentError::MixedRackInformation),
        RackAwareMode::Disabled => out.iter_mut().for_each(|b| b.rack = None),
        RackAwareMode::Safe if mixed => out.iter_mut().for_each(|b| b.rack = None),
        _ => {}
    }
    Ok(out)
}

/// Assigns `n_partitions` partitions (ids from `start_partition_id`) with `replication_factor`
/// replicas over `brokers` (sorted by id here). Without `fixed_start_index`, the start index
/// and the shift are two independent draws from `rng`; with it, both equal it. Rack-aware when
/// every broker has a rack (use [`broker_metadatas`] to apply a [`RackAwareMode`] first).
pub fn assign_replicas_to_brokers(
    brokers: &[BrokerMetadata],
    n_partitions: i32,
    replication_factor: i32,
    fixed_start_index: Option<usize>,
    start_partition_id: i32,
    rng: &mut impl Rng,
) -> Result<Assignment, AssignmentError> {
    check_counts(n_partitions, replication_factor, brokers.len())?;
    let mut sorted = brokers.to_vec();
    sorted.sort_by_key(|b| b.id);
    let n = sorted.len();
    let (start_index, shift) = match fixed_start_index {
        Some(i) => (i, i),
        None => (rng.gen_range(0..n), rng.gen_range(0..n)),
    };
    if sorted.iter().all(|b| b.rack.is_none()) {
        let ids: Vec<i32> = sorted.iter().map(|b| b.id).collect();
        return assign_rack_unaware(
            &ids,
            n_partitions,
            replication_factor,
            start_index,
            shift,
            start_partition_id,
        );
    }
    let racks: Option<Vec<(i32, String)>> = sorted
        .iter()
        .map(|b| b.rack.clone().map(|r| (b.id, r)))
        .collect();
    let racks = racks.ok_or(AssignmentError::MixedRackInformation)?;
    assign_rack_aware(
        &racks,
        n_partitions,
        replication_factor,
        start_index,
        shift,
        start_partition_id,
    )
}

fn check_counts(n_partitions: i32, rf: i32, brokers: usize) -> Result<(), AssignmentError> {
    if n_partitions <= 0 {
        return Err(AssignmentError::InvalidPartitions);
    }
    if rf <= 0 {
        return Err(AssignmentError::InvalidReplicationFactor);
    }
    if usize::try_from(rf).map_or(true, |r| r > brokers) {
        return Err(AssignmentError::ReplicationFactorTooLarge {
            replication_factor: rf,
            brokers,
        });
    }
    Ok(())
}

/// Index of the `j`-th follower: `1 + (shift + j) % (n - 1)` brokers after the leader.
fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let step = 1 + (shift + j) % (n - 1);
    (first + step) % n
}

/// The rack-unaware algorithm over `broker_ids` in the given order, with explicit draws.
pub fn assign_rack_unaware(
    broker_ids: &[i32],
    n_partitions: i32,
    replication_factor: i32,
    start_index: usize,
    shift: usize,
    start_partition_id: i32,
) -> Result<Assignment, AssignmentError> {
    check_counts(n_partitions, replication_factor, broker_ids.len())?;
    let n = broker_ids.len();
    let rf = replication_factor as usize; // checked positive and <= n above
    let mut shift = shift;
    let mut out = Assignment::new();
    let mut pid = start_partition_id.max(0);
    for _ in 0..n_partitions {
        let p = pid as usize;
        if p > 0 && p.is_multiple_of(n) {
            shift += 1;
        }
        let first = (p % n + start_index % n) % n;
        let mut replicas = Vec::with_capacity(rf);
        replicas.push(broker_ids[first]);
        for j in 0..rf - 1 {
            replicas.push(broker_ids[replica_index(first, shift, j, n)]);
        }
        out.insert(pid, replicas);
        pid = pid
            .checked_add(1)
            .ok_or(AssignmentError::InvalidPartitions)?;
    }
    Ok(out)
}

/// Brokers ordered by alternating racks: racks sorted by name, each rack's brokers by id,
/// then one broker from each rack in turn (`getRackAlternatedBrokerList`).
pub fn rack_alternated_broker_list(brokers: &[(i32, String)]) -> Vec<i32> {
    let mut by_rack: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (id, rack) in brokers {
        by_rack.entry(rack.as_str()).or_default().push(*id);
    }
    by_rack.values_mut().for_each(|ids| ids.sort_unstable());
    let mut iters: Vec<std::vec::IntoIter<i32>> =
        by_rack.into_values().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(brokers.len());
    while out.len() < brokers.len() {
        let before = out.len();
        for it in iters.iter_mut() {
            if let Some(id) = it.next() {
                out.push(id);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// The rack-aware algorithm (every broker has a rack), with explicit draws.
pub fn assign_rack_aware(
    brokers: &[(i32, String)],
    n_partitions: i32,
    replication_factor: i32,
    start_index: usize,
    shift: usize,
    start_partition_id: i32,
) -> Result<Assignment, AssignmentError> {
    check_counts(n_partitions, replication_factor, brokers.len())?;
    let rack_of: BTreeMap<i32, &str> = brokers.iter().map(|(id, r)| (*id, r.as_str())).collect();
    let num_racks = rack_of.values().collect::<BTreeSet<_>>().len();
    let arranged = rack_alternated_broker_list(brokers);
    let n = arranged.len();
    let rf = replication_factor as usize; // checked positive and <= n above
    let mut shift = shift;
    let mut out = Assignment::new();
    let mut pid = start_partition_id.max(0);
    for _ in 0..n_partitions {
        let p = pid as usize;
        if p > 0 && p.is_multiple_of(n) {
            shift += 1;
        }
        let first = (p % n + start_index % n) % n;
        let leader = arranged[first];
        let mut replicas = vec![leader];
        let mut racks_used: BTreeSet<&str> = rack_of.get(&leader).into_iter().copied().collect();
        let mut brokers_used: BTreeSet<i32> = BTreeSet::from([leader]);
        let mut k = 0;
        for _ in 0..rf - 1 {
            // Terminates: within n consecutive k the walk visits every broker at least once
            // (the step cycles through 1..n-1), and some broker is always acceptable.
            loop {
                let broker = arranged[replica_index(first, shift * num_racks, k, n)];
                let rack = rack_of.get(&broker).copied().unwrap_or_default();
                k += 1;
                let rack_ok = !racks_used.contains(rack) || racks_used.len() == num_racks;
                let broker_ok = !brokers_used.contains(&broker) || brokers_used.len() == n;
                if rack_ok && broker_ok {
                    replicas.push(broker);
                    racks_used.insert(rack);
                    brokers_used.insert(broker);
                    break;
                }
            }
        }
        out.insert(pid, replicas);
        pid = pid
            .checked_add(1)
            .ok_or(AssignmentError::InvalidPartitions)?;
    }
    Ok(out)
}

/// Parses `kafka-topics --replica-assignment`: `0:1,1:2` = partition 0 on brokers 0 and 1,
/// partition 1 on brokers 1 and 2.
pub fn parse_replica_assignment(s: &str) -> Result<Assignment, AssignmentError> {
    let mut out = Assignment::new();
    let mut first_len = None;
    for (i, part) in s.split(',').enumerate() {
        let brokers: Vec<i32> = part
            .split(':')
            .map(|b| b.trim().parse::<i32>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                AssignmentError::InvalidReplicaAssignment(format!(
                    "Invalid replica assignment {s:?}: {part:?} is not a list of broker ids"
                ))
            })?;
        let dups = duplicates(&brokers);
        if !dups.is_empty() {
            return Err(AssignmentError::InvalidReplicaAssignment(format!(
                "Partition replica lists may not contain duplicate entries: {}",
                join(&dups)
            )));
        }
        if *first_len.get_or_insert(brokers.len()) != brokers.len() {
            return Err(AssignmentError::InvalidReplicaAssignment(format!(
                "Partition {i} has different replication factor: {}",
                join(&brokers)
            )));
        }
        let pid = i32::try_from(i).map_err(|_| AssignmentError::InvalidPartitions)?;
        out.insert(pid, brokers);
    }
    Ok(out)
}

fn duplicates(ids: &[i32]) -> Vec<i32> {
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for id in ids {
        if !seen.insert(*id) {
            dups.insert(*id);
        }
    }
    dups.into_iter().collect()
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn describe(a: &Assignment) -> String {
    let parts: Vec<String> = a
        .iter()
        .map(|(p, r)| format!("{p} -> [{}]", join(r)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The checks on an assignment for a new topic (`AdminZkClient.validateTopicCreate`): every
/// partition has the same, non-zero replica count, no broker twice in a partition, and the
/// partition ids are exactly 0..n-1.
pub fn validate_new_topic_assignment(assignment: &Assignment) -> Result<(), AssignmentError> {
    let sizes: BTreeSet<usize> = assignment.values().map(Vec::len).collect();
    if sizes.len() != 1 {
        return Err(AssignmentError::InvalidReplicaAssignment(
            "All partitions should have the same number of replicas".into(),
        ));
    }
    if sizes.contains(&0) {
        return Err(AssignmentError::InvalidReplicaAssignment(
            "Replication factor must be larger than 0.".into(),
        ));
    }
    if assignment.values().any(|r| !duplicates(r).is_empty()) {
        return Err(AssignmentError::InvalidReplicaAssignment(format!(
            "Duplicate replica assignment found: {}",
            describe(assignment)
        )));
    }
    let consecutive = assignment
        .keys()
        .enumerate()
        .all(|(i, p)| usize::try_from(*p).ok() == Some(i));
    if !consecutive {
        return Err(AssignmentError::InvalidReplicaAssignment(
            "partitions should be a consecutive 0-based integer sequence".into(),
        ));
    }
    Ok(())
}

/// The checks on replicas proposed for added partitions (`validateReplicaAssignment`).
pub fn validate_replica_assignment(
    proposed: &Assignment,
    expected_replication_factor: usize,
    available_brokers: &BTreeSet<i32>,
) -> Result<(), AssignmentError> {
    for (p, replicas) in proposed {
        if replicas.is_empty() {
            return Err(AssignmentError::InvalidReplicaAssignment(format!(
                "Cannot have replication factor of 0 for partition id {p}."
            )));
        }
        if !duplicates(replicas).is_empty() {
            return Err(AssignmentError::InvalidReplicaAssignment(format!(
                "Duplicate brokers not allowed in replica assignment: {} for partition id {p}.",
                replicas
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !replicas.iter().all(|r| available_brokers.contains(r)) {
            return Err(AssignmentError::BrokerNotAvailable(format!(
                "Some brokers specified for partition id {p} are not available. Specified brokers: {}, available brokers: {}.",
                replicas.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
                available_brokers.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
            )));
        }
        if replicas.len() != expected_replication_factor {
            return Err(AssignmentError::InvalidReplicaAssignment(format!(
                "Inconsistent replication factor between partitions, partition 0 has {expected_replication_factor} while partition {p} has {} replicas.",
                replicas.len()
            )));
        }
    }
    Ok(())
}

/// The assignment of the partitions added to grow `topic` from its `existing` assignment to
/// `num_partitions` (`createNewPartitionsAssignment`). `brokers` as from [`broker_metadatas`].
/// A `manual` assignment (for the new partition ids only) is validated and returned; otherwise
/// the algorithm runs with start index = shift = the index of the first broker whose id is at
/// least partition 0's first replica, from partition id `existing.len()`.
pub fn new_partitions_assignment(
    topic: &str,
    existing: &Assignment,
    num_partitions: i32,
    brokers: &[BrokerMetadata],
    manual: Option<&Assignment>,
    rng: &mut impl Rng,
) -> Result<Assignment, AssignmentError> {
    let partition0 = existing
        .get(&0)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AssignmentError::MissingPartitionZero(topic.to_owned()))?;
    let current = existing.len();
    let to_add = i64::from(num_partitions) - current as i64;
    if to_add <= 0 {
        return Err(AssignmentError::NotAnIncrease {
            topic: topic.to_owned(),
            current,
            requested: num_partitions,
        });
    }
    let mut sorted = brokers.to_vec();
    sorted.sort_by_key(|b| b.id);
    if let Some(m) = manual {
        let ids: BTreeSet<i32> = sorted.iter().map(|b| b.id).collect();
        validate_replica_assignment(m, partition0.len(), &ids)?;
        return Ok(m.clone());
    }
    let start_index = sorted
        .iter()
        .position(|b| b.id >= partition0[0])
        .unwrap_or(0);
    let rf =
        i32::try_from(partition0.len()).map_err(|_| AssignmentError::InvalidReplicationFactor)?;
    let to_add = i32::try_from(to_add).map_err(|_| AssignmentError::InvalidPartitions)?;
    let start_pid = i32::try_from(current).map_err(|_| AssignmentError::InvalidPartitions)?;
    assign_replicas_to_brokers(&sorted, to_add, rf, Some(start_index), start_pid, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn a(entries: &[(i32, &[i32])]) -> Assignment {
        entries.iter().map(|(p, r)| (*p, r.to_vec())).collect()
    }

    fn plain(ids: &[i32]) -> Vec<BrokerMetadata> {
        ids.iter()
            .map(|&id| BrokerMetadata { id, rack: None })
            .collect()
    }

    fn racked(entries: &[(i32, &str)]) -> Vec<(i32, String)> {
        entries.iter().map(|(i, r)| (*i, r.to_string())).collect()
    }

    #[test]
    fn spec_examples() {
        // §2.1: brokers [0,1,2], 3 partitions, rf 3.
        let even = a(&[(0, &[2, 0, 1]), (1, &[0, 1, 2]), (2, &[1, 2, 0])]);
        assert_eq!(
            assign_rack_unaware(&[0, 1, 2], 3, 3, 2, 0, 0).unwrap(),
            even
        );
        assert_eq!(
            assign_rack_unaware(&[0, 1, 2], 3, 3, 2, 2, 0).unwrap(),
            even
        );
        assert_eq!(
            assign_rack_unaware(&[0, 1, 2], 3, 3, 2, 1, 0).unwrap(),
            a(&[(0, &[2, 1, 0]), (1, &[0, 2, 1]), (2, &[1, 0, 2])])
        );
    }

    #[test]
    fn five_brokers_ten_partitions() {
        // Derived by hand from the algorithm (start 0, shift 0; the shift becomes 1 at p5).
        let expect = a(&[
            (0, &[0, 1, 2]),
            (1, &[1, 2, 3]),
            (2, &[2, 3, 4]),
            (3, &[3, 4, 0]),
            (4, &[4, 0, 1]),
            (5, &[0, 2, 3]),
            (6, &[1, 3, 4]),
            (7, &[2, 4, 0]),
            (8, &[3, 0, 1]),
            (9, &[4, 1, 2]),
        ]);
        assert_eq!(
            assign_rack_unaware(&[0, 1, 2, 3, 4], 10, 3, 0, 0, 0).unwrap(),
            expect
        );
        // Broker ids are positions, not values.
        let ids = [10, 11, 12, 13, 14];
        let got = assign_rack_unaware(&ids, 10, 3, 0, 0, 0).unwrap();
        for (p, r) in &expect {
            assert_eq!(
                got[p],
                r.iter().map(|i| ids[*i as usize]).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn count_errors() {
        let b = plain(&[0, 1]);
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            assign_replicas_to_brokers(&b, 0, 1, None, 0, &mut rng),
            Err(AssignmentError::InvalidPartitions)
        );
        assert_eq!(
            assign_replicas_to_brokers(&b, 1, 0, None, 0, &mut rng),
            Err(AssignmentError::InvalidReplicationFactor)
        );
        let e = assign_replicas_to_brokers(&b, 1, 3, None, 0, &mut rng).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Replication factor: 3 larger than available brokers: 2."
        );
        assert!(assign_replicas_to_brokers(&[], 1, 1, None, 0, &mut rng).is_err());
    }

    #[test]
    fn random_draws_are_used() {
        // Over many seeds every broker leads partition 0 at least once.
        let b = plain(&[0, 1, 2]);
        let mut leaders = BTreeSet::new();
        for seed in 0..64 {
            let mut rng = StdRng::seed_from_u64(seed);
            leaders.insert(assign_replicas_to_brokers(&b, 1, 2, None, 0, &mut rng).unwrap()[&0][0]);
        }
        assert_eq!(leaders, BTreeSet::from([0, 1, 2]));
        // Unsorted input is sorted by id first.
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(
            assign_replicas_to_brokers(&plain(&[2, 0, 1]), 3, 3, Some(2), 0, &mut rng).unwrap(),
            assign_rack_unaware(&[0, 1, 2], 3, 3, 2, 2, 0).unwrap()
        );
    }

    #[test]
    fn rack_alternation() {
        let brokers = racked(&[
            (0, "rack1"),
            (1, "rack3"),
            (2, "rack3"),
            (3, "rack2"),
            (4, "rack2"),
            (5, "rack1"),
        ]);
        assert_eq!(
            rack_alternated_broker_list(&brokers),
            vec![0, 3, 1, 5, 4, 2]
        );
        let uneven = racked(&[(0, "a"), (1, "a"), (2, "a"), (3, "b")]);
        assert_eq!(rack_alternated_broker_list(&uneven), vec![0, 3, 1, 2]);
    }

    #[test]
    fn rack_aware_first_partition_by_hand() {
        // Arranged list [0,3,1,5,4,2] (racks 1,2,3,1,2,3), start 0, shift 0: leader 0 (rack1);
        // the walk then tries index 1 → broker 3 (rack2), index 2 → broker 1 (rack3).
        let brokers = racked(&[
            (0, "rack1"),
            (1, "rack3"),
            (2, "rack3"),
            (3, "rack2"),
            (4, "rack2"),
            (5, "rack1"),
        ]);
        let got = assign_rack_aware(&brokers, 1, 3, 0, 0, 0).unwrap();
        assert_eq!(got[&0], vec![0, 3, 1]);
    }

    #[test]
    fn rack_modes() {
        let mixed = vec![
            BrokerMetadata {
                id: 1,
                rack: Some("a".into()),
            },
            BrokerMetadata { id: 0, rack: None },
        ];
        assert_eq!(
            broker_metadatas(&mixed, RackAwareMode::Enforced),
            Err(AssignmentError::MixedRackInformation)
        );
        let safe = broker_metadatas(&mixed, RackAwareMode::Safe).unwrap();
        assert_eq!(safe, plain(&[0, 1]));
        let all = vec![
            BrokerMetadata {
                id: 1,
                rack: Some("a".into()),
            },
            BrokerMetadata {
                id: 0,
                rack: Some("b".into()),
            },
        ];
        assert_eq!(
            broker_metadatas(&all, RackAwareMode::Disabled).unwrap(),
            plain(&[0, 1])
        );
        assert_eq!(
            broker_metadatas(&all, RackAwareMode::Safe).unwrap()[0]
                .rack
                .as_deref(),
            Some("b")
        );
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(
            assign_replicas_to_brokers(&mixed, 1, 1, None, 0, &mut rng),
            Err(AssignmentError::MixedRackInformation)
        );
    }

    #[test]
    fn manual_assignment_parsing_and_validation() {
        assert_eq!(
            parse_replica_assignment("0:1, 1:2").unwrap(),
            a(&[(0, &[0, 1]), (1, &[1, 2])])
        );
        assert!(parse_replica_assignment("0:0").is_err());
        assert!(parse_replica_assignment("0:1,2").is_err());
        assert!(parse_replica_assignment("x").is_err());
        assert!(parse_replica_assignment("").is_err());
        assert!(validate_new_topic_assignment(&a(&[(0, &[1, 2]), (1, &[2, 3])])).is_ok());
        for bad in [
            a(&[(0, &[1, 2]), (1, &[2])]),
            a(&[(0, &[1, 1])]),
            a(&[(0, &[1]), (2, &[1])]),
            a(&[(1, &[1])]),
            a(&[(0, &[])]),
            a(&[]),
        ] {
            assert!(validate_new_topic_assignment(&bad).is_err(), "{bad:?}");
        }
        let avail = BTreeSet::from([0, 1, 2]);
        assert!(validate_replica_assignment(&a(&[(3, &[0, 1])]), 2, &avail).is_ok());
        assert!(matches!(
            validate_replica_assignment(&a(&[(3, &[0, 9])]), 2, &avail),
            Err(AssignmentError::BrokerNotAvailable(_))
        ));
        assert!(validate_replica_assignment(&a(&[(3, &[0])]), 2, &avail).is_err());
        assert!(validate_replica_assignment(&a(&[(3, &[0, 0])]), 2, &avail).is_err());
        assert!(validate_replica_assignment(&a(&[(3, &[])]), 2, &avail).is_err());
    }

    #[test]
    fn adding_partitions() {
        let existing = a(&[(0, &[2, 0, 1]), (1, &[0, 1, 2]), (2, &[1, 2, 0])]);
        let brokers = plain(&[0, 1, 2]);
        let mut rng = StdRng::seed_from_u64(0);
        // start index = shift = index of broker 2 = 2, from partition 3 (where the shift
        // becomes 3): p3 leader (3+2)%3=2 → [2,1,0]; p4 leader 0 → [0,2,1].
        let added = new_partitions_assignment("t", &existing, 5, &brokers, None, &mut rng).unwrap();
        assert_eq!(added, a(&[(3, &[2, 1, 0]), (4, &[0, 2, 1])]));
        assert_eq!(
            added,
            assign_rack_unaware(&[0, 1, 2], 2, 3, 2, 2, 3).unwrap()
        );
        let e = new_partitions_assignment("t", &existing, 3, &brokers, None, &mut rng).unwrap_err();
        assert_eq!(e.to_string(), "The number of partitions for a topic can only be increased. Topic t currently has 3 partitions, 3 would not be an increase.");
        assert!(matches!(
            new_partitions_assignment("t", &a(&[(1, &[0])]), 3, &brokers, None, &mut rng),
            Err(AssignmentError::MissingPartitionZero(_))
        ));
        let manual = a(&[(3, &[0, 1, 2]), (4, &[1, 2, 0])]);
        assert_eq!(
            new_partitions_assignment("t", &existing, 5, &brokers, Some(&manual), &mut rng)
                .unwrap(),
            manual
        );
        let bad = a(&[(3, &[0, 1])]);
        assert!(
            new_partitions_assignment("t", &existing, 4, &brokers, Some(&bad), &mut rng).is_err()
        );
        // A first replica above every broker id falls back to index 0.
        let high = a(&[(0, &[9])]);
        assert_eq!(
            new_partitions_assignment("t", &high, 2, &brokers, None, &mut rng).unwrap(),
            a(&[(1, &[1])])
        );
    }

    proptest! {
        #[test]
        fn rack_unaware_properties(n in 1usize..8, parts in 1i32..40, rf_seed in any::<usize>(),
                                   start in 0usize..8, shift in 0usize..8, first_pid in 0i32..20) {
            let ids: Vec<i32> = (0..n as i32).map(|i| i * 3 + 1).collect();
            let rf = (rf_seed % n) as i32 + 1;
            let got = assign_rack_unaware(&ids, parts, rf, start, shift, first_pid).unwrap();
            prop_assert_eq!(got.len(), parts as usize);
            let mut leaders: BTreeMap<i32, usize> = BTreeMap::new();
            for (p, r) in &got {
                prop_assert!(*p >= first_pid && *p < first_pid + parts);
                prop_assert_eq!(r.len(), rf as usize);
                prop_assert!(duplicates(r).is_empty());
                *leaders.entry(r[0]).or_default() += 1;
            }
            // Leaders are spread round-robin.
            let (lo, hi) = (leaders.values().min().copied().unwrap_or(0), leaders.values().max().copied().unwrap_or(0));
            prop_assert!(hi - lo <= 1 || leaders.len() < n);
        }

        #[test]
        fn rack_aware_properties(racks in proptest::collection::vec(0u8..4, 1..9), parts in 1i32..30,
                                 rf_seed in any::<usize>(), start in 0usize..9, shift in 0usize..9) {
            let brokers: Vec<(i32, String)> = racks.iter().enumerate().map(|(i, r)| (i as i32, format!("r{r}"))).collect();
            let n = brokers.len();
            let num_racks = racks.iter().collect::<BTreeSet<_>>().len();
            let rf = (rf_seed % n) as i32 + 1;
            let got = assign_rack_aware(&brokers, parts, rf, start, shift, 0).unwrap();
            for r in got.values() {
                prop_assert_eq!(r.len(), rf as usize);
                prop_assert!(duplicates(r).is_empty());
                let used: BTreeSet<u8> = r.iter().map(|b| racks[*b as usize]).collect();
                prop_assert_eq!(used.len(), r.len().min(num_racks));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_replica_assignment(&s);
        }
    }
}
