//! Credentials kept on this machine: the NGC API key and the Hugging Face
//! token, in a Compose `env_file` readable by the user only. They are read by
//! pulls and by the nodes' containers, and never written into a package.

use std::io::{self, Read, Write};
use std::path::Path;

use crate::catalog::Credential;

/// The stored credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The NGC API key.
    pub ngc_api_key: Option<String>,
    /// The Hugging Face token.
    pub hf_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Credentials")
            .field("ngc_api_key", &shown(&self.ngc_api_key))
            .field("hf_token", &shown(&self.hf_token))
            .finish()
    }
}

/// Text given as credentials that holds a line that is none. The line is
/// not quoted: it may be a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text should hold `NGC_API_KEY=…` and `HF_TOKEN=…` lines, not other text")]
pub struct OtherText;

/// The file name of the credentials in the install folder.
pub const FILE_NAME: &str = "credentials.env";

impl Credentials {
    /// Reads the file at `path`; a missing file holds no credentials, and
    /// lines that are no credential are passed over.
    pub fn load(path: &Path) -> io::Result<Self> {
        let mut text = String::new();
        match crate::files::open_own(path).and_then(|mut file| file.read_to_string(&mut text)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e),
        }
        Ok(Self::from_lines(&text, false).unwrap_or_default())
    }

    /// Reads `NGC_API_KEY=…` and `HF_TOKEN=…` lines given by the user;
    /// empty lines are passed over, any other line is refused.
    pub fn parse(text: &str) -> Result<Self, OtherText> {
        Self::from_lines(text, true)
    }

    /// The credentials of `text`, one `NAME=value` line each (an empty
    /// value unsets); `strict`: a line that is no credential is refused.
    fn from_lines(text: &str, strict: bool) -> Result<Self, OtherText> {
        let mut credentials = Self::default();
        for line in text.lines() {
            let value = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            match line.split_once('=').map(|(key, rest)| (key.trim(), rest)) {
                Some(("NGC_API_KEY", rest)) => credentials.ngc_api_key = value(rest),
                Some(("HF_TOKEN", rest)) => credentials.hf_token = value(rest),
                _ if !strict || line.trim().is_empty() => {}
                _ => return Err(OtherText),
            }
        }
        Ok(credentials)
    }

    /// These credentials, with the environment's `NGC_API_KEY` and
    /// `HF_TOKEN` (when set and not empty) taking precedence.
    pub fn with_environment(mut self) -> Self {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(key) = from_env("NGC_API_KEY") {
            self.ngc_api_key = Some(key);
        }
        if let Some(token) = from_env("HF_TOKEN") {
            self.hf_token = Some(token);
        }
        self
    }

    /// The value of one credential.
    pub fn get(&self, credential: Credential) -> Option<&str> {
        match credential {
            Credential::NgcApiKey => self.ngc_api_key.as_deref(),
            Credential::HfToken => self.hf_token.as_deref(),
        }
    }

    /// Writes the file at `path` atomically, readable and writable by the
    /// user only.
    pub fn store(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        for (key, value) in [
            ("NGC_API_KEY", &self.ngc_api_key),
            ("HF_TOKEN", &self.hf_token),
        ] {
            if let Some(value) = value {
                writeln!(temp, "{key}={value}")?;
            }
        }
        temp.as_file().sync_all()?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_credentials_read_back_and_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let credentials = Credentials {
            ngc_api_key: Some("nvapi-abc".into()),
            hf_token: None,
        };
        credentials.store(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), credentials);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{credentials:?}").contains("nvapi"));
    }

    #[test]
    fn lines_given_by_the_user_hold_credentials_only() {
        let given = Credentials::parse("\n NGC_API_KEY = nvapi-x \nHF_TOKEN=\n").unwrap();
        assert_eq!(given.ngc_api_key.as_deref(), Some("nvapi-x"));
        assert_eq!(given.hf_token, None);
        assert_eq!(Credentials::parse("nvapi-secret"), Err(OtherText));
        assert!(!OtherText.to_string().contains("secret"));
    }
}
