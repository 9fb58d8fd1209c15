//! A Thrift binary-protocol reader that bad input cannot crash.
//!
//! The `thrift` crate's `TBinaryInputProtocol` trusts the sizes it reads: a negative or huge string,
//! binary or container length makes it allocate first and fail (or abort) later, and the generated
//! readers take whatever wire type a field has. [`BoundedBinaryInputProtocol`] reads the same bytes
//! (strict or non-strict message headers, like Storm's servers) but
//!
//! * keeps a byte budget — the exact length of an in-memory input, or a per-message limit on a stream —
//!   and refuses any string, binary or container whose declared size cannot fit in what is left, so no
//!   allocation is ever larger than the input (or the message limit);
//! * rejects negative sizes and container element types that cannot occur;
//! * checks that the value read for a struct field has the field's wire type, so a schema mismatch
//!   (say an `i64` where this schema has an `i32`) is an error instead of a silent misreading.

use thrift::protocol::{
    TFieldIdentifier, TInputProtocol, TInputProtocolFactory, TListIdentifier, TMapIdentifier,
    TMessageIdentifier, TMessageType, TSetIdentifier, TStructIdentifier, TType,
};
use thrift::transport::TReadTransport;
use thrift::{ProtocolError, ProtocolErrorKind, TransportError, TransportErrorKind};

const VERSION_MASK: u32 = 0xffff_0000;
const VERSION_1: u32 = 0x8001_0000;

/// How the byte budget of a [`BoundedBinaryInputProtocol`] is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// The budget is the whole input: running out means the input is truncated.
    Input,
    /// The budget is a per-message limit on a stream, renewed by each `read_message_begin`.
    PerMessage,
}

/// A binary-protocol [`TInputProtocol`] with a byte budget and field-type checks (see the module docs).
#[derive(Debug)]
pub struct BoundedBinaryInputProtocol<T: TReadTransport> {
    transport: T,
    strict: bool,
    budget: Budget,
    limit: usize,
    remaining: usize,
    /// Wire type of the field whose value is to be read next (set by `read_field_begin`).
    pending_field: Option<(i16, TType)>,
}

impl<'a> BoundedBinaryInputProtocol<&'a [u8]> {
    /// A reader of one serialized value held in memory; its budget is exactly `input.len()`.
    pub fn for_slice(input: &'a [u8]) -> Self {
        BoundedBinaryInputProtocol {
            transport: input,
            strict: false,
            budget: Budget::Input,
            limit: input.len(),
            remaining: input.len(),
            pending_field: None,
        }
    }

    /// Bytes not read yet.
    pub fn remaining_input(&self) -> &'a [u8] {
        self.transport
    }
}

impl<T: TReadTransport> BoundedBinaryInputProtocol<T> {
    /// A reader of RPC messages from a stream: each message may take at most `max_message_bytes`
    /// (Storm uses `nimbus.thrift.max_buffer_size` / `drpc.max_buffer_size`, 1048576). With `strict`
    /// false, message headers with or without the version word are accepted, as Storm's servers do.
    pub fn for_messages(transport: T, strict: bool, max_message_bytes: usize) -> Self {
        BoundedBinaryInputProtocol {
            transport,
            strict,
            budget: Budget::PerMessage,
            limit: max_message_bytes,
            remaining: max_message_bytes,
            pending_field: None,
        }
    }

    /// Bytes consumed since the start of the input or of the current message.
    pub fn position(&self) -> usize {
        self.limit - self.remaining
    }

    fn out_of_budget(&self, needed: usize, what: &str) -> thrift::Error {
        match self.budget {
            Budget::Input => thrift::Error::Transport(TransportError::new(
                TransportErrorKind::EndOfFile,
                format!(
                    "input is truncated: {what} at byte {} needs {needed} bytes but only {} remain",
                    self.position(),
                    self.remaining
                ),
            )),
            Budget::PerMessage => thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::SizeLimit,
                format!(
                    "message is larger than the {}-byte limit: {what} at byte {} needs {needed} bytes",
                    self.limit,
                    self.position()
                ),
            )),
        }
    }

    fn consume(&mut self, n: usize, what: &str) -> thrift::Result<()> {
        if n > self.remaining {
            return Err(self.out_of_budget(n, what));
        }
        self.remaining -= n;
        Ok(())
    }

    fn read_array<const N: usize>(&mut self, what: &str) -> thrift::Result<[u8; N]> {
        self.consume(N, what)?;
        let mut buf = [0u8; N];
        self.transport.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Checks a value of type `actual` against the wire type of the field being read, if any.
    fn expect_value(&mut self, actual: TType) -> thrift::Result<()> {
        match self.pending_field.take() {
            Some((id, wire)) if wire != actual => Err(thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::InvalidData,
                format!("field {id} has wire type {wire} but this schema reads it as {actual} (schema mismatch)"),
            ))),
            _ => Ok(()),
        }
    }

    fn read_size(&mut self, what: &str) -> thrift::Result<usize> {
        let size = i32::from_be_bytes(self.read_array::<4>(what)?);
        usize::try_from(size).map_err(|_| {
            thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::NegativeSize,
                format!(
                    "{what} at byte {} declares a negative size {size}",
                    self.position() - 4
                ),
            ))
        })
    }

    /// Reads a container size and checks that `size` elements of at least `min_element_bytes` each fit.
    fn read_container_size(
        &mut self,
        what: &str,
        min_element_bytes: Option<usize>,
    ) -> thrift::Result<i32> {
        let size = self.read_size(what)?;
        if size > 0 {
            let Some(min) = min_element_bytes else {
                return Err(thrift::Error::Protocol(ProtocolError::new(
                    ProtocolErrorKind::InvalidData,
                    format!(
                        "{what} at byte {} has {size} elements of a type that cannot be a value",
                        self.position()
                    ),
                )));
            };
            let needed = size.saturating_mul(min);
            if needed > self.remaining {
                return Err(self.out_of_budget(needed, &format!("{what} of {size} elements")));
            }
        }
        // The size was read as a non-negative i32, so it converts back.
        i32::try_from(size).map_err(|_| {
            thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::SizeLimit,
                format!("{what} is too large"),
            ))
        })
    }

    fn read_type(&mut self, what: &str) -> thrift::Result<TType> {
        let [b] = self.read_array::<1>(what)?;
        type_from_u8(b).ok_or_else(|| {
            thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::InvalidData,
                format!(
                    "{what} at byte {} is {b:#04x}, which is no Thrift type",
                    self.position() - 1
                ),
            ))
        })
    }
}

/// The wire types of the binary protocol (the `thrift` crate's mapping).
fn type_from_u8(b: u8) -> Option<TType> {
    Some(match b {
        0x00 => TType::Stop,
        0x01 => TType::Void,
        0x02 => TType::Bool,
        0x03 => TType::I08,
        0x04 => TType::Double,
        0x06 => TType::I16,
        0x08 => TType::I32,
        0x0A => TType::I64,
        0x0B => TType::String,
        0x0C => TType::Struct,
        0x0D => TType::Map,
        0x0E => TType::Set,
        0x0F => TType::List,
        0x10 => TType::Utf8,
        0x11 => TType::Utf16,
        _ => return None,
    })
}

/// The fewest bytes one value of `t` takes in the binary protocol; `None` for types that are no value.
fn min_value_bytes(t: TType) -> Option<usize> {
    match t {
        TType::Bool | TType::I08 | TType::Struct => Some(1),
        TType::I16 => Some(2),
        TType::I32 | TType::String => Some(4),
        TType::I64 | TType::Double => Some(8),
        TType::List | TType::Set => Some(5),
        TType::Map => Some(6),
        TType::Stop | TType::Void | TType::Utf7 | TType::Utf8 | TType::Utf16 => None,
    }
}

impl<T: TReadTransport> TInputProtocol for BoundedBinaryInputProtocol<T> {
    fn read_message_begin(&mut self) -> thrift::Result<TMessageIdentifier> {
        if self.budget == Budget::PerMessage {
            self.remaining = self.limit;
        }
        self.pending_field = None;
        let first = u32::from_be_bytes(self.read_array::<4>("the message header")?);
        if first & 0x8000_0000 != 0 {
            if first & VERSION_MASK != VERSION_1 {
                return Err(thrift::Error::Protocol(ProtocolError::new(
                    ProtocolErrorKind::BadVersion,
                    format!("bad binary protocol version word {first:#010x}"),
                )));
            }
            // The low byte of the version word is the message type.
            let message_type = TMessageType::try_from(first.to_be_bytes()[3])?;
            let name = self.read_string()?;
            let sequence_number = self.read_i32()?;
            Ok(TMessageIdentifier::new(name, message_type, sequence_number))
        } else if self.strict {
            Err(thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::BadVersion,
                "message has no protocol version word (non-strict sender) but this reader is strict",
            )))
        } else {
            // Non-strict header: the first word is the length of the method name.
            let len = usize::try_from(first).unwrap_or(usize::MAX);
            if len > self.remaining {
                return Err(self.out_of_budget(len, "the method name"));
            }
            self.remaining -= len;
            let mut name = vec![0u8; len];
            self.transport.read_exact(&mut name)?;
            let name = String::from_utf8(name)?;
            let [t] = self.read_array::<1>("the message type")?;
            let message_type = TMessageType::try_from(t)?;
            let sequence_number = self.read_i32()?;
            Ok(TMessageIdentifier::new(name, message_type, sequence_number))
        }
    }

    fn read_message_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_struct_begin(&mut self) -> thrift::Result<Option<TStructIdentifier>> {
        self.expect_value(TType::Struct)?;
        Ok(None)
    }

    fn read_struct_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_field_begin(&mut self) -> thrift::Result<TFieldIdentifier> {
        let field_type = self.read_type("a field type")?;
        if field_type == TType::Stop {
            return Ok(TFieldIdentifier::new::<Option<String>, String, i16>(
                None,
                TType::Stop,
                0,
            ));
        }
        if min_value_bytes(field_type).is_none() {
            return Err(thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::InvalidData,
                format!(
                    "a field at byte {} has type {field_type}, which cannot be a value",
                    self.position() - 1
                ),
            )));
        }
        let id = i16::from_be_bytes(self.read_array::<2>("a field id")?);
        self.pending_field = Some((id, field_type));
        Ok(TFieldIdentifier::new::<Option<String>, String, i16>(
            None, field_type, id,
        ))
    }

    fn read_field_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_bool(&mut self) -> thrift::Result<bool> {
        self.expect_value(TType::Bool)?;
        let [b] = self.read_array::<1>("a bool")?;
        Ok(b != 0)
    }

    fn read_bytes(&mut self) -> thrift::Result<Vec<u8>> {
        self.expect_value(TType::String)?;
        let len = self.read_size("a string or binary length")?;
        if len > self.remaining {
            return Err(self.out_of_budget(len, "a string or binary"));
        }
        self.remaining -= len;
        let mut buf = vec![0u8; len];
        self.transport.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn read_i8(&mut self) -> thrift::Result<i8> {
        self.expect_value(TType::I08)?;
        Ok(i8::from_be_bytes(self.read_array::<1>("an i8")?))
    }

    fn read_i16(&mut self) -> thrift::Result<i16> {
        self.expect_value(TType::I16)?;
        Ok(i16::from_be_bytes(self.read_array::<2>("an i16")?))
    }

    fn read_i32(&mut self) -> thrift::Result<i32> {
        self.expect_value(TType::I32)?;
        Ok(i32::from_be_bytes(self.read_array::<4>("an i32")?))
    }

    fn read_i64(&mut self) -> thrift::Result<i64> {
        self.expect_value(TType::I64)?;
        Ok(i64::from_be_bytes(self.read_array::<8>("an i64")?))
    }

    fn read_double(&mut self) -> thrift::Result<f64> {
        self.expect_value(TType::Double)?;
        Ok(f64::from_be_bytes(self.read_array::<8>("a double")?))
    }

    fn read_string(&mut self) -> thrift::Result<String> {
        let bytes = self.read_bytes()?;
        String::from_utf8(bytes).map_err(|e| {
            thrift::Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::InvalidData,
                format!(
                    "a string ending at byte {} is not UTF-8: {e}",
                    self.position()
                ),
            ))
        })
    }

    fn read_list_begin(&mut self) -> thrift::Result<TListIdentifier> {
        self.expect_value(TType::List)?;
        let element_type = self.read_type("a list element type")?;
        let size = self.read_container_size("a list", min_value_bytes(element_type))?;
        Ok(TListIdentifier::new(element_type, size))
    }

    fn read_list_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_set_begin(&mut self) -> thrift::Result<TSetIdentifier> {
        self.expect_value(TType::Set)?;
        let element_type = self.read_type("a set element type")?;
        let size = self.read_container_size("a set", min_value_bytes(element_type))?;
        Ok(TSetIdentifier::new(element_type, size))
    }

    fn read_set_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_map_begin(&mut self) -> thrift::Result<TMapIdentifier> {
        self.expect_value(TType::Map)?;
        let key_type = self.read_type("a map key type")?;
        let value_type = self.read_type("a map value type")?;
        let min_entry = min_value_bytes(key_type)
            .zip(min_value_bytes(value_type))
            .map(|(k, v)| k + v);
        let size = self.read_container_size("a map", min_entry)?;
        Ok(TMapIdentifier::new(key_type, value_type, size))
    }

    fn read_map_end(&mut self) -> thrift::Result<()> {
        Ok(())
    }

    fn read_byte(&mut self) -> thrift::Result<u8> {
        let [b] = self.read_array::<1>("a byte")?;
        Ok(b)
    }
}

/// Creates [`BoundedBinaryInputProtocol`]s for a Thrift server or client: non-strict reads (as Storm's
/// `TBinaryProtocol.Factory(strictRead=false, strictWrite=true)`), at most `max_message_bytes` a message.
#[derive(Debug, Clone, Copy)]
pub struct BoundedBinaryInputProtocolFactory {
    max_message_bytes: usize,
}

impl BoundedBinaryInputProtocolFactory {
    pub fn new(max_message_bytes: usize) -> Self {
        BoundedBinaryInputProtocolFactory { max_message_bytes }
    }
}

impl TInputProtocolFactory for BoundedBinaryInputProtocolFactory {
    fn create(&self, transport: Box<dyn TReadTransport + Send>) -> Box<dyn TInputProtocol + Send> {
        Box::new(BoundedBinaryInputProtocol::for_messages(
            transport,
            false,
            self.max_message_bytes,
        ))
    }
}

#[cfg(test)]
mod tests {
    use thrift::protocol::{TBinaryOutputProtocol, TOutputProtocol};

    use super::*;

    fn written(f: impl FnOnce(&mut TBinaryOutputProtocol<&mut Vec<u8>>)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut p = TBinaryOutputProtocol::new(&mut out, true);
        f(&mut p);
        out
    }

    fn kind_of(e: &thrift::Error) -> String {
        match e {
            thrift::Error::Transport(t) => format!("transport {:?}: {}", t.kind, t.message),
            thrift::Error::Protocol(p) => format!("protocol {:?}: {}", p.kind, p.message),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn reads_primitives_written_by_the_crate() {
        let bytes = written(|p| {
            p.write_bool(true).unwrap();
            p.write_i8(-3).unwrap();
            p.write_i16(-300).unwrap();
            p.write_i32(70000).unwrap();
            p.write_i64(-5_000_000_000).unwrap();
            p.write_double(2.5).unwrap();
            p.write_string("héllo").unwrap();
            p.write_bytes(&[0, 1, 2]).unwrap();
        });
        let mut r = BoundedBinaryInputProtocol::for_slice(&bytes);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_i8().unwrap(), -3);
        assert_eq!(r.read_i16().unwrap(), -300);
        assert_eq!(r.read_i32().unwrap(), 70000);
        assert_eq!(r.read_i64().unwrap(), -5_000_000_000);
        assert_eq!(r.read_double().unwrap(), 2.5);
        assert_eq!(r.read_string().unwrap(), "héllo");
        assert_eq!(r.read_bytes().unwrap(), vec![0, 1, 2]);
        assert_eq!(r.position(), bytes.len());
        assert!(r.remaining_input().is_empty());
        let e = r.read_i32().unwrap_err();
        assert!(kind_of(&e).contains("EndOfFile"), "{}", kind_of(&e));
    }

    #[test]
    fn huge_and_negative_sizes_are_refused_before_allocating() {
        // A string claiming 2 GiB, a negative string, a list of 1e9 i64s, a negative map.
        let cases: [(&[u8], &str); 4] = [
            (&[0x7f, 0xff, 0xff, 0xff, b'a'], "EndOfFile"),
            (&[0xff, 0xff, 0xff, 0xfe], "NegativeSize"),
            (&[0x0a, 0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0], "EndOfFile"),
            (&[0x0b, 0x0b, 0xff, 0xff, 0xff, 0xff], "NegativeSize"),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            let mut r = BoundedBinaryInputProtocol::for_slice(bytes);
            let e = match i {
                0 | 1 => r.read_bytes().unwrap_err(),
                2 => r.read_list_begin().unwrap_err(),
                _ => r.read_map_begin().unwrap_err(),
            };
            assert!(kind_of(&e).contains(want), "case {i}: {}", kind_of(&e));
        }
    }

    #[test]
    fn field_type_mismatch_is_an_error() {
        // Field 3 written as an i64, read as an i32 (Storm 3's widened heartbeat time_secs).
        let bytes = written(|p| {
            p.write_field_begin(&TFieldIdentifier::new("time_secs", TType::I64, 3))
                .unwrap();
            p.write_i64(1).unwrap();
        });
        let mut r = BoundedBinaryInputProtocol::for_slice(&bytes);
        let f = r.read_field_begin().unwrap();
        assert_eq!((f.id, f.field_type), (Some(3), TType::I64));
        let e = r.read_i32().unwrap_err();
        assert!(
            kind_of(&e).contains("field 3 has wire type i64 but this schema reads it as i32"),
            "{}",
            kind_of(&e)
        );
    }

    #[test]
    fn messages_strict_and_non_strict_with_a_per_message_limit() {
        let strict = written(|p| {
            p.write_message_begin(&TMessageIdentifier::new("execute", TMessageType::Call, 7))
                .unwrap();
        });
        let mut r = BoundedBinaryInputProtocol::for_messages(&strict[..], true, 100);
        let m = r.read_message_begin().unwrap();
        assert_eq!(
            (m.name.as_str(), m.message_type, m.sequence_number),
            ("execute", TMessageType::Call, 7)
        );

        let mut non_strict = Vec::new();
        non_strict.extend_from_slice(&7u32.to_be_bytes());
        non_strict.extend_from_slice(b"execute");
        non_strict.push(1);
        non_strict.extend_from_slice(&9i32.to_be_bytes());
        let mut r = BoundedBinaryInputProtocol::for_messages(&non_strict[..], false, 100);
        assert_eq!(r.read_message_begin().unwrap().sequence_number, 9);
        let mut r = BoundedBinaryInputProtocol::for_messages(&non_strict[..], true, 100);
        assert!(kind_of(&r.read_message_begin().unwrap_err()).contains("BadVersion"));

        // A limit smaller than the message.
        let mut r = BoundedBinaryInputProtocol::for_messages(&strict[..], false, 10);
        let e = r.read_message_begin().unwrap_err();
        assert!(
            kind_of(&e).contains("SizeLimit") && kind_of(&e).contains("10-byte limit"),
            "{}",
            kind_of(&e)
        );
    }
}
