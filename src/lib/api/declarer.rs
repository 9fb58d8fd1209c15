//! [`OutputFieldsDeclarer`]: the streams a component declares (Storm's `OutputFieldsGetter`).

use std::collections::BTreeMap;

use crate::thrift::StreamInfo;
use crate::topology::system::DEFAULT_STREAM_ID;

/// Collects a component's declared streams: their fields and whether they are direct.
#[derive(Debug, Default, Clone)]
pub struct OutputFieldsDeclarer {
    streams: BTreeMap<String, StreamInfo>,
    errors: Vec<String>,
}

impl OutputFieldsDeclarer {
    pub fn new() -> OutputFieldsDeclarer {
        OutputFieldsDeclarer::default()
    }

    /// Declares the default stream with `fields`.
    pub fn declare<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_full(DEFAULT_STREAM_ID, false, fields);
    }

    /// Declares the default stream as direct (receivers subscribe with a direct grouping).
    pub fn declare_direct<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_full(DEFAULT_STREAM_ID, true, fields);
    }

    /// Declares `stream` with `fields`.
    pub fn declare_stream<I, S>(&mut self, stream: &str, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_full(stream, false, fields);
    }

    /// Declares `stream` as direct.
    pub fn declare_stream_direct<I, S>(&mut self, stream: &str, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_full(stream, true, fields);
    }

    /// Storm's `declareStream(streamId, direct, fields)`. Declaring a stream twice or repeating a field
    /// name is an error, reported by `create_topology`.
    pub fn declare_full<I, S>(&mut self, stream: &str, direct: bool, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let output_fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        if let Err(e) = crate::tuple::Fields::new(output_fields.iter().cloned()) {
            self.errors.push(format!("stream {stream}: {e}"));
            return;
        }
        if self.streams.contains_key(stream) {
            self.errors.push(format!("Fields for {stream} already set"));
            return;
        }
        self.streams.insert(
            stream.to_owned(),
            StreamInfo {
                output_fields,
                direct,
            },
        );
    }

    /// The declared streams.
    pub fn streams(&self) -> &BTreeMap<String, StreamInfo> {
        &self.streams
    }

    /// Declaration mistakes, in order.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    pub fn into_streams(self) -> Result<BTreeMap<String, StreamInfo>, Vec<String>> {
        if self.errors.is_empty() {
            Ok(self.streams)
        } else {
            Err(self.errors)
        }
    }
}
