//! Signed packages (minisign, Ed25519). TechOps signs a package's manifest,
//! which lists the SHA-256 of every other entry, so one signature covers the
//! whole package. The signature is a standard minisign signature file, the
//! entry `budgetguard-package.json.minisig`: unzipped,
//! `minisign -V -p techops.key.pub -m budgetguard-package.json` accepts it.
//! A workstation keeps the public keys it trusts in `trusted-keys/` of its
//! install folder; once it trusts one, it installs only packages signed by a
//! key it trusts.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The entry holding the manifest's signature.
pub const SIGNATURE_ENTRY: &str = "budgetguard-package.json.minisig";

/// The largest signature file a package may carry.
pub const MAX_SIGNATURE: u64 = 4096;

/// The largest key file read (a minisign key file is a few hundred bytes).
pub const MAX_KEY: u64 = 4096;

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The key file exists already.
    #[error("`{}` already exists; choose another file, or remove it first", path.display())]
    KeyExists {
        /// The file.
        path: PathBuf,
    },
    /// The password does not open the key.
    #[error("the password does not open the key `{}`", path.display())]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// The key is protected and no password was given.
    #[error("the key `{}` is protected by a password, and none was given", path.display())]
    NeedsPassword {
        /// The key file.
        path: PathBuf,
    },
    /// The file is not a minisign key of the kind wanted.
    #[error("`{}` is not a minisign {kind} key ({detail})", path.display())]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// `secret` or `public`.
        kind: &'static str,
        /// What the parser said.
        detail: String,
    },
    /// A key could not be made or a signature computed.
    #[error("cannot {action}: {detail}")]
    Crypto {
        /// What was being done.
        action: &'static str,
        /// What the library said.
        detail: String,
    },
    /// A key file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A secret key, opened, ready to sign.
pub struct SigningKey {
    secret: minisign::SecretKey,
    public: minisign::PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &key_id(self.public.keynum()))
            .finish()
    }
}

/// A public key.
#[derive(Clone)]
pub struct TrustedKey {
    key: minisign::PublicKey,
    text: String,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id())
    }
}

/// `keygen`'s outcome.
#[derive(Debug, Clone, Serialize)]
pub struct KeyFiles {
    /// The secret key file.
    pub secret: PathBuf,
    /// The public key file (`<secret>.pub`).
    pub public: PathBuf,
    /// The key id, as minisign shows it.
    pub key_id: String,
}

/// Who signed a package, as far as this workstation can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signature", rename_all = "snake_case")]
pub enum Signer {
    /// No signature.
    Unsigned,
    /// Signed by a key this workstation trusts; the signature is valid.
    Trusted {
        /// The key id.
        key_id: String,
    },
    /// Signed by a key this workstation does not trust (so not checked).
    Untrusted {
        /// The key id.
        key_id: String,
    },
    /// Signed by a trusted key, but the signature does not match.
    Invalid {
        /// The key id.
        key_id: String,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Unsigned => f.write_str("unsigned"),
            Signer::Trusted { key_id } => write!(f, "signed by key {key_id} (trusted here)"),
            Signer::Untrusted { key_id } => write!(f, "signed by key {key_id} (not trusted here)"),
            Signer::Invalid { key_id } => write!(f, "signature of key {key_id} does NOT match"),
        }
    }
}

/// `0123456789ABCDEF`: a key number as minisign prints it.
fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

fn crypto(action: &'static str) -> impl FnOnce(minisign::PError) -> SigningError {
    move |e| SigningError::Crypto {
        action,
        detail: e.to_string(),
    }
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SigningError + 'a {
    move |source| SigningError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Makes a key pair: the secret key at `secret` (readable by the user only,
/// protected by `password` unless `None`) and the public key beside it at
/// `<secret>.pub`. Existing files are never replaced.
pub fn generate(secret: &Path, password: Option<String>) -> Result<KeyFiles, SigningError> {
    let public = PathBuf::from(format!("{}.pub", secret.display()));
    for path in [secret, public.as_path()] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(SigningError::KeyExists {
                path: path.to_owned(),
            });
        }
    }
    let pair = match password {
        Some(password) => minisign::KeyPair::generate_encrypted_keypair(Some(password)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(crypto("make a key"))?;
    let id = key_id(pair.pk.keynum());
    let secret_text = pair
        .sk
        .to_box(Some(&format!("budgetguard-techops secret key {id}")))
        .map_err(crypto("write the key"))?
        .to_string();
    let public_text = pair
        .pk
        .to_box()
        .map_err(crypto("write the key"))?
        .to_string();
    write_new(secret, &secret_text, 0o600)?;
    if let Err(e) = write_new(&public, &public_text, 0o644) {
        let _ = std::fs::remove_file(secret);
        return Err(e);
    }
    Ok(KeyFiles {
        secret: secret.to_owned(),
        public,
        key_id: id,
    })
}

/// Creates `path` (which must not exist) holding `text`, with `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), SigningError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => SigningError::KeyExists {
                path: path.to_owned(),
            },
            _ => io("write", path)(e),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write", path))
}

/// Why a key file could not be read: the file, or what it holds.
enum ReadKey {
    /// Reading failed (not a regular file, unreadable).
    Io(SigningError),
    /// It cannot be a key: too large, or not text.
    NotAKey(String),
}

impl ReadKey {
    /// The error, with `not_a_key` making it when the file is no key.
    fn or_else(self, not_a_key: impl FnOnce(String) -> SigningError) -> SigningError {
        match self {
            ReadKey::Io(e) => e,
            ReadKey::NotAKey(detail) => not_a_key(detail),
        }
    }
}

/// The text of the key file at `path`: a regular file of at most
/// [`MAX_KEY`] bytes.
fn read_key(path: &Path) -> Result<String, ReadKey> {
    let bytes = crate::files::read_small(path, MAX_KEY).map_err(|e| {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::files::TooLarge>())
        {
            Some(too_large) => ReadKey::NotAKey(too_large.to_string()),
            None => ReadKey::Io(io("read", path)(e)),
        }
    })?;
    String::from_utf8(bytes).map_err(|_| ReadKey::NotAKey("it is not text".to_owned()))
}

impl SigningKey {
    /// Opens the secret key at `path`, with `password` when it is protected.
    pub fn open(path: &Path, password: Option<String>) -> Result<Self, SigningError> {
        let not_a_key = |detail: String| SigningError::NotAKey {
            path: path.to_owned(),
            kind: "secret",
            detail,
        };
        let text = read_key(path).map_err(|e| e.or_else(not_a_key))?;
        let encoded = text
            .lines()
            .nth(1)
            .ok_or_else(|| not_a_key("too short".into()))?;
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim())
                .map_err(|e| not_a_key(e.to_string()))?;
        let parsed = minisign::SecretKey::from_bytes(&raw).map_err(|e| not_a_key(e.to_string()))?;
        let key_box =
            minisign::SecretKeyBox::from_string(&text).map_err(|e| not_a_key(e.to_string()))?;
        let secret = if parsed.is_encrypted() {
            let password = password.ok_or_else(|| SigningError::NeedsPassword {
                path: path.to_owned(),
            })?;
            key_box
                .into_secret_key(Some(password))
                .map_err(|_| SigningError::WrongPassword {
                    path: path.to_owned(),
                })?
        } else if raw.ends_with(&[0; 32]) {
            // `minisign -G -W` (0.11) leaves an unprotected key's checksum
            // empty: the key is checked by a signature of its own instead.
            parsed
        } else {
            key_box
                .into_unencrypted_secret_key()
                .map_err(|e| not_a_key(e.to_string()))?
        };
        let public =
            minisign::PublicKey::from_secret_key(&secret).map_err(crypto("read the key"))?;
        let key = Self { secret, public };
        key.check_itself()
            .map_err(|()| not_a_key("its halves do not match".into()))?;
        Ok(key)
    }

    /// Whether a signature of this key verifies with its public half.
    fn check_itself(&self) -> Result<(), ()> {
        let probe = b"budgetguard-techops key check";
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(probe),
            None,
            None,
        )
        .map_err(|_| ())?;
        minisign::verify(
            &self.public,
            &signature,
            Cursor::new(probe),
            true,
            false,
            false,
        )
        .map_err(|_| ())
    }

    /// The key id, as minisign shows it.
    pub fn id(&self) -> String {
        key_id(self.public.keynum())
    }

    /// The minisign signature file of `manifest`, whose SHA-256 (the
    /// package id) the trusted comment names.
    pub fn sign(&self, manifest: &[u8], package_id: &str) -> Result<Vec<u8>, SigningError> {
        self.sign_as(
            manifest,
            &format!("budgetguard-techops package {package_id}"),
            "signature of a budgetguard-techops install package's manifest",
        )
    }

    /// The minisign signature file of the part list `list` of a split
    /// package (see [`crate::package::split`]), whose trusted comment
    /// names the package id the parts join into.
    pub fn sign_part_list(&self, list: &[u8], package_id: &str) -> Result<Vec<u8>, SigningError> {
        self.sign_as(
            list,
            &format!("budgetguard-techops part list of package {package_id}"),
            "signature of a budgetguard-techops split package's part list",
        )
    }

    /// Signs `data` with the trusted comment `comment`.
    fn sign_as(
        &self,
        data: &[u8],
        comment: &str,
        untrusted: &str,
    ) -> Result<Vec<u8>, SigningError> {
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(comment),
            Some(untrusted),
        )
        .map_err(crypto("sign the package"))?;
        Ok(signature.into_string().into_bytes())
    }
}

impl TrustedKey {
    /// Reads a minisign public key file.
    pub fn read(path: &Path) -> Result<Self, SigningError> {
        let not_a_key = |detail: String| SigningError::NotAKey {
            path: path.to_owned(),
            kind: "public",
            detail,
        };
        let text = read_key(path).map_err(|e| e.or_else(not_a_key))?;
        Self::parse(&text).map_err(not_a_key)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let key = minisign::PublicKeyBox::from_string(text)
            .and_then(|b| b.into_public_key())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            key,
            text: text.to_owned(),
        })
    }

    /// The key id, as minisign shows it.
    pub fn id(&self) -> String {
        key_id(self.key.keynum())
    }
}

/// The key id a signature file names, if it is one.
pub fn signature_key_id(signature: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(signature).ok()?;
    let signature = minisign::SignatureBox::from_string(text).ok()?;
    Some(key_id(signature.keynum()))
}

/// Who signed `manifest`, the manifest of the package `package_id`, given
/// its signature file and the keys trusted. A signature of a trusted key is
/// valid only if it matches the manifest and its trusted comment names the
/// package id as a word (`budgetguard-techops package <id>`, or any comment
/// given to `minisign -S -t`). Prehashed and legacy signatures are both
/// accepted, as `minisign -V` accepts both.
pub fn check(
    signature: Option<&[u8]>,
    manifest: &[u8],
    package_id: &str,
    trusted: &[TrustedKey],
) -> Signer {
    let Some(signature) = signature else {
        return Signer::Unsigned;
    };
    let parsed = std::str::from_utf8(signature)
        .ok()
        .and_then(|t| minisign::SignatureBox::from_string(t).ok());
    let Some(parsed) = parsed else {
        return Signer::Invalid {
            key_id: "?".to_owned(),
        };
    };
    let id = key_id(parsed.keynum());
    match trusted.iter().find(|k| k.id() == id) {
        None => Signer::Untrusted { key_id: id },
        Some(key) => {
            let valid =
                minisign::verify(&key.key, &parsed, Cursor::new(manifest), true, false, true)
                    .is_ok();
            let names_package = parsed
                .trusted_comment()
                .is_ok_and(|comment| comment.split_whitespace().any(|word| word == package_id));
            if valid && names_package {
                Signer::Trusted { key_id: id }
            } else {
                Signer::Invalid { key_id: id }
            }
        }
    }
}

/// The keys a workstation trusts: `<install dir>/trusted-keys/<id>.pub`.
#[derive(Debug, Clone)]
pub struct TrustStore {
    dir: PathBuf,
}

impl TrustStore {
    /// The store of the install folder `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("trusted-keys"),
        }
    }

    /// Every key trusted (none when the folder does not exist). A file
    /// that is not a key is an error: a store must not be half-read.
    pub fn keys(&self) -> Result<Vec<TrustedKey>, SigningError> {
        let mut keys: Vec<TrustedKey> = self.files()?.into_iter().map(|(_, key)| key).collect();
        keys.sort_by_key(TrustedKey::id);
        Ok(keys)
    }

    /// Every `*.pub` file of the folder, whatever its name, with its key.
    fn files(&self) -> Result<Vec<(PathBuf, TrustedKey)>, SigningError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read", &self.dir)(e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(io("read", &self.dir))?.path();
            if path.extension().is_some_and(|e| e == "pub") {
                let key = TrustedKey::read(&path)?;
                files.push((path, key));
            }
        }
        Ok(files)
    }

    /// Trusts `key` (again is fine).
    pub fn add(&self, key: &TrustedKey) -> Result<PathBuf, SigningError> {
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.dir.join(format!("{}.pub", key.id()));
        let temp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(io("write into", &self.dir))?;
        std::fs::write(temp.path(), &key.text).map_err(io("write", &path))?;
        temp.persist(&path)
            .map_err(|e| io("write", &path)(e.error))?;
        Ok(path)
    }

    /// Stops trusting the key `id`, removing every file that holds it
    /// (one copied in by hand too); `false` when it was not trusted.
    pub fn remove(&self, id: &str) -> Result<bool, SigningError> {
        let mut removed = false;
        for (path, key) in self.files()? {
            if key.id().eq_ignore_ascii_case(id) {
                std::fs::remove_file(&path).map_err(io("remove", &path))?;
                removed = true;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_copied_in_by_hand_is_trusted_and_can_be_removed_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&dir.path().join("techops.key"), None).unwrap();
        let store = TrustStore::new(dir.path());
        std::fs::create_dir_all(&store.dir).unwrap();
        std::fs::copy(&files.public, store.dir.join("techops.key.pub")).unwrap();
        let ids: Vec<String> = store.keys().unwrap().iter().map(TrustedKey::id).collect();
        assert_eq!(ids, std::slice::from_ref(&files.key_id));
        assert!(store.remove(&files.key_id.to_lowercase()).unwrap());
        assert!(store.keys().unwrap().is_empty());
        assert!(!store.remove(&files.key_id).unwrap());
    }

    #[test]
    fn a_signed_manifest_is_trusted_only_with_its_key_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&dir.path().join("k.key"), Some("pw".into())).unwrap();
        assert!(matches!(
            generate(&dir.path().join("k.key"), None),
            Err(SigningError::KeyExists { .. })
        ));
        assert!(matches!(
            SigningKey::open(&files.secret, Some("wrong".into())),
            Err(SigningError::WrongPassword { .. })
        ));
        assert!(matches!(
            SigningKey::open(&files.secret, None),
            Err(SigningError::NeedsPassword { .. })
        ));
        let key = SigningKey::open(&files.secret, Some("pw".into())).unwrap();
        assert_eq!(key.id(), files.key_id);
        let signature = key.sign(b"{\"manifest\":1}", "abc").unwrap();
        assert_eq!(signature_key_id(&signature), Some(files.key_id.clone()));
        let public = TrustedKey::read(&files.public).unwrap();
        let store = TrustStore::new(dir.path());
        assert_eq!(
            check(Some(&signature), b"{\"manifest\":1}", "abc", &[]),
            Signer::Untrusted {
                key_id: files.key_id.clone()
            }
        );
        store.add(&public).unwrap();
        let trusted = store.keys().unwrap();
        assert_eq!(
            check(Some(&signature), b"{\"manifest\":1}", "abc", &trusted),
            Signer::Trusted {
                key_id: files.key_id.clone()
            }
        );
        assert_eq!(
            check(Some(&signature), b"{\"manifest\":2}", "abc", &trusted),
            Signer::Invalid {
                key_id: files.key_id.clone()
            }
        );
        // Signed for another package id: refused though the manifest matches.
        assert_eq!(
            check(Some(&signature), b"{\"manifest\":1}", "abd", &trusted),
            Signer::Invalid {
                key_id: files.key_id.clone()
            }
        );
        assert_eq!(check(None, b"x", "abc", &trusted), Signer::Unsigned);
        assert!(store.remove(&files.key_id).unwrap());
        assert!(store.keys().unwrap().is_empty());
        let unprotected = generate(&dir.path().join("u.key"), None).unwrap();
        SigningKey::open(&unprotected.secret, None).unwrap();
    }

    /// An unprotected key with an empty checksum (as `minisign -G -W`
    /// writes it) opens when its halves match, and is refused otherwise.
    #[test]
    fn an_unprotected_key_without_a_checksum_is_checked_by_a_signature() {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&dir.path().join("k.key"), None).unwrap();
        let text = std::fs::read_to_string(&files.secret).unwrap();
        let mut raw = engine.decode(text.lines().nth(1).unwrap()).unwrap();
        let len = raw.len();
        raw[len - 32..].fill(0);
        let write = |raw: &[u8], name: &str| {
            let path = dir.path().join(name);
            let encoded = engine.encode(raw);
            std::fs::write(&path, format!("untrusted comment: k\n{encoded}\n")).unwrap();
            path
        };
        let key = SigningKey::open(&write(&raw, "empty.key"), None).unwrap();
        assert_eq!(key.id(), files.key_id);
        // The public half's last byte, just before the checksum.
        raw[len - 33] ^= 1;
        let error = SigningKey::open(&write(&raw, "bad.key"), None).unwrap_err();
        assert!(
            error.to_string().contains("its halves do not match"),
            "{error}"
        );
    }
}
