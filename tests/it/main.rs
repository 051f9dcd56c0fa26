//! The integration tests: the whole server started from Corefile text on port 0 and queried over
//! real UDP and TCP sockets, and the real binary for flags, exit codes and signals. One binary,
//! one module per topic.

mod access;
mod answer_shapers;
mod bad_input;
mod binary;
mod bind;
mod bufsize;
mod cache;
mod chaos;
mod default_plugins;
mod deploy;
mod dispatch;
mod distros;
mod dns64;
mod external_name;
mod fake_api;
mod forward;
mod forward_options;
mod fuzz_regressions;
mod harness;
mod header;
mod kube_api;
mod kube_api_faults;
mod kube_api_limits;
mod kube_api_multicluster;
mod kube_api_zonal;
mod kube_in_cluster;
mod kubernetes;
mod local;
mod loop_detect;
mod metrics;
mod netns;
mod node_local;
mod probes;
mod readme;
mod reload;
mod reload_ports;
mod rewrite;
mod tcp;
mod tcp_pipeline;
mod template;
mod timeouts;
mod udp;
mod udp_send_buffer;
mod upstream;
