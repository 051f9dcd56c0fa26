//! I/O errors in the words Go's `os` package uses, which operators grep for in CoreDNS's logs
//! and start-up errors.

use std::io::{Error, ErrorKind};

/// The words Go prints for `e` after `open PATH: `: `no such file or directory`, `permission
/// denied`, `is a directory`; other errors as Rust words them.
pub fn error_words(e: &Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_go_prints_them() {
        let missing = std::fs::File::open("/nonexistent/ferrodns").unwrap_err();
        assert_eq!(error_words(&missing), "no such file or directory");
        let dir = std::fs::read_to_string("/").unwrap_err();
        assert_eq!(error_words(&dir), "is a directory");
        let other = Error::other("boom");
        assert_eq!(error_words(&other), "boom");
    }
}
