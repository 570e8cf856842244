//! `install-credentials`: the NGC API key and Hugging Face token, from a
//! hidden prompt, standard input or the environment. Values are never
//! printed nor logged.

use std::io::{BufRead, IsTerminal};

use anyhow::Context as _;
use budgetguard::credentials::Credentials;

use crate::cli::CredentialsArgs;
use crate::context::Context;
use crate::printer::Hinted;

/// Stores the credentials given, keeping stored values not given again.
pub async fn run(ctx: &Context, args: &CredentialsArgs) -> anyhow::Result<()> {
    let path = ctx.install_dir()?.credentials_file();
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
        return Err(Hinted::new(
            "no terminal to ask on",
            "pass `--stdin` (with `NGC_API_KEY=…` and `HF_TOKEN=…` lines) or `--from-env`",
        )
        .into());
    };
    let given = Credentials {
        ngc_api_key: given.ngc_api_key.filter(|v| !v.trim().is_empty()),
        hf_token: given.hf_token.filter(|v| !v.trim().is_empty()),
    };
    if given.ngc_api_key.is_none() && given.hf_token.is_none() {
        anyhow::bail!("no credential given; nothing was changed");
    }
    if let Some(key) = &given.ngc_api_key {
        if !key.starts_with("nvapi-") {
            ctx.printer.warning(
                "the NGC API key does not start with `nvapi-`; check that it is a personal API key",
            );
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
    tracing::info!(stored = ?names, path = %path.display(), "credentials stored");
    ctx.printer.report(
        &serde_json::json!({ "stored": names, "path": path }),
        |out| {
            out.line(format_args!(
                "Stored {} in {} (readable by you only)",
                names.join(" and "),
                path.display()
            ))
        },
    );
    Ok(())
}

/// Reads `NGC_API_KEY=…` and `HF_TOKEN=…` lines. A line that is neither is
/// refused without quoting it: it may be a secret.
fn from_lines(input: impl BufRead) -> anyhow::Result<Credentials> {
    let mut credentials = Credentials::default();
    for line in input.lines() {
        let line = line?;
        match line.trim().split_once('=') {
            Some(("NGC_API_KEY", value)) => credentials.ngc_api_key = Some(value.trim().to_owned()),
            Some(("HF_TOKEN", value)) => credentials.hf_token = Some(value.trim().to_owned()),
            _ if line.trim().is_empty() => {}
            _ => anyhow::bail!(
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
