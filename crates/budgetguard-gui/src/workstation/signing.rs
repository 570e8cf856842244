//! Signing a package from the create form: the key's path as typed, its
//! password as one Create request carries it (never stored, never shown),
//! and what the form says of the key before Create.

use std::path::{Path, PathBuf};

use budgetguard::signing::{SigningError, SigningKey, TrustedKey};
use serde::Deserialize;

use crate::messages::{signing_error, Field, Message};
use crate::paths::expand;

/// A key's password, as the Create request carries it. It is not part of
/// the saved settings, and its `Debug` hides it, so no log or error shows
/// it.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Password(<empty>)"
        } else {
            "Password(<hidden>)"
        })
    }
}

impl Password {
    /// The password, `None` when the field was left empty.
    fn into_option(self) -> Option<String> {
        (!self.0.is_empty()).then_some(self.0)
    }
}

/// The key typed into the form, `None` when the field is empty.
fn key_path(typed: &str) -> Option<PathBuf> {
    (!typed.trim().is_empty()).then(|| expand(typed))
}

/// Opens the key typed into the form with `password` (the key derivation
/// takes a moment, so off the async threads); `None` when the field is
/// empty: the package is not signed.
pub(crate) async fn open_key(
    typed: &str,
    password: Password,
) -> Result<Option<SigningKey>, Message> {
    let Some(path) = key_path(typed) else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || SigningKey::open(&path, password.into_option()))
        .await
        .expect("opening a key does not panic")
        .map(Some)
        .map_err(|e| signing_error(&e, Field::SignKey))
}

/// What the form says of the key before Create: the key's id, whether it
/// needs its password, or why it cannot sign (at its field). Reads the key
/// without a password, which stops before any key derivation.
pub(crate) fn key_note(typed: &str) -> Result<String, Message> {
    let Some(path) = key_path(typed) else {
        return Ok("None: the package is not signed".to_owned());
    };
    match SigningKey::open(&path, None) {
        Ok(key) => Ok(format!("Key {}", key.id())),
        Err(SigningError::NeedsPassword { .. }) => Ok(match public_id(&path) {
            Some(id) => format!("Key {id}, protected by a password: enter it below"),
            None => "A key protected by a password: enter it below".to_owned(),
        }),
        Err(e) => Err(signing_error(&e, Field::SignKey)),
    }
}

/// The public key file beside the secret key `path` (`<path>.pub`, as a
/// key pair is made).
fn public_beside(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", path.display()))
}

/// The id of the public key beside the secret key `path`, when it is there.
fn public_id(path: &Path) -> Option<String> {
    TrustedKey::read(&public_beside(path)).ok().map(|k| k.id())
}

/// The public key file beside the secret key `path` when it is the one of
/// key `id` (another key's `.pub` must not travel in its place).
pub(crate) fn matching_public_key(path: &Path, id: &str) -> Option<PathBuf> {
    (public_id(path).as_deref() == Some(id)).then(|| public_beside(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        let password: Password = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(format!("{password:?}"), "Password(<hidden>)");
        assert_eq!(password.into_option().as_deref(), Some("hunter2"));
        assert_eq!(Password::default().into_option(), None);
    }

    #[test]
    fn only_the_signing_keys_own_public_file_travels() {
        let dir = tempfile::tempdir().unwrap();
        let ours = budgetguard::signing::generate(&dir.path().join("ours.key"), None).unwrap();
        let other = budgetguard::signing::generate(&dir.path().join("other.key"), None).unwrap();
        assert_eq!(
            matching_public_key(&ours.secret, &ours.key_id),
            Some(ours.public.clone())
        );
        // Another key's public file where ours should be: not named.
        std::fs::copy(&other.public, &ours.public).unwrap();
        assert_eq!(matching_public_key(&ours.secret, &ours.key_id), None);
        std::fs::remove_file(&ours.public).unwrap();
        assert_eq!(matching_public_key(&ours.secret, &ours.key_id), None);
    }

    #[tokio::test]
    async fn the_form_says_which_key_signs_and_what_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(key_note(" ").unwrap().starts_with("None"));
        let plain = budgetguard::signing::generate(&dir.path().join("plain.key"), None).unwrap();
        let note = key_note(plain.secret.to_str().unwrap()).unwrap();
        assert_eq!(note, format!("Key {}", plain.key_id));
        let locked =
            budgetguard::signing::generate(&dir.path().join("locked.key"), Some("pw".into()))
                .unwrap();
        let typed = locked.secret.to_str().unwrap();
        let note = key_note(typed).unwrap();
        assert!(
            note.contains(&locked.key_id) && note.contains("password"),
            "{note}"
        );
        let refused = key_note(locked.public.to_str().unwrap()).unwrap_err();
        assert_eq!(refused.field, Some(Field::SignKey));

        let missing = open_key(typed, Password::default()).await.unwrap_err();
        assert_eq!(missing.field, Some(Field::KeyPassword));
        let wrong = open_key(typed, Password("nope".into())).await.unwrap_err();
        assert_eq!(wrong.field, Some(Field::KeyPassword));
        let key = open_key(typed, Password("pw".into())).await.unwrap();
        assert_eq!(key.unwrap().id(), locked.key_id);
        assert!(open_key("", Password::default()).await.unwrap().is_none());
    }
}

/// A key pair made in the GUI, as the page says it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MadeKeys {
    /// The secret key file, for the "Sign with key" field.
    pub secret: String,
    /// The public key file, to send with signed packages.
    pub public: String,
    /// The key id.
    pub key_id: String,
}

/// Makes a key pair at `typed` (the secret key; the public key beside it
/// as `<secret>.pub`), protected by `password` unless it is empty, which
/// `repeated` must match. Existing files are never replaced.
pub(crate) async fn make_key_pair(
    typed: &str,
    password: Password,
    repeated: Password,
) -> Result<MadeKeys, Message> {
    let Some(secret) = key_path(typed) else {
        return Err(Message::at(
            Field::NewKey,
            "Enter where to save the secret key, e.g. ~/keys/techops.key.",
        ));
    };
    if password.0 != repeated.0 {
        return Err(Message::at(
            Field::NewKeyRepeat,
            "The two passwords differ: type the same password twice.",
        ));
    }
    if let Some(folder) = secret.parent().filter(|f| !f.is_dir()) {
        return Err(Message::at(
            Field::NewKey,
            format!(
                "There is no folder “{}”: create it, or choose another place.",
                folder.display()
            ),
        ));
    }
    let password = password.into_option();
    tokio::task::spawn_blocking(move || budgetguard::signing::generate(&secret, password))
        .await
        .expect("making a key does not panic")
        .map(|files| MadeKeys {
            secret: files.secret.display().to_string(),
            public: files.public.display().to_string(),
            key_id: files.key_id,
        })
        .map_err(|e| signing_error(&e, Field::NewKey))
}
