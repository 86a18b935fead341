//! A cursor over the delta that turns running out of bytes into errors.

use crate::error::DecodeError;
use crate::varint;

/// Reads the delta front to back; every read says what it is reading so
/// that a short file gives a useful message.
pub(crate) struct Input<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Input<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { bytes, position: 0 }
    }

    /// Offset of the next byte in the whole delta.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position == self.bytes.len()
    }

    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn take(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.position..];
        if rest.len() < len {
            return Err(DecodeError::Truncated {
                what,
                offset: self.bytes.len(),
            });
        }

        self.position += len;
        Ok(&rest[..len])
    }

    pub(crate) fn u32_be(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// Reads an RFC 3284 integer.
    pub(crate) fn integer(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let offset = self.position;

        match varint::read(&self.bytes[offset..]) {
            Ok((value, len)) => {
                self.position += len;
                Ok(value)
            }
            Err(varint::ReadError::Truncated) => Err(DecodeError::Truncated {
                what,
                offset: self.bytes.len(),
            }),
            Err(varint::ReadError::Overflow) => {
                Err(DecodeError::IntegerOverflow { what, offset })
            }
        }
    }

    /// Reads an RFC 3284 integer that counts bytes, so must fit a `usize`.
    pub(crate) fn size(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.position;
        let value = self.integer(what)?;

        usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow { what, offset })
    }
}
