//! Primitives of Kafka's non-flexible message encoding, big-endian: int16/32/64, strings
//! with an int16 length, bytes and arrays with an int32 length or count.
//!
//! Kafka's generated readers treat any negative length as null and ignore bytes after the
//! last field; the reader here does the same. Every length is checked against the bytes
//! left before anything is allocated.

use bytes::Bytes;

use super::CodecError;

/// A cursor over an encoded message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated {
                at: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A nullable string. Invalid UTF-8 is replaced, as Java's decoder does.
    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, CodecError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        Ok(Some(String::from_utf8_lossy(raw).into_owned()))
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, CodecError> {
        self.nullable_string()?
            .ok_or(CodecError::NullField { field })
    }

    pub(crate) fn nullable_bytes(&mut self) -> Result<Option<Bytes>, CodecError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(len as usize)?)))
    }

    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Bytes, CodecError> {
        self.nullable_bytes()?
            .ok_or(CodecError::NullField { field })
    }

    /// The element count of a non-nullable array whose elements take at least
    /// `min_element_size` bytes each; a count the remaining input cannot hold fails here,
    /// before the caller allocates.
    pub(crate) fn array_len(
        &mut self,
        field: &'static str,
        min_element_size: usize,
    ) -> Result<usize, CodecError> {
        let n = self.i32()?;
        if n < 0 {
            return Err(CodecError::NullField { field });
        }
        let n = n as usize;
        let needed = n.saturating_mul(min_element_size.max(1));
        if needed > self.remaining() {
            return Err(CodecError::Truncated {
                at: self.pos,
                needed,
                available: self.remaining(),
            });
        }
        Ok(n)
    }
}

/// An encoder appending to a byte vector.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_version(version: i16) -> Self {
        let mut w = Writer::default();
        w.i16(version);
        w
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn string(&mut self, field: &'static str, s: &str) -> Result<(), CodecError> {
        let len = i16::try_from(s.len()).map_err(|_| CodecError::TooLong {
            field,
            len: s.len(),
        })?;
        self.i16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    pub(crate) fn nullable_string(
        &mut self,
        field: &'static str,
        s: Option<&str>,
    ) -> Result<(), CodecError> {
        match s {
            Some(s) => self.string(field, s),
            None => {
                self.i16(-1);
                Ok(())
            }
        }
    }

    pub(crate) fn bytes(&mut self, field: &'static str, b: &[u8]) -> Result<(), CodecError> {
        let len = i32::try_from(b.len()).map_err(|_| CodecError::TooLong {
            field,
            len: b.len(),
        })?;
        self.i32(len);
        self.buf.extend_from_slice(b);
        Ok(())
    }

    pub(crate) fn nullable_bytes(
        &mut self,
        field: &'static str,
        b: Option<&[u8]>,
    ) -> Result<(), CodecError> {
        match b {
            Some(b) => self.bytes(field, b),
            None => {
                self.i32(-1);
                Ok(())
            }
        }
    }

    pub(crate) fn array_len(&mut self, field: &'static str, n: usize) -> Result<(), CodecError> {
        let n = i32::try_from(n).map_err(|_| CodecError::TooLong { field, len: n })?;
        self.i32(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_lengths_are_null() {
        let mut r = Reader::new(&[0xff, 0xfe]);
        assert_eq!(r.nullable_string().unwrap(), None);
        let mut r = Reader::new(&[0x80, 0, 0, 0]);
        assert_eq!(r.nullable_bytes().unwrap(), None);
        let mut r = Reader::new(&[0xff, 0xff]);
        assert_eq!(r.string("f"), Err(CodecError::NullField { field: "f" }));
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(matches!(
            r.array_len("a", 4),
            Err(CodecError::Truncated { .. })
        ));
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.nullable_bytes(),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn strings_longer_than_int16_are_refused() {
        let mut w = Writer::default();
        let long = "x".repeat(32768);
        assert_eq!(
            w.string("s", &long),
            Err(CodecError::TooLong {
                field: "s",
                len: 32768
            })
        );
        assert!(w.string("s", &long[..32767]).is_ok());
    }
}
