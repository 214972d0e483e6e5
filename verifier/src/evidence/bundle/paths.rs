//! The path rules of a bundle (`spec/bundle.md` section 5.1): every path the manifest lists and
//! every entry a tar or directory holds is checked here before it is used to name a file.

/// The top-level folders a bundle may hold (besides `manifest.json`).
pub const ROOTS: [&str; 5] = ["ledger", "artifacts", "lake", "git", "warehouse"];

/// The manifest's own name.
pub const MANIFEST: &str = "manifest.json";

/// Longest path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest path component, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Most components in a path (directory depth).
pub const MAX_DEPTH: usize = 32;

/// The problem with a path naming a file inside the bundle, or `None` when it is valid.
pub fn check_file_path(path: &str) -> Option<&'static str> {
    if let Some(p) = check_shape(path) {
        return Some(p);
    }
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or_default();
    if !ROOTS.contains(&first) {
        return Some("is not under ledger/, artifacts/, lake/, git/ or warehouse/");
    }
    if !path.contains('/') {
        return Some("names a top-level folder, not a file");
    }
    None
}

/// The rules that make a path safe to name a file with (no escape, no control characters,
/// bounded length and depth), whatever folder it is in. An entry of a bundle that breaks them is
/// refused; one that keeps them but is not listed in the manifest is merely unexpected.
pub fn check_shape(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Some("is longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return Some("is absolute");
    }
    if path.ends_with('/') {
        return Some("ends with /");
    }
    if path.contains('\\') {
        return Some("contains a backslash");
    }
    if path.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}') {
        return Some("contains a NUL or control character");
    }
    let mut depth = 0usize;
    for part in path.split('/') {
        depth += 1;
        match part {
            "" => return Some("has an empty component"),
            "." => return Some("has a . component"),
            ".." => return Some("has a .. component"),
            p if p.len() > MAX_COMPONENT_BYTES => {
                return Some("has a component longer than 255 bytes");
            }
            _ => {}
        }
    }
    if depth > MAX_DEPTH {
        return Some("is more than 32 components deep");
    }
    None
}

/// The key two paths collide on when a case-insensitive file system unpacks them.
pub fn fold(path: &str) -> String {
    path.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_follow_the_rules() {
        assert_eq!(check_file_path("artifacts/a.parquet"), None);
        assert_eq!(check_file_path("lake/t/_delta_log/0.json"), None);
        for bad in [
            "",
            "/etc/passwd",
            "artifacts/../x",
            "artifacts/./x",
            "artifacts//x",
            "artifacts/x/",
            "artifacts\\x",
            "artifacts/a\0b",
            "other/x",
            "artifacts",
            "manifest.json",
        ] {
            assert!(check_file_path(bad).is_some(), "{bad:?} accepted");
        }
        assert_eq!(check_shape("artifacts"), None);
        assert_eq!(check_shape("other/x"), None);
        assert!(check_shape("..").is_some());
        let deep = format!("lake/{}f", "d/".repeat(31));
        assert!(check_file_path(&deep).is_some());
        let ok = format!("lake/{}f", "d/".repeat(30));
        assert_eq!(check_file_path(&ok), None);
    }
}
