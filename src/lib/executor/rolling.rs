//! Storm's rolling-window statistics (`CountStat` and `LatencyStat` in storm-client's
//! `metric/internal`) as a pure structure: one [`RollingClock`] per executor, shared by every
//! [`Series`] of that executor, moved by the caller with the time it passes ([`RollingClock::roll`])
//! when it publishes or reads — never per tuple. Memory is fixed per series: `3 × n` buckets.
//!
//! Storm's semantics, with n = `num.stat.buckets` (default 20):
//! * a timer period of `600 000 / (n − 1)` ms: at each period boundary (a *tick*) the value gathered
//!   since the previous tick (the *current* bucket) moves into the first bucket of each window, and
//!   that bucket gains one period of time;
//! * each window (`600`, `10800`, `86400` seconds) keeps n buckets; its first bucket closes — every
//!   bucket shifts one place older and the oldest is dropped — once it holds at least
//!   `window / (n − 1)` of time (so a closed 10-minute bucket is one period, a 3-hour one 19 periods
//!   and a day one 145 with n = 20);
//! * a window's **count** is the current bucket plus whole buckets from the newest while they fit in
//!   the window length minus the current bucket's time, plus the first bucket that does not fit
//!   pro-rated by the part of its time still inside the window (Storm's `readApproximateTime`);
//! * a window's **latency** sums (total, count) over the current bucket and whole buckets while any
//!   window time is left, without pro-rating (Storm's `readApproximateLatAvg`).
//!
//! So an executor younger than a window reports the whole of its life in it (the window equals the
//! all-time value), and older events leave a window a bucket at a time. Ticks fall on exact
//! multiples of the period after the clock's start whatever the times the caller rolls at (Storm's
//! fixed-rate timer); a roll over many periods costs O(n) per window, not O(periods).

/// Storm's rolling windows in seconds, shortest first (the keys are their decimal strings).
pub const WINDOW_SECS: [u64; 3] = [600, 10_800, 86_400];

/// Storm's default `num.stat.buckets`.
pub const DEFAULT_BUCKETS: usize = 20;

/// Most buckets per window (a 1-second period at the 10-minute window); larger settings are capped
/// so that memory per series stays small.
pub const MAX_BUCKETS: usize = 600;

/// A value kept per bucket: a count, or a latency (total, count).
pub trait BucketValue: Copy + Default + std::fmt::Debug {
    /// Adds `other` into `self`.
    fn merge(&mut self, other: Self);
}

impl BucketValue for u64 {
    fn merge(&mut self, other: u64) {
        *self = self.saturating_add(other);
    }
}

/// One window's bucket times (shared by every series of the clock).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WindowClock {
    /// The window length.
    length_ms: u64,
    /// The time at which the first bucket closes (Storm's target size).
    target_ms: u64,
    /// Time held by each bucket, a ring: `head` is Storm's bucket 0, `head + 1` the next older.
    times: Box<[u64]>,
    head: usize,
}

impl WindowClock {
    /// `ticks` periods of `period_ms` pass; returns how many times the first bucket closed (capped at
    /// the bucket count: beyond that every bucket was replaced).
    fn advance(&mut self, ticks: u64, period_ms: u64) -> usize {
        let n = self.times.len();
        let fill = self.times[self.head];
        // The first bucket always holds whole periods, fewer than its target (it closes on reaching it).
        let to_first = self
            .target_ms
            .saturating_sub(fill)
            .div_ceil(period_ms)
            .max(1);
        if ticks < to_first {
            self.times[self.head] = fill + ticks * period_ms;
            return 0;
        }
        self.times[self.head] = fill + to_first * period_ms;
        let per_bucket = self.target_ms.div_ceil(period_ms).max(1);
        let rest = ticks - to_first;
        let whole = rest / per_bucket;
        // Only the newest n buckets survive, so at most n of the later closes need writing.
        for _ in 0..whole.min(n as u64) {
            self.head = (self.head + n - 1) % n;
            self.times[self.head] = per_bucket * period_ms;
        }
        self.head = (self.head + n - 1) % n;
        self.times[self.head] = (rest % per_bucket) * period_ms;
        usize::try_from(whole.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(n)
    }
}

/// What one [`RollingClock::roll`] did, for [`Series::apply`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roll {
    /// At least one tick passed: the current bucket moved into the windows.
    ticked: bool,
    /// Per window: the first bucket before the roll.
    heads: [usize; 3],
    /// Per window: how many times the first bucket closed (at most the bucket count).
    shifts: [usize; 3],
}

impl Roll {
    /// Whether anything moved.
    pub fn ticked(&self) -> bool {
        self.ticked
    }
}

/// The clock and bucket times of an executor's rolling windows (Storm's timer and `*Time` arrays,
/// once for all the executor's series instead of once per series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingClock {
    period_ms: u64,
    /// Start of the current bucket (Storm's `bucketStart`), always `start + k × period_ms`.
    start_ms: u64,
    windows: [WindowClock; 3],
}

impl RollingClock {
    /// A clock starting at `now_ms` with `buckets` buckets per window (Storm's `num.stat.buckets`,
    /// brought into `2..=MAX_BUCKETS`).
    pub fn new(buckets: usize, now_ms: u64) -> RollingClock {
        let n = buckets.clamp(2, MAX_BUCKETS);
        let divisor = n as u64 - 1;
        RollingClock {
            period_ms: WINDOW_SECS[0] * 1000 / divisor,
            start_ms: now_ms,
            windows: WINDOW_SECS.map(|secs| WindowClock {
                length_ms: secs * 1000,
                target_ms: secs * 1000 / divisor,
                times: vec![0; n].into_boxed_slice(),
                head: 0,
            }),
        }
    }

    /// Buckets per window.
    pub fn buckets(&self) -> usize {
        self.windows[0].times.len()
    }

    /// The timer period (Storm's 10-minute bucket size).
    pub fn period_ms(&self) -> u64 {
        self.period_ms
    }

    /// Moves the clock to `now_ms` (earlier times change nothing); the caller applies the returned
    /// [`Roll`] to every series of this clock before adding to any.
    pub fn roll(&mut self, now_ms: u64) -> Roll {
        let ticks = now_ms.saturating_sub(self.start_ms) / self.period_ms;
        let mut roll = Roll::default();
        if ticks == 0 {
            return roll;
        }
        roll.ticked = true;
        self.start_ms = self
            .start_ms
            .saturating_add(ticks.saturating_mul(self.period_ms));
        for (w, window) in self.windows.iter_mut().enumerate() {
            roll.heads[w] = window.head;
            roll.shifts[w] = window.advance(ticks, self.period_ms);
        }
        roll
    }

    /// Time in the current bucket at `now_ms` (after [`roll`](Self::roll), less than a period).
    fn spent(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.start_ms)
    }
}

/// One counter or latency under a [`RollingClock`]: its current bucket, its all-time total and its
/// buckets for the three windows (Storm's `CountStat`/`LatencyStat` values).
#[derive(Debug, Clone, PartialEq)]
pub struct Series<V> {
    current: V,
    all_time: V,
    /// Window `w`'s ring is `buckets[w × n .. (w + 1) × n]`, laid out as the clock's.
    buckets: Box<[V]>,
}

impl<V: BucketValue> Series<V> {
    /// An empty series for `clock`.
    pub fn new(clock: &RollingClock) -> Series<V> {
        Series {
            current: V::default(),
            all_time: V::default(),
            buckets: vec![V::default(); 3 * clock.buckets()].into_boxed_slice(),
        }
    }

    /// Adds `value` now (roll the clock first).
    pub fn add(&mut self, value: V) {
        self.current.merge(value);
        self.all_time.merge(value);
    }

    /// Everything ever added.
    pub fn all_time(&self) -> V {
        self.all_time
    }

    /// Follows a roll of the clock: the current bucket goes into each window's first bucket as it
    /// was, then the buckets the closes pushed out are emptied.
    pub fn apply(&mut self, roll: &Roll) {
        if !roll.ticked {
            return;
        }
        let n = self.buckets.len() / 3;
        let current = std::mem::take(&mut self.current);
        for (w, ring) in self.buckets.chunks_exact_mut(n).enumerate() {
            let head = roll.heads[w];
            ring[head].merge(current);
            let shifts = roll.shifts[w];
            if shifts >= n {
                ring.fill(V::default());
            } else {
                for k in 1..=shifts {
                    ring[(head + n - k) % n] = V::default();
                }
            }
        }
    }

    /// The current bucket and window `w`'s buckets, newest first, each with its time, and the
    /// window time the buckets have to cover.
    fn buckets_of<'a>(
        &'a self,
        clock: &'a RollingClock,
        w: usize,
        now_ms: u64,
    ) -> (i128, impl Iterator<Item = (u64, V)> + 'a) {
        let window = &clock.windows[w];
        let n = window.times.len();
        let needed = i128::from(window.length_ms) - i128::from(clock.spent(now_ms));
        let ring = &self.buckets[w * n..(w + 1) * n];
        let newest_first = (0..n)
            .map(move |i| (window.head + i) % n)
            .map(move |i| (window.times[i], ring[i]));
        (needed, newest_first)
    }

    /// Storm's latency reading of window `w` at `now_ms` (the clock rolled to `now_ms`): the current
    /// bucket plus whole buckets while window time is left.
    pub fn sum_whole(&self, clock: &RollingClock, w: usize, now_ms: u64) -> V {
        let (mut needed, buckets) = self.buckets_of(clock, w, now_ms);
        let mut total = self.current;
        for (time, value) in buckets {
            if needed <= 0 {
                break;
            }
            total.merge(value);
            needed -= i128::from(time);
        }
        total
    }
}

impl Series<u64> {
    /// Storm's count reading of window `w` at `now_ms` (the clock rolled to `now_ms`): the current
    /// bucket, whole buckets while they fit, and the first one that does not fit pro-rated.
    pub fn count(&self, clock: &RollingClock, w: usize, now_ms: u64) -> u64 {
        let (mut needed, buckets) = self.buckets_of(clock, w, now_ms);
        let mut total = self.current;
        for (time, value) in buckets {
            if needed < i128::from(time) {
                total = total.saturating_add(prorate(needed, time, value));
                break;
            }
            total = total.saturating_add(value);
            needed -= i128::from(time);
        }
        total
    }
}

/// `value × needed / time` truncated, computed as Storm does (in doubles); never negative.
fn prorate(needed: i128, time: u64, value: u64) -> u64 {
    if needed <= 0 || time == 0 {
        return 0;
    }
    let pct = needed as f64 / time as f64;
    (pct * value as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A latency-like bucket value for the tests: (total, count).
    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct Lat {
        total: u64,
        count: u64,
    }

    impl BucketValue for Lat {
        fn merge(&mut self, other: Lat) {
            self.total += other.total;
            self.count += other.count;
        }
    }

    /// The reference model: every event with its time, and Storm's buckets derived from the period
    /// each event fell in — no ring, no incremental state.
    struct Model {
        n: u64,
        start: u64,
        counts: Vec<(u64, u64)>,
        lats: Vec<(u64, Lat)>,
    }

    impl Model {
        fn period(&self) -> u64 {
            600_000 / (self.n - 1)
        }

        /// (needed time, [(time, count, latency)] newest first, current count, current latency)
        /// of window `w` at `now`.
        #[allow(clippy::type_complexity)]
        fn layout(&self, w: usize, now: u64) -> (i128, Vec<(u64, u64, Lat)>, u64, Lat) {
            let p = self.period();
            let length = WINDOW_SECS[w] * 1000;
            let per_bucket = (length / (self.n - 1)).div_ceil(p);
            let elapsed = now - self.start;
            let periods = elapsed / p;
            let spent = elapsed - periods * p;
            let period_of = |t: u64| (t - self.start) / p;
            let sums = |lo: u64, hi: u64| {
                let c: u64 = self
                    .counts
                    .iter()
                    .filter(|(t, _)| (lo..hi).contains(&period_of(*t)))
                    .map(|(_, v)| v)
                    .sum();
                let mut l = Lat::default();
                for (t, v) in &self.lats {
                    if (lo..hi).contains(&period_of(*t)) {
                        l.merge(*v);
                    }
                }
                (c, l)
            };
            let (cur_c, cur_l) = sums(periods, periods + 1);
            let closed = periods / per_bucket;
            let mut buckets = Vec::new();
            // The first bucket: the periods since the last close.
            let (c, l) = sums(closed * per_bucket, periods);
            buckets.push(((periods - closed * per_bucket) * p, c, l));
            // Then closed buckets, newest first; before the start there is nothing.
            for i in 1..self.n {
                if closed >= i {
                    let j = closed - i;
                    let (c, l) = sums(j * per_bucket, (j + 1) * per_bucket);
                    buckets.push((per_bucket * p, c, l));
                } else {
                    buckets.push((0, 0, Lat::default()));
                }
            }
            (
                i128::from(length) - i128::from(spent),
                buckets,
                cur_c,
                cur_l,
            )
        }

        fn count(&self, w: usize, now: u64) -> u64 {
            let (mut needed, buckets, mut total, _) = self.layout(w, now);
            for (time, c, _) in buckets {
                if needed < i128::from(time) {
                    if needed > 0 {
                        total += ((needed as f64 / time as f64) * c as f64) as u64;
                    }
                    break;
                }
                total += c;
                needed -= i128::from(time);
            }
            total
        }

        fn latency(&self, w: usize, now: u64) -> Lat {
            let (mut needed, buckets, _, mut total) = self.layout(w, now);
            for (time, _, l) in buckets {
                if needed <= 0 {
                    break;
                }
                total.merge(l);
                needed -= i128::from(time);
            }
            total
        }
    }

    /// The implementation under test: one clock, a count series and a latency series.
    struct Under {
        clock: RollingClock,
        counts: Series<u64>,
        lats: Series<Lat>,
    }

    impl Under {
        fn new(n: usize, start: u64) -> Under {
            let clock = RollingClock::new(n, start);
            Under {
                counts: Series::new(&clock),
                lats: Series::new(&clock),
                clock,
            }
        }

        fn roll(&mut self, now: u64) {
            let r = self.clock.roll(now);
            self.counts.apply(&r);
            self.lats.apply(&r);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Time passes (ms).
        Advance(u64),
        Count(u64),
        Latency(u64),
        Read,
    }

    fn op(period: u64) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3 * period).prop_map(Op::Advance),
            1 => (0..40 * period).prop_map(Op::Advance),
            1 => (0..3_000 * period).prop_map(Op::Advance),
            4 => (1..1_000u64).prop_map(Op::Count),
            2 => (0..500u64).prop_map(Op::Latency),
            2 => Just(Op::Read),
        ]
    }

    fn check(under: &mut Under, model: &Model, now: u64) -> Result<(), TestCaseError> {
        under.roll(now);
        for (w, secs) in WINDOW_SECS.iter().enumerate() {
            prop_assert_eq!(
                under.counts.count(&under.clock, w, now),
                model.count(w, now),
                "count, window {}, now {}",
                secs,
                now
            );
            prop_assert_eq!(
                under.lats.sum_whole(&under.clock, w, now),
                model.latency(w, now),
                "latency, window {}, now {}",
                secs,
                now
            );
        }
        let all: u64 = model.counts.iter().map(|(_, v)| v).sum();
        prop_assert_eq!(under.counts.all_time(), all);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// The ring-buffer implementation reads exactly what the model derives from the event list,
        /// for any bucket count, event times and reading times.
        #[test]
        fn windows_match_the_reference_model(
            (n, start, ops) in prop_oneof![Just(2usize), Just(3), Just(20), 2..40usize]
                .prop_flat_map(|n| {
                    let period = 600_000 / (n as u64 - 1);
                    (Just(n), 0..10_000_000u64, proptest::collection::vec(op(period), 1..120))
                }),
        ) {
            let mut under = Under::new(n, start);
            let mut model = Model { n: n as u64, start, counts: Vec::new(), lats: Vec::new() };
            let mut now = start;
            for op in ops {
                match op {
                    Op::Advance(dt) => now += dt,
                    Op::Count(v) => {
                        under.roll(now);
                        under.counts.add(v);
                        model.counts.push((now, v));
                    }
                    Op::Latency(ms) => {
                        under.roll(now);
                        let l = Lat { total: ms, count: 1 };
                        under.lats.add(l);
                        model.lats.push((now, l));
                    }
                    Op::Read => check(&mut under, &model, now)?,
                }
            }
            check(&mut under, &model, now)?;
        }

        /// Rolling in small steps or in one jump ends in the same state (ticks are on the period grid).
        #[test]
        fn rolls_compose(n in 2..30usize, steps in proptest::collection::vec(0..5_000_000u64, 1..30)) {
            let mut stepped = RollingClock::new(n, 1_000);
            let mut jumped = stepped.clone();
            let mut now = 1_000;
            for s in steps {
                now += s;
                stepped.roll(now);
            }
            jumped.roll(now);
            prop_assert_eq!(stepped.start_ms, jumped.start_ms);
            for w in 0..3 {
                // Same bucket times newest first (the ring may be rotated differently).
                let order = |c: &RollingClock| -> Vec<u64> {
                    let win = &c.windows[w];
                    let n = win.times.len();
                    (0..n).map(|i| win.times[(win.head + i) % n]).collect()
                };
                prop_assert_eq!(order(&stepped), order(&jumped));
            }
        }
    }

    #[test]
    fn a_young_executor_reports_its_whole_life_in_every_window() {
        let mut u = Under::new(DEFAULT_BUCKETS, 0);
        for t in (0..590_000).step_by(7_000) {
            u.roll(t);
            u.counts.add(3);
        }
        let now = 599_000;
        u.roll(now);
        let all = u.counts.all_time();
        assert_eq!(all, 3 * (590_000u64.div_ceil(7_000)));
        for w in 0..3 {
            assert_eq!(u.counts.count(&u.clock, w, now), all, "window {w}");
        }
    }

    #[test]
    fn old_events_leave_the_ten_minute_window_but_not_the_longer_ones() {
        // n = 20: the period is 31 578 ms. 100 at t = 0; read 700 s later.
        let mut u = Under::new(DEFAULT_BUCKETS, 0);
        u.counts.add(100);
        u.lats.add(Lat {
            total: 40,
            count: 4,
        });
        let now = 700_000;
        u.roll(now);
        u.counts.add(5);
        assert_eq!(u.counts.count(&u.clock, 0, now), 5);
        assert_eq!(u.counts.count(&u.clock, 1, now), 105);
        assert_eq!(u.counts.count(&u.clock, 2, now), 105);
        assert_eq!(u.counts.all_time(), 105);
        assert_eq!(u.lats.sum_whole(&u.clock, 0, now), Lat::default());
        assert_eq!(
            u.lats.sum_whole(&u.clock, 1, now),
            Lat {
                total: 40,
                count: 4
            }
        );
        // Two days later only all-time remembers. (A day and an hour later the day window would
        // still hold a pro-rated part of its oldest 76-minute bucket, which began at the start.)
        let later = now + 172_800_000;
        u.roll(later);
        for w in 0..3 {
            assert_eq!(u.counts.count(&u.clock, w, later), 0, "window {w}");
        }
        assert_eq!(u.counts.all_time(), 105);
    }

    #[test]
    fn the_oldest_bucket_is_pro_rated_like_storm() {
        // n = 2: one period of 600 000 ms, two buckets per window. 1000 at t = 0 lands in the
        // 10-minute window's first bucket at the tick at 600 s, and closes there. At 900 s the
        // window needs 300 s of that 600 s bucket: half of it.
        let mut u = Under::new(2, 0);
        u.counts.add(1_000);
        u.lats.add(Lat { total: 7, count: 1 });
        let now = 900_000;
        u.roll(now);
        assert_eq!(u.counts.count(&u.clock, 0, now), 500);
        assert_eq!(u.counts.count(&u.clock, 1, now), 1_000);
        // Latencies are not pro-rated: a bucket counts whole while any window time is left.
        assert_eq!(
            u.lats.sum_whole(&u.clock, 0, now),
            Lat { total: 7, count: 1 }
        );
    }

    #[test]
    fn bucket_counts_are_brought_into_range() {
        assert_eq!(RollingClock::new(0, 0).buckets(), 2);
        assert_eq!(RollingClock::new(1, 0).buckets(), 2);
        assert_eq!(RollingClock::new(20, 0).period_ms(), 31_578);
        assert_eq!(RollingClock::new(1_000_000, 0).buckets(), MAX_BUCKETS);
    }

    #[test]
    fn a_clock_going_backwards_changes_nothing() {
        let mut u = Under::new(DEFAULT_BUCKETS, 1_000_000);
        u.counts.add(9);
        let before = u.clock.clone();
        assert!(!u.clock.roll(10).ticked());
        assert_eq!(u.clock, before);
        assert_eq!(u.counts.count(&u.clock, 0, 10), 9);
        // The far future: bounded work, everything rolled out of the windows.
        u.roll(u64::MAX);
        assert_eq!(u.counts.count(&u.clock, 2, u64::MAX), 0);
        assert_eq!(u.counts.all_time(), 9);
    }
}
