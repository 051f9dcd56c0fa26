//! The host's name, as the plugins that report it read it (*nsid*, *chaos*).

/// The host's name as Go's `os.Hostname` reads it on Linux (in Kubernetes, the Pod's name);
/// `localhost` when it cannot be read.
pub fn name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
