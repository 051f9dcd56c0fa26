//! The process-wide metrics registry that `/metrics` serves, and CoreDNS's bucket layouts.
//!
//! Metrics live for the whole process, as in CoreDNS (which registers into Prometheus's default
//! registry): a reload sets plugins up again, and their counters must go on counting rather than
//! start over or clash with themselves. A plugin therefore keeps its metrics in a `static`
//! initialised once with [`register`], and only looks them up (or, better, keeps the child for
//! its labels) at setup time, never per query.
//!
//! A child is created on its first use, not at setup ([`Series`]): like CoreDNS, `/metrics`
//! shows only the label sets that have happened, and a configuration that is loaded but never
//! served (a failed reload, a fuzzer feeding the loader) adds no series to the process.
//!
//! The histograms every query observes are [`sharded`]: one copy of the counters per thread.

pub mod sharded;

use std::sync::{LazyLock, OnceLock};

use prometheus::Registry;
use prometheus::core::{Collector, MetricVec, MetricVecBuilder};

pub use prometheus;

/// The registry `/metrics` serves.
pub fn registry() -> &'static Registry {
    static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);
    &REGISTRY
}

/// Registers `collector` and returns it. Registering the same metric twice is a programming
/// error, reported when it happens.
pub fn register<C: Collector + Clone + 'static>(collector: C) -> C {
    if let Err(e) = registry().register(Box::new(collector.clone())) {
        tracing::error!("metrics: {e}");
    }
    collector
}

/// CoreDNS's time buckets: 0.25 ms doubling 16 times, to 8.192 s.
pub fn time_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.00025, 2.0, 16).expect("valid buckets")
}

/// CoreDNS's message size buckets.
pub const SIZE_BUCKETS: [f64; 14] = [
    0.0, 100.0, 200.0, 300.0, 400.0, 511.0, 1023.0, 2047.0, 4095.0, 8291.0, 16e3, 32e3, 48e3, 64e3,
];

/// The query types CoreDNS gives their own `type` label; everything else is `other`.
pub const MONITORED_TYPES: [&str; 19] = [
    "A", "AAAA", "MX", "SOA", "CNAME", "PTR", "TXT", "NS", "SRV", "DS", "DNSKEY", "RRSIG", "NSEC",
    "NSEC3", "HTTPS", "IXFR", "AXFR", "ANY", "other",
];

/// The index into [`MONITORED_TYPES`] of a query type (the last, `other`, for the rest).
pub fn type_index(rtype: hickory_proto::rr::RecordType) -> usize {
    use hickory_proto::rr::RecordType as T;
    match rtype {
        T::A => 0,
        T::AAAA => 1,
        T::MX => 2,
        T::SOA => 3,
        T::CNAME => 4,
        T::PTR => 5,
        T::TXT => 6,
        T::NS => 7,
        T::SRV => 8,
        T::HTTPS => 14,
        T::IXFR => 15,
        T::AXFR => 16,
        T::ANY => 17,
        other => match u16::from(other) {
            43 => 9,
            48 => 10,
            46 => 11,
            47 => 12,
            50 => 13,
            _ => 18,
        },
    }
}

/// A metric family whose children are looked up by label values: any `prometheus` `*Vec`.
pub trait Family: Sync + 'static {
    /// The metric of one label set.
    type Child: Send + Sync;
    /// The child for `labels`, created if it does not exist.
    fn child(&self, labels: &[Box<str>]) -> Self::Child;
}

impl<B: MetricVecBuilder + 'static> Family for MetricVec<B> {
    type Child = B::M;
    fn child(&self, labels: &[Box<str>]) -> B::M {
        self.with_label_values(labels)
    }
}

/// One label set of a metric family, resolved to its child the first time it is used and kept.
///
/// Setting up costs a copy of the labels; every later use is one atomic load and the child's
/// own atomic update. Write `Series<IntCounterVec>`, `Series<HistogramVec>` and so on.
pub struct Series<F: Family> {
    family: &'static F,
    labels: Box<[Box<str>]>,
    child: OnceLock<F::Child>,
}

impl<F: Family> Series<F> {
    /// The series of `family` with `labels`, not yet created.
    pub fn new(family: &'static F, labels: &[&str]) -> Self {
        let labels = labels.iter().map(|l| Box::from(*l)).collect();
        Self { family, labels, child: OnceLock::new() }
    }

    /// The child, created (and so shown by `/metrics`) on the first call.
    pub fn get(&self) -> &F::Child {
        self.child.get_or_init(|| self.family.child(&self.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RecordType;

    #[test]
    fn series_appear_on_first_use() {
        static FAMILY: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
            prometheus::IntCounterVec::new(prometheus::Opts::new("t", "t"), &["a", "b"]).unwrap()
        });
        let series: Series<prometheus::IntCounterVec> = Series::new(&FAMILY, &["x", "y"]);
        assert_eq!(FAMILY.collect()[0].get_metric().len(), 0, "nothing before first use");
        series.get().inc();
        series.get().inc();
        assert_eq!(FAMILY.with_label_values(&["x", "y"]).get(), 2);
    }

    #[test]
    fn buckets_match_coredns() {
        let b = time_buckets();
        assert_eq!(b.len(), 16);
        assert_eq!(b[0], 0.00025);
        assert_eq!(b[15], 8.192);
    }

    #[test]
    fn type_labels() {
        assert_eq!(MONITORED_TYPES[type_index(RecordType::AAAA)], "AAAA");
        assert_eq!(MONITORED_TYPES[type_index(RecordType::DS)], "DS");
        assert_eq!(MONITORED_TYPES[type_index(RecordType::NSEC3)], "NSEC3");
        assert_eq!(MONITORED_TYPES[type_index(RecordType::CAA)], "other");
    }
}
