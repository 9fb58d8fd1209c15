//! The worker-to-worker wire format: frames of batched messages, their encoder and a decoder that
//! never panics and never trusts a length prefix.
//!
//! ```text
//! frame    := len:u32 payload                       (len = payload bytes, ≤ max_frame_bytes)
//! payload  := count:u32 message*count
//! message  := dest:i32 source:i32
//!             stream_len:u16 stream:utf8*stream_len
//!             anchors:u16 (root:i64 edge:i64)*anchors
//!             values                                (crate::tuple::codec)
//! ```
//!
//! All integers are big-endian. A message needs at least [`MIN_MESSAGE_BYTES`], so a count is checked
//! against the bytes that remain before anything is allocated.

use crate::api::Tuple;
use crate::tuple::codec::{decode_values_prefix, encode_values, CodecError};
use crate::tuple::{Value, Values};

/// Bytes of the frame length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// Bytes of the smallest possible message (no stream id, no anchors, no values).
pub const MIN_MESSAGE_BYTES: usize = 4 + 4 + 2 + 2 + 1;

/// One decoded message: a tuple addressed to a task, before its source is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct WireMessage {
    pub dest: i32,
    pub source_task: i32,
    pub stream: String,
    /// (root id, edge id) pairs: the tuple's place in tuple trees.
    pub anchors: Vec<(i64, i64)>,
    pub values: Values,
}

/// Why a frame could not be decoded. Offsets are from the start of the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "frame of {len} bytes exceeds the limit of {max} bytes (storm.messaging.netty.buffer_size)"
    )]
    TooLarge { len: usize, max: usize },
    #[error("frame truncated at byte {offset}: {needed} more bytes needed")]
    Truncated { offset: usize, needed: usize },
    #[error("frame claims {count} messages but only {remaining} bytes remain")]
    CountTooLarge { count: u32, remaining: usize },
    #[error("message {index}: stream id at byte {offset} is not valid UTF-8")]
    BadStream { index: usize, offset: usize },
    #[error("message {index}: bad tuple values at byte {offset}: {source}")]
    Values {
        index: usize,
        offset: usize,
        #[source]
        source: CodecError,
    },
    #[error("{count} unexpected bytes after the last message at byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
}

/// Why a tuple cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("stream id of {len} bytes is longer than the {max} the wire allows")]
    StreamTooLong { len: usize, max: usize },
    #[error("tuple has {count} anchors, more than the {max} the wire allows")]
    TooManyAnchors { count: usize, max: usize },
}

/// Starts a frame at the end of `out` (placeholder length and count); returns where it starts.
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_BYTES + 4]);
    start
}

/// Completes the frame begun at `start` holding `count` messages.
pub fn finish_frame(out: &mut [u8], start: usize, count: u32) {
    let payload = (out.len() - start - FRAME_HEADER_BYTES) as u32;
    out[start..start + 4].copy_from_slice(&payload.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&count.to_be_bytes());
}

/// Appends one message carrying `tuple` to task `dest`. On error nothing is appended.
pub fn encode_tuple(out: &mut Vec<u8>, dest: i32, tuple: &Tuple) -> Result<(), EncodeError> {
    encode_message(
        out,
        dest,
        tuple.source_task(),
        tuple.source_stream(),
        tuple.message_id(),
        tuple.values(),
    )
}

/// Appends one message from its parts. On error nothing is appended.
pub fn encode_message(
    out: &mut Vec<u8>,
    dest: i32,
    source_task: i32,
    stream: &str,
    anchors: &[(i64, i64)],
    values: &[Value],
) -> Result<(), EncodeError> {
    let stream_len = u16::try_from(stream.len()).map_err(|_| EncodeError::StreamTooLong {
        len: stream.len(),
        max: u16::MAX as usize,
    })?;
    let anchor_count = u16::try_from(anchors.len()).map_err(|_| EncodeError::TooManyAnchors {
        count: anchors.len(),
        max: u16::MAX as usize,
    })?;
    out.extend_from_slice(&dest.to_be_bytes());
    out.extend_from_slice(&source_task.to_be_bytes());
    out.extend_from_slice(&stream_len.to_be_bytes());
    out.extend_from_slice(stream.as_bytes());
    out.extend_from_slice(&anchor_count.to_be_bytes());
    for (root, edge) in anchors {
        out.extend_from_slice(&root.to_be_bytes());
        out.extend_from_slice(&edge.to_be_bytes());
    }
    encode_values(values, out);
    Ok(())
}

/// Encodes `messages` as one whole frame (tests and tools; the event loop builds frames in place).
pub fn encode_frame(messages: &[WireMessage]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    let start = begin_frame(&mut out);
    for m in messages {
        encode_message(
            &mut out,
            m.dest,
            m.source_task,
            &m.stream,
            &m.anchors,
            &m.values,
        )?;
    }
    finish_frame(&mut out, start, messages.len() as u32);
    Ok(out)
}

/// Looks at the front of `buf`: `Ok(None)` until the length prefix is there, then the payload length,
/// or [`FrameError::TooLarge`] when it exceeds `max_payload`.
pub fn peek_frame_len(buf: &[u8], max_payload: usize) -> Result<Option<usize>, FrameError> {
    let Some(header) = buf.get(..FRAME_HEADER_BYTES) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > max_payload {
        return Err(FrameError::TooLarge {
            len,
            max: max_payload,
        });
    }
    Ok(Some(len))
}

/// Decodes one whole frame (length prefix included); `buf` must hold exactly one frame.
pub fn decode_frame(buf: &[u8], max_payload: usize) -> Result<Vec<WireMessage>, FrameError> {
    let Some(len) = peek_frame_len(buf, max_payload)? else {
        return Err(FrameError::Truncated {
            offset: 0,
            needed: FRAME_HEADER_BYTES - buf.len(),
        });
    };
    let payload = &buf[FRAME_HEADER_BYTES..];
    if payload.len() < len {
        return Err(FrameError::Truncated {
            offset: payload.len(),
            needed: len - payload.len(),
        });
    }
    if payload.len() > len {
        return Err(FrameError::TrailingBytes {
            offset: len,
            count: payload.len() - len,
        });
    }
    decode_payload(payload)
}

/// Decodes a frame's payload (what follows the length prefix).
pub fn decode_payload(payload: &[u8]) -> Result<Vec<WireMessage>, FrameError> {
    let mut messages = Vec::new();
    visit_payload(payload, |m| {
        messages.push(WireMessage {
            dest: m.dest,
            source_task: m.source_task,
            stream: m.stream.to_owned(),
            anchors: m.anchors,
            values: m.values,
        })
    })?;
    Ok(messages)
}

/// One decoded message whose stream id still points into the frame (no allocation for it).
#[derive(Debug)]
pub struct MessageRef<'a> {
    pub dest: i32,
    pub source_task: i32,
    pub stream: &'a str,
    pub anchors: Vec<(i64, i64)>,
    pub values: Values,
}

/// Decodes a frame's payload message by message, passing each to `on_message` in order. On error some messages may have been passed on already;
/// the caller drops the whole frame's connection anyway.
pub fn visit_payload<'a>(
    payload: &'a [u8],
    mut on_message: impl FnMut(MessageRef<'a>),
) -> Result<(), FrameError> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let count = r.u32()?;
    let remaining = r.remaining();
    if (count as usize).saturating_mul(MIN_MESSAGE_BYTES) > remaining {
        return Err(FrameError::CountTooLarge { count, remaining });
    }
    for index in 0..count as usize {
        let dest = r.i32()?;
        let source_task = r.i32()?;
        let stream_len = r.u16()? as usize;
        let stream_at = r.pos;
        let stream =
            std::str::from_utf8(r.bytes(stream_len)?).map_err(|_| FrameError::BadStream {
                index,
                offset: stream_at,
            })?;
        let anchor_count = r.u16()? as usize;
        // Bounded: at most u16::MAX pairs, and checked against what remains.
        r.need(anchor_count * 16)?;
        let mut anchors = Vec::with_capacity(anchor_count);
        for _ in 0..anchor_count {
            anchors.push((r.i64()?, r.i64()?));
        }
        let values_at = r.pos;
        let (values, used) =
            decode_values_prefix(&payload[values_at..]).map_err(|source| FrameError::Values {
                index,
                offset: values_at,
                source,
            })?;
        r.pos += used;
        on_message(MessageRef {
            dest,
            source_task,
            stream,
            anchors,
            values,
        });
    }
    if r.remaining() > 0 {
        return Err(FrameError::TrailingBytes {
            offset: r.pos,
            count: r.remaining(),
        });
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), FrameError> {
        if self.remaining() < n {
            return Err(FrameError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        Ok(())
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        self.need(n)?;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, FrameError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, FrameError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
}
