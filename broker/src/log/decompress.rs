//! Inflating a compressed batch's record payload so its records can be checked.
//!
//! The codecs are kafka-protocol's (`kafka_protocol::compression`). Two things are added here:
//! Java producers frame snappy the xerial way (`\x82SNAPPY\0` + versions + length-prefixed raw
//! blocks), which kafka-protocol 0.15 does not unframe; and every output is bounded. Snappy
//! declares each block's size up front, so its bound is checked before allocating; gzip, lz4 and
//! zstd are checked after inflating (see [`decompress`]).

use bytes::Bytes;
use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::Compression;

use super::batch::BatchError;

/// Magic that opens a xerial snappy stream.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version int32 and compatible-version int32.
const XERIAL_HEADER_LEN: usize = 16;

/// Inflates `data` compressed with `compression`, failing if the result exceeds `max_bytes`.
///
/// For gzip, lz4 and zstd the bound is enforced once the codec has produced its output, so a
/// compression bomb can still allocate its full size transiently; bounding that needs streaming
/// codecs, which kafka-protocol does not expose.
pub fn decompress(
    compression: Compression,
    data: &[u8],
    max_bytes: usize,
) -> Result<Bytes, BatchError> {
    let out = match compression {
        Compression::None => Bytes::copy_from_slice(data),
        Compression::Snappy => snappy(data, max_bytes)?,
        Compression::Gzip => run::<Gzip>(data, "gzip")?,
        Compression::Lz4 => run::<Lz4>(data, "lz4")?,
        Compression::Zstd => run::<Zstd>(data, "zstd")?,
    };
    if out.len() > max_bytes {
        return Err(BatchError::DecompressedTooLarge { limit: max_bytes });
    }
    Ok(out)
}

fn run<'a, D>(data: &'a [u8], codec: &'static str) -> Result<Bytes, BatchError>
where
    D: Decompressor<&'a [u8], Buf = Bytes>,
{
    let mut input = data;
    D::decompress(&mut input, |out: &mut Bytes| Ok(std::mem::take(out))).map_err(|e| {
        BatchError::Decompression {
            codec,
            reason: format!("{e:#}"),
        }
    })
}

fn snappy(data: &[u8], max_bytes: usize) -> Result<Bytes, BatchError> {
    if data.len() < XERIAL_HEADER_LEN || data[..XERIAL_MAGIC.len()] != XERIAL_MAGIC {
        return snappy_block(data, max_bytes);
    }
    let mut out = Vec::new();
    let mut rest = &data[XERIAL_HEADER_LEN..];
    while !rest.is_empty() {
        let (len, tail) = match rest.split_first_chunk::<4>() {
            Some((len, tail)) => (u32::from_be_bytes(*len) as usize, tail),
            None => return Err(snappy_error("truncated xerial block length")),
        };
        if len > tail.len() {
            return Err(snappy_error("xerial block longer than the batch"));
        }
        let block = snappy_block(&tail[..len], max_bytes.saturating_sub(out.len())).map_err(
            |e| match e {
                BatchError::DecompressedTooLarge { .. } => {
                    BatchError::DecompressedTooLarge { limit: max_bytes }
                }
                other => other,
            },
        )?;
        out.extend_from_slice(&block);
        rest = &tail[len..];
    }
    Ok(Bytes::from(out))
}

/// One raw snappy block, whose uncompressed length is its leading unsigned varint.
fn snappy_block(data: &[u8], max_bytes: usize) -> Result<Bytes, BatchError> {
    let mut declared: u64 = 0;
    let mut terminated = false;
    for (i, b) in data.iter().take(5).enumerate() {
        declared |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            terminated = true;
            break;
        }
    }
    if !terminated {
        return Err(snappy_error("bad block length"));
    }
    if declared > max_bytes as u64 {
        return Err(BatchError::DecompressedTooLarge { limit: max_bytes });
    }
    run::<Snappy>(data, "snappy")
}

fn snappy_error(reason: &str) -> BatchError {
    BatchError::Decompression {
        codec: "snappy",
        reason: reason.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::compression::Compressor;
    use proptest::prelude::*;

    fn raw_snappy(data: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        <Snappy as Compressor<BytesMut>>::compress(&mut out, |buf: &mut BytesMut| {
            buf.put_slice(data);
            Ok(())
        })
        .unwrap();
        out.to_vec()
    }

    /// Frames `data` as Java's SnappyOutputStream does, in blocks of `block` bytes.
    pub(crate) fn xerial_snappy(data: &[u8], block: usize) -> Vec<u8> {
        let mut out = XERIAL_MAGIC.to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for chunk in data.chunks(block) {
            let c = raw_snappy(chunk);
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn xerial_and_raw_snappy_inflate() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let framed = xerial_snappy(&data, 4096);
        assert_eq!(
            &decompress(Compression::Snappy, &framed, 1 << 20).unwrap()[..],
            &data[..]
        );
        let raw = raw_snappy(&data);
        assert_eq!(
            &decompress(Compression::Snappy, &raw, 1 << 20).unwrap()[..],
            &data[..]
        );
        assert!(matches!(
            decompress(Compression::Snappy, &framed, 9_999),
            Err(BatchError::DecompressedTooLarge { limit: 9_999 })
        ));
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        let junk = [1u8, 2, 3, 4, 5, 6, 7, 8];
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(c, &junk, 1 << 20).is_err(), "{c:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), codec in 0u8..5) {
            let c = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][codec as usize];
            let _ = decompress(c, &bytes, 4096);
            let mut framed = XERIAL_MAGIC.to_vec();
            framed.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
            framed.extend_from_slice(&bytes);
            let _ = decompress(Compression::Snappy, &framed, 4096);
        }
    }
}
