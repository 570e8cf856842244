//! Text for the pages: sizes, durations, shell commands.

/// `word` as one word for a POSIX shell: as it is when it is safe, else in
/// single quotes.
pub(crate) fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=+@%,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `65.2` seconds as `1 min 5 s`; under ten seconds with one decimal.
pub(crate) fn duration(seconds: f64) -> String {
    if seconds < 9.95 {
        return format!("{seconds:.1} s");
    }
    let seconds = seconds.round() as u64;
    if seconds < 60 {
        format!("{seconds} s")
    } else if seconds < 3600 {
        format!("{} min {} s", seconds / 60, seconds % 60)
    } else {
        format!("{} h {} min", seconds / 3600, seconds % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("pkg.zip"), "pkg.zip");
        assert_eq!(shell_word("my pkg.zip"), "'my pkg.zip'");
        assert_eq!(shell_word("it's.zip"), r"'it'\''s.zip'");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(4.25), "4.2 s");
        assert_eq!(duration(12.4), "12 s");
        assert_eq!(duration(65.2), "1 min 5 s");
        assert_eq!(duration(7260.0), "2 h 1 min");
    }
}
