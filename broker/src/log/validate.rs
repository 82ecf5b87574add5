//! What a leader checks before it appends a producer's batches (Kafka's `LogValidator` for v2
//! batches kept as sent, i.e. no format conversion or recompression).
//!
//! Followers do not run these checks: compacted batches legitimately have gaps in their offset
//! deltas and fewer records than their offset range. They get the CRC check only.

use super::batch::{BatchError, BatchIter, BatchView};
use super::records::{for_each_record, Walk};

/// Who is appending, which decides whether control batches are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's ProduceRequest.
    Client,
    /// The broker's own group or transaction coordinator (may write control batches).
    Coordinator,
}

/// Bounds applied to appended batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProduceLimits {
    /// Largest batch accepted (`max.message.bytes`).
    pub max_batch_bytes: usize,
    /// Largest decompressed payload accepted while walking records.
    pub max_decompressed_bytes: usize,
    /// Who is appending.
    pub origin: AppendOrigin,
}

/// What validation learned about one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordsSummary {
    /// Records in the batch.
    pub record_count: usize,
    /// Largest record timestamp (the batch max under LogAppendTime); -1 if none is set.
    pub max_timestamp: i64,
}

/// Checks one producer batch: CRC, record count consistent with the offset range, offset
/// deltas exactly 0..n-1, every record well-formed (after decompression), no control batch
/// from a client, and a sequence number whenever a producer id is set.
pub fn validate_producer_batch(
    batch: &BatchView<'_>,
    limits: &ProduceLimits,
) -> Result<RecordsSummary, BatchError> {
    let h = batch.header();
    if batch.size_in_bytes() > limits.max_batch_bytes {
        return Err(BatchError::TooLarge {
            size: batch.size_in_bytes(),
            max: limits.max_batch_bytes,
        });
    }
    batch.verify_crc()?;
    if h.record_count <= 0 {
        return Err(BatchError::InvalidRecordCount(h.record_count));
    }
    if i64::from(h.last_offset_delta) + 1 != i64::from(h.record_count) {
        return Err(BatchError::InconsistentOffsetRange {
            last_offset_delta: h.last_offset_delta,
            record_count: h.record_count,
        });
    }
    if h.is_control() && limits.origin == AppendOrigin::Client {
        return Err(BatchError::ControlBatchFromClient);
    }
    if h.has_producer_id() && h.base_sequence < 0 {
        return Err(BatchError::InvalidSequence {
            producer_id: h.producer_id,
            base_sequence: h.base_sequence,
        });
    }
    let mut max_timestamp = -1i64;
    let mut count = 0usize;
    for_each_record(batch, limits.max_decompressed_bytes, |r| {
        if i64::from(r.offset_delta) != r.index as i64 {
            return Err(BatchError::OffsetDeltaMismatch {
                index: r.index,
                offset_delta: r.offset_delta,
            });
        }
        max_timestamp = max_timestamp.max(r.timestamp);
        count += 1;
        Ok(Walk::Continue)
    })?;
    Ok(RecordsSummary {
        record_count: count,
        max_timestamp,
    })
}

/// Splits a produce request's `records` into batches and validates each. A trailing partial
/// batch is ignored, as Kafka does; any malformed batch fails the whole set.
pub fn validate_produce_records<'a>(
    records: &'a [u8],
    limits: &ProduceLimits,
) -> Result<Vec<(BatchView<'a>, RecordsSummary)>, BatchError> {
    let mut out = Vec::new();
    for batch in BatchIter::new(records) {
        let batch = batch?;
        let summary = validate_producer_batch(&batch, limits)?;
        out.push((batch, summary));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::encode_batch;
    use crate::log::batch::{set_base_offset, HEADER_SIZE};
    use crate::log::decompress::tests::xerial_snappy;
    use crate::log::records::tests::record;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};
    use proptest::prelude::*;

    const LIMITS: ProduceLimits = ProduceLimits {
        max_batch_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 24,
        origin: AppendOrigin::Client,
    };

    /// Builds a batch header around a hand-made uncompressed payload and fixes up the CRC.
    fn batch_with_payload(payload: &[u8], count: i32, last_offset_delta: i32) -> Vec<u8> {
        let mut b = encode_batch(1, 0, 0, Compression::None);
        b.truncate(HEADER_SIZE);
        b.extend_from_slice(payload);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[23..27].copy_from_slice(&last_offset_delta.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn every_codec_validates() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let bytes = encode_batch(10, 1_000, 50, c);
            let got = validate_produce_records(&bytes, &LIMITS).unwrap();
            assert_eq!(got.len(), 1, "{c:?}");
            assert_eq!(got[0].1.record_count, 10);
            assert_eq!(got[0].1.max_timestamp, 1_009);
        }
    }

    #[test]
    fn java_style_xerial_snappy_validates() {
        let records: Vec<_> = (0..5)
            .map(|i| crate::log::batch::tests::record(i, 7, b"v"))
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode_with_custom_compression(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::Snappy,
            },
            Some(|raw: &mut BytesMut, out: &mut BytesMut, _c: Compression| {
                out.extend_from_slice(&xerial_snappy(raw, 16));
                Ok(())
            }),
        )
        .unwrap();
        let got = validate_produce_records(&buf, &LIMITS).unwrap();
        assert_eq!(got[0].1.record_count, 5);
    }

    #[test]
    fn producer_rules() {
        // Count disagrees with the records present.
        let mut payload = record(0, 0, None, Some(b"a"));
        let two = batch_with_payload(&payload, 2, 1);
        assert!(matches!(
            validate_produce_records(&two, &LIMITS),
            Err(BatchError::RecordCountMismatch {
                declared: 2,
                found: 1
            })
        ));
        // Offset range disagrees with the count.
        let range = batch_with_payload(&payload, 1, 3);
        assert!(matches!(
            validate_produce_records(&range, &LIMITS),
            Err(BatchError::InconsistentOffsetRange { .. })
        ));
        // Offset deltas must be 0..n-1.
        payload.extend(record(0, 5, None, Some(b"b")));
        let gap = batch_with_payload(&payload, 2, 1);
        assert!(matches!(
            validate_produce_records(&gap, &LIMITS),
            Err(BatchError::OffsetDeltaMismatch {
                index: 1,
                offset_delta: 5
            })
        ));
        // A zero-record batch.
        let empty = batch_with_payload(&[], 0, -1);
        assert!(matches!(
            validate_produce_records(&empty, &LIMITS),
            Err(BatchError::InvalidRecordCount(0))
        ));
        // Too large.
        let big = encode_batch(1, 0, 2000, Compression::None);
        let small = ProduceLimits {
            max_batch_bytes: 1000,
            ..LIMITS
        };
        assert!(matches!(
            validate_produce_records(&big, &small),
            Err(BatchError::TooLarge { .. })
        ));
    }

    #[test]
    fn control_batches_only_from_the_coordinator() {
        let mut b = encode_batch(1, 0, 1, Compression::None);
        b[22] |= 0x20;
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            validate_produce_records(&b, &LIMITS).unwrap_err(),
            BatchError::ControlBatchFromClient
        );
        let coordinator = ProduceLimits {
            origin: AppendOrigin::Coordinator,
            ..LIMITS
        };
        assert!(validate_produce_records(&b, &coordinator).is_ok());
    }

    #[test]
    fn corrupted_compressed_payload_fails() {
        let mut b = encode_batch(20, 0, 30, Compression::Gzip);
        let mid = HEADER_SIZE + (b.len() - HEADER_SIZE) / 2;
        b[mid] ^= 0xff;
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(validate_produce_records(&b, &LIMITS).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = validate_produce_records(&bytes, &LIMITS);
        }

        /// Random bytes behind a valid header and CRC exercise the record walker and the codecs.
        #[test]
        fn arbitrary_payload_behind_valid_crc_never_panics(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            count in -2i32..50,
            codec in 0u8..8,
        ) {
            let mut b = batch_with_payload(&payload, count, count - 1);
            b[22] = (b[22] & !0x07) | codec;
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
            let _ = validate_produce_records(&b, &LIMITS);
        }

        #[test]
        fn valid_batches_round_trip(n in 1usize..30, base in 0i64..1_000_000, codec in 0u8..5) {
            let c = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][codec as usize];
            let mut bytes = encode_batch(n, 42, 7, c);
            set_base_offset(&mut bytes, base).unwrap();
            let got = validate_produce_records(&bytes, &LIMITS).unwrap();
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(got[0].1.record_count, n);
            prop_assert_eq!(got[0].0.header().base_offset, base);
        }
    }
}
