//! Go's `strconv` where Corefile options are read as CoreDNS reads them: `ParseUint` with its
//! base prefixes, underscores, bit sizes and error words, and `Quote` for those words.

/// `strconv.ParseUint(s, base, bitSize)`, with its error words.
pub fn parse_uint(s: &str, base: i64, bits: i64) -> Result<u64, String> {
    let syntax = || format!("strconv.ParseUint: parsing {}: invalid syntax", go_quote(s));
    let range = || format!("strconv.ParseUint: parsing {}: value out of range", go_quote(s));
    let bits = match bits {
        0 => 64,
        1..=64 => bits as u32,
        _ => {
            return Err(format!(
                "strconv.ParseUint: parsing {}: invalid bit size {bits}",
                go_quote(s)
            ));
        }
    };
    if s.is_empty() {
        return Err(syntax());
    }
    let (radix, digits, prefixed) = match base {
        0 => {
            let lower = s.to_ascii_lowercase();
            if lower.starts_with("0x") {
                (16, &s[2..], true)
            } else if lower.starts_with("0o") {
                (8, &s[2..], true)
            } else if lower.starts_with("0b") {
                (2, &s[2..], true)
            } else if s.len() > 1 && s.starts_with('0') {
                (8, &s[1..], true)
            } else {
                (10, s, false)
            }
        }
        2..=36 => (base as u32, s, false),
        _ => {
            return Err(format!("strconv.ParseUint: parsing {}: invalid base {base}", go_quote(s)));
        }
    };
    // Underscores only with base 0, between digits or after a prefix.
    let digits = if base == 0 && digits.contains('_') {
        let b = digits.as_bytes();
        let ok = !digits.ends_with('_')
            && !digits.contains("__")
            && (prefixed || !digits.starts_with('_'))
            && b.iter().all(|&c| c == b'_' || (c as char).is_digit(radix));
        if !ok {
            return Err(syntax());
        }
        digits.replace('_', "")
    } else {
        digits.to_owned()
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(syntax());
    }
    let value = u64::from_str_radix(&digits, radix).map_err(|_| range())?;
    if bits < 64 && value >> bits != 0 {
        return Err(range());
    }
    Ok(value)
}

/// Go's `strconv.Quote` for the printable ASCII that error messages mostly hold.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
