//! Walking the records inside a v2 batch without materialising them: zigzag varint framing and
//! the per-record fields Kafka's `DefaultRecord` reads, checked the way the Java broker checks
//! them (body length must match what the fields consumed, header keys must not be null).

use kafka_protocol::records::TimestampType;

use super::batch::{BatchError, BatchView};
use super::decompress::decompress;

/// What a walk learns about one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// Position of the record in its batch, from 0.
    pub index: usize,
    /// `offsetDelta`: record offset minus the batch base offset.
    pub offset_delta: i32,
    /// Absolute timestamp: batch base timestamp plus `timestampDelta`.
    pub timestamp: i64,
}

/// Whether a visitor wants to see more records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Keep going.
    Continue,
    /// Stop here; the rest of the payload is not checked.
    Stop,
}

/// Cursor over a byte slice; every read is bounds-checked and reports what it was reading.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self, index: usize, what: &'static str) -> Result<u8, BatchError> {
        let b = *self.buf.get(self.pos).ok_or(BatchError::MalformedRecord {
            index,
            reason: what,
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize, index: usize, what: &'static str) -> Result<(), BatchError> {
        if n > self.remaining() {
            return Err(BatchError::MalformedRecord {
                index,
                reason: what,
            });
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned LEB128 of at most `max_bytes` bytes (5 for int, 10 for long), as Kafka's
    /// `ByteUtils` reads them: a longer encoding is an error, excess high bits are dropped.
    fn unsigned(
        &mut self,
        max_bytes: u32,
        index: usize,
        what: &'static str,
    ) -> Result<u64, BatchError> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.byte(index, what)?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BatchError::MalformedRecord {
            index,
            reason: what,
        })
    }

    /// Zigzag-encoded signed 32-bit varint.
    fn varint(&mut self, index: usize, what: &'static str) -> Result<i32, BatchError> {
        let raw = self.unsigned(5, index, what)? as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Zigzag-encoded signed 64-bit varlong.
    fn varlong(&mut self, index: usize, what: &'static str) -> Result<i64, BatchError> {
        let raw = self.unsigned(10, index, what)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }
}

/// Walks `count` records in `payload` (the bytes after the 61-byte header, decompressed), calling
/// `visit` for each. Unless the visitor stops early, the payload must hold exactly `count`
/// records: Kafka rejects batches whose declared size leaves records unread.
pub fn walk_records(
    payload: &[u8],
    count: usize,
    base_timestamp: i64,
    mut visit: impl FnMut(RecordInfo) -> Result<Walk, BatchError>,
) -> Result<(), BatchError> {
    let mut cur = Cursor {
        buf: payload,
        pos: 0,
    };
    for index in 0..count {
        if cur.remaining() == 0 {
            return Err(BatchError::RecordCountMismatch {
                declared: count,
                found: index,
            });
        }
        let body_len = cur.varint(index, "record length")?;
        let body_len = usize::try_from(body_len).map_err(|_| BatchError::MalformedRecord {
            index,
            reason: "negative record length",
        })?;
        if body_len > cur.remaining() {
            return Err(BatchError::MalformedRecord {
                index,
                reason: "record length beyond the batch",
            });
        }
        let body_end = cur.pos + body_len;
        // Parse the body inside its own window so a field cannot read into the next record.
        let mut body = Cursor {
            buf: &payload[cur.pos..body_end],
            pos: 0,
        };
        let info = read_body(&mut body, index, base_timestamp)?;
        if body.remaining() != 0 {
            return Err(BatchError::MalformedRecord {
                index,
                reason: "record length does not match its fields",
            });
        }
        cur.pos = body_end;
        if visit(info)? == Walk::Stop {
            return Ok(());
        }
    }
    if cur.remaining() != 0 {
        return Err(BatchError::TrailingBytes {
            count: cur.remaining(),
        });
    }
    Ok(())
}

fn read_body(
    c: &mut Cursor<'_>,
    index: usize,
    base_timestamp: i64,
) -> Result<RecordInfo, BatchError> {
    let _attributes = c.byte(index, "record attributes")?;
    let timestamp_delta = c.varlong(index, "timestamp delta")?;
    let offset_delta = c.varint(index, "offset delta")?;
    // Key and value: any negative length means null, as in Kafka.
    for what in ["key", "value"] {
        let len = c.varint(index, what)?;
        if let Ok(len) = usize::try_from(len) {
            c.skip(len, index, what)?;
        }
    }
    let headers = c.varint(index, "header count")?;
    let headers = usize::try_from(headers).map_err(|_| BatchError::MalformedRecord {
        index,
        reason: "negative header count",
    })?;
    for _ in 0..headers {
        let key_len = c.varint(index, "header key length")?;
        let key_len = usize::try_from(key_len).map_err(|_| BatchError::MalformedRecord {
            index,
            reason: "null header key",
        })?;
        c.skip(key_len, index, "header key")?;
        let value_len = c.varint(index, "header value length")?;
        if let Ok(len) = usize::try_from(value_len) {
            c.skip(len, index, "header value")?;
        }
    }
    Ok(RecordInfo {
        index,
        offset_delta,
        timestamp: base_timestamp.wrapping_add(timestamp_delta),
    })
}

/// Walks the records of a whole batch, inflating a compressed payload first (bounded by
/// `max_decompressed`). Under LogAppendTime every record reports the batch's max timestamp, as
/// Kafka's record accessors do.
pub fn for_each_record(
    batch: &BatchView<'_>,
    max_decompressed: usize,
    mut visit: impl FnMut(RecordInfo) -> Result<Walk, BatchError>,
) -> Result<(), BatchError> {
    let h = batch.header();
    let count = usize::try_from(h.record_count)
        .map_err(|_| BatchError::InvalidRecordCount(h.record_count))?;
    let log_append_time =
        (h.timestamp_type() == TimestampType::LogAppend).then_some(h.max_timestamp);
    let mut visit = move |mut r: RecordInfo| {
        if let Some(ts) = log_append_time {
            r.timestamp = ts;
        }
        visit(r)
    };
    let compression = h.compression()?;
    match compression {
        kafka_protocol::records::Compression::None => {
            walk_records(batch.records_payload(), count, h.base_timestamp, &mut visit)
        }
        _ => {
            let inflated = decompress(compression, batch.records_payload(), max_decompressed)?;
            walk_records(&inflated, count, h.base_timestamp, &mut visit)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Zigzag varint writer for hand-built records in tests.
    pub(crate) fn put_varlong(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    /// One record body with the given deltas and payloads, length-prefixed.
    pub(crate) fn record(
        ts_delta: i64,
        off_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut body = vec![0u8];
        put_varlong(&mut body, ts_delta);
        put_varlong(&mut body, off_delta.into());
        for part in [key, value] {
            match part {
                Some(p) => {
                    put_varlong(&mut body, p.len() as i64);
                    body.extend_from_slice(p);
                }
                None => put_varlong(&mut body, -1),
            }
        }
        put_varlong(&mut body, 0);
        let mut out = Vec::new();
        put_varlong(&mut out, body.len() as i64);
        out.extend(body);
        out
    }

    #[test]
    fn walks_hand_built_records() {
        let mut payload = record(0, 0, Some(b"k"), Some(b"v"));
        payload.extend(record(5_000_000_000, 1, None, Some(b"value")));
        let mut seen = Vec::new();
        walk_records(&payload, 2, 100, |r| {
            seen.push(r);
            Ok(Walk::Continue)
        })
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].offset_delta, 1);
        // A timestamp delta beyond i32 is a varlong in Kafka's format.
        assert_eq!(seen[1].timestamp, 5_000_000_100);
    }

    #[test]
    fn count_and_length_mismatches_are_errors() {
        let payload = record(0, 0, None, None);
        assert!(matches!(
            walk_records(&payload, 2, 0, |_| Ok(Walk::Continue)),
            Err(BatchError::RecordCountMismatch {
                declared: 2,
                found: 1
            })
        ));
        let mut extra = payload.clone();
        extra.push(0);
        assert!(matches!(
            walk_records(&extra, 1, 0, |_| Ok(Walk::Continue)),
            Err(BatchError::TrailingBytes { count: 1 })
        ));
        // Body length one larger than the fields: the record claims a byte it does not use.
        let mut long = payload.clone();
        long[0] += 2;
        long.push(0);
        assert!(walk_records(&long, 1, 0, |_| Ok(Walk::Continue)).is_err());
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let payload = [0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(
            walk_records(&payload, 1, 0, |_| Ok(Walk::Continue)),
            Err(BatchError::MalformedRecord { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), count in 0usize..64) {
            let _ = walk_records(&bytes, count, 0, |_| Ok(Walk::Continue));
        }

        #[test]
        fn varlong_round_trips(v in any::<i64>()) {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            let mut c = Cursor { buf: &buf, pos: 0 };
            prop_assert_eq!(c.varlong(0, "x").unwrap(), v);
            prop_assert_eq!(c.remaining(), 0);
        }
    }
}
