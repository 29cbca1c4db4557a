//! Received files, written into the Downloads folder as they arrive (the
//! contract: [`peercall_signal::shell::save`]).
//!
//! A save is a hidden part file beside where the file will go, written in
//! order and hashed as it is written; finishing checks the byte count and
//! the SHA-256 the sender announced, flushes it to disk and renames it to
//! the sender's name, made safe and unique in the folder. Whatever fails,
//! is aborted, or is still open when the app quits leaves no part file.
//! At most [`MAX_OPEN`] saves are open; opening one more drops the one
//! written to least recently (a page that went away without aborting).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use peercall_signal::shell::save::{SaveFailure, SaveId, SavedFile};
use sha2::{Digest, Sha256};

/// How many saves may be open at once.
pub const MAX_OPEN: usize = 16;

/// The longest file name kept, in bytes (most file systems allow 255; room
/// is left for a ` (12)` and the part file's prefix and suffix).
const MAX_NAME_BYTES: usize = 200;

/// What saving failed with, with the cause for the log.
#[derive(Debug, thiserror::Error)]
#[error("saving a received file: {failure:?}: {detail}")]
pub struct SaveError {
    /// How it failed, as the UI tells it apart.
    pub failure: SaveFailure,
    /// What happened, for the log.
    pub detail: String,
}

impl SaveError {
    fn new(failure: SaveFailure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            detail: detail.into(),
        }
    }

    fn storage(error: std::io::Error, doing: &str, path: &Path) -> Self {
        Self::new(
            SaveFailure::Storage,
            format!("{doing} {}: {error}", path.display()),
        )
    }
}

/// One file being written.
struct Save {
    file: File,
    part: PathBuf,
    name: String,
    size: u64,
    written: u64,
    hasher: Sha256,
    touched: Instant,
}

impl Drop for Save {
    /// A save that never finished takes its part file with it (after a
    /// finish the part file has its final name and this finds nothing).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.part);
    }
}

/// The open saves (managed state).
pub struct Saves {
    folder: PathBuf,
    open: Mutex<HashMap<SaveId, Arc<Mutex<Save>>>>,
    next: Mutex<u32>,
}

impl Saves {
    /// Saves into `folder` (created when the first save opens).
    pub fn new(folder: PathBuf) -> Self {
        Self {
            folder,
            open: Mutex::new(HashMap::new()),
            next: Mutex::new(0),
        }
    }

    /// The user's Downloads folder: `XDG_DOWNLOAD_DIR` when set (as
    /// `xdg-user-dir` honours it), else the system's (`download_dir`),
    /// else `Downloads` in the home folder.
    pub fn downloads(system: Option<PathBuf>) -> PathBuf {
        std::env::var_os("XDG_DOWNLOAD_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or(system)
            .or_else(|| std::env::home_dir().map(|home| home.join("Downloads")))
            .unwrap_or_else(|| PathBuf::from("Downloads"))
    }

    /// Starts a save of `size` bytes to be called `name`.
    pub fn open(&self, name: &str, size: u64) -> Result<SaveId, SaveError> {
        std::fs::create_dir_all(&self.folder)
            .map_err(|e| SaveError::storage(e, "creating", &self.folder))?;
        let name = safe_name(name);
        let id = {
            let mut next = self.next.lock().expect("save ids");
            *next = next.wrapping_add(1);
            SaveId(*next)
        };
        let part = self
            .folder
            .join(format!(".{name}.{}-{}.part", std::process::id(), id.0));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|e| SaveError::storage(e, "creating", &part))?;
        let save = Save {
            file,
            part,
            name,
            size,
            written: 0,
            hasher: Sha256::new(),
            touched: Instant::now(),
        };
        let mut open = self.open.lock().expect("saves");
        if open.len() >= MAX_OPEN {
            let stalest = open
                .iter()
                .min_by_key(|(_, save)| save.lock().map(|s| s.touched).ok())
                .map(|(id, _)| *id);
            if let Some(stalest) = stalest {
                tracing::warn!(
                    ?stalest,
                    "too many files being received: dropping the stalest"
                );
                open.remove(&stalest);
            }
        }
        open.insert(id, Arc::new(Mutex::new(save)));
        Ok(id)
    }

    fn get(&self, id: SaveId) -> Result<Arc<Mutex<Save>>, SaveError> {
        self.open
            .lock()
            .expect("saves")
            .get(&id)
            .cloned()
            .ok_or_else(|| SaveError::new(SaveFailure::Unknown, format!("no save {}", id.0)))
    }

    /// Appends `bytes`; answers how many the file holds now. Past the
    /// announced size, or when the disk refuses, the save is dropped.
    pub fn write(&self, id: SaveId, bytes: &[u8]) -> Result<u64, SaveError> {
        let save = self.get(id)?;
        let mut save = save.lock().expect("save");
        let outcome = if save.written + bytes.len() as u64 > save.size {
            Err(SaveError::new(
                SaveFailure::TooLong,
                format!("{} bytes announced", save.size),
            ))
        } else {
            save.file
                .write_all(bytes)
                .map_err(|e| SaveError::storage(e, "writing", &save.part))
        };
        match outcome {
            Ok(()) => {
                save.hasher.update(bytes);
                save.written += bytes.len() as u64;
                save.touched = Instant::now();
                Ok(save.written)
            }
            Err(error) => {
                drop(save);
                self.open.lock().expect("saves").remove(&id);
                Err(error)
            }
        }
    }

    /// Checks the save holds every byte and hashes to `sha256`, then gives
    /// it its name. Either way the save is closed.
    pub fn finish(&self, id: SaveId, sha256: &str) -> Result<SavedFile, SaveError> {
        let save = self
            .open
            .lock()
            .expect("saves")
            .remove(&id)
            .ok_or_else(|| SaveError::new(SaveFailure::Unknown, format!("no save {}", id.0)))?;
        let mut save = save.lock().expect("save");
        if save.written != save.size {
            return Err(SaveError::new(
                SaveFailure::Incomplete,
                format!("{} of {} bytes", save.written, save.size),
            ));
        }
        let hash = hex(&std::mem::take(&mut save.hasher).finalize());
        if !hash.eq_ignore_ascii_case(sha256.trim()) {
            return Err(SaveError::new(
                SaveFailure::Corrupt,
                format!("hashes to {hash}, {sha256} announced"),
            ));
        }
        save.file
            .sync_all()
            .map_err(|e| SaveError::storage(e, "flushing", &save.part))?;
        let target = unique_path(&self.folder, &save.name);
        std::fs::rename(&save.part, &target)
            .map_err(|e| SaveError::storage(e, "naming", &target))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tracing::info!(file = %target.display(), bytes = save.size, "received file saved");
        Ok(SavedFile {
            name,
            folder: self.folder.display().to_string(),
        })
    }

    /// Drops a save and its part file; an unknown one is already gone.
    pub fn abort(&self, id: SaveId) {
        self.open.lock().expect("saves").remove(&id);
    }

    /// Drops every open save (the app is quitting).
    pub fn abort_all(&self) {
        self.open.lock().expect("saves").clear();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name` as a file name every desktop system accepts: no folders, no
/// characters Windows or the shell's file managers refuse, no leading dot
/// (hidden), no reserved Windows device names, at most
/// [`MAX_NAME_BYTES`], never empty.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut safe: String = base
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    safe = safe
        .trim_matches(|c: char| c.is_whitespace() || c == '.')
        .to_owned();
    let stem = safe
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        safe.insert(0, '_');
    }
    if safe.len() > MAX_NAME_BYTES {
        let (stem, extension) = split_extension(&safe);
        let keep = MAX_NAME_BYTES.saturating_sub(extension.len());
        let mut cut = keep.min(stem.len());
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        safe = format!("{}{extension}", &stem[..cut]);
    }
    if safe.is_empty() {
        safe = "received file".to_owned();
    }
    safe
}

/// `("report", ".pdf")` from `report.pdf`; a name without a dot (or with
/// only a leading one) has no extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// `folder/name`, or `folder/name (2).ext`, `(3)`… where that is taken.
fn unique_path(folder: &Path, name: &str) -> PathBuf {
    let first = folder.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, extension) = split_extension(name);
    (2..)
        .map(|n| folder.join(format!("{stem} ({n}){extension}")))
        .find(|path| !path.exists())
        .expect("an unused name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("peercall-saves-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn a_file_written_in_parts_takes_its_name_when_its_hash_matches() {
        let dir = folder("whole");
        let saves = Saves::new(dir.clone());
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let id = saves.open("report.pdf", bytes.len() as u64).unwrap();
        for chunk in bytes.chunks(30_000) {
            saves.write(id, chunk).unwrap();
        }
        let saved = saves.finish(id, &sha(&bytes).to_uppercase()).unwrap();
        assert_eq!(saved.name, "report.pdf");
        assert_eq!(std::fs::read(dir.join("report.pdf")).unwrap(), bytes);
        assert_eq!(files(&dir), ["report.pdf"], "no part file is left");

        // The same name again goes beside it.
        let id = saves.open("report.pdf", 3).unwrap();
        saves.write(id, b"abc").unwrap();
        assert_eq!(
            saves.finish(id, &sha(b"abc")).unwrap().name,
            "report (2).pdf"
        );
        assert_eq!(
            std::fs::read(dir.join("report.pdf")).unwrap(),
            bytes,
            "kept"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refused_files_leave_nothing() {
        let dir = folder("refused");
        let saves = Saves::new(dir.clone());

        let id = saves.open("a.txt", 3).unwrap();
        saves.write(id, b"abc").unwrap();
        let error = saves.finish(id, &sha(b"abd")).unwrap_err();
        assert_eq!(error.failure, SaveFailure::Corrupt);

        let id = saves.open("b.txt", 3).unwrap();
        saves.write(id, b"ab").unwrap();
        assert_eq!(
            saves.write(id, b"cd").unwrap_err().failure,
            SaveFailure::TooLong
        );
        assert_eq!(
            saves.write(id, b"c").unwrap_err().failure,
            SaveFailure::Unknown
        );

        let id = saves.open("c.txt", 3).unwrap();
        saves.write(id, b"ab").unwrap();
        assert_eq!(
            saves.finish(id, &sha(b"ab")).unwrap_err().failure,
            SaveFailure::Incomplete
        );

        let id = saves.open("d.txt", 3).unwrap();
        saves.write(id, b"ab").unwrap();
        saves.abort(id);
        saves.abort(id);
        let _left_open = saves.open("e.txt", 3).unwrap();
        drop(saves);
        assert_eq!(files(&dir), Vec::<String>::new());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn at_most_max_open_saves_the_stalest_dropped() {
        let dir = folder("bounded");
        let saves = Saves::new(dir.clone());
        let ids: Vec<SaveId> = (0..MAX_OPEN)
            .map(|n| saves.open(&format!("{n}.bin"), 1).unwrap())
            .collect();
        for id in &ids[1..] {
            saves.write(*id, b"").unwrap();
        }
        let newest = saves.open("last.bin", 1).unwrap();
        assert_eq!(
            saves.write(ids[0], b"x").unwrap_err().failure,
            SaveFailure::Unknown
        );
        saves.write(newest, b"x").unwrap();
        assert_eq!(files(&dir).len(), MAX_OPEN);
        drop(saves);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\évite.txt"), "évite.txt");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a<b>:c?.txt"), "a_b__c_.txt");
        assert_eq!(safe_name("line\nbreak"), "line_break");
        assert_eq!(safe_name("CON.txt"), "_CON.txt");
        assert_eq!(safe_name("com1"), "_com1");
        assert_eq!(safe_name("computer.txt"), "computer.txt");
        assert_eq!(safe_name(" .. "), "received file");
        assert_eq!(safe_name(""), "received file");
        let long = format!("{}.tar.gz", "가".repeat(100));
        let safe = safe_name(&long);
        assert!(
            safe.len() <= MAX_NAME_BYTES && safe.ends_with(".gz"),
            "{safe}"
        );
    }
}
