//! The `__acker` bolt: Storm's `Acker` over [`crate::acker::Acker`] (storm-internals §5.5). It emits
//! its verdicts directly to the spout task that owns the tree and never waits behind data: all its
//! traffic travels on system streams (the control queues).

use serde::{Deserialize, Serialize};

use super::turn_ms;
use crate::acker::{Acker, AckerMessage};
use crate::api::{Bolt, ComponentError, OutputCollector, OutputFieldsDeclarer, Tuple};
use crate::topology::system::{
    ACKER_ACK_STREAM_ID, ACKER_FAIL_STREAM_ID, ACKER_RESET_TIMEOUT_STREAM_ID,
};

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
        match AckerMessage::from_tuple(input.source_stream(), input.values()) {
            Ok(message) => {
                if let Some(outcome) = self.acker.handle(message, turn_ms()) {
                    collector.emit_direct(
                        outcome.spout_task(),
                        outcome.stream(),
                        &[],
                        outcome.values(),
                    )?;
                }
            }
            Err(e) => collector.report_error(format!("acker: bad input {input}: {e}")),
        }
        collector.ack(&input);
        Ok(())
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
