//! CoreDNS's command line, read the way Go's `flag` package reads it: one or two dashes,
//! `-flag value` or `-flag=value`, boolean flags bare or `=true/false`, flags end at the first
//! argument that is not one (or at `--`).

/// The flags, with CoreDNS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// `-conf`: the Corefile; `stdin` reads standard input; `None` looks for `./Corefile`.
    pub conf: Option<String>,
    /// `-dns.port` / `-p`: the port of keys that name none.
    pub dns_port: String,
    /// `-pidfile`: where to write the process id.
    pub pidfile: Option<String>,
    /// `-plugins`: list the directives and exit.
    pub plugins: bool,
    /// `-version`: print the version and exit.
    pub version: bool,
    /// `-quiet`: no start-up banner.
    pub quiet: bool,
    /// Arguments after the flags, which are an error.
    pub rest: Vec<String>,
}

impl Default for Flags {
    fn default() -> Self {
        Self {
            conf: None,
            dns_port: "53".into(),
            pidfile: None,
            plugins: false,
            version: false,
            quiet: false,
            rest: Vec::new(),
        }
    }
}

/// Why the flags could not be read: print the text to stderr and exit with the code (2 for a bad
/// flag, 0 for `-h`), as Go does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// What to print.
    pub text: String,
    /// The exit code.
    pub code: u8,
}

/// The usage text Go's flag package prints.
pub fn usage() -> String {
    "Usage of ferrodns:\n\
     \x20 -conf string\n\
     \x20   \tCorefile to load (default \"Corefile\")\n\
     \x20 -dns.port string\n\
     \x20   \tDefault port (default \"53\")\n\
     \x20 -p string\n\
     \x20   \tDefault port (default \"53\")\n\
     \x20 -pidfile string\n\
     \x20   \tPath to write pid file\n\
     \x20 -plugins\n\
     \x20   \tList installed plugins\n\
     \x20 -quiet\n\
     \x20   \tQuiet mode (no initialization output)\n\
     \x20 -version\n\
     \x20   \tShow version\n"
        .to_string()
}

/// Reads the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, Exit> {
    let mut flags = Flags::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            flags.rest.push(arg);
            break;
        };
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(bad(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        match name {
            "h" | "help" => return Err(Exit { text: usage(), code: 0 }),
            "plugins" | "version" | "quiet" => {
                let value = match inline.as_deref() {
                    None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => true,
                    Some("false" | "0" | "f" | "F" | "FALSE" | "False") => false,
                    Some(v) => {
                        return Err(bad(format!(
                            "invalid boolean value {v:?} for -{name}: parse error"
                        )));
                    }
                };
                match name {
                    "plugins" => flags.plugins = value,
                    "version" => flags.version = value,
                    _ => flags.quiet = value,
                }
            }
            "conf" | "dns.port" | "p" | "pidfile" => {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or_else(|| bad(format!("flag needs an argument: -{name}")))?,
                };
                match name {
                    "conf" => flags.conf = (!value.is_empty()).then_some(value),
                    "pidfile" => flags.pidfile = (!value.is_empty()).then_some(value),
                    _ => flags.dns_port = value,
                }
            }
            _ => return Err(bad(format!("flag provided but not defined: -{name}"))),
        }
    }
    flags.rest.extend(args);
    Ok(flags)
}

fn bad(first: String) -> Exit {
    Exit { text: format!("{first}\n{}", usage()), code: 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Flags, Exit> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        assert_eq!(p(&[]).unwrap(), Flags::default());
    }

    #[test]
    fn value_forms() {
        let f = p(&["-conf", "/etc/coredns/Corefile", "-dns.port=1053", "--quiet"]).unwrap();
        assert_eq!(f.conf.as_deref(), Some("/etc/coredns/Corefile"));
        assert_eq!(f.dns_port, "1053");
        assert!(f.quiet);
        assert_eq!(p(&["-p", "5353"]).unwrap().dns_port, "5353");
        assert_eq!(p(&["-pidfile=/run/x.pid"]).unwrap().pidfile.as_deref(), Some("/run/x.pid"));
        assert!(!p(&["-quiet=false"]).unwrap().quiet);
        assert!(p(&["-version", "-plugins"]).map(|f| f.version && f.plugins).unwrap());
    }

    #[test]
    fn positional_arguments_are_collected() {
        assert_eq!(p(&["-quiet", "extra", "-conf", "x"]).unwrap().rest, ["extra", "-conf", "x"]);
        assert_eq!(p(&["--", "-quiet"]).unwrap().rest, ["-quiet"]);
    }

    #[test]
    fn errors_exit_2_like_go() {
        let e = p(&["-nope"]).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.text.starts_with("flag provided but not defined: -nope\n"));
        assert_eq!(
            p(&["-conf"]).unwrap_err().text.lines().next(),
            Some("flag needs an argument: -conf")
        );
        assert_eq!(p(&["-quiet=maybe"]).unwrap_err().code, 2);
        assert_eq!(p(&["-h"]).unwrap_err().code, 0);
    }
}
