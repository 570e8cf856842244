//! Command-line arguments: no command serves; the NIM's model utilities are
//! commands (`list-model-profiles`, `download-to-cache`), as in the image
//! where the container's command is the utility.

use clap::{ArgAction, Args, Parser, Subcommand};

/// The demo NIM: serves the HTTP API when started without a command.
#[derive(Debug, Parser)]
#[command(name = "demo-nim", version, about, long_about = None)]
pub struct Cli {
    /// A model utility; none starts the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The model utilities.
#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Print the (pretend) GPUs and which model profiles suit them.
    #[command(alias = "nim_list_model_profiles")]
    ListModelProfiles,
    /// Download model profiles from the model server into the cache.
    #[command(alias = "nim_download_to_cache")]
    DownloadToCache(DownloadArgs),
}

/// Options of `download-to-cache`.
#[derive(Debug, Clone, Args, PartialEq, Eq, Default)]
pub struct DownloadArgs {
    /// Profile ids: `--profiles A,B`, `--profiles A B` or `-p A -p B`.
    #[arg(
        short = 'p',
        long = "profiles",
        value_name = "IDS",
        num_args = 1..,
        value_delimiter = ',',
        action = ArgAction::Append,
        conflicts_with = "all"
    )]
    pub profiles: Vec<String>,
    /// Every profile of the model.
    #[arg(long)]
    pub all: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Command>, clap::error::ErrorKind> {
        Cli::try_parse_from(std::iter::once("demo-nim").chain(args.iter().copied()))
            .map(|c| c.command)
            .map_err(|e| e.kind())
    }

    fn download(profiles: &[&str], all: bool) -> Option<Command> {
        Some(Command::DownloadToCache(DownloadArgs {
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
            all,
        }))
    }

    #[test]
    fn no_command_serves() {
        assert_eq!(parse(&[]), Ok(None));
    }

    #[test]
    fn profile_lists_in_every_form() {
        let both = download(&["a", "b"], false);
        assert_eq!(
            parse(&["download-to-cache", "--profiles", "a,b"]),
            Ok(both.clone())
        );
        assert_eq!(
            parse(&["download-to-cache", "--profiles", "a", "b"]),
            Ok(both.clone())
        );
        assert_eq!(
            parse(&["download-to-cache", "-p", "a", "-p", "b"]),
            Ok(both.clone())
        );
        assert_eq!(
            parse(&["download-to-cache", "--profiles=a", "-p", "b"]),
            Ok(both.clone())
        );
        assert_eq!(parse(&["nim_download_to_cache", "-p", "a,b"]), Ok(both));
        assert_eq!(
            parse(&["download-to-cache", "--all"]),
            Ok(download(&[], true))
        );
        assert_eq!(parse(&["download-to-cache"]), Ok(download(&[], false)));
        assert_eq!(
            parse(&["list-model-profiles"]),
            Ok(Some(Command::ListModelProfiles))
        );
    }

    #[test]
    fn usage_errors() {
        use clap::error::ErrorKind;
        assert_eq!(
            parse(&["download-to-cache", "--all", "-p", "a"]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            parse(&["download-to-cache", "--profiles"]),
            Err(ErrorKind::InvalidValue)
        );
        assert_eq!(parse(&["serve-forever"]), Err(ErrorKind::InvalidSubcommand));
        assert_eq!(
            parse(&["list-model-profiles", "--all"]),
            Err(ErrorKind::UnknownArgument)
        );
    }
}
