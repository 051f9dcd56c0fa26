//! Shared helpers for plugins, as CoreDNS has `plugin/pkg/*`: none of it is needed to write a
//! plugin, and each piece is there so that plugins do one thing one way.
//!
//! * [`zonefile`]: authoritative zones read from zone files, and RFC 1034's lookup in them.
//! * [`zone`]: zone names, server-block keys, reverse names and zones from CIDRs.
//! * [`fall`]: `fallthrough [ZONES...]`.
//! * [`duration`]: Go's duration syntax, which every duration option uses.
//! * [`edns`]: which EDNS options replies echo from their queries.
//! * [`external`]: what *k8s_external* asks of *kubernetes*.
//! * [`names`]: rcode, type, class and flag names exactly as CoreDNS prints them.
//! * [`host`]: the host's name.
//! * [`response`]: sorting replies into CoreDNS's types and classes (log, cache).
//! * [`wire`]: replies written and kept in wire form ([`wire::ReplyWriter`], [`wire::Stored`]),
//!   and reading them in place.
//! * [`upstream`]: nested lookups through the block's chain (ExternalName targets).
//! * [`metrics`]: the process-wide Prometheus registry, CoreDNS's buckets, per-thread counters.
//! * [`os`]: I/O errors in the words Go's `os` package prints.
//! * [`output`]: per-query log lines, straight to the server's log writer.
//! * [`prehashed`]: tables keyed by values that are keyed hashes already.
//! * [`pattern`]: the regular expressions Corefiles give, compiled with a nesting limit.
//! * [`manifests`]: Kubernetes objects read from YAML files (`manifests PATH...`).
//! * [`http`]: HTTP routes plugins ask the server for, and whether a stop has begun.
//! * [`dnstap`]: the taps of a block's *dnstap* lines, for plugins that log their own messages.
//! * [`datagram`]: UDP exchanges with upstreams run by the server's UDP worker (*forward*).
//! * [`random`]: cheap per-thread randomness for spreading load.
//! * [`resolv`]: resolv.conf files (name servers, search list), as miekg/dns reads them.
//! * [`strconv`]: Go's `strconv.ParseUint` and `Quote`, words included.
//! * [`trim`]: freed heap handed back to the system after a large load.
//! * [`spare`]: a request per thread for plugins that pass on a changed copy of the query.

pub mod datagram;
pub mod dnstap;
pub mod duration;
pub mod edns;
pub mod external;
pub mod fall;
pub mod host;
pub mod http;
pub mod manifests;
pub mod metrics;
pub mod names;
pub mod os;
pub mod output;
pub mod pattern;
pub mod prehashed;
pub mod random;
pub mod resolv;
pub mod response;
pub mod spare;
pub mod strconv;
pub mod trim;
pub mod upstream;
pub mod wire;
pub mod zone;
pub mod zonefile;
