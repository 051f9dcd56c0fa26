//! LOC (RFC 1876): a position in degrees, minutes and seconds, an altitude, and sizes and
//! precisions in meters, as miekg/dns reads them.

use super::Data;

impl Data<'_> {
    /// LOC (RFC 1876): `d [m [s]] N|S d [m [s]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]`.
    pub(super) fn loc(&mut self) -> Result<(), String> {
        let latitude = self.angle('N', 'S')?;
        let longitude = self.angle('E', 'W')?;
        let f = self.field()?;
        let meters: f64 =
            f.trim_end_matches(['m', 'M']).parse().map_err(|_| format!("bad altitude {f:?}"))?;
        let altitude = (meters * 100.0).round() + 10_000_000.0;
        if !(0.0..=f64::from(u32::MAX)).contains(&altitude) {
            return Err(format!("altitude {f:?} out of range"));
        }
        // Size 1 m, horizontal precision 10 km, vertical 10 m unless given.
        let mut precisions = [0x12, 0x16, 0x13];
        for p in &mut precisions {
            if self.next < self.fields.len() {
                *p = precision(self.field()?)?;
            }
        }
        self.wire.push(0);
        self.wire.extend_from_slice(&precisions);
        self.wire.extend_from_slice(&latitude.to_be_bytes());
        self.wire.extend_from_slice(&longitude.to_be_bytes());
        self.wire.extend_from_slice(&(altitude as u32).to_be_bytes());
        Ok(())
    }

    /// A LOC latitude or longitude: degrees, minutes and seconds up to the hemisphere letter,
    /// as thousandths of a second of arc from 2^31 (the equator, the prime meridian).
    fn angle(&mut self, positive: char, negative: char) -> Result<u32, String> {
        let (mut parts, mut sign) = (Vec::new(), None);
        while sign.is_none() {
            let f = self.field()?;
            match f.to_ascii_uppercase().chars().next() {
                Some(c) if f.len() == 1 && c == positive => sign = Some(1),
                Some(c) if f.len() == 1 && c == negative => sign = Some(-1),
                _ if parts.len() < 3 => parts.push(f),
                _ => return Err(format!("{f:?} where {positive} or {negative} belongs")),
            }
        }
        let bad = |p: &str| format!("bad angle {p:?}");
        let degrees: i64 = parts.first().ok_or("no degrees")?.parse().map_err(|_| bad(parts[0]))?;
        let minutes: i64 = match parts.get(1) {
            Some(m) => m.parse().map_err(|_| bad(m))?,
            None => 0,
        };
        let seconds: f64 = match parts.get(2) {
            Some(s) => s.parse().map_err(|_| bad(s))?,
            None => 0.0,
        };
        let limit = if positive == 'N' { 90 } else { 180 };
        if !(0..=limit).contains(&degrees)
            || !(0..60).contains(&minutes)
            || !(0.0..60.0).contains(&seconds)
        {
            return Err(format!("angle {} out of range", parts.join(" ")));
        }
        let thousandths =
            (degrees * 3600 + minutes * 60) * 1000 + (seconds * 1000.0).round() as i64;
        if thousandths > limit * 3600 * 1000 {
            return Err(format!("angle {} out of range", parts.join(" ")));
        }
        Ok(((1i64 << 31) + sign.unwrap_or(1) * thousandths) as u32)
    }
}

/// A LOC size or precision in meters (`10m`, `0.5`) as RFC 1876's octet: a digit and a power
/// of ten, in centimeters, as miekg/dns reads it (whole meters, or else centimeters).
pub(super) fn precision(text: &str) -> Result<u8, String> {
    let bad = || format!("bad precision {text:?}");
    let number = text.trim_end_matches(['m', 'M']);
    let (meters, centimeters) = number.split_once('.').unwrap_or((number, ""));
    let meters: u64 = if meters.is_empty() { 0 } else { meters.parse().map_err(|_| bad())? };
    let centimeters: u64 = match centimeters.len() {
        0 => 0,
        1 => centimeters.parse::<u64>().map_err(|_| bad())? * 10,
        2 => centimeters.parse().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if meters > 90_000_000 {
        return Err(bad());
    }
    let (mut value, mut exponent) = if meters > 0 { (meters, 2u8) } else { (centimeters, 0) };
    while value >= 10 {
        value /= 10;
        exponent += 1;
    }
    Ok((value as u8) << 4 | exponent)
}
