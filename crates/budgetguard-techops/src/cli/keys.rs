//! `keygen` and `trust-key`: the keys that sign packages on the TechOps
//! machine, and the public keys a workstation trusts. A password comes from
//! `BUDGETGUARD_KEY_PASSWORD`, else a hidden prompt; it is never printed
//! nor logged.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use budgetguard::signing::{generate, TrustedKey};

use crate::context::Context;
use crate::printer::Hinted;
use crate::table::Table;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The secret key file to write; the public key goes beside it as
    /// `<file>.pub`. Neither may exist.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// Leave the secret key without a password (anyone who can read the
    /// file can sign) [default: a password from `BUDGETGUARD_KEY_PASSWORD`
    /// or a hidden prompt].
    #[arg(long)]
    pub no_password: bool,
}

/// Arguments of `trust-key`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["key", "list", "remove"])))]
pub struct TrustKeyArgs {
    /// The public key file to trust (`<key>.pub` from `keygen`).
    #[arg(value_name = "KEY.pub")]
    pub key: Option<PathBuf>,

    /// List the trusted keys.
    #[arg(long)]
    pub list: bool,

    /// Stop trusting the key with this id.
    #[arg(long, value_name = "KEY_ID")]
    pub remove: Option<String>,
}

/// Makes a key pair and says where it went.
pub async fn keygen(ctx: &Context, args: &KeygenArgs) -> anyhow::Result<()> {
    let password = if args.no_password {
        None
    } else {
        Some(password(true)?)
    };
    let files = generate(&args.output, password)?;
    ctx.printer.report(&files, |out| {
        out.line(format_args!("Made key {}", files.key_id));
        out.fields([
            ("secret key", files.secret.display().to_string()),
            ("public key", files.public.display().to_string()),
        ]);
        out.line(
            "Sign packages with `create-install-package --sign <secret key>`; on each workstation,",
        );
        out.line(format_args!(
            "trust the public key with `budgetguard-techops trust-key {}`.",
            files.public.display()
        ));
    });
    Ok(())
}

/// Trusts a key, lists the trusted ones, or stops trusting one.
pub async fn trust(ctx: &Context, args: &TrustKeyArgs) -> anyhow::Result<()> {
    let store = ctx.trust_store()?;
    if let Some(path) = &args.key {
        let key = TrustedKey::read(path)?;
        let stored = store.add(&key)?;
        ctx.printer.report(
            &serde_json::json!({ "trusted": key.id(), "file": stored }),
            |out| {
                out.line(format_args!(
                "Trusted key {}: from now on only packages signed by a trusted key install here",
                key.id()
            ));
            },
        );
    } else if let Some(id) = &args.remove {
        if !store.remove(id)? {
            return Err(Hinted::new(
                format!("key `{id}` is not trusted here"),
                "`trust-key --list` shows the trusted keys",
            )
            .into());
        }
        ctx.printer
            .report(&serde_json::json!({ "removed": id }), |out| {
                out.line(format_args!("Key {id} is no longer trusted"));
            });
    } else {
        let ids: Vec<String> = store.keys()?.iter().map(TrustedKey::id).collect();
        ctx.printer
            .report(&serde_json::json!({ "trusted": ids }), |out| {
                if ids.is_empty() {
                    out.line("No key is trusted: unsigned packages install, with a warning.");
                } else {
                    let mut table = Table::new(&["TRUSTED KEY"]);
                    for id in &ids {
                        table.row([id.as_str()]);
                    }
                    out.table(&table);
                }
            });
    }
    Ok(())
}

/// The key password: `BUDGETGUARD_KEY_PASSWORD`, else a hidden prompt
/// (twice when `new`).
pub fn password(new: bool) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("BUDGETGUARD_KEY_PASSWORD") {
        if !password.is_empty() {
            return Ok(password);
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(Hinted::new(
            "no terminal to ask for the key's password on",
            if new {
                "set `BUDGETGUARD_KEY_PASSWORD`, or pass `--no-password`"
            } else {
                "set `BUDGETGUARD_KEY_PASSWORD`"
            },
        )
        .into());
    }
    let ask =
        |label: &str| rpassword::prompt_password(label).context("cannot read from the terminal");
    let first = ask("Key password: ")?;
    if new && ask("The same password again: ")? != first {
        anyhow::bail!("the two passwords differ; nothing was written");
    }
    if first.is_empty() {
        return Err(Hinted::new("an empty password", "type one, or pass `--no-password`").into());
    }
    Ok(first)
}
