//! Counters and histograms that threads answering queries can all update without sharing a
//! cache line.
//!
//! Every query counts two counters (requests, responses) and observes three histograms
//! (duration, request size, response size). The `prometheus` crate keeps one set of atomics per
//! series, so with a thread per UDP socket each update moved its cache lines from core to core:
//! the prometheus plugin cost a sixth of the server's throughput. Here each series has
//! [`SHARDS`] copies of its counters, each on its own cache lines, plus one more. A thread
//! claims a copy of its own the first time it counts and gives it back when it exits; with one
//! writer, an update is a plain load and store rather than a locked read-modify-write (eight
//! per query, a tenth of what *prometheus* cost). Threads that find every copy claimed share
//! the extra one and update it with `fetch_add`, which stays correct, only slower. A scrape
//! adds the copies up. Observations are integers in a fixed unit (nanoseconds, bytes); the
//! scrape divides the sum by the unit.
//!
//! [`ShardedHistogramVec`] and [`ShardedCounterVec`] are `prometheus` collectors: registered
//! like a `HistogramVec` or an `IntCounterVec`, their series appear in `/metrics` exactly as
//! those would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// Copies of each series' counters that threads own, one writer each. A power of two above
/// the cores a DNS server usually gets.
pub const SHARDS: usize = 16;

/// The copy shared by threads beyond [`SHARDS`], updated with `fetch_add`.
const SHARED: usize = SHARDS;

/// Copies per series: the owned ones and the shared one.
const COPIES: usize = SHARDS + 1;

/// Which owned copies are claimed, a bit each.
static CLAIMED: AtomicU32 = AtomicU32::new(0);

/// A thread's copy: owned (below [`SHARDS`]) until the thread exits, or [`SHARED`].
struct Claim(usize);

impl Claim {
    fn take() -> Self {
        let mut claimed = CLAIMED.load(Ordering::Relaxed);
        loop {
            let free = !claimed & ((1 << SHARDS) - 1);
            if free == 0 {
                return Self(SHARED);
            }
            let bit = free.trailing_zeros();
            // Acquire: the counts the copy's last owner wrote before giving it back are the
            // ones this thread's plain updates start from.
            match CLAIMED.compare_exchange_weak(
                claimed,
                claimed | 1 << bit,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Self(bit as usize),
                Err(now) => claimed = now,
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.0 < SHARDS {
            // Release: hands this thread's last counts over with the copy.
            CLAIMED.fetch_and(!(1 << self.0), Ordering::Release);
        }
    }
}

thread_local! {
    static SHARD: Claim = Claim::take();
}

/// Picks this thread's copy; the shared one while the thread is being torn down.
fn shard_index() -> usize {
    SHARD.try_with(|c| c.0).unwrap_or(SHARED)
}

/// Adds `value` to `cell` of copy `copy`: one writer for an owned copy, so no locked
/// instruction; several for the shared one.
fn add(cell: &AtomicU64, value: u64, copy: usize) {
    if copy == SHARED {
        cell.fetch_add(value, Ordering::Relaxed);
    } else {
        cell.store(cell.load(Ordering::Relaxed).wrapping_add(value), Ordering::Relaxed);
    }
}

/// Counters per [`Line`].
const CELLS: usize = 16;

/// 128 bytes of counters: two cache lines, since the adjacent-line prefetcher moves lines in
/// pairs, so a copy that owns both shares neither.
#[repr(align(128))]
struct Line([AtomicU64; CELLS]);

/// One thread's copy of a histogram, on lines of its own: the sum of the observations, then
/// per bucket the observations above the bound before and at or below its own (not
/// cumulated), then those above the last bound. The count is the buckets' total, so an
/// observation is two additions ([`add`]).
struct Shard(Box<[Line]>);

/// The cell of the sum; bucket `i`'s is `1 + i`.
const SUM: usize = 0;

impl Shard {
    fn new(cells: usize) -> Self {
        let line = || Line(std::array::from_fn(|_| AtomicU64::new(0)));
        Self((0..cells.div_ceil(CELLS)).map(|_| line()).collect())
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.0[i / CELLS].0[i % CELLS]
    }
}

/// One series: a histogram with fixed upper bounds, observed in integer units.
pub struct ShardedHistogram {
    /// Upper bounds in units (bytes, nanoseconds): what an observation is compared with.
    bounds: Box<[u64]>,
    shards: Box<[Shard]>,
}

impl ShardedHistogram {
    fn new(bounds: &[u64]) -> Self {
        // The sum, the buckets, and the one above the last bound.
        let cells = 1 + bounds.len() + 1;
        Self { bounds: bounds.into(), shards: (0..COPIES).map(|_| Shard::new(cells)).collect() }
    }

    /// Records one observation of `value` units.
    pub fn observe(&self, value: u64) {
        let copy = shard_index();
        let shard = &self.shards[copy];
        let bucket = self.bounds.iter().position(|&b| value <= b).unwrap_or(self.bounds.len());
        add(shard.cell(1 + bucket), 1, copy);
        add(shard.cell(SUM), value, copy);
    }

    /// The series as the exposition format wants it: cumulative buckets, count, sum in the
    /// metric's unit (`units_per_unit` of ours make one of its).
    fn proto(&self, upper_bounds: &[f64], units_per_unit: f64) -> proto::Histogram {
        let mut sum = 0u64;
        // Each bucket, then the observations above the last bound.
        let mut per_bucket = vec![0u64; self.bounds.len() + 1];
        for shard in self.shards.iter() {
            sum = sum.wrapping_add(shard.cell(SUM).load(Ordering::Relaxed));
            for (i, total) in per_bucket.iter_mut().enumerate() {
                *total += shard.cell(1 + i).load(Ordering::Relaxed);
            }
        }
        let mut h = proto::Histogram::default();
        h.set_sample_count(per_bucket.iter().sum());
        h.set_sample_sum(sum as f64 / units_per_unit);
        let mut cumulative = 0;
        let buckets = per_bucket
            .iter()
            .zip(upper_bounds)
            .map(|(n, upper)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_cumulative_count(cumulative);
                b.set_upper_bound(*upper);
                b
            })
            .collect();
        h.set_bucket(buckets);
        h
    }
}

/// What a family holds per label set.
pub trait Series: Send + Sync + 'static {
    /// The exposition type of the family.
    const TYPE: proto::MetricType;
    /// A new series for a family with `bounds` (histograms) in observation units.
    fn create(bounds: &[u64]) -> Self;
    /// Fills `metric` with the series' values.
    fn fill(&self, metric: &mut proto::Metric, upper_bounds: &[f64], units_per_unit: f64);
}

impl Series for ShardedHistogram {
    const TYPE: proto::MetricType = proto::MetricType::HISTOGRAM;

    fn create(bounds: &[u64]) -> Self {
        Self::new(bounds)
    }

    fn fill(&self, metric: &mut proto::Metric, upper_bounds: &[f64], units_per_unit: f64) {
        metric.set_histogram(self.proto(upper_bounds, units_per_unit));
    }
}

/// A counter whose increments land in this thread's copy.
pub struct ShardedCounter {
    shards: Box<[PaddedCount]>,
}

#[repr(align(128))]
struct PaddedCount(AtomicU64);

impl ShardedCounter {
    /// Adds one.
    pub fn inc(&self) {
        let copy = shard_index();
        add(&self.shards[copy].0, 1, copy);
    }

    /// The sum of every copy.
    pub fn get(&self) -> u64 {
        self.shards.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

impl Series for ShardedCounter {
    const TYPE: proto::MetricType = proto::MetricType::COUNTER;

    fn create(_: &[u64]) -> Self {
        Self { shards: (0..COPIES).map(|_| PaddedCount(AtomicU64::new(0))).collect() }
    }

    fn fill(&self, metric: &mut proto::Metric, _: &[f64], _: f64) {
        let mut counter = proto::Counter::default();
        counter.set_value(self.get() as f64);
        metric.set_counter(counter);
    }
}

/// A family of sharded series told apart by label values, like a `HistogramVec`.
pub struct ShardedVec<S> {
    inner: Arc<Inner<S>>,
}

/// Histograms by label values.
pub type ShardedHistogramVec = ShardedVec<ShardedHistogram>;
/// Counters by label values.
pub type ShardedCounterVec = ShardedVec<ShardedCounter>;

impl<S> Clone for ShardedVec<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

struct Inner<S> {
    desc: Desc,
    label_names: Vec<String>,
    /// Upper bounds as exposed (seconds, bytes); none for counters.
    upper_bounds: Vec<f64>,
    /// The same, in observation units.
    bounds: Vec<u64>,
    units_per_unit: f64,
    /// Series by label values; looked up when a series is first used, not per update.
    children: Mutex<BTreeMap<Vec<String>, Arc<S>>>,
}

impl ShardedCounterVec {
    /// A counter family `name` with `labels`.
    pub fn counters(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<Self> {
        Self::new(name, help, labels, Vec::new(), 1.0)
    }
}

impl<S: Series> ShardedVec<S> {
    /// A family `name` with `labels`, buckets `upper_bounds` (in the metric's unit; none for
    /// counters) and observations in units of which `units_per_unit` make one of the metric's
    /// (1e9 for seconds observed in nanoseconds, 1 for bytes).
    pub fn new(
        name: &str,
        help: &str,
        labels: &[&str],
        upper_bounds: Vec<f64>,
        units_per_unit: f64,
    ) -> prometheus::Result<Self> {
        let label_names: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let desc =
            Desc::new(name.to_string(), help.to_string(), label_names.clone(), Default::default())?;
        let bounds = upper_bounds.iter().map(|b| (b * units_per_unit).round() as u64).collect();
        let inner = Inner {
            desc,
            label_names,
            upper_bounds,
            bounds,
            units_per_unit,
            children: Mutex::new(BTreeMap::new()),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The series with these label values, created on first use. Keep what it returns: this
    /// takes a lock, updating the series does not.
    pub fn with_label_values(&self, values: &[&str]) -> Arc<S> {
        debug_assert_eq!(values.len(), self.inner.label_names.len());
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let mut children = self.inner.children.lock().unwrap_or_else(|e| e.into_inner());
        children.entry(key).or_insert_with(|| Arc::new(S::create(&self.inner.bounds))).clone()
    }

    /// Drops the series with these label values, if there is one.
    pub fn remove_label_values(&self, values: &[&str]) {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        self.inner.children.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
    }
}

impl<S: Series> Collector for ShardedVec<S> {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.inner.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let inner = &self.inner;
        let children = inner.children.lock().unwrap_or_else(|e| e.into_inner());
        let metrics = children
            .iter()
            .map(|(values, series)| {
                let labels = inner
                    .label_names
                    .iter()
                    .zip(values)
                    .map(|(name, value)| {
                        let mut pair = proto::LabelPair::default();
                        pair.set_name(name.clone());
                        pair.set_value(value.clone());
                        pair
                    })
                    .collect();
                let mut m = proto::Metric::from_label(labels);
                series.fill(&mut m, &inner.upper_bounds, inner.units_per_unit);
                m
            })
            .collect();
        let mut family = proto::MetricFamily::default();
        family.set_name(inner.desc.fq_name.clone());
        family.set_help(inner.desc.help.clone());
        family.set_field_type(S::TYPE);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_from_many_threads_add_up_in_cumulative_buckets() {
        let vec =
            ShardedHistogramVec::new("t_seconds", "help", &["zone"], vec![0.001, 0.01, 0.1], 1e9)
                .unwrap();
        let series = vec.with_label_values(&["a."]);
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let series = series.clone();
                s.spawn(move || {
                    for _ in 0..1000 {
                        // 0.5 ms, 5 ms, 50 ms and 500 ms, by thread.
                        series.observe(500_000 * 10u64.pow((t % 4) as u32));
                    }
                });
            }
        });
        let families = vec.collect();
        let h = families[0].get_metric()[0].get_histogram();
        assert_eq!(h.get_sample_count(), 8000);
        let cumulative: Vec<u64> = h.get_bucket().iter().map(|b| b.cumulative_count()).collect();
        assert_eq!(cumulative, [2000, 4000, 6000], "500 ms is above every bound: only in count");
        let expected_sum = 2000.0 * (0.0005 + 0.005 + 0.05 + 0.5);
        assert!((h.get_sample_sum() - expected_sum).abs() < 1e-6, "{}", h.get_sample_sum());
        assert_eq!(families[0].get_metric()[0].get_label()[0].value(), "a.");
        vec.remove_label_values(&["a."]);
        assert!(vec.collect()[0].get_metric().is_empty());
    }

    /// More threads than owned copies, in waves: threads beyond the owners share a copy, and an
    /// exited thread's copy goes to the next with its counts intact. A lost update (two owners
    /// of one copy, or counts not handed over) makes the totals fall short.
    #[test]
    fn counts_add_up_when_threads_outnumber_and_outlive_the_copies() {
        let counters = ShardedCounterVec::counters("w_total", "help", &["k"]).unwrap();
        let histograms =
            ShardedHistogramVec::new("w_seconds", "help", &["k"], vec![0.001], 1e9).unwrap();
        let (counter, histogram) =
            (counters.with_label_values(&["x"]), histograms.with_label_values(&["x"]));
        let (threads, waves, each) = (SHARDS + 8, 3, 2000u64);
        for _ in 0..waves {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let (counter, histogram) = (counter.clone(), histogram.clone());
                    s.spawn(move || {
                        for _ in 0..each {
                            counter.inc();
                            histogram.observe(1);
                        }
                    });
                }
            });
        }
        let total = (threads * waves) as u64 * each;
        assert_eq!(counter.get(), total);
        let h = histograms.collect()[0].get_metric()[0].get_histogram().clone();
        assert_eq!(h.get_sample_count(), total);
        assert_eq!(h.get_bucket()[0].cumulative_count(), total);
        assert!((h.get_sample_sum() - total as f64 / 1e9).abs() < 1e-9);
    }

    #[test]
    fn counters_add_up_across_threads() {
        let vec = ShardedCounterVec::counters("t_total", "help", &["rcode"]).unwrap();
        let series = vec.with_label_values(&["NOERROR"]);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let series = series.clone();
                s.spawn(move || (0..1000).for_each(|_| series.inc()));
            }
        });
        let families = vec.collect();
        assert_eq!(families[0].get_field_type(), proto::MetricType::COUNTER);
        assert_eq!(families[0].get_metric()[0].get_counter().get_value(), 8000.0);
    }
}
