//! The types whose data holds an address in one of several forms, or a list of them: IPSECKEY
//! (RFC 4025), AMTRELAY (RFC 8777), APL (RFC 3123) and HIP (RFC 8005).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Data;

impl Data<'_> {
    /// IPSECKEY: precedence, gateway type, algorithm, the gateway, the key (base64, may be
    /// absent).
    pub(super) fn ipseckey(&mut self) -> Result<(), String> {
        self.u8()?;
        let kind: u8 = self.number()?;
        self.wire.push(kind);
        self.u8()?;
        self.gateway(kind)?;
        self.base64_rest()
    }

    /// AMTRELAY: precedence, the discovery-optional bit and the relay type (one octet on the
    /// wire), the relay.
    pub(super) fn amtrelay(&mut self) -> Result<(), String> {
        self.u8()?;
        let discovery = match self.field()? {
            "0" => 0u8,
            "1" => 0x80,
            other => return Err(format!("bad discovery bit {other:?}")),
        };
        let kind: u8 = self.number()?;
        if kind > 0x7f {
            return Err(format!("bad relay type {kind}"));
        }
        self.wire.push(discovery | kind);
        self.gateway(kind)
    }

    /// A gateway or relay of type `kind`: none (`.`), IPv4, IPv6, or a name written out.
    fn gateway(&mut self, kind: u8) -> Result<(), String> {
        let f = self.field()?;
        let bad = || format!("bad gateway {f:?} for type {kind}");
        match kind {
            0 if f == "." => {}
            1 => self.wire.extend_from_slice(&f.parse::<Ipv4Addr>().map_err(|_| bad())?.octets()),
            2 => self.wire.extend_from_slice(&f.parse::<Ipv6Addr>().map_err(|_| bad())?.octets()),
            3 => {
                self.next -= 1;
                self.name()?;
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// APL: any number of `[!]AFI:ADDRESS/PREFIX` items; each is written with the address's
    /// trailing zero octets left off (RFC 3123 §4).
    pub(super) fn apl(&mut self) -> Result<(), String> {
        while self.next < self.fields.len() {
            let f = self.field()?;
            let bad = || format!("bad APL item {f:?}");
            let (negated, item) = match f.strip_prefix('!') {
                Some(rest) => (0x80u8, rest),
                None => (0, f),
            };
            let (family, rest) = item.split_once(':').ok_or_else(bad)?;
            let (address, prefix) = rest.rsplit_once('/').ok_or_else(bad)?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            let (family, octets, bits): (u16, Vec<u8>, u8) = match (family, address.parse()) {
                ("1", Ok(IpAddr::V4(a))) => (1, a.octets().to_vec(), 32),
                ("2", Ok(IpAddr::V6(a))) => (2, a.octets().to_vec(), 128),
                _ => return Err(bad()),
            };
            if prefix > bits {
                return Err(bad());
            }
            let used = octets.iter().rposition(|&o| o != 0).map_or(0, |last| last + 1);
            self.wire.extend_from_slice(&family.to_be_bytes());
            self.wire.push(prefix);
            self.wire.push(negated | used as u8);
            self.wire.extend_from_slice(&octets[..used]);
        }
        Ok(())
    }

    /// HIP: the public key's algorithm, the HIT (hex), the key (base64), then any rendezvous
    /// servers; on the wire the lengths come first.
    pub(super) fn hip(&mut self) -> Result<(), String> {
        let algorithm: u8 = self.number()?;
        let hit_text = self.field()?;
        let hit = data_encoding::HEXUPPER_PERMISSIVE
            .decode(hit_text.as_bytes())
            .map_err(|_| format!("bad HIT {hit_text:?}"))?;
        let key_text = self.field()?;
        let key = data_encoding::BASE64
            .decode(key_text.as_bytes())
            .map_err(|_| format!("bad public key {key_text:?}"))?;
        self.wire.push(u8::try_from(hit.len()).map_err(|_| "a HIT over 255 octets")?);
        self.wire.push(algorithm);
        self.wire.extend_from_slice(
            &u16::try_from(key.len()).map_err(|_| "a key over 65535 octets")?.to_be_bytes(),
        );
        self.wire.extend_from_slice(&hit);
        self.wire.extend_from_slice(&key);
        while self.next < self.fields.len() {
            self.name()?;
        }
        Ok(())
    }
}
