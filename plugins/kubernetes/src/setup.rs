//! Reading `kubernetes [ZONES...] { options }`.

use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

use crate::selector::{Filter, Selector};

/// How pod names (`1-2-3-4.ns.pod.zone`) are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    /// Not at all: NXDOMAIN.
    Disabled,
    /// The address in the name, if the namespace exists.
    Insecure,
    /// Only if a pod in the namespace has that address.
    Verified,
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The zones served; reverse zones among them enable PTR answers.
    pub zones: Vec<String>,
    /// The first zone that is not a reverse zone: the one PTR targets are written in.
    pub primary: String,
    /// `endpoint URL`.
    pub endpoint: Option<String>,
    /// `tls CERT KEY CACERT`: the client certificate, its key and the CA for `endpoint`.
    pub tls: Option<(String, String, String)>,
    /// `kubeconfig FILE [CONTEXT]`.
    pub kubeconfig: Option<(String, Option<String>)>,
    /// `namespaces NS...`: only these are served.
    pub namespaces: Vec<String>,
    /// `pods`.
    pub pods: PodMode,
    /// `endpoint_pod_names`.
    pub endpoint_pod_names: bool,
    /// `ttl` of every record.
    pub ttl: u32,
    /// `noendpoints`: no endpoint records, headless services are NXDOMAIN.
    pub noendpoints: bool,
    /// `labels SELECTOR` and `namespace_labels SELECTOR`.
    pub filter: Filter,
    /// `fallthrough [ZONES...]` (name errors only).
    pub fall: Fall,
    /// `ignore empty_service`.
    pub ignore_empty_service: bool,
    /// `startup_timeout`.
    pub startup_timeout: Duration,
    /// `manifests PATH...` (ferrodns): serve from YAML files instead of the API.
    pub manifests: Vec<String>,
    /// `multicluster ZONES...`: zones answered from ServiceImports (the MCS API); each is one of
    /// `zones`.
    pub multicluster: Vec<String>,
    /// `apiserver_qps`, `apiserver_burst`, `apiserver_max_inflight`.
    pub api_limits: ApiLimits,
    /// `zonal`: headless Services answer `TOPOZONE.pin|prefer._zone.SVC.NS.svc.ZONE`.
    pub zonal: bool,
    /// The server's own search list (`/etc/resolv.conf`, read at setup), normalised: the end
    /// of the search path *autopath* walks for a client pod, after the cluster's three names.
    pub autopath_search: Vec<String>,
}

/// Client-side limits on requests to the API server; `None` (or 0) is no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApiLimits {
    /// `apiserver_qps`: requests a second.
    pub qps: Option<f64>,
    /// `apiserver_burst`: requests at once beyond the rate.
    pub burst: Option<u32>,
    /// `apiserver_max_inflight`: requests waiting for their response at once.
    pub max_inflight: Option<usize>,
}

impl ApiLimits {
    /// The token bucket's rate and burst, if either is set; the other is client-go's default.
    pub fn rate(&self) -> Option<(f64, u32)> {
        if self.qps.is_none() && self.burst.is_none() {
            return None;
        }
        let qps = self.qps.unwrap_or(crate::api_client::DEFAULT_QPS);
        Some((qps, self.burst.unwrap_or(crate::api_client::DEFAULT_BURST)))
    }
}

impl Options {
    /// True if `namespaces` lets `ns` through (it lists nothing, or lists `ns`).
    pub fn namespace_listed(&self, ns: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns)
    }

    /// True if `zone` (one of [`Options::zones`]) is a `multicluster` zone.
    pub fn is_multicluster(&self, zone: &str) -> bool {
        self.multicluster.iter().any(|z| z == zone)
    }
}

fn is_reverse(zone: &str) -> bool {
    zone.ends_with("in-addr.arpa.") || zone.ends_with("ip6.arpa.")
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options {
        zones: Vec::new(),
        primary: String::new(),
        endpoint: None,
        tls: None,
        kubeconfig: None,
        namespaces: Vec::new(),
        pods: PodMode::Disabled,
        endpoint_pod_names: false,
        ttl: 5,
        noendpoints: false,
        filter: Filter::default(),
        fall: Fall::default(),
        ignore_empty_service: false,
        startup_timeout: Duration::from_secs(5),
        manifests: Vec::new(),
        multicluster: Vec::new(),
        api_limits: ApiLimits::default(),
        zonal: false,
        autopath_search: Vec::new(),
    };
    while c.next() {
        let args = c.remaining_args();
        o.zones = origins_from_args_or_block(&args, c.zones());
        let Some(primary) = o.zones.iter().find(|z| !is_reverse(z)) else {
            return Err(c.err("non-reverse zone name must be used"));
        };
        o.primary = primary.clone();
        while c.next_block() {
            let what = c.val().to_string();
            let args = c.remaining_args();
            match what.as_str() {
                "endpoint_pod_names" => {
                    if !args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.endpoint_pod_names = true;
                }
                "pods" => {
                    let [mode] = args.as_slice() else { return Err(c.arg_err()) };
                    o.pods = match mode.as_str() {
                        "disabled" => PodMode::Disabled,
                        "insecure" => PodMode::Insecure,
                        "verified" => PodMode::Verified,
                        other => return Err(c.err(format!("wrong value for pods: {other},  must be one of: disabled, verified, insecure"))),
                    };
                }
                "namespaces" => {
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.namespaces = args.iter().map(|n| n.to_ascii_lowercase()).collect();
                }
                "endpoint" => {
                    let Some(first) = args.first() else { return Err(c.arg_err()) };
                    if args.len() > 1 {
                        tracing::warn!(
                            "plugin/kubernetes: Multiple endpoints have been deprecated, only the first specified endpoint '{first}' is used"
                        );
                    }
                    o.endpoint = Some(first.clone());
                }
                "tls" => match args.as_slice() {
                    [cert, key, ca] => o.tls = Some((cert.clone(), key.clone(), ca.clone())),
                    _ => return Err(c.arg_err()),
                },
                "labels" | "namespace_labels" => {
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    let text = args.join(" ");
                    let selector = Selector::parse(&text).map_err(|e| {
                        c.err(format!("unable to parse label selector value: '{text}': {e}"))
                    })?;
                    if what == "labels" {
                        o.filter.labels = Some(selector);
                    } else {
                        o.filter.namespace_labels = Some(selector);
                    }
                }
                "fallthrough" => o.fall = Fall::from_args(&args),
                "ttl" => {
                    let [t] = args.as_slice() else { return Err(c.arg_err()) };
                    let ttl: i64 =
                        t.parse().map_err(|_| c.err(format!("ttl must be an integer: {t}")))?;
                    if !(0..=3600).contains(&ttl) {
                        return Err(c.err(format!("ttl must be in range [0, 3600]: {ttl}")));
                    }
                    o.ttl = ttl as u32;
                }
                "zonal" => {
                    if !args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.zonal = true;
                }
                "noendpoints" => {
                    if !args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.noendpoints = true;
                }
                "ignore" => match args.as_slice() {
                    [x] if x == "empty_service" => o.ignore_empty_service = true,
                    [x] => return Err(c.err(format!("unable to parse ignore value: '{x}'"))),
                    _ => return Err(c.arg_err()),
                },
                "kubeconfig" => match args.as_slice() {
                    [file] => o.kubeconfig = Some((file.clone(), None)),
                    [file, ctx] => o.kubeconfig = Some((file.clone(), Some(ctx.clone()))),
                    _ => return Err(c.arg_err()),
                },
                "startup_timeout" => {
                    let [d] = args.as_slice() else { return Err(c.arg_err()) };
                    o.startup_timeout = parse_go_duration(d).map_err(|e| c.err(e))?;
                }
                // No arguments: the server block's zones, which CoreDNS does not pass here, so none.
                "multicluster" => o.multicluster = origins_from_args_or_block(&args, &[]),
                "apiserver_qps" => {
                    let [q] = args.as_slice() else { return Err(c.arg_err()) };
                    let qps: f64 = q.parse().map_err(|_| {
                        c.err(format!("invalid apiserver_qps \"{q}\": strconv.ParseFloat: parsing \"{q}\": invalid syntax"))
                    })?;
                    if qps < 0.0 || !qps.is_finite() {
                        return Err(c.err("apiserver_qps must be >= 0"));
                    }
                    o.api_limits.qps = (qps > 0.0).then_some(qps);
                }
                "apiserver_burst" | "apiserver_max_inflight" => {
                    let [n] = args.as_slice() else { return Err(c.arg_err()) };
                    let n: i64 = n.parse().map_err(|_| {
                        c.err(format!(
                            "invalid {what} \"{n}\": strconv.Atoi: parsing \"{n}\": invalid syntax"
                        ))
                    })?;
                    if n < 0 {
                        return Err(c.err(format!("{what} must be >= 0")));
                    }
                    if what == "apiserver_burst" {
                        o.api_limits.burst = u32::try_from(n).ok().filter(|n| *n > 0);
                    } else {
                        o.api_limits.max_inflight = usize::try_from(n).ok().filter(|n| *n > 0);
                    }
                }
                "manifests" => {
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.manifests = args;
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    if !o.namespaces.is_empty() && o.filter.namespace_labels.is_some() {
        return Err(c.err("namespaces and namespace_labels cannot both be set"));
    }
    if o.zonal && o.noendpoints {
        // Zonal answers come from the endpoints `noendpoints` does not keep.
        return Err(c.err("zonal requires the endpoint cache; remove noendpoints"));
    }
    if let Some(z) = o.multicluster.iter().find(|z| !o.zones.contains(z)) {
        return Err(c.err(format!(
            "is not authoritative for the multicluster zone {z} (authoritative zones: [{}])",
            o.zones.join(" ")
        )));
    }
    Ok(o)
}
