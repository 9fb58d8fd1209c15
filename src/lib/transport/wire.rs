//! The worker-to-worker wire format: frames of batched messages, their encoder and a decoder that
//! never panics and never trusts a length prefix.
//!
//! ```text
//! frame    := len:u32 payload                       (len = payload bytes, ≤ max_frame_bytes)
//! payload  := runs:u32 run*runs
//! run      := dest:i32 source:i32                   (consecutive messages sharing dest, source
//!             stream_len:u16 stream:utf8*stream_len  task and stream: their header is sent once)
//!             count:u32 message*count               (count ≥ 1)
//! message  := anchors:u16 (root:i64 edge:i64)*anchors
//!             values                                (crate::tuple::codec)
//! ```
//!
//! All integers are big-endian. A run needs at least [`MIN_RUN_BYTES`] and a message at least
//! [`MIN_MESSAGE_BYTES`], so every count is checked against the bytes that remain before anything is
//! allocated.

use crate::api::Tuple;
use crate::tuple::codec::{decode_values_prefix, encode_values, CodecError};
use crate::tuple::{Value, Values};

/// Bytes of the frame length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// Bytes of the smallest possible run header (no stream id).
pub const MIN_RUN_BYTES: usize = 4 + 4 + 2 + 4;

/// Bytes of the smallest possible message in a run (no anchors, no values).
pub const MIN_MESSAGE_BYTES: usize = 2 + 1;

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
    #[error("frame claims {count} runs or messages but only {remaining} bytes remain")]
    CountTooLarge { count: u32, remaining: usize },
    #[error("run at byte {offset} has no messages")]
    EmptyRun { offset: usize },
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

/// Builds one frame at the end of a buffer, starting a new run whenever the (dest, source task,
/// stream) of a message differs from the previous one's.
#[derive(Debug, Clone, Copy)]
pub struct FrameBuilder {
    start: usize,
    runs: u32,
    messages: u32,
    /// Where the current run's count is, and its key (dest, source task, stream length; the stream
    /// id is the bytes just before the count).
    run: Option<(usize, i32, i32, usize)>,
    run_count: u32,
}

impl FrameBuilder {
    /// Starts a frame at the end of `out` (placeholder length and run count).
    pub fn begin(out: &mut Vec<u8>) -> FrameBuilder {
        let start = out.len();
        out.extend_from_slice(&[0u8; FRAME_HEADER_BYTES + 4]);
        FrameBuilder {
            start,
            runs: 0,
            messages: 0,
            run: None,
            run_count: 0,
        }
    }

    /// Messages appended so far.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// Payload bytes so far (what the length prefix will say).
    pub fn payload_len(&self, out: &[u8]) -> usize {
        out.len() - self.start - FRAME_HEADER_BYTES
    }

    /// Appends one message carrying `tuple` to task `dest`. On error nothing is appended.
    pub fn push_tuple(
        &mut self,
        out: &mut Vec<u8>,
        dest: i32,
        tuple: &Tuple,
    ) -> Result<(), EncodeError> {
        self.push(
            out,
            dest,
            tuple.source_task(),
            tuple.source_stream(),
            tuple.message_id(),
            tuple.values(),
        )
    }

    /// Appends one message from its parts. On error nothing is appended.
    pub fn push(
        &mut self,
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
        // Checked before the run header is written, so that on error nothing is appended.
        if anchors.len() > u16::MAX as usize {
            return Err(EncodeError::TooManyAnchors {
                count: anchors.len(),
                max: u16::MAX as usize,
            });
        }
        let same_run = match self.run {
            Some((at, d, s, len)) if d == dest && s == source_task && len == stream.len() => {
                out.get(at - len..at) == Some(stream.as_bytes())
            }
            _ => false,
        };
        if !same_run {
            self.close_run(out);
            out.extend_from_slice(&dest.to_be_bytes());
            out.extend_from_slice(&source_task.to_be_bytes());
            out.extend_from_slice(&stream_len.to_be_bytes());
            out.extend_from_slice(stream.as_bytes());
            let at = out.len();
            out.extend_from_slice(&[0u8; 4]);
            self.run = Some((at, dest, source_task, stream.len()));
            self.runs += 1;
        }
        encode_body(out, anchors, values)?;
        self.run_count += 1;
        self.messages += 1;
        Ok(())
    }

    fn close_run(&mut self, out: &mut [u8]) {
        if let Some((at, ..)) = self.run.take() {
            out[at..at + 4].copy_from_slice(&self.run_count.to_be_bytes());
        }
        self.run_count = 0;
    }

    /// Completes the frame (empty if no message was pushed: then `out` is as before `begin`).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.messages == 0 {
            out.truncate(self.start);
            return;
        }
        self.close_run(out);
        let payload = (out.len() - self.start - FRAME_HEADER_BYTES) as u32;
        out[self.start..self.start + 4].copy_from_slice(&payload.to_be_bytes());
        out[self.start + 4..self.start + 8].copy_from_slice(&self.runs.to_be_bytes());
    }
}

/// Appends what one message carrying `tuple` adds inside a run of messages to `_dest` (its anchors
/// and values; the run header is sent once per run), e.g. to estimate bandwidth. On error nothing
/// is appended.
pub fn encode_tuple(out: &mut Vec<u8>, _dest: i32, tuple: &Tuple) -> Result<(), EncodeError> {
    encode_body(out, tuple.message_id(), tuple.values())
}

fn encode_body(
    out: &mut Vec<u8>,
    anchors: &[(i64, i64)],
    values: &[Value],
) -> Result<(), EncodeError> {
    let anchor_count = u16::try_from(anchors.len()).map_err(|_| EncodeError::TooManyAnchors {
        count: anchors.len(),
        max: u16::MAX as usize,
    })?;
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
    let mut frame = FrameBuilder::begin(&mut out);
    for m in messages {
        frame.push(
            &mut out,
            m.dest,
            m.source_task,
            &m.stream,
            &m.anchors,
            &m.values,
        )?;
    }
    if messages.is_empty() {
        // An empty frame: zero runs.
        out.clear();
        out.extend_from_slice(&4u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        return Ok(out);
    }
    frame.finish(&mut out);
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
    struct Collect {
        messages: Vec<WireMessage>,
        run: (i32, i32, String),
    }
    impl<'a> Visitor<'a> for Collect {
        fn run(&mut self, dest: i32, source_task: i32, stream: &'a str, _count: usize) {
            self.run = (dest, source_task, stream.to_owned());
        }
        fn message(&mut self, anchors: Vec<(i64, i64)>, values: Values) {
            self.messages.push(WireMessage {
                dest: self.run.0,
                source_task: self.run.1,
                stream: self.run.2.clone(),
                anchors,
                values,
            });
        }
    }
    let mut c = Collect {
        messages: Vec::new(),
        run: (0, 0, String::new()),
    };
    visit_payload(payload, &mut c)?;
    Ok(c.messages)
}

/// What [`visit_payload`] tells, in frame order: each run's header, then its messages.
pub trait Visitor<'a> {
    /// A run of `count` messages for task `dest` from `source_task` on `stream` begins.
    fn run(&mut self, dest: i32, source_task: i32, stream: &'a str, count: usize);
    /// The next message of the current run.
    fn message(&mut self, anchors: Vec<(i64, i64)>, values: Values);
}

/// Decodes a frame's payload run by run and message by message. On error some runs and messages
/// may have been visited already; the caller drops the whole frame's connection anyway.
pub fn visit_payload<'a>(payload: &'a [u8], v: &mut impl Visitor<'a>) -> Result<(), FrameError> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let runs = r.u32()?;
    let remaining = r.remaining();
    if (runs as usize).saturating_mul(MIN_RUN_BYTES) > remaining {
        return Err(FrameError::CountTooLarge {
            count: runs,
            remaining,
        });
    }
    let mut index = 0usize;
    for _ in 0..runs {
        let run_at = r.pos;
        let dest = r.i32()?;
        let source_task = r.i32()?;
        let stream_len = r.u16()? as usize;
        let stream_at = r.pos;
        let stream =
            std::str::from_utf8(r.bytes(stream_len)?).map_err(|_| FrameError::BadStream {
                index,
                offset: stream_at,
            })?;
        let count = r.u32()?;
        if count == 0 {
            return Err(FrameError::EmptyRun { offset: run_at });
        }
        let remaining = r.remaining();
        if (count as usize).saturating_mul(MIN_MESSAGE_BYTES) > remaining {
            return Err(FrameError::CountTooLarge { count, remaining });
        }
        v.run(dest, source_task, stream, count as usize);
        for _ in 0..count {
            let anchor_count = r.u16()? as usize;
            // Bounded: at most u16::MAX pairs, and checked against what remains.
            r.need(anchor_count * 16)?;
            let mut anchors = Vec::with_capacity(anchor_count);
            for _ in 0..anchor_count {
                anchors.push((r.i64()?, r.i64()?));
            }
            let values_at = r.pos;
            let (values, used) = decode_values_prefix(&payload[values_at..]).map_err(|source| {
                FrameError::Values {
                    index,
                    offset: values_at,
                    source,
                }
            })?;
            r.pos += used;
            v.message(anchors, values);
            index += 1;
        }
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
