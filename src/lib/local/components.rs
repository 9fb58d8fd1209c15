//! Built-in example components (storm-starter's): [`TestWordSpout`], [`RandomSentenceSpout`],
//! [`SplitSentence`], [`WordCount`], [`ExclamationBolt`] and [`PrintBolt`]. They are compiled into every
//! worker, so topologies using them run on the stock `worker` binary too.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{
    BasicBolt, BasicOutputCollector, Bolt, ComponentError, ConfMap, EmitError, MessageId,
    OutputCollector, OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyContext, Tuple,
};
use crate::grouping::{entropy_seed, JavaRandom};
use crate::topology::system::DEFAULT_STREAM_ID;
use crate::tuple::Value;
use crate::values;

fn rng(slot: &mut Option<JavaRandom>) -> &mut JavaRandom {
    slot.get_or_insert_with(|| JavaRandom::new(entropy_seed() as i64))
}

/// Storm's `TestWordSpout`: a random word of `nathan mike jackson golda bertels` every `interval_ms`
/// (100 by default), unreliably, on field `word`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestWordSpout {
    pub interval_ms: u64,
    #[serde(skip)]
    rng: Option<JavaRandom>,
}

impl Default for TestWordSpout {
    fn default() -> TestWordSpout {
        TestWordSpout::new(100)
    }
}

impl TestWordSpout {
    pub const WORDS: [&'static str; 5] = ["nathan", "mike", "jackson", "golda", "bertels"];

    pub fn new(interval_ms: u64) -> TestWordSpout {
        TestWordSpout {
            interval_ms,
            rng: None,
        }
    }
}

#[typetag::serde(name = "storm::TestWordSpout")]
impl Spout for TestWordSpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if self.interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.interval_ms));
        }
        let word = Self::WORDS[rng(&mut self.rng).next_index(Self::WORDS.len())];
        collector.emit(values![word], None)?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word"]);
    }
}

/// storm-starter's `RandomSentenceSpout`: a random sentence every `interval_ms` on field `sentence`;
/// with `reliable`, each carries a fresh message id (and failed ones are re-emitted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RandomSentenceSpout {
    pub interval_ms: u64,
    pub reliable: bool,
    #[serde(skip)]
    rng: Option<JavaRandom>,
    #[serde(skip)]
    next_id: i64,
    #[serde(skip)]
    in_flight: HashMap<i64, String>,
    #[serde(skip)]
    replay: Vec<(i64, String)>,
}

impl RandomSentenceSpout {
    pub const SENTENCES: [&'static str; 5] = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ];

    pub fn new(interval_ms: u64, reliable: bool) -> RandomSentenceSpout {
        RandomSentenceSpout {
            interval_ms,
            reliable,
            ..RandomSentenceSpout::default()
        }
    }
}

#[typetag::serde(name = "storm::RandomSentenceSpout")]
impl Spout for RandomSentenceSpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if self.interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.interval_ms));
        }
        if !self.reliable {
            let s = Self::SENTENCES[rng(&mut self.rng).next_index(Self::SENTENCES.len())];
            collector.emit(values![s], None)?;
            return Ok(());
        }
        let (id, sentence) = match self.replay.pop() {
            Some(r) => r,
            None => {
                self.next_id += 1;
                let s = Self::SENTENCES[rng(&mut self.rng).next_index(Self::SENTENCES.len())];
                (self.next_id, s.to_owned())
            }
        };
        collector.emit(values![sentence.as_str()], Some(Value::Long(id)))?;
        self.in_flight.insert(id, sentence);
        Ok(())
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(id) = message_id.as_i64() {
            self.in_flight.remove(&id);
        }
        Ok(())
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(id) = message_id.as_i64() {
            if let Some(s) = self.in_flight.remove(&id) {
                self.replay.push((id, s));
            }
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["sentence"]);
    }
}

/// Splits field 0 (a sentence) on whitespace and emits each word on field `word`.
///
/// Each word is written into one reused string and emitted as a copy (into a spent tuple's
/// buffers): no allocation per word once warm.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SplitSentence {
    #[serde(skip)]
    out: Emitted<1>,
}

/// A bolt's reused output values and target-task scratch (see
/// [`BasicOutputCollector::emit_stream_copied_into`]).
#[derive(Debug, Clone)]
struct Emitted<const N: usize> {
    values: [Value; N],
    tasks: Vec<i32>,
}

impl<const N: usize> Default for Emitted<N> {
    fn default() -> Self {
        Emitted {
            values: std::array::from_fn(|_| Value::String(String::new())),
            tasks: Vec::new(),
        }
    }
}

impl<const N: usize> Emitted<N> {
    /// Field `i` emptied as a string, for the next value to be written into.
    fn string(&mut self, i: usize) -> &mut String {
        if !matches!(self.values[i], Value::String(_)) {
            self.values[i] = Value::String(String::new());
        }
        match &mut self.values[i] {
            Value::String(s) => {
                s.clear();
                s
            }
            _ => unreachable!("field {i} was just made a string"),
        }
    }

    /// Emits a copy of the values on the default stream, anchored to the input.
    fn emit(&mut self, collector: &mut BasicOutputCollector<'_, '_>) -> Result<(), EmitError> {
        self.tasks.clear();
        collector.emit_stream_copied_into(DEFAULT_STREAM_ID, &self.values, &mut self.tasks)
    }
}

/// Calls `f` on each word of `s`, the words [`str::split_whitespace`] finds. ASCII text (the usual
/// sentence) is split on its bytes, without decoding characters: its whitespace is `\t`, `\n`,
/// `\x0B`, `\x0C`, `\r` and the space, as in Java's `\\s`.
fn for_each_word<E>(s: &str, mut f: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    if !s.is_ascii() {
        return s.split_whitespace().try_for_each(f);
    }
    let mut start = None;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let space = b == b' ' || (b'\t'..=b'\r').contains(&b);
        match (space, start) {
            (true, Some(from)) => {
                f(&s[from..i])?;
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    match start {
        Some(from) => f(&s[from..]),
        None => Ok(()),
    }
}

#[typetag::serde(name = "storm::SplitSentence")]
impl BasicBolt for SplitSentence {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let out = &mut self.out;
        for_each_word(input.get_str(0)?, |word| {
            out.string(0).push_str(word);
            out.emit(collector)
        })?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word"]);
    }
}

/// Counts words (field `word`) and emits `[word, count]` after each; with `print_on_cleanup`, prints
/// its final counts when the topology is killed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WordCount {
    pub print_on_cleanup: bool,
    #[serde(skip)]
    counts: HashMap<String, i64, foldhash::fast::RandomState>,
    #[serde(skip)]
    task: i32,
    #[serde(skip)]
    out: Emitted<2>,
}

impl WordCount {
    pub fn new() -> WordCount {
        WordCount::default()
    }

    pub fn printing() -> WordCount {
        WordCount {
            print_on_cleanup: true,
            ..WordCount::default()
        }
    }
}

#[typetag::serde(name = "storm::WordCount")]
impl BasicBolt for WordCount {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        self.task = context.this_task_id();
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str_by_field("word")?;
        // A word seen before is looked up by `&str`: only a new word is copied into the map.
        let count = match self.counts.get_mut(word) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => {
                self.counts.insert(word.to_owned(), 1);
                1
            }
        };
        self.out.string(0).push_str(word);
        self.out.values[1] = Value::Long(count);
        self.out.emit(collector)?;
        Ok(())
    }

    fn cleanup(&mut self) {
        if self.print_on_cleanup {
            let mut counts: Vec<_> = self.counts.iter().collect();
            counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let mut out = std::io::stdout().lock();
            for (word, count) in counts {
                let _ = writeln!(out, "count task {}: {word} = {count}", self.task);
            }
        }
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word", "count"]);
    }
}

/// storm-starter's `ExclamationBolt`: appends `!!!` to field 0, anchored, and acks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExclamationBolt;

#[typetag::serde(name = "storm::ExclamationBolt")]
impl Bolt for ExclamationBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let word = format!("{}!!!", input.get_str(0)?);
        collector.emit_anchored(&input, values![word])?;
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word"]);
    }
}

/// Prints every tuple (`component: [values]`) to standard output. Declares no output.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrintBolt;

#[typetag::serde(name = "storm::PrintBolt")]
impl BasicBolt for PrintBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let values: Vec<String> = input.values().iter().map(Value::java_to_string).collect();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}: [{}]", input.source_component(), values.join(", "));
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[cfg(test)]
mod tests {
    use super::for_each_word;
    use proptest::prelude::*;

    fn words(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_word(s, |w| {
            out.push(w.to_owned());
            Ok::<(), ()>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn words_are_split_on_any_whitespace() {
        assert_eq!(words("the cow jumped"), ["the", "cow", "jumped"]);
        assert_eq!(words("  a\tb\n\x0Bc\x0C\rd  "), ["a", "b", "c", "d"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words(" \t "), Vec::<String>::new());
        // Not ASCII: Unicode whitespace (a no-break space, an ideographic space) splits too.
        assert_eq!(words("über\u{a0}alles\u{3000}x"), ["über", "alles", "x"]);
    }

    #[test]
    fn an_error_stops_the_split_and_is_returned() {
        let mut seen = 0;
        let r = for_each_word("a b c", |w| {
            seen += 1;
            if w == "b" {
                Err(w.to_owned())
            } else {
                Ok(())
            }
        });
        assert_eq!((r, seen), (Err("b".to_owned()), 2));
    }

    proptest! {
        #[test]
        fn words_are_those_of_split_whitespace(s in "[a-c \t\n\x0B\x0C\r\x1C\u{a0}\u{85}é]{0,40}") {
            let want: Vec<&str> = s.split_whitespace().collect();
            prop_assert_eq!(words(&s), want);
        }
    }
}
