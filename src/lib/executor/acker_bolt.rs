//! The `__acker` bolt: Storm's `Acker` over [`crate::acker::Acker`] (storm-internals §5.5). It emits
//! its verdicts directly to the spout task that owns the tree and never waits behind data: all its
//! traffic travels on system streams (the control queues).

use serde::{Deserialize, Serialize};

use super::turn_ms;
use crate::acker::{Acker, AckerError, AckerMessage};
use crate::api::{Bolt, ComponentError, OutputCollector, OutputFieldsDeclarer, Tuple, TupleSource};
use crate::topology::system::{
    ACKER_ACK_STREAM_ID, ACKER_FAIL_STREAM_ID, ACKER_RESET_TIMEOUT_STREAM_ID,
};
use crate::tuple::Value;

/// The built-in acker bolt (the system topology's `__acker` component).
#[derive(Default, Serialize, Deserialize)]
pub struct AckerBolt {
    #[serde(skip)]
    acker: Acker,
}

impl AckerBolt {
    pub fn new() -> AckerBolt {
        AckerBolt::default()
    }

    /// Applies one message on `stream` and emits the verdict it completes, if any. The outer error
    /// is an emit failure (fatal, as in Storm); the inner one a malformed message (reported).
    fn handle(
        &mut self,
        stream: &str,
        values: &[Value],
        collector: &mut OutputCollector<'_>,
    ) -> Result<Result<(), AckerError>, ComponentError> {
        let message = match AckerMessage::from_tuple(stream, values) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(outcome) = self.acker.handle(message, turn_ms()) {
            collector.emit_direct_copied(
                outcome.spout_task(),
                outcome.stream(),
                &outcome.value_pair(),
            )?;
        }
        Ok(Ok(()))
    }
}

#[typetag::serde(name = "storm::AckerBolt")]
impl Bolt for AckerBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            let expired = self.acker.tick();
            if expired > 0 {
                tracing::debug!(expired, "acker dropped expired tuple trees");
            }
            return Ok(());
        }
        if let Err(e) = self.handle(input.source_stream(), input.values(), collector)? {
            collector.report_error(format!("acker: bad input {input}: {e}"));
        }
        collector.ack(&input);
        Ok(())
    }

    fn execute_system(
        &mut self,
        source: &TupleSource,
        values: &[Value],
        collector: &mut OutputCollector<'_>,
    ) -> Option<Result<(), ComponentError>> {
        Some(
            self.handle(&source.stream, values, collector)
                .map(|parsed| {
                    if let Err(e) = parsed {
                        collector.report_error(format!(
                            "acker: bad input from {}:{} on {} {values:?}: {e}",
                            source.component, source.task, source.stream
                        ));
                    }
                }),
        )
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        for stream in [
            ACKER_ACK_STREAM_ID,
            ACKER_FAIL_STREAM_ID,
            ACKER_RESET_TIMEOUT_STREAM_ID,
        ] {
            declarer.declare_stream_direct(stream, ["id", "time-delta-ms"]);
        }
    }
}
