//! The host's name, as the plugins that report it read it (*nsid*, *chaos*), and its addresses
//! (*kubernetes*' name servers).

/// The host's name as Go's `os.Hostname` reads it on Linux (in Kubernetes, the Pod's name);
/// `localhost` when it cannot be read.
pub fn name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The host's addresses but loopback ones, as Go's `net.InterfaceAddrs` lists them (IPv4 and
/// IPv6, link-local included); empty if they cannot be read.
pub fn addresses() -> Vec<std::net::IpAddr> {
    let found = if_addrs::get_if_addrs().unwrap_or_default();
    found.iter().map(|i| i.ip()).filter(|ip| !ip.is_loopback()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_leave_out_loopback() {
        assert!(super::addresses().iter().all(|ip| !ip.is_loopback()));
    }
}
