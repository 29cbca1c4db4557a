//! The settings file: loaded once at launch, written atomically on change.
//!
//! A file that cannot be read or parsed never stops the app: it is moved
//! aside (kept, so nothing the user set is lost for good), defaults load, and
//! the UI is told once through [`LoadNotice`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use peercall_signal::settings::Settings;
use peercall_signal::shell::{LoadNotice, SettingsSnapshot};

use crate::AppError;

/// Environment variable that points the settings at another directory
/// (tests use a temporary one; never needed in normal use).
pub const CONFIG_DIR_ENV: &str = "PEERCALL_CONFIG_DIR";

const FILE_NAME: &str = "settings.json";

/// The stored settings, managed as Tauri state.
pub struct SettingsStore {
    path: PathBuf,
    current: Mutex<Settings>,
    notice: Mutex<Option<LoadNotice>>,
}

impl SettingsStore {
    /// Loads `dir/settings.json`, falling back to defaults as described above.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(FILE_NAME);
        let (settings, notice) = match std::fs::read(&path) {
            Ok(bytes) => match std::str::from_utf8(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|text| Settings::from_stored_json(text).map_err(|e| e.to_string()))
                .and_then(|s| match s.validate() {
                    Ok(()) => Ok(s),
                    Err(errors) => Err(format!("{} invalid field(s)", errors.len())),
                }) {
                Ok(settings) => (settings, None),
                Err(reason) => {
                    let backup = set_aside(&path);
                    tracing::warn!(%reason, backup = %backup.display(), "settings file is damaged; using defaults");
                    (
                        Settings::default(),
                        Some(LoadNotice::Corrupt {
                            backup: backup.display().to_string(),
                        }),
                    )
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                (Settings::default(), None)
            }
            Err(error) => {
                let backup = set_aside(&path);
                tracing::warn!(%error, "settings file is unreadable; using defaults");
                (
                    Settings::default(),
                    Some(LoadNotice::Corrupt {
                        backup: backup.display().to_string(),
                    }),
                )
            }
        };
        Self {
            path,
            current: Mutex::new(settings),
            notice: Mutex::new(notice),
        }
    }

    /// The settings in force.
    pub fn get(&self) -> Settings {
        self.current.lock().expect("settings lock").clone()
    }

    /// The settings plus the one-time notice (taken: the next call has none).
    pub fn snapshot(&self) -> SettingsSnapshot {
        SettingsSnapshot {
            settings: self.get(),
            notice: self.notice.lock().expect("notice lock").take(),
            path: self.path.display().to_string(),
        }
    }

    /// Validates and stores `settings`; on any error nothing is written.
    pub fn update(&self, settings: Settings) -> Result<Settings, AppError> {
        settings.validate().map_err(AppError::InvalidSettings)?;
        let mut current = self.current.lock().expect("settings lock");
        write_atomically(&self.path, &settings)?;
        *current = settings;
        Ok(current.clone())
    }

    /// Back to defaults (kept on disk too).
    pub fn reset(&self) -> Result<Settings, AppError> {
        self.update(Settings::default())
    }
}

/// Write to a temporary file in the same directory, flush it to disk, then
/// rename over the old one: a crash leaves either the old or the new file,
/// never half of one.
fn write_atomically(path: &Path, settings: &Settings) -> Result<(), AppError> {
    use std::io::Write;
    let io = |e: std::io::Error| AppError::SettingsIo(e.to_string());
    let dir = path.parent().expect("settings path has a directory");
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("json.tmp");
    let mut json = serde_json::to_vec_pretty(settings).expect("settings serialize");
    json.push(b'\n');
    let mut file = private_file(&tmp).map_err(io)?;
    file.write_all(&json).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// Creates (or truncates) `path` readable and writable by this user only:
/// settings can hold TURN credentials. (On Windows the profile directory's
/// ACL already keeps other users out.)
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // `mode` applies only to a file it creates: make sure of a leftover too.
    make_private(path)?;
    Ok(file)
}

/// Takes every permission but the owner's away from `path` (Unix).
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Moves a damaged file to `settings.json.corrupt-<unix time>` (private,
/// like the settings it was) and returns the new path.
fn set_aside(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let backup = path.with_extension(format!("json.corrupt-{stamp}"));
    if let Err(error) = std::fs::rename(path, &backup).and_then(|()| make_private(&backup)) {
        tracing::error!(%error, "could not set the damaged settings file aside");
    }
    backup
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("peercall-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn missing_file_gives_defaults_without_notice() {
        let store = SettingsStore::load(&temp_dir("missing"));
        let snapshot = store.snapshot();
        assert_eq!(snapshot.settings, Settings::default());
        assert_eq!(snapshot.notice, None);
    }

    #[test]
    fn updates_are_written_and_reloaded() {
        let dir = temp_dir("update");
        let store = SettingsStore::load(&dir);
        let mut settings = store.get();
        settings.display_name = "Jisoo".into();
        store.update(settings.clone()).unwrap();
        assert!(
            !dir.join("settings.json.tmp").exists(),
            "temp file left behind"
        );
        assert_eq!(SettingsStore::load(&dir).get(), settings);
    }

    #[test]
    fn invalid_updates_write_nothing() {
        let dir = temp_dir("invalid");
        let store = SettingsStore::load(&dir);
        let mut settings = store.get();
        settings.video.frame_rate = 500;
        match store.update(settings) {
            Err(AppError::InvalidSettings(errors)) => {
                assert_eq!(errors[0].field, "video.frame_rate")
            }
            other => panic!("expected a field error, got {other:?}"),
        }
        assert!(!dir.join("settings.json").exists());
        assert_eq!(store.get(), Settings::default());
    }

    /// Settings can hold TURN credentials: only their owner may read them,
    /// whatever the umask, and a file an older version wrote 0644 becomes
    /// private on the next save.
    #[cfg(unix)]
    #[test]
    fn settings_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = temp_dir("private");
        let path = dir.join("settings.json");
        std::fs::write(&path, b"{\"version\": 2}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = SettingsStore::load(&dir);
        let mut settings = store.get();
        settings.display_name = "Jisoo".into();
        store.update(settings).unwrap();
        assert_eq!(mode(&path), 0o600);

        std::fs::write(&path, b"{ damaged").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Some(LoadNotice::Corrupt { backup }) = SettingsStore::load(&dir).snapshot().notice
        else {
            panic!("no notice for a damaged file");
        };
        assert_eq!(mode(Path::new(&backup)), 0o600);
    }

    #[test]
    fn corrupt_file_is_set_aside_and_reported_once() {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join("settings.json"), b"{ this is not json").unwrap();
        let store = SettingsStore::load(&dir);
        let first = store.snapshot();
        assert_eq!(first.settings, Settings::default());
        let Some(LoadNotice::Corrupt { backup }) = first.notice else {
            panic!("no notice for a corrupt file");
        };
        assert_eq!(std::fs::read(&backup).unwrap(), b"{ this is not json");
        assert!(!dir.join("settings.json").exists());
        assert_eq!(store.snapshot().notice, None, "the notice is given once");
    }
}
