//! `k8s_gateway [ZONES...] { options }`, read as k8s_gateway's `parse` reads it, in its words,
//! and `manifests PATH...` (beyond it) to serve the objects from files.

use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

use crate::objects::Kind;

/// The resources watched when no `resources` line is given.
pub const DEFAULT_RESOURCES: [Kind; 2] = [Kind::Ingress, Kind::Service];

/// What the directive says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The zones served.
    pub zones: Vec<String>,
    /// The kinds whose host names are served, in lookup order.
    pub resources: Vec<Kind>,
    /// The TTL of address and TXT answers (60).
    pub ttl: u32,
    /// The name server's name under each zone, and the `NAME.NAMESPACE` whose addresses are
    /// its glue (`dns1.kube-system`).
    pub apex: String,
    /// A second name server's, likewise.
    pub secondary: Option<String>,
    /// Names without records go on to the next plugin.
    pub fall: Fall,
    /// Ingress classes served (empty: all).
    pub ingress_classes: Vec<String>,
    /// Gateway classes served (empty: all).
    pub gateway_classes: Vec<String>,
    /// `kubeconfig FILE [CONTEXT]`.
    pub kubeconfig: Option<(String, Option<String>)>,
    /// `manifests PATH...`: objects from files instead of the API server.
    pub manifests: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            zones: Vec::new(),
            resources: DEFAULT_RESOURCES.to_vec(),
            ttl: 60,
            apex: "dns1.kube-system".into(),
            secondary: None,
            fall: Fall::default(),
            ingress_classes: Vec::new(),
            gateway_classes: Vec::new(),
            kubeconfig: None,
            manifests: Vec::new(),
        }
    }
}

/// Reads every line of the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options::default();
    let mut resources_given = false;
    while c.next() {
        let args = c.remaining_args();
        o.zones = origins_from_args_or_block(&args, c.zones());
        while c.next_block() {
            let option = c.val().to_owned();
            let args = c.remaining_args();
            match option.as_str() {
                "fallthrough" => o.fall = Fall::from_args(&args),
                "secondary" => {
                    let Some(name) = args.first() else { return Err(c.arg_err()) };
                    o.secondary = Some(name.to_ascii_lowercase());
                }
                "resources" => {
                    if args.is_empty() {
                        return Err(c.err("Incorrectly formatted 'resource' parameter"));
                    }
                    resources_given = true;
                    o.resources = resources(&args);
                }
                "ttl" => {
                    let Some(value) = args.first() else { return Err(c.arg_err()) };
                    let t: i64 = value.parse().map_err(|_| {
                        let quoted = plugin_api::pkg::strconv::go_quote(value);
                        c.err(format!("strconv.Atoi: parsing {quoted}: invalid syntax"))
                    })?;
                    if !(0..=3600).contains(&t) {
                        return Err(c.err(format!("ttl must be in range [0, 3600]: {t}")));
                    }
                    o.ttl = t as u32;
                }
                "apex" => {
                    let Some(apex) = args.first() else { return Err(c.arg_err()) };
                    o.apex = apex.trim_end_matches('.').to_ascii_lowercase();
                }
                "kubeconfig" => {
                    let Some(file) = args.first() else { return Err(c.arg_err()) };
                    o.kubeconfig = Some((file.clone(), args.get(1).cloned()));
                }
                "ingressClasses" | "gatewayClasses" => {
                    if args.is_empty() {
                        return Err(c.err(format!("Incorrectly formatted '{option}' parameter")));
                    }
                    match option.as_str() {
                        "ingressClasses" => o.ingress_classes = args,
                        _ => o.gateway_classes = args,
                    }
                }
                "manifests" => {
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.manifests = args;
                }
                "serviceLabelSelectors" | "nodeAddressType" => {
                    return Err(c.err(format!("'{option}' is not supported by ferrodns")));
                }
                _ => return Err(c.err(format!("Unknown property '{option}'"))),
            }
        }
    }
    if !resources_given {
        tracing::warn!(
            "plugin/k8s_gateway: No resources specified in config. Using defaults: [Ingress Service]"
        );
    }
    Ok(o)
}

/// The kinds a `resources` line names, each once. An unknown name is logged and passed over,
/// as k8s_gateway does (so a Corefile naming `Node` still loads, without node names).
fn resources(args: &[String]) -> Vec<Kind> {
    let mut kinds = Vec::new();
    for name in args {
        match Kind::RESOURCES.iter().find(|(n, _)| n == name) {
            Some((_, kind)) if !kinds.contains(kind) => kinds.push(*kind),
            Some(_) => {}
            None => {
                tracing::warn!("plugin/k8s_gateway: resource not found in static resources: {name}")
            }
        }
    }
    kinds
}
