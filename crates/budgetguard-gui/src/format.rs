//! Text for people, as the pages and the job panel say it: durations,
//! times, shell commands, an update package's base.

use budgetguard::package::manifest::PackageBase;
use budgetguard::size::human;

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

/// An update package's base and what it leaves out, as the pages say it:
/// `` `old.zip` (package id 0123456789ab…), 1.2 GiB left out ``.
pub(crate) fn base_text(base: &PackageBase) -> String {
    format!("{}, {} left out", base.describe(), human(base.savings()))
}

/// A moment as `2025-11-29 15:01 UTC`.
pub(crate) fn utc_time(moment: time::OffsetDateTime) -> String {
    let moment = moment.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    moment
        .format(&format)
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// An RFC 3339 time (as the library records them) as [`utc_time`] shows
/// it; other text as it is, and nothing as `unknown`.
pub(crate) fn utc_time_text(text: &str) -> String {
    if text.is_empty() {
        return "unknown".to_owned();
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| text.to_owned(), utc_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(
            utc_time_text("2025-11-29T15:01:59Z"),
            "2025-11-29 15:01 UTC"
        );
        assert_eq!(
            utc_time_text("2025-11-29T16:01:00+01:00"),
            "2025-11-29 15:01 UTC"
        );
        assert_eq!(utc_time_text(""), "unknown");
        assert_eq!(utc_time_text("yesterday"), "yesterday");
    }

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
