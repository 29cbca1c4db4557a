//! Static files served over plain HTTP on the signaling port.
//!
//! The server only decides *which* path is asked for; where the bytes come
//! from is a [`StaticFiles`] implementation: [`DirFiles`] for a folder on disk
//! (the headless binary's `--serve-ui`), or the desktop app's own type for the
//! assets embedded in its executable.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A source of files for the HTTP side of the server.
///
/// `get` is called from a blocking-capable thread (the server wraps it in
/// `spawn_blocking`), so reading from disk is fine.
pub trait StaticFiles: Send + Sync + 'static {
    /// The file at `path`, or `None` for 404.
    ///
    /// `path` is already percent-decoded and normalized: relative (no leading
    /// `/`), `/`-separated, never empty, with no `.`/`..` segments, backslashes,
    /// colons or NUL bytes. `/` is asked for as `index.html`, and a path
    /// ending in `/` as `<dir>/index.html`.
    fn get(&self, path: &str) -> Option<StaticFile>;
}

/// One file's contents and type.
#[derive(Clone)]
pub struct StaticFile {
    /// The contents; borrowed for assets compiled into the binary.
    pub bytes: Cow<'static, [u8]>,
    /// The `Content-Type` header value, e.g. from [`content_type_for_path`].
    pub content_type: String,
}

impl fmt::Debug for StaticFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFile")
            .field("len", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// The `Content-Type` for a file path, by extension: `application/wasm` for
/// `.wasm` (browsers refuse streaming compilation otherwise), UTF-8 charset on
/// text types, `application/octet-stream` when unknown.
pub fn content_type_for_path(path: &str) -> String {
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Pin the types browsers are strict about instead of trusting the table.
    let mime = match extension.as_str() {
        "wasm" => "application/wasm".to_owned(),
        "js" | "mjs" => "text/javascript".to_owned(),
        "html" | "htm" => "text/html".to_owned(),
        "css" => "text/css".to_owned(),
        "json" | "map" => "application/json".to_owned(),
        _ => mime_guess::from_ext(&extension)
            .first_or_octet_stream()
            .essence_str()
            .to_owned(),
    };
    let texty = mime.starts_with("text/") || mime == "application/json" || mime == "image/svg+xml";
    if texty {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    }
}

/// Whether `path` is a normalized relative path as [`StaticFiles::get`]
/// receives it (see there). Anything else could escape a root directory.
pub(crate) fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && !segment.contains(['\\', ':', '\0'])
        })
}

/// Files from a directory on disk.
#[derive(Debug, Clone)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    /// Serves files below `root`, which must be an existing directory.
    /// Symlinks are followed only when they stay inside it.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self { root })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl StaticFiles for DirFiles {
    fn get(&self, path: &str) -> Option<StaticFile> {
        // The server normalizes paths already; check again because this type
        // is public and may be handed paths from elsewhere.
        if !is_safe_relative_path(path) {
            return None;
        }
        let full = self.root.join(path).canonicalize().ok()?;
        // Canonicalizing resolved symlinks: refuse any that lead outside.
        if !full.starts_with(&self.root) || !full.is_file() {
            return None;
        }
        let bytes = std::fs::read(&full).ok()?;
        Some(StaticFile {
            bytes: Cow::Owned(bytes),
            content_type: content_type_for_path(path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type_for_path("app_bg.wasm"), "application/wasm");
        assert_eq!(content_type_for_path("A.WASM"), "application/wasm");
        assert_eq!(
            content_type_for_path("index.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type_for_path("x/app.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type_for_path("logo.png"), "image/png");
        assert_eq!(content_type_for_path("noext"), "application/octet-stream");
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative_path("index.html"));
        assert!(is_safe_relative_path("a/b.c/d"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a\\..\\b",
            "C:/x",
            "a\0",
            "a/",
        ] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn dir_files_stay_inside() {
        let base = std::env::temp_dir().join(format!("peercall-dirfiles-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "inside").unwrap();
        std::fs::write(base.join("secret.txt"), "outside").unwrap();
        let files = DirFiles::new(&root).unwrap();
        assert_eq!(&*files.get("sub/a.txt").unwrap().bytes, b"inside");
        assert!(files.get("../secret.txt").is_none());
        assert!(files.get("sub").is_none(), "directories are not files");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link.txt")).unwrap();
            assert!(files.get("link.txt").is_none(), "symlink out of the root");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
