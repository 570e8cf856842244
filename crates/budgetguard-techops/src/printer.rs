//! Everything the command prints goes through the [`Printer`]: the report
//! (data) on stdout, as text or as JSON with `--json`; messages on stderr
//! (`warning:`, `error:`, `hint:`), none but errors with `--quiet`. Colour
//! only on a terminal and never with `NO_COLOR` (anstream decides). Progress
//! goes through [`crate::reporter`], which asks the printer how to show it.
//! See `STYLE.md` at the repository root.

use std::fmt::Display;
use std::io::IsTerminal;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use budgetguard::progress::Warning;
use budgetguard::remedy::{diagnosis, remedies, Class, Remedy};
use serde::Serialize;

use crate::table::Text;

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();

/// The exit code of a failure that is bad usage: an unknown option or node,
/// a node that is not installed. (Usage errors clap finds exit with 2 too.)
const USAGE: u8 = 2;

/// The exit code of any other failure.
const FAILED: u8 = 1;

/// How output is shown in this run.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
    quiet: bool,
    verbose: u8,
}

impl Printer {
    /// A printer for `--json`, `--quiet` and `-v` (counted).
    pub fn new(json: bool, quiet: bool, verbose: u8) -> Self {
        Self {
            json,
            quiet,
            verbose,
        }
    }

    /// Whether progress may be drawn as bars: on a terminal, and not mixed
    /// with JSON or log lines.
    pub fn progress_bars(&self) -> bool {
        !self.quiet && !self.json && self.verbose == 0 && std::io::stderr().is_terminal()
    }

    /// Prints the command's report on stdout: `value` as JSON with `--json`,
    /// else the text `text` writes (nothing with `--quiet`).
    pub fn report<T: Serialize + ?Sized>(&self, value: &T, text: impl FnOnce(&mut Text)) {
        if self.json {
            stdout(&json_text(value));
        } else if !self.quiet {
            let mut out = Text::default();
            text(&mut out);
            stdout(&out.to_string());
        }
    }

    /// Prints data that is the point of the command even with `--quiet`
    /// (the GUI's URL, a completion script, a man page) on stdout, as it is.
    pub fn essential(&self, text: &str) {
        stdout(text);
    }

    /// A message on stderr about what happens (not a result); none with
    /// `--quiet`.
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            anstream::eprintln!("{message}");
        }
    }

    /// `warning: …` on stderr; none with `--quiet`.
    pub fn warning(&self, message: impl Display) {
        tracing::warn!("{message}");
        if !self.quiet {
            anstream::eprintln!("{WARNING}warning{WARNING:#}: {message}");
        }
    }

    /// The lines of a warning the work went on after: `warning: …`, then
    /// a `hint: …` line per remedy, styled for stderr; none with `--quiet`.
    pub fn warning_lines(&self, warning: &Warning) -> Vec<String> {
        tracing::warn!(%warning, "warning");
        if self.quiet {
            return Vec::new();
        }
        let hints = remedies(warning)
            .iter()
            .filter_map(hint)
            .collect::<Vec<_>>();
        std::iter::once(format!("{WARNING}warning{WARNING:#}: {warning}"))
            .chain(hints.iter().map(|h| format!("{HINT}hint{HINT:#}: {h}")))
            .collect()
    }

    /// Prints the error (`error: …` on one line, then a `hint: …` line per
    /// remedy) on stderr, and `{"error": …, "hint": …}` on stdout with
    /// `--json`; returns the exit code it stands for: 2 for bad usage, 1 for
    /// any other failure.
    pub fn error(&self, error: &anyhow::Error) -> ExitCode {
        let message = budgetguard::error_text(error.as_ref());
        let diagnosis = diagnosis(error.as_ref());
        let mut hints: Vec<String> = diagnosis
            .iter()
            .flat_map(|d| &d.remedies)
            .filter_map(hint)
            .collect();
        if let Some(hinted) = error.downcast_ref::<Hinted>() {
            hints.insert(0, hinted.hint.clone());
        }
        let code = diagnosis.map_or(FAILED, |d| exit_code(d.class));
        tracing::error!(error = %message, ?hints, exit_code = code, "failed");
        anstream::eprintln!("{ERROR}error{ERROR:#}: {message}");
        for hint in &hints {
            anstream::eprintln!("{HINT}hint{HINT:#}: {hint}");
        }
        if self.json {
            let hint = (!hints.is_empty()).then(|| hints.join("; "));
            stdout(&json_text(
                &serde_json::json!({ "error": message, "hint": hint }),
            ));
        }
        ExitCode::from(code)
    }
}

/// Writes `text` on stdout. A reader that went away (`… | head`) is not an
/// error: the rest is not wanted.
fn stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => tracing::warn!(error = %e, "cannot write on stdout"),
        Ok(()) => {}
    }
}

/// `value` as pretty JSON, one line feed after it.
fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("reports serialize") + "\n"
}

/// The exit code of a failure of `class`: 2 for bad usage, 1 for any other.
fn exit_code(class: Class) -> u8 {
    match class {
        Class::Usage => USAGE,
        Class::Input
        | Class::Engine
        | Class::Registry
        | Class::Workstation
        | Class::Interrupted
        | Class::Internal => FAILED,
    }
}

/// What the terminal says to do about a remedy, with this face's options.
fn hint(remedy: &Remedy) -> Option<String> {
    Some(match remedy {
        Remedy::ReplaceOutput => "pass `--force` to replace it, or choose another `--output`".into(),
        Remedy::OutputElsewhere => "choose an `--output` on a disk with more room".into(),
        Remedy::AllowPull => "leave out `--no-pull` to let the engine pull it".into(),
        Remedy::PullBeforehand => {
            "pull the image while the network is there, then pass `--no-pull`".into()
        }
        Remedy::StoreCredentials => {
            "run `budgetguard-techops install-credentials` to store the NGC API key and Hugging Face token"
                .into()
        }
        Remedy::WaitLonger { seconds } => {
            format!("pass a longer `--wait` than {seconds} seconds")
        }
        Remedy::NewPackage => {
            "make a new one with `budgetguard-techops create-install-package`".into()
        }
        Remedy::ChooseProfiles => {
            "pass `--profile ID` (repeatable), or `--no-models` to leave the models out".into()
        }
        Remedy::NameTheCache => "pass each folder as `--model-cache CACHE=DIR`".into(),
        Remedy::TrustKey => {
            "trust TechOps' public key with `budgetguard-techops trust-key techops.key.pub`".into()
        }
        Remedy::SignedPackage => {
            "ask TechOps for a package made with `create-install-package --sign`".into()
        }
        Remedy::PublishOnNetwork => {
            "to publish it on the network for anyone who reaches it, pass `--listen ADDR` (`0.0.0.0` for every address)".into()
        }
        Remedy::ChoosePlatform => "pass `--platform` with one of the platforms it has".into(),
        Remedy::AllowHttp => {
            "pass `--allow-http` to read it over plain HTTP anyway, on a network you trust".into()
        }
        Remedy::ServerLogin => {
            "put `machine HOST login NAME password SECRET` in `~/.netrc`, or pass `--token-file FILE` or `--token-env VAR`".into()
        }
        // The message lists the nodes to choose from.
        Remedy::NameKnownNode | Remedy::NameInstalledNode => return None,
        // The message says what to do; the options that would do it
        // (leaving out `--from-registry`, passing `--no-models`) are the
        // user's choice of what to package.
        Remedy::UseEngineImages | Remedy::LeaveModelsOut => return None,
        _ => return None,
    })
}

/// An error of the command line itself, with what to do about it.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
}

impl Hinted {
    /// `message` states the problem; `hint` what to do.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}
