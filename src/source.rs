//! Finding the Corefile, as CoreDNS does: `-conf FILE` (or `-conf stdin`), else `./Corefile`,
//! else the built-in `.:<port> { whoami log }`.

use std::io::{IsTerminal, Read};

use crate::cli::Flags;
use crate::config::Source;

/// The Corefile to load for `flags`. The error is worded like Go's file errors.
pub fn load(flags: &Flags) -> Result<Source, String> {
    let dns_port = flags.dns_port.clone();
    match flags.conf.as_deref() {
        Some("stdin") => {
            let stdin = std::io::stdin();
            // A terminal is no Corefile: CoreDNS then falls back to the other loaders.
            if !stdin.is_terminal() {
                let mut text = String::new();
                stdin.lock().read_to_string(&mut text).map_err(|e| format!("read stdin: {e}"))?;
                return Ok(Source { filename: "/dev/stdin".into(), text, path: None, dns_port });
            }
        }
        Some(path) => {
            let text = read(path)?;
            return Ok(Source { filename: path.into(), text, path: Some(path.into()), dns_port });
        }
        None => {}
    }
    match std::fs::read(DEFAULT_FILE) {
        Ok(bytes) => Ok(Source {
            filename: DEFAULT_FILE.into(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            path: Some(DEFAULT_FILE.into()),
            dns_port,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Source {
            filename: DEFAULT_FILE.into(),
            text: format!(".:{dns_port} {{\nwhoami\nlog\n}}\n"),
            path: None,
            dns_port,
        }),
        Err(e) => Err(format!("open {DEFAULT_FILE}: {}", go_error(&e))),
    }
}

/// The Corefile looked for in the working directory.
pub const DEFAULT_FILE: &str = "Corefile";

/// `source` with its text read again from its file, if it has one.
pub fn reread(source: &Source) -> Result<Source, String> {
    let mut next = source.clone();
    if let Some(path) = &source.path {
        next.text = read(path)?;
    }
    Ok(next)
}

fn read(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("open {path}: {}", go_error(&e)))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// An I/O error in the words Go's `os` package uses, which operators grep for.
pub fn go_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}
