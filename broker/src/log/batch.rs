//! Record batch v2 (magic 2) as it sits in a produce request, a fetch response and a `.log` file:
//! a borrowed view of the header fields, a splitter for concatenated batches and the in-place
//! rewrites a broker makes when it appends (base offset, leader epoch, LogAppendTime).
//!
//! Layout (big-endian, spec §4.2): baseOffset i64 @0, batchLength i32 @8 (bytes after it),
//! partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17 (CRC-32C of bytes 21..end),
//! attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27, maxTimestamp i64 @35,
//! producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53, recordCount i32 @57,
//! records @61. Offset and leader epoch sit before the CRC'd range so a broker can assign them
//! without recomputing the checksum.

use kafka_protocol::records::{Compression, TimestampType};
use kafka_protocol::ResponseError;

/// Bytes before the length-delimited part: baseOffset and batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 header, up to and including recordCount.
pub const HEADER_SIZE: usize = 61;
/// The only message format zkraft reads or writes.
pub const MAGIC_V2: i8 = 2;
/// Timestamp value meaning "none".
pub const NO_TIMESTAMP: i64 = -1;

const LENGTH_OFFSET: usize = 8;
const LEADER_EPOCH_OFFSET: usize = 12;
const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
/// First byte covered by the CRC.
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// Why bytes are not a valid v2 record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The buffer ends before the header or the declared batch length.
    #[error("batch truncated: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the batch needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// `batchLength` is smaller than a v2 header (or negative).
    #[error("invalid batch length {0}")]
    InvalidLength(i32),
    /// Magic 0 and 1 are the pre-0.11 message sets; anything else is garbage.
    #[error("message format with magic {0} is not supported (only record batch v2)")]
    UnsupportedMagic(i8),
    /// The stored CRC-32C does not match the bytes.
    #[error("batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// Compression codec bits 5..7 are not assigned.
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    /// The header's record count is not positive.
    #[error("invalid record count {0}")]
    InvalidRecordCount(i32),
    /// `lastOffsetDelta + 1` differs from the record count in a producer batch.
    #[error(
        "batch offset range ({last_offset_delta} + 1) and record count {record_count} disagree"
    )]
    InconsistentOffsetRange {
        /// Header `lastOffsetDelta`.
        last_offset_delta: i32,
        /// Header `recordCount`.
        record_count: i32,
    },
    /// A producer record's offset delta is not its position in the batch.
    #[error("record {index} has offset delta {offset_delta}")]
    OffsetDeltaMismatch {
        /// Record position.
        index: usize,
        /// Its offset delta.
        offset_delta: i32,
    },
    /// The payload holds fewer records than the header declares.
    #[error("batch declares {declared} records but holds {found}")]
    RecordCountMismatch {
        /// Header `recordCount`.
        declared: usize,
        /// Records actually present.
        found: usize,
    },
    /// A record's framing or fields are malformed.
    #[error("record {index}: {reason}")]
    MalformedRecord {
        /// Record position.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes remain after the declared records.
    #[error("{count} bytes left after the last record")]
    TrailingBytes {
        /// Leftover bytes.
        count: usize,
    },
    /// The codec rejected the compressed payload.
    #[error("{codec} decompression failed: {reason}")]
    Decompression {
        /// Codec name.
        codec: &'static str,
        /// Codec message.
        reason: String,
    },
    /// The payload inflates beyond the configured bound.
    #[error("batch decompresses to more than {limit} bytes")]
    DecompressedTooLarge {
        /// The bound.
        limit: usize,
    },
    /// A client may not write control (transaction marker) batches.
    #[error("control batches may not be produced by clients")]
    ControlBatchFromClient,
    /// An idempotent batch without a sequence number.
    #[error("invalid base sequence {base_sequence} for producer id {producer_id}")]
    InvalidSequence {
        /// Header producerId.
        producer_id: i64,
        /// Header baseSequence.
        base_sequence: i32,
    },
    /// A batch is larger than the log accepts (`max.message.bytes`).
    #[error("batch of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Batch size.
        size: usize,
        /// The maximum.
        max: usize,
    },
}

impl BatchError {
    /// The Kafka error code a produce response carries for this failure.
    pub fn response_error(&self) -> ResponseError {
        match self {
            BatchError::Truncated { .. }
            | BatchError::InvalidLength(_)
            | BatchError::CrcMismatch { .. }
            | BatchError::UnknownCompression(_)
            | BatchError::Decompression { .. }
            | BatchError::DecompressedTooLarge { .. } => ResponseError::CorruptMessage,
            BatchError::TooLarge { .. } => ResponseError::MessageTooLarge,
            _ => ResponseError::InvalidRecord,
        }
    }
}

fn i16_at(h: &[u8; HEADER_SIZE], at: usize) -> i16 {
    i16::from_be_bytes([h[at], h[at + 1]])
}

fn i32_at(h: &[u8; HEADER_SIZE], at: usize) -> i32 {
    i32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]])
}

fn i64_at(h: &[u8; HEADER_SIZE], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[at..at + 8]);
    i64::from_be_bytes(b)
}

/// The fixed 61-byte header of a v2 batch, copied out of the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field: total size minus [`LOG_OVERHEAD`].
    pub batch_length: i32,
    /// Epoch of the leader that appended the batch, -1 if unknown.
    pub partition_leader_epoch: i32,
    /// Always [`MAGIC_V2`] once parsed.
    pub magic: i8,
    /// Stored CRC-32C of bytes 21..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional, control and delete-horizon bits.
    pub attributes: i16,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp the record deltas are relative to.
    pub base_timestamp: i64,
    /// Largest record timestamp, or the append time under LogAppendTime.
    pub max_timestamp: i64,
    /// Idempotent producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records.
    pub record_count: i32,
}

impl BatchHeader {
    /// Reads the header at the start of `buf`, checking what the header alone can tell: that
    /// it is present, that the magic is 2 and that the declared length covers a header. The
    /// rest of the batch need not be in `buf`.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        // Length and magic come first so that a legacy message set (smaller than 61 bytes) is
        // reported as such rather than as truncated.
        if buf.len() < MAGIC_OFFSET + 1 {
            return Err(BatchError::Truncated {
                needed: HEADER_SIZE,
                available: buf.len(),
            });
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        let batch_length = i32::from_be_bytes([
            buf[LENGTH_OFFSET],
            buf[LENGTH_OFFSET + 1],
            buf[LENGTH_OFFSET + 2],
            buf[LENGTH_OFFSET + 3],
        ]);
        if batch_length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength(batch_length));
        }
        let h: &[u8; HEADER_SIZE] = buf
            .get(..HEADER_SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(BatchError::Truncated {
                needed: HEADER_SIZE,
                available: buf.len(),
            })?;
        Ok(BatchHeader {
            base_offset: i64_at(h, 0),
            batch_length,
            partition_leader_epoch: i32_at(h, LEADER_EPOCH_OFFSET),
            magic,
            crc: i32_at(h, CRC_OFFSET) as u32,
            attributes: i16_at(h, ATTRIBUTES_OFFSET),
            last_offset_delta: i32_at(h, 23),
            base_timestamp: i64_at(h, 27),
            max_timestamp: i64_at(h, MAX_TIMESTAMP_OFFSET),
            producer_id: i64_at(h, 43),
            producer_epoch: i16_at(h, 51),
            base_sequence: i32_at(h, 53),
            record_count: i32_at(h, 57),
        })
    }

    /// Total size of the batch including the offset and length fields.
    pub fn size_in_bytes(&self) -> usize {
        // batch_length >= 49 after parse, so the cast cannot wrap.
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// Offset of the last record (also for compacted batches, whose deltas have gaps).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// Offset following the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The compression codec of the records payload.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        match self.attributes & COMPRESSION_MASK {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(BatchError::UnknownCompression(other)),
        }
    }

    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppend
        } else {
            TimestampType::Creation
        }
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Holds control records (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Base timestamp is a delete horizon (KIP-534, written by compaction).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Written by an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// A complete v2 batch borrowed from a larger buffer. Construction checks the header and that
/// every byte is present; the CRC and the records are checked on request ([`Self::verify_crc`],
/// [`crate::log::validate`]).
#[derive(Clone, Copy, Debug)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
    header: BatchHeader,
}

impl<'a> BatchView<'a> {
    /// The batch at the start of `buf`; `buf` may continue with further batches.
    pub fn parse(buf: &'a [u8]) -> Result<BatchView<'a>, BatchError> {
        let header = BatchHeader::parse(buf)?;
        let size = header.size_in_bytes();
        let bytes = buf.get(..size).ok_or(BatchError::Truncated {
            needed: size,
            available: buf.len(),
        })?;
        Ok(BatchView { bytes, header })
    }

    /// The header fields.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The whole batch.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Total size in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The records, compressed as a single blob if the batch is compressed.
    pub fn records_payload(&self) -> &'a [u8] {
        &self.bytes[HEADER_SIZE..]
    }

    /// CRC-32C of the bytes the stored CRC covers.
    pub fn computed_crc(&self) -> u32 {
        crc32c::crc32c(&self.bytes[ATTRIBUTES_OFFSET..])
    }

    /// Fails unless the stored CRC matches the bytes.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let computed = self.computed_crc();
        if computed != self.header.crc {
            return Err(BatchError::CrcMismatch {
                stored: self.header.crc,
                computed,
            });
        }
        Ok(())
    }
}

/// Iterates the complete batches of a buffer (produce request records, a fetched chunk).
///
/// As in Kafka, a trailing partial batch ends the iteration quietly (fetch responses may end
/// with one, and Kafka drops one at the end of a produce), while a malformed header is an error
/// after which the iterator yields nothing more. [`Self::valid_bytes`] says how far it got.
#[derive(Clone, Debug)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> BatchIter<'a> {
        BatchIter {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Bytes covered by the batches yielded so far.
    pub fn valid_bytes(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = &self.buf[self.pos..];
        match BatchView::parse(rest) {
            Ok(view) => {
                self.pos += view.size_in_bytes();
                Some(Ok(view))
            }
            Err(BatchError::Truncated { .. }) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn check_len(batch: &[u8]) -> Result<(), BatchError> {
    if batch.len() < HEADER_SIZE {
        return Err(BatchError::Truncated {
            needed: HEADER_SIZE,
            available: batch.len(),
        });
    }
    Ok(())
}

/// Sets the base offset; outside the CRC, so nothing else changes.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    check_len(batch)?;
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Sets the partition leader epoch; outside the CRC, so nothing else changes.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    check_len(batch)?;
    batch[LEADER_EPOCH_OFFSET..LEADER_EPOCH_OFFSET + 4].copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Marks the batch LogAppendTime with `timestamp` as its max timestamp, as a broker does for
/// topics with `message.timestamp.type=LogAppendTime`. Both fields are CRC-covered, so the CRC
/// is recomputed; `batch` must be exactly one complete batch.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) -> Result<(), BatchError> {
    check_len(batch)?;
    let attributes = i16::from_be_bytes([batch[ATTRIBUTES_OFFSET], batch[ATTRIBUTES_OFFSET + 1]]);
    let attributes = attributes | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&timestamp.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    };
    use proptest::prelude::*;

    /// A record as a 2.x producer sends it (no producer id, offsets from 0).
    pub(crate) fn record(offset: i64, timestamp: i64, value: &[u8]) -> Record {
        Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            // The encoder groups records while offset - sequence stays constant; this keeps
            // the batch's base sequence at -1 (no idempotence).
            sequence: (offset as i32).wrapping_sub(1),
            timestamp,
            key: Some(Bytes::from(format!("key-{offset}"))),
            value: Some(Bytes::copy_from_slice(value)),
            headers: Default::default(),
        }
    }

    /// One encoded batch of `n` records with timestamps from `ts`.
    pub(crate) fn encode_batch(
        n: usize,
        ts: i64,
        value_len: usize,
        compression: Compression,
    ) -> Vec<u8> {
        let value = vec![b'x'; value_len];
        let records: Vec<Record> = (0..n)
            .map(|i| record(i as i64, ts + i as i64, &value))
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn header_fields_read_at_spec_offsets() {
        let bytes = encode_batch(3, 1_000, 10, Compression::None);
        let view = BatchView::parse(&bytes).unwrap();
        let h = view.header();
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.size_in_bytes(), bytes.len());
        assert_eq!(h.magic, 2);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.base_timestamp, 1_000);
        assert_eq!(h.max_timestamp, 1_002);
        assert_eq!(h.record_count, 3);
        assert_eq!(h.producer_id, -1);
        assert_eq!(h.compression().unwrap(), Compression::None);
        view.verify_crc().unwrap();
    }

    #[test]
    fn legacy_magic_and_bad_lengths_are_rejected() {
        let mut bytes = encode_batch(1, 0, 1, Compression::None);
        bytes[MAGIC_OFFSET] = 1;
        assert_eq!(
            BatchView::parse(&bytes).unwrap_err(),
            BatchError::UnsupportedMagic(1)
        );
        bytes[MAGIC_OFFSET] = 0;
        assert_eq!(
            BatchView::parse(&bytes).unwrap_err(),
            BatchError::UnsupportedMagic(0)
        );
        bytes[MAGIC_OFFSET] = 2;
        bytes[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert_eq!(
            BatchView::parse(&bytes).unwrap_err(),
            BatchError::InvalidLength(10)
        );
        let good = encode_batch(1, 0, 1, Compression::None);
        assert!(matches!(
            BatchView::parse(&good[..good.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
    }

    #[test]
    fn crc_covers_attributes_onwards_only() {
        let mut bytes = encode_batch(2, 0, 4, Compression::None);
        set_base_offset(&mut bytes, 77).unwrap();
        set_partition_leader_epoch(&mut bytes, 9).unwrap();
        let view = BatchView::parse(&bytes).unwrap();
        view.verify_crc().unwrap();
        assert_eq!(view.header().base_offset, 77);
        assert_eq!(view.header().last_offset(), 78);
        assert_eq!(view.header().partition_leader_epoch, 9);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        assert!(matches!(
            BatchView::parse(&bytes).unwrap().verify_crc(),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn log_append_time_rewrite_keeps_batch_valid() {
        let mut bytes = encode_batch(2, 5, 4, Compression::None);
        set_log_append_time(&mut bytes, 123_456).unwrap();
        let view = BatchView::parse(&bytes).unwrap();
        view.verify_crc().unwrap();
        assert_eq!(view.header().max_timestamp, 123_456);
        assert_eq!(view.header().timestamp_type(), TimestampType::LogAppend);
        let decoded = RecordBatchDecoder::decode(&mut Bytes::from(bytes)).unwrap();
        assert_eq!(decoded.records[0].timestamp_type, TimestampType::LogAppend);
    }

    #[test]
    fn iterator_splits_and_stops_at_partial_tail() {
        let mut buf = encode_batch(2, 0, 3, Compression::None);
        let second = encode_batch(1, 0, 3, Compression::Gzip);
        buf.extend_from_slice(&second);
        let whole = buf.len();
        buf.extend_from_slice(&second[..20]);
        let mut it = BatchIter::new(&buf);
        let sizes: Vec<usize> = it.by_ref().map(|b| b.unwrap().size_in_bytes()).collect();
        assert_eq!(sizes.len(), 2);
        assert_eq!(it.valid_bytes(), whole);
        let mut garbage = encode_batch(1, 0, 3, Compression::None);
        garbage.extend_from_slice(&[0u8; 40]);
        let results: Vec<_> = BatchIter::new(&garbage).collect();
        assert_eq!(results.len(), 2);
        assert!(results[1].is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for view in BatchIter::new(&bytes).flatten() {
                let _ = view.verify_crc();
                let _ = view.header().compression();
            }
        }

        #[test]
        fn encoded_batches_parse_back(
            n in 1usize..20,
            ts in 0i64..1_000_000_000_000,
            value_len in 0usize..100,
            base in 0i64..i64::MAX / 2,
            codec in 0u8..5,
        ) {
            let c = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][codec as usize];
            let mut bytes = encode_batch(n, ts, value_len, c);
            set_base_offset(&mut bytes, base).unwrap();
            let view = BatchView::parse(&bytes).unwrap();
            prop_assert_eq!(view.size_in_bytes(), bytes.len());
            view.verify_crc().unwrap();
            let h = *view.header();
            prop_assert_eq!(h.base_offset, base);
            prop_assert_eq!(h.record_count as usize, n);
            prop_assert_eq!(h.last_offset(), base + n as i64 - 1);
            prop_assert_eq!(h.max_timestamp, ts + n as i64 - 1);
            prop_assert_eq!(h.compression().unwrap(), c);
            let decoded = RecordBatchDecoder::decode(&mut Bytes::from(bytes.clone())).unwrap();
            prop_assert_eq!(decoded.records.len(), n);
            prop_assert_eq!(decoded.records[0].offset, base);
        }
    }
}
