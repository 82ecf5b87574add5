//! Path rules (`PathUtils.validatePath`) and helpers.

/// Why a path was rejected; the server answers BadArguments either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct InvalidPath {
    pub path: String,
    pub reason: &'static str,
}

/// Validates a full path as ZooKeeper does.
pub fn validate(path: &str) -> Result<(), InvalidPath> {
    let bad = |reason| {
        Err(InvalidPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("path length must be > 0");
    }
    if !path.starts_with('/') {
        return bad("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return bad("path must not end with / character");
    }
    for comp in path[1..].split('/') {
        if comp.is_empty() {
            return bad("empty node name specified");
        }
        if comp == "." || comp == ".." {
            return bad("relative paths not allowed");
        }
    }
    for c in path.chars() {
        let u = c as u32;
        if u == 0 {
            return bad("null character not allowed");
        }
        if (0x01..=0x1f).contains(&u)
            || (0x7f..=0x9f).contains(&u)
            || (0xd800..=0xf8ff).contains(&u)
            || (0xfff0..=0xffff).contains(&u)
        {
            return bad("invalid character");
        }
    }
    Ok(())
}

/// The parent of a valid path ("/" for top-level nodes). `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a path.
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/...", "/zookeeper", "/a/\u{e9}"] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//a",
            "/a//b",
            "/.",
            "/a/..",
            "/a\0b",
            "/a\u{1}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{85}",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/"), None);
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
