//! Finding the Corefile, as CoreDNS does: `-conf FILE` (or `-conf stdin`), else `./Corefile`,
//! else the built-in `.:<port> { whoami log }`.

use std::io::{IsTerminal, Read};

use plugin_api::pkg::os::error_words;

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
                let mut bytes = Vec::new();
                stdin
                    .lock()
                    .take(MAX_COREFILE_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("read stdin: {e}"))?;
                if bytes.len() as u64 > MAX_COREFILE_BYTES {
                    return Err(format!("read stdin: larger than {MAX_COREFILE_BYTES} bytes"));
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                return Ok(Source { filename: "/dev/stdin".into(), text, path: None, dns_port });
            }
        }
        Some(path) => {
            let text = read(path)?;
            return Ok(Source { filename: path.into(), text, path: Some(path.into()), dns_port });
        }
        None => {}
    }
    if std::path::Path::new(DEFAULT_FILE).symlink_metadata().is_ok() {
        return Ok(Source {
            filename: DEFAULT_FILE.into(),
            text: read(DEFAULT_FILE)?,
            path: Some(DEFAULT_FILE.into()),
            dns_port,
        });
    }
    Ok(Source {
        filename: DEFAULT_FILE.into(),
        text: format!(".:{dns_port} {{\nwhoami\nlog\n}}\n"),
        path: None,
        dns_port,
    })
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

/// The largest Corefile read; a bigger input (say `-conf /dev/zero`) is an error, not a hang.
pub const MAX_COREFILE_BYTES: u64 = 64 << 20;

fn read(path: &str) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("open {path}: {}", error_words(&e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_COREFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("read {path}: {}", error_words(&e)))?;
    if bytes.len() as u64 > MAX_COREFILE_BYTES {
        return Err(format!("read {path}: larger than {MAX_COREFILE_BYTES} bytes"));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
