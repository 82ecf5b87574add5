//! Jute, ZooKeeper's serialization: primitives and the records of `zookeeper.jute`.
//!
//! Plain types with a nom decoder and a writer; no I/O here. Every length read from the
//! input is checked against the bytes actually present before anything is allocated, so a
//! hostile length can never make us allocate more than the frame we already hold.

pub mod records;

pub use records::*;

use nom::bytes::complete::take;
use nom::number::complete::{be_i32, be_i64, be_u8};
use nom::Parser;

/// The nom result type used by every jute decoder.
pub type Res<'a, T> = nom::IResult<&'a [u8], T>;

/// A decoding failure at a record boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated jute record")]
    Truncated,
    /// A length or count was negative (other than -1) or larger than the input.
    #[error("invalid jute length or count")]
    BadLength,
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8 in jute string")]
    BadUtf8,
}

impl From<nom::Err<nom::error::Error<&[u8]>>> for DecodeError {
    fn from(e: nom::Err<nom::error::Error<&[u8]>>) -> Self {
        match e {
            nom::Err::Incomplete(_) => DecodeError::Truncated,
            nom::Err::Error(e) | nom::Err::Failure(e) => match e.code {
                nom::error::ErrorKind::Eof => DecodeError::Truncated,
                nom::error::ErrorKind::Char => DecodeError::BadUtf8,
                _ => DecodeError::BadLength,
            },
        }
    }
}

fn fail<T>(i: &[u8], kind: nom::error::ErrorKind) -> Res<'_, T> {
    Err(nom::Err::Error(nom::error::Error::new(i, kind)))
}

/// A value that has a jute encoding.
pub trait Jute: Sized {
    /// Decodes one value from the front of `i`.
    fn read(i: &[u8]) -> Res<'_, Self>;
    /// Appends the encoding of `self` to `out`.
    fn write(&self, out: &mut Vec<u8>);
    /// The smallest number of bytes an encoding can take; bounds vector counts.
    const MIN_SIZE: usize;

    /// Decodes a whole record from `buf`, ignoring trailing bytes (as the Java reader does).
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        match Self::read(buf) {
            Ok((_, v)) => Ok(v),
            Err(e) => Err(e.into()),
        }
    }

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }
}

impl Jute for i32 {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        be_i32(i)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Jute for i64 {
    const MIN_SIZE: usize = 8;
    fn read(i: &[u8]) -> Res<'_, Self> {
        be_i64(i)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Jute for bool {
    const MIN_SIZE: usize = 1;
    fn read(i: &[u8]) -> Res<'_, Self> {
        // Java treats any non-zero byte as true.
        let (i, b) = be_u8(i)?;
        Ok((i, b != 0))
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

/// Reads a length prefix: -1 means null; other negatives and lengths beyond the input fail.
fn read_len(i: &[u8]) -> Res<'_, Option<usize>> {
    let (rest, n) = be_i32(i)?;
    if n == -1 {
        return Ok((rest, None));
    }
    if n < 0 || n as usize > rest.len() {
        return fail(i, nom::error::ErrorKind::LengthValue);
    }
    Ok((rest, Some(n as usize)))
}

/// A jute `buffer`: `None` is the null buffer (length -1).
pub type Buffer = Option<Vec<u8>>;

impl Jute for Buffer {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (i, n) = read_len(i)?;
        match n {
            None => Ok((i, None)),
            Some(n) => {
                let (i, b) = take(n).parse(i)?;
                Ok((i, Some(b.to_vec())))
            }
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_buffer(out, self.as_deref());
    }
}

/// Writes a jute buffer (`None` as length -1).
pub fn write_buffer(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => (-1i32).write(out),
        Some(b) => {
            (b.len() as i32).write(out);
            out.extend_from_slice(b);
        }
    }
}

/// Jute `ustring`: a null string (length -1) decodes as the empty string.
impl Jute for String {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (rest, n) = read_len(i)?;
        match n {
            None => Ok((rest, String::new())),
            Some(n) => {
                let (rest, b) = take(n).parse(rest)?;
                // Java decodes malformed UTF-8 with replacement characters and carries on
                // (a path with U+FFFD is then refused as invalid), so do we.
                Ok((rest, String::from_utf8_lossy(b).into_owned()))
            }
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

/// Writes a jute ustring.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    (s.len() as i32).write(out);
    out.extend_from_slice(s.as_bytes());
}

/// Jute `vector<T>`: a null vector (count -1) decodes as empty. The count is bounded by
/// the bytes left, so a huge count cannot trigger a huge allocation.
impl<T: Jute> Jute for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (mut rest, n) = be_i32(i)?;
        if n == -1 {
            return Ok((rest, Vec::new()));
        }
        if n < 0 || (n as usize).saturating_mul(T::MIN_SIZE.max(1)) > rest.len() {
            return fail(i, nom::error::ErrorKind::LengthValue);
        }
        let mut v = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (r, x) = T::read(rest)?;
            v.push(x);
            rest = r;
        }
        Ok((rest, v))
    }
    fn write(&self, out: &mut Vec<u8>) {
        (self.len() as i32).write(out);
        for x in self {
            x.write(out);
        }
    }
}

/// Declares a jute record: a struct whose fields are encoded in declaration order.
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        impl $crate::jute::Jute for $name {
            const MIN_SIZE: usize = 0 $(+ <$t as $crate::jute::Jute>::MIN_SIZE)*;
            #[allow(unused_variables)]
            fn read(i: &[u8]) -> $crate::jute::Res<'_, Self> {
                $(let (i, $f) = <$t as $crate::jute::Jute>::read(i)?;)*
                Ok((i, $name { $($f),* }))
            }
            #[allow(unused_variables)]
            fn write(&self, out: &mut Vec<u8>) {
                $($crate::jute::Jute::write(&self.$f, out);)*
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_buffer_and_string() {
        let b: Buffer = None;
        assert_eq!(b.to_bytes(), vec![0xff; 4]);
        assert_eq!(Buffer::decode(&[0xff; 4]).unwrap(), None);
        assert_eq!(String::decode(&[0xff; 4]).unwrap(), "");
        assert_eq!(Vec::<i32>::decode(&[0xff; 4]).unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn lengths_are_bounded_by_input() {
        // A 2 GB buffer claim in a 6-byte frame must fail, not allocate.
        assert_eq!(
            Buffer::decode(&[0x7f, 0xff, 0xff, 0xff, 1, 2]),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            Vec::<i64>::decode(&[0x7f, 0xff, 0xff, 0xff, 1, 2]),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            String::decode(&[0xff, 0xff, 0xff, 0xfe]),
            Err(DecodeError::BadLength)
        );
        assert_eq!(i64::decode(&[1, 2, 3]), Err(DecodeError::Truncated));
    }

    #[test]
    fn bad_utf8_is_replaced_as_java_does() {
        assert_eq!(
            String::decode(&[0, 0, 0, 2, b'a', 0xff]).unwrap(),
            "a\u{fffd}"
        );
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = Buffer::decode(&data);
            let _ = String::decode(&data);
            let _ = Vec::<String>::decode(&data);
            let _ = Vec::<Acl>::decode(&data);
        }

        #[test]
        fn roundtrip_strings(s in ".*", b in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32))) {
            proptest::prop_assert_eq!(String::decode(&s.to_bytes()).unwrap(), s);
            proptest::prop_assert_eq!(Buffer::decode(&b.to_bytes()).unwrap(), b);
        }
    }
}
