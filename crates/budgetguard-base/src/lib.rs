//! What every BudgetGuard crate shares, and nothing else: how outside text
//! is quoted in a message ([`quote`]), an error as one line
//! ([`error_text`]), cancellation ([`Cancel`]), opening only regular files
//! ([`files`]), byte counts ([`size`]), when progress is worth reporting
//! ([`throttle`]) and waiting for async work from a plain thread
//! ([`wait`]). The library, the ZIP crate and the registry crate build on
//! it; it names none of them.

pub mod files;
pub mod quote;
pub mod size;
pub mod throttle;
mod wait;

pub use wait::wait;

/// Cancels long work: the CLI on Ctrl-C, the GUI's cancel button.
pub type Cancel = tokio_util::sync::CancellationToken;

/// `Read::read` for a reader whose bytes come through its own buffer
/// ([`std::io::BufRead`]): what it holds at hand, copied.
pub fn read_buffered(reader: &mut impl std::io::BufRead, buf: &mut [u8]) -> std::io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

/// What starts each item of a message that lists several problems (the
/// preflight's), one line each.
pub const LIST_ITEM: &str = "\n  - ";

/// An error and the causes its message does not already hold, on one line
/// joined by `: `: the form every message of this tool takes, on the
/// terminal and in the GUI alike (a list of problems keeps one line per
/// item). Control and invisible format characters (an engine's or a
/// registry's words may hold them) are escaped, and each line is cut at
/// [`quote::MESSAGE_LIMIT`] characters.
pub fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.split(LIST_ITEM)
        .map(|line| quote::quote_message(line).to_string())
        .collect::<Vec<_>>()
        .join(LIST_ITEM)
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_an_engine_says_stays_one_safe_line() {
        let said = format!(
            "no such image\n\u{202e}gpj.exe\u{200b}{}",
            "x".repeat(100_000)
        );
        let text = super::error_text(&std::io::Error::other(said));
        assert!(
            text.starts_with("no such image\\u{a}\\u{202e}gpj.exe\\u{200b}x"),
            "{text}"
        );
        assert!(!text.chars().any(super::quote::is_unsafe));
        assert!(text.chars().count() <= super::quote::MESSAGE_LIMIT + 1);
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let inner = std::io::Error::other("no such folder");
        let outer = std::io::Error::new(std::io::ErrorKind::NotFound, inner);
        assert_eq!(super::error_text(&outer), "no such folder");
        let chained = anyhow_like("cannot write `x`", outer);
        assert_eq!(
            super::error_text(&chained),
            "cannot write `x`: no such folder"
        );
    }

    #[derive(Debug)]
    struct Wrapped(String, std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    fn anyhow_like(message: &str, source: std::io::Error) -> Wrapped {
        Wrapped(message.to_owned(), source)
    }
}
