//! Whole-log tests: a [`Log`] driven through appends, reads, rolls, retention, truncation and
//! crashes, checked through kafka-protocol's own decoder so the bytes are what Kafka expects.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder, TimestampType};
use proptest::prelude::*;

use super::batch::tests::encode_batch;
use super::batch::BatchHeader;
use super::checkpoint::CHECKPOINT_VERSION;
use super::leader_epoch::LEADER_EPOCH_CHECKPOINT;
use super::segment::{segment_file_name, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use super::*;

fn cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 1_000,
        index_interval_bytes: 150,
        max_index_bytes: 1_024,
        ..LogConfig::default()
    }
}

fn options(clean: bool, now_ms: i64) -> LogOpenOptions {
    LogOpenOptions {
        recovery_point: 0,
        log_start_offset: 0,
        had_clean_shutdown: clean,
        now_ms,
    }
}

fn partition_dir(root: &Path) -> PathBuf {
    root.join("orders-3")
}

fn open(root: &Path, clean: bool) -> Log {
    Log::open(&partition_dir(root), cfg(), options(clean, 0)).unwrap()
}

/// Produces one batch of `n` records with timestamps `ts..ts+n` as leader in `epoch`.
fn produce(log: &mut Log, n: usize, ts: i64, epoch: i32) -> AppendInfo {
    let codec = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ][(log.log_end_offset() % 5) as usize];
    let batch = encode_batch(n, ts, 40, codec);
    log.append_as_leader(&batch, epoch, AppendOrigin::Client, 0)
        .unwrap()
}

/// Every record offset readable from the log start, decoded by kafka-protocol; also checks
/// that each fetch is whole batches starting with the one that holds the requested offset.
fn read_all(log: &Log) -> Vec<i64> {
    let mut offsets = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let data = log.read(next, 700, None).unwrap();
        assert!(!data.records.is_empty(), "nothing read at {next}");
        let sets = RecordBatchDecoder::decode_all(&mut data.records.clone()).unwrap();
        let first = BatchHeader::parse(&data.records).unwrap();
        assert!(
            first.base_offset <= next && next <= first.last_offset(),
            "fetch at {next} starts with batch {first:?}"
        );
        for set in sets {
            for r in set.records {
                if r.offset >= next {
                    offsets.push(r.offset);
                }
            }
        }
        next = *offsets.last().unwrap() + 1;
    }
    offsets
}

fn index_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(INDEX_SUFFIX) || n.ends_with(TIME_INDEX_SUFFIX)
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn append_and_read_across_rolls() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    let mut expected = Vec::new();
    for i in 0..40 {
        let n = 1 + (i % 4) as usize;
        let info = produce(&mut log, n, 1_000 + i * 10, 0);
        assert_eq!(info.first_offset, expected.len() as i64);
        assert_eq!(info.record_count, n);
        expected.extend(info.first_offset..=info.last_offset);
    }
    assert_eq!(log.log_end_offset(), expected.len() as i64);
    assert!(log.segment_base_offsets().len() > 3, "small segments roll");
    assert_eq!(read_all(&log), expected);
    // Reads bounded by a high watermark stop before the batch that reaches it.
    let data = log.read(0, 1 << 20, Some(3)).unwrap();
    let sets = RecordBatchDecoder::decode_all(&mut data.records.clone()).unwrap();
    assert!(sets.iter().flat_map(|s| &s.records).all(|r| r.offset < 3));
    assert!(log
        .read(log.log_end_offset(), 100, None)
        .unwrap()
        .records
        .is_empty());
    assert!(matches!(
        log.read(log.log_end_offset() + 1, 100, None),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Inactive segments have trimmed indexes; the active one is preallocated.
    let bases = log.segment_base_offsets();
    let dir = partition_dir(root.path());
    let first_index = fs::metadata(dir.join(segment_file_name(bases[0], INDEX_SUFFIX)))
        .unwrap()
        .len();
    let active_index =
        fs::metadata(dir.join(segment_file_name(*bases.last().unwrap(), INDEX_SUFFIX)))
            .unwrap()
            .len();
    assert!(first_index < 1_024 && first_index.is_multiple_of(8));
    assert_eq!(active_index, 1_024);

    log.close().unwrap();
    let log = open(root.path(), true);
    assert_eq!(log.log_end_offset(), expected.len() as i64);
    assert_eq!(log.segment_base_offsets(), bases);
    assert_eq!(read_all(&log), expected);
}

#[test]
fn leader_stamps_offsets_epochs_and_append_time() {
    let root = tempfile::tempdir().unwrap();
    let dir = partition_dir(root.path());
    let config = LogConfig {
        message_timestamp_type: MessageTimestampType::LogAppendTime,
        ..cfg()
    };
    let mut log = Log::open(&dir, config, options(false, 0)).unwrap();
    let batch = encode_batch(3, 5, 10, Compression::Gzip);
    log.append_as_leader(&batch, 0, AppendOrigin::Client, 0)
        .unwrap();
    let info = log
        .append_as_leader(&batch, 7, AppendOrigin::Client, 99_000)
        .unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.log_append_time),
        (3, 5, 99_000)
    );
    let data = log.read(3, 1 << 20, None).unwrap();
    let h = BatchHeader::parse(&data.records).unwrap();
    assert_eq!(
        (h.base_offset, h.partition_leader_epoch, h.max_timestamp),
        (3, 7, 99_000)
    );
    let set = RecordBatchDecoder::decode(&mut data.records.clone()).unwrap();
    assert!(set
        .records
        .iter()
        .all(|r| r.timestamp_type == TimestampType::LogAppend && r.offset >= 3));
    assert_eq!(log.leader_epoch_entries().len(), 2);
    // Invalid input leaves the log untouched.
    let mut bad = batch.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = log
        .append_as_leader(&bad, 7, AppendOrigin::Client, 0)
        .unwrap_err();
    assert_eq!(
        err.response_error(),
        kafka_protocol::ResponseError::CorruptMessage
    );
    let big = encode_batch(1, 0, 2_000_000, Compression::None);
    assert!(matches!(
        log.append_as_leader(&big, 7, AppendOrigin::Client, 0),
        Err(LogError::RecordTooLarge { .. })
    ));
    assert_eq!(log.log_end_offset(), 6);
}

#[test]
fn follower_appends_keep_leader_offsets() {
    let root = tempfile::tempdir().unwrap();
    let mut leader = Log::open(
        &root.path().join("leader").join("t-0"),
        cfg(),
        options(false, 0),
    )
    .unwrap();
    for i in 0..10 {
        produce(&mut leader, 3, i * 100, (i / 4) as i32);
    }
    let mut follower = Log::open(
        &root.path().join("follower").join("t-0"),
        cfg(),
        options(false, 0),
    )
    .unwrap();
    let mut next = 0;
    while next < leader.log_end_offset() {
        let data = leader.read(next, 500, None).unwrap();
        let info = follower.append_as_follower(&data.records, 0).unwrap();
        next = info.last_offset + 1;
    }
    assert_eq!(follower.log_end_offset(), 30);
    assert_eq!(
        follower.leader_epoch_entries(),
        leader.leader_epoch_entries()
    );
    assert_eq!(read_all(&follower), read_all(&leader));
    let again = leader.read(0, 100, None).unwrap();
    assert!(matches!(
        follower.append_as_follower(&again.records, 0),
        Err(LogError::UnexpectedAppendOffset { .. })
    ));
}

#[test]
fn timestamp_lookup_spans_segments() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for i in 0..30 {
        produce(&mut log, 2, 10_000 + i * 100, 0);
    }
    // Batch i holds offsets 2i, 2i+1 with timestamps 10_000 + 100i and +1.
    let at = |t| {
        log.offset_for_timestamp(t)
            .unwrap()
            .map(|f| (f.timestamp, f.offset))
    };
    assert_eq!(at(0), Some((10_000, 0)));
    assert_eq!(at(10_001), Some((10_001, 1)));
    assert_eq!(at(12_050), Some((12_100, 42)));
    assert_eq!(at(12_901), Some((12_901, 59)));
    assert_eq!(at(13_000), None);
    assert_eq!(at(super::partition_log::LATEST_TIMESTAMP), Some((-1, 60)));
    assert_eq!(at(super::partition_log::EARLIEST_TIMESTAMP), Some((-1, 0)));
}

#[test]
fn retention_by_size_and_time() {
    let root = tempfile::tempdir().unwrap();
    let dir = partition_dir(root.path());
    let config = LogConfig {
        retention_bytes: 3_000,
        retention_ms: -1,
        ..cfg()
    };
    let mut log = Log::open(&dir, config.clone(), options(false, 0)).unwrap();
    for i in 0..60 {
        produce(&mut log, 2, 1_000 + i, 0);
    }
    let leo = log.log_end_offset();
    let segments = log.segment_base_offsets().len();
    // Nothing above the high watermark goes.
    assert_eq!(log.delete_old_segments(0, 0).unwrap(), 0);
    let deleted = log.delete_old_segments(0, leo).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_base_offsets().len(), segments - deleted);
    // Only whole segments go: what remains exceeds retention.bytes by less than its oldest
    // segment.
    let oldest =
        fs::metadata(dir.join(segment_file_name(log.segment_base_offsets()[0], LOG_SUFFIX)))
            .unwrap()
            .len();
    assert!(log.size_in_bytes() >= 3_000 && log.size_in_bytes() - 3_000 < oldest);
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
    assert!(matches!(
        log.read(0, 100, None),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log).last(), Some(&(leo - 1)));

    // Time: every batch is older than retention.ms, so all data goes; a fresh active
    // segment is rolled first rather than deleting the active one.
    log.set_config(LogConfig {
        retention_bytes: -1,
        retention_ms: 10_000,
        ..config
    });
    assert_eq!(
        log.delete_old_segments(11_000, leo).unwrap(),
        0,
        "newest batch is 10s old only at 11_059"
    );
    log.delete_old_segments(100_000, leo).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![leo]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (leo, leo));
    assert_eq!(produce(&mut log, 1, 200_000, 0).first_offset, leo);
    assert_eq!(log.delete_old_segments(200_000, leo + 1).unwrap(), 0);
}

#[test]
fn delete_records_moves_log_start() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for i in 0..40 {
        produce(&mut log, 2, i, i as i32 / 10);
    }
    let before = log.segment_base_offsets().len();
    assert!(log.advance_log_start_offset(45, 0).unwrap());
    assert!(!log.advance_log_start_offset(10, 0).unwrap());
    assert_eq!(log.log_start_offset(), 45);
    assert!(log.segment_base_offsets().len() < before);
    assert!(log.segment_base_offsets()[0] <= 45);
    assert_eq!(read_all(&log).first(), Some(&45));
    assert_eq!(log.leader_epoch_entries()[0].start_offset, 45);
    assert!(log.advance_log_start_offset(81, 0).is_err());
}

#[test]
fn truncate_to_removes_whole_batches() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for i in 0..30 {
        produce(&mut log, 3, i, (i / 10) as i32);
    }
    assert_eq!(log.end_offset_for_epoch(1), (1, 60));
    assert!(
        log.truncate_to(61, 0).unwrap(),
        "61 is inside the batch 60..=62"
    );
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(log.latest_epoch(), Some(1));
    assert_eq!(log.end_offset_for_epoch(2), (-1, -1));
    assert!(log.truncate_to(33, 0).unwrap());
    assert_eq!(log.log_end_offset(), 33);
    assert!(*log.segment_base_offsets().last().unwrap() <= 33);
    assert_eq!(read_all(&log), (0..33).collect::<Vec<_>>());
    assert!(!log.truncate_to(33, 0).unwrap());
    let info = produce(&mut log, 2, 0, 5);
    assert_eq!(info.first_offset, 33);
    assert_eq!(log.end_offset_for_epoch(1), (1, 33));
    log.close().unwrap();
    let mut log = open(root.path(), false);
    assert_eq!(read_all(&log), (0..35).collect::<Vec<_>>());
    log.truncate_fully_and_start_at(1_000, 0).unwrap();
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (1_000, 1_000)
    );
    assert!(log.leader_epoch_entries().is_empty());
    assert_eq!(produce(&mut log, 1, 0, 6).first_offset, 1_000);
}

#[test]
fn leader_epoch_checkpoint_file_and_end_offsets() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for (epoch, n) in [(0, 3), (0, 2), (2, 4), (5, 1)] {
        produce(&mut log, n, 0, epoch);
    }
    log.assign_epoch(6, log.log_end_offset()).unwrap();
    let text =
        fs::read_to_string(partition_dir(root.path()).join(LEADER_EPOCH_CHECKPOINT)).unwrap();
    assert_eq!(
        text,
        format!("{CHECKPOINT_VERSION}\n4\n0 0\n2 5\n5 9\n6 10\n")
    );
    assert_eq!(log.end_offset_for_epoch(0), (0, 5));
    assert_eq!(log.end_offset_for_epoch(1), (0, 5));
    assert_eq!(log.end_offset_for_epoch(5), (5, 10));
    assert_eq!(log.end_offset_for_epoch(6), (6, 10));
    assert_eq!(log.end_offset_for_epoch(9), (-1, -1));
    drop(log);
    // A garbage checkpoint is rebuilt from the batches' leader epochs.
    fs::write(
        partition_dir(root.path()).join(LEADER_EPOCH_CHECKPOINT),
        "0\n7\nnot numbers\n",
    )
    .unwrap();
    let log = open(root.path(), false);
    let epochs: Vec<(i32, i64)> = log
        .leader_epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect();
    assert_eq!(epochs, vec![(0, 0), (2, 5), (5, 9)]);
}

#[test]
fn partition_metadata_topic_id() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    assert_eq!(log.topic_id(), None);
    let id = TopicId([7; 16]);
    log.set_topic_id(id).unwrap();
    log.set_topic_id(id).unwrap();
    assert!(matches!(
        log.set_topic_id(TopicId([8; 16])),
        Err(LogError::InconsistentTopicId { .. })
    ));
    drop(log);
    assert_eq!(open(root.path(), true).topic_id(), Some(id));
}

/// Writes 30 batches of 2 records over several segments without closing, as a crash would
/// leave them, and returns the `.log` files in order.
fn crashed_log(root: &Path) -> Vec<PathBuf> {
    let mut log = open(root, false);
    for i in 0..30 {
        produce(&mut log, 2, 100 + i, 0);
    }
    let dir = partition_dir(root);
    let files = log
        .segment_base_offsets()
        .into_iter()
        .map(|b| dir.join(segment_file_name(b, LOG_SUFFIX)))
        .collect();
    drop(log);
    files
}

/// Offsets of the batches in a `.log` file, with their byte positions.
fn batches_in(path: &Path) -> Vec<(usize, BatchHeader)> {
    let bytes = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(h) = BatchHeader::parse(&bytes[pos..]) {
        if pos + h.size_in_bytes() > bytes.len() {
            break;
        }
        out.push((pos, h));
        pos += h.size_in_bytes();
    }
    out
}

/// After recovery the indexes must equal the ones a rebuild from scratch produces.
fn assert_indexes_match_rebuild(root: &Path) {
    let dir = partition_dir(root);
    let recovered = index_files(&dir);
    for (name, _) in &recovered {
        fs::remove_file(dir.join(name)).unwrap();
    }
    let log = open(root, true);
    drop(log);
    // The active segment's indexes stay preallocated; compare the used prefix.
    let rebuilt = index_files(&dir);
    assert_eq!(rebuilt.len(), recovered.len());
    for ((name, a), (_, b)) in recovered.iter().zip(&rebuilt) {
        let used = a.len().min(b.len());
        assert_eq!(a[..used], b[..used], "{name}");
        assert!(
            a[used..].iter().chain(&b[used..]).all(|x| *x == 0),
            "{name}"
        );
    }
}

#[test]
fn crash_with_torn_tail_keeps_everything_before_it() {
    let root = tempfile::tempdir().unwrap();
    let files = crashed_log(root.path());
    let last = files.last().unwrap();
    let batches = batches_in(last);
    let (pos, h) = batches[batches.len() - 1];
    let f = fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len((pos + h.size_in_bytes() / 2) as u64).unwrap();
    drop(f);
    let log = open(root.path(), false);
    assert_eq!(log.log_end_offset(), h.base_offset);
    assert_eq!(read_all(&log), (0..h.base_offset).collect::<Vec<_>>());
    assert_eq!(fs::metadata(last).unwrap().len(), pos as u64);
    drop(log);
    assert_indexes_match_rebuild(root.path());
}

#[test]
fn crash_with_garbage_appended_is_cut() {
    let root = tempfile::tempdir().unwrap();
    let files = crashed_log(root.path());
    let last = files.last().unwrap();
    let size = fs::metadata(last).unwrap().len();
    let mut bytes = fs::read(last).unwrap();
    bytes.extend_from_slice(&[0xab; 300]);
    fs::write(last, &bytes).unwrap();
    let log = open(root.path(), false);
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(fs::metadata(last).unwrap().len(), size);
    assert_eq!(read_all(&log), (0..60).collect::<Vec<_>>());
}

#[test]
fn flipped_byte_cuts_the_log_there_and_drops_later_segments() {
    let root = tempfile::tempdir().unwrap();
    let files = crashed_log(root.path());
    assert!(files.len() >= 3);
    let middle = &files[1];
    let batches = batches_in(middle);
    let (pos, h) = batches[batches.len() / 2];
    let mut bytes = fs::read(middle).unwrap();
    bytes[pos + 70] ^= 0x10;
    fs::write(middle, &bytes).unwrap();
    let log = open(root.path(), false);
    assert_eq!(log.log_end_offset(), h.base_offset);
    assert_eq!(read_all(&log), (0..h.base_offset).collect::<Vec<_>>());
    for later in &files[2..] {
        assert!(!later.exists(), "{} should be gone", later.display());
    }
    let mut log = log;
    assert_eq!(produce(&mut log, 1, 0, 0).first_offset, h.base_offset);
    log.close().unwrap();
    assert_indexes_match_rebuild(root.path());
}

#[test]
fn missing_or_garbage_index_is_rebuilt_after_clean_shutdown() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for i in 0..30 {
        produce(&mut log, 2, 100 + i, 0);
    }
    let bases = log.segment_base_offsets();
    log.close().unwrap();
    let dir = partition_dir(root.path());
    let original = index_files(&dir);
    let index = dir.join(segment_file_name(bases[1], INDEX_SUFFIX));
    let time_index = dir.join(segment_file_name(bases[0], TIME_INDEX_SUFFIX));
    fs::remove_file(&index).unwrap();
    // Entries that decrease: not something Kafka could have written.
    let mut garbage = Vec::new();
    for i in 0..4i64 {
        garbage.extend_from_slice(&(1_000 - i).to_be_bytes());
        garbage.extend_from_slice(&(i as i32).to_be_bytes());
    }
    fs::write(&time_index, &garbage).unwrap();
    let log = open(root.path(), true);
    assert_eq!(read_all(&log), (0..60).collect::<Vec<_>>());
    log.close().unwrap();
    assert_eq!(index_files(&dir), original);
}

#[test]
fn torn_tail_is_found_even_with_a_clean_shutdown_marker() {
    let root = tempfile::tempdir().unwrap();
    let files = crashed_log(root.path());
    let last = files.last().unwrap();
    let size = fs::metadata(last).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(size - 5)
        .unwrap();
    let log = open(root.path(), true);
    assert_eq!(log.log_end_offset(), 58);
    assert_eq!(read_all(&log), (0..58).collect::<Vec<_>>());
}

#[test]
fn stray_files_are_resolved() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    for i in 0..30 {
        produce(&mut log, 2, i, 0);
    }
    let bases = log.segment_base_offsets();
    log.close().unwrap();
    let dir = partition_dir(root.path());
    // A finished compaction of the first two segments into one swap file.
    let first = fs::read(dir.join(segment_file_name(bases[0], LOG_SUFFIX))).unwrap();
    let second = fs::read(dir.join(segment_file_name(bases[1], LOG_SUFFIX))).unwrap();
    let swap = dir.join(format!("{}.swap", segment_file_name(bases[0], LOG_SUFFIX)));
    fs::write(&swap, [first, second].concat()).unwrap();
    fs::write(dir.join("00000000000000000999.log.deleted"), b"x").unwrap();
    fs::write(dir.join("00000000000000000999.log.cleaned"), b"x").unwrap();
    fs::write(dir.join("00000000000000000999.index"), b"").unwrap();
    fs::write(dir.join("leader-epoch-checkpoint.tmp"), b"junk").unwrap();
    let log = open(root.path(), true);
    let mut expected: Vec<i64> = bases.iter().copied().filter(|b| *b != bases[1]).collect();
    expected.sort();
    assert_eq!(log.segment_base_offsets(), expected);
    assert_eq!(read_all(&log), (0..60).collect::<Vec<_>>());
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("999") && !n.ends_with(".swap") && !n.ends_with(".tmp")),
        "{names:?}"
    );
}

#[test]
fn legacy_message_format_is_refused_not_truncated() {
    let root = tempfile::tempdir().unwrap();
    let dir = partition_dir(root.path());
    fs::create_dir_all(&dir).unwrap();
    // A v1 message: offset, size, crc, magic 1, attributes, timestamp, null key, value "hi".
    let mut body = vec![1u8, 0];
    body.extend_from_slice(&5i64.to_be_bytes());
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(b"hi");
    let crc = kafka_protocol::records::IEEE.checksum(&body);
    let mut msg = 0i64.to_be_bytes().to_vec();
    msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(&crc.to_be_bytes());
    msg.extend_from_slice(&body);
    let path = dir.join(segment_file_name(0, LOG_SUFFIX));
    fs::write(&path, &msg).unwrap();
    let err = Log::open(&dir, cfg(), options(false, 0)).err().unwrap();
    assert!(
        matches!(err, LogError::UnsupportedMessageFormat { magic: 1, .. }),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), msg, "data left alone");
}

#[test]
fn rolls_on_segment_ms_and_full_index() {
    let root = tempfile::tempdir().unwrap();
    let dir = partition_dir(root.path());
    let config = LogConfig {
        segment_bytes: 1 << 20,
        segment_ms: 1_000,
        max_index_bytes: 32,
        index_interval_bytes: 0,
        ..cfg()
    };
    let mut log = Log::open(&dir, config, options(false, 0)).unwrap();
    produce(&mut log, 1, 10_000, 0);
    produce(&mut log, 1, 10_900, 0);
    assert_eq!(log.segment_base_offsets().len(), 1);
    produce(&mut log, 1, 11_001, 0);
    assert_eq!(
        log.segment_base_offsets(),
        vec![0, 2],
        "segment.ms from the first batch's timestamp"
    );
    for i in 0..8 {
        produce(&mut log, 1, 11_002 + i, 0);
    }
    // 32-byte time index holds 2 entries (8-byte offset index: 4): entries come every batch.
    assert!(
        log.segment_base_offsets().len() >= 4,
        "{:?}",
        log.segment_base_offsets()
    );
    assert_eq!(read_all(&log), (0..11).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Any sequence of appends survives a crash (unclean reopen) or a clean close unchanged,
    /// and every offset stays readable.
    #[test]
    fn appends_survive_reopen(sizes in proptest::collection::vec(1usize..6, 1..40), clean in any::<bool>()) {
        let root = tempfile::tempdir().unwrap();
        let mut log = open(root.path(), false);
        let mut total = 0i64;
        for (i, n) in sizes.iter().enumerate() {
            produce(&mut log, *n, i as i64 * 7, 0);
            total += *n as i64;
        }
        if clean { log.close().unwrap() } else { drop(log) }
        let log = open(root.path(), clean);
        prop_assert_eq!(log.log_end_offset(), total);
        prop_assert_eq!(read_all(&log), (0..total).collect::<Vec<_>>());
    }
}

#[test]
fn fetch_returns_at_least_one_batch() {
    let root = tempfile::tempdir().unwrap();
    let mut log = open(root.path(), false);
    produce(&mut log, 5, 0, 0);
    produce(&mut log, 5, 0, 0);
    let data = log.read(2, 1, None).unwrap();
    let h = BatchHeader::parse(&data.records).unwrap();
    assert_eq!(data.records.len(), h.size_in_bytes());
    assert_eq!(h.base_offset, 0);
    let sets = RecordBatchDecoder::decode_all(&mut Bytes::clone(&data.records)).unwrap();
    assert_eq!(sets.len(), 1);
}
