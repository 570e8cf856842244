//! `install-credentials`: the NGC API key and Hugging Face token, from a
//! hidden prompt, standard input or the environment. Values are never
//! printed nor logged.

use std::io::{IsTerminal, Read};

use anyhow::Context as _;
use budgetguard::credentials::Credentials;

use crate::context::Context;
use crate::printer::Hinted;

/// Arguments of `install-credentials`.
#[derive(Debug, clap::Args)]
pub struct CredentialsArgs {
    /// Read `NGC_API_KEY=…` and `HF_TOKEN=…` lines from standard input.
    #[arg(long, conflicts_with = "from_env")]
    pub stdin: bool,

    /// Take them from the environment variables NGC_API_KEY and HF_TOKEN.
    #[arg(long)]
    pub from_env: bool,
}

/// Stores the credentials given, keeping stored values not given again.
pub async fn run(ctx: &Context, args: &CredentialsArgs) -> anyhow::Result<()> {
    let path = ctx.install_dir()?.credentials_file();
    let mut stored =
        Credentials::load(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let given = if args.from_env {
        Credentials::default().with_environment()
    } else if args.stdin {
        from_stdin()?
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

/// Reads `NGC_API_KEY=…` and `HF_TOKEN=…` lines from standard input. A
/// line that is neither is refused without quoting it: it may be a secret.
fn from_stdin() -> anyhow::Result<Credentials> {
    let mut text = String::new();
    std::io::stdin().lock().read_to_string(&mut text)?;
    Credentials::parse(&text).map_err(|_| {
        anyhow::anyhow!(
            "standard input should hold `NGC_API_KEY=…` and `HF_TOKEN=…` lines, not other text"
        )
    })
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
