//! `install-credentials`: the NGC API key and Hugging Face token, from a
//! hidden prompt, standard input or the environment. Values are never printed.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use budgetguard::credentials::Credentials;

use crate::cli::{Cli, CredentialsArgs};
use crate::printer;

/// Stores the credentials given, keeping stored values not given again.
pub fn run(cli: &Cli, args: &CredentialsArgs) -> anyhow::Result<()> {
    let path = super::install_dir(cli)?.credentials_file();
    let mut stored =
        Credentials::load(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let given = if args.from_env {
        Credentials {
            ngc_api_key: std::env::var("NGC_API_KEY").ok(),
            hf_token: std::env::var("HF_TOKEN").ok(),
        }
    } else if args.stdin {
        from_lines(std::io::stdin().lock())?
    } else if std::io::stdin().is_terminal() {
        prompt()?
    } else {
        bail!("no terminal to ask on; pass `--stdin` (with `NGC_API_KEY=…` and `HF_TOKEN=…` lines) or `--from-env`");
    };
    let given = Credentials {
        ngc_api_key: given.ngc_api_key.filter(|v| !v.trim().is_empty()),
        hf_token: given.hf_token.filter(|v| !v.trim().is_empty()),
    };
    if given.ngc_api_key.is_none() && given.hf_token.is_none() {
        bail!("no credential given; nothing was changed");
    }
    if let Some(key) = &given.ngc_api_key {
        if !key.starts_with("nvapi-") {
            eprintln!("warning: the NGC API key does not start with `nvapi-`; check that it is a personal API key");
        }
    }
    let names: Vec<&str> = [
        ("NGC_API_KEY", &given.ngc_api_key),
        ("HF_TOKEN", &given.hf_token),
    ]
    .iter()
    .filter(|(_, v)| v.is_some())
    .map(|(name, _)| *name)
    .collect();
    stored.ngc_api_key = given.ngc_api_key.or(stored.ngc_api_key);
    stored.hf_token = given.hf_token.or(stored.hf_token);
    stored
        .store(&path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    if cli.json {
        printer::json(&serde_json::json!({ "stored": names, "path": path }));
    } else {
        println!(
            "Stored {} in {} (readable by you only)",
            names.join(" and "),
            path.display()
        );
    }
    Ok(())
}

fn from_lines(input: impl BufRead) -> anyhow::Result<Credentials> {
    let mut credentials = Credentials::default();
    for line in input.lines() {
        let line = line?;
        match line.trim().split_once('=') {
            Some(("NGC_API_KEY", value)) => credentials.ngc_api_key = Some(value.trim().to_owned()),
            Some(("HF_TOKEN", value)) => credentials.hf_token = Some(value.trim().to_owned()),
            _ if line.trim().is_empty() => {}
            _ => bail!(
                "standard input should hold `NGC_API_KEY=…` and `HF_TOKEN=…` lines, not other text"
            ),
        }
    }
    Ok(credentials)
}

fn prompt() -> anyhow::Result<Credentials> {
    let ask = |label: &str| -> anyhow::Result<Option<String>> {
        let value = rpassword::prompt_password(label).context("cannot read from the terminal")?;
        Ok(Some(value))
    };
    Ok(Credentials {
        ngc_api_key: ask("NGC API key (nvapi-…, empty to keep): ")?,
        hf_token: ask("Hugging Face token (hf_…, empty to keep): ")?,
    })
}
