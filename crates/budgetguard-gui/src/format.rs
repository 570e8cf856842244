//! Text for people, as the pages and the job panel say it: durations,
//! times, shell commands, an update package's base, a node's state, and
//! messages without the command line's backticks or repeated clauses.

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

/// `text` as the page shows it: `` `quoted` `` spans in typographic quotes
/// (“quoted”), and a clause that repeats an earlier one (an error chain's
/// "check the path" said twice) said once.
pub(crate) fn plain(text: &str) -> String {
    once_each(&quotes(text))
}

/// `text` with its `` `quoted` `` spans in typographic quotes (“quoted”);
/// a lone backtick stays as it is.
pub(crate) fn quotes(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len());
    let mut open = false;
    // Only pairs are quotes: a lone backtick stays as it is.
    let pairs = text.matches('`').count() / 2 * 2;
    for (seen, part) in text.split('`').enumerate() {
        if seen > 0 {
            if seen <= pairs {
                quoted.push(if open { '”' } else { '“' });
                open = !open;
            } else {
                quoted.push('`');
            }
        }
        quoted.push_str(part);
    }
    quoted
}

/// `text` with each clause (the words between `: `, `; ` and `. `) that
/// repeats an earlier one left out, with the separator before it.
fn once_each(text: &str) -> String {
    let key = |clause: &str| {
        clause
            .trim()
            .trim_end_matches(['.', ';', ':'])
            .to_lowercase()
    };
    let mut kept = String::with_capacity(text.len());
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (clause, after) = rest.split_at(clause_end(rest));
        let words = key(clause);
        if words.len() < 8 || !seen.contains(&words) {
            kept.push_str(clause);
            seen.push(words);
        } else if after.is_empty() {
            // The repeat ended the text: end it as the clause did.
            let end = kept.trim_end().trim_end_matches([':', ';']).len();
            kept.truncate(end);
            if clause.trim_end().ends_with('.') && !kept.ends_with('.') {
                kept.push('.');
            }
        }
        rest = after;
    }
    kept
}

/// Where the first clause of `text` ends: after its first `: `, `; ` or
/// `. ` outside quotes (a quoted path or engine's words is one piece, as
/// it is one cause of the error), else at the end.
fn clause_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '“' => depth += 1,
            '”' => depth = depth.saturating_sub(1),
            ':' | ';' | '.' if depth == 0 && text[at + 1..].starts_with(' ') => return at + 2,
            _ => {}
        }
    }
    text.len()
}

/// An installed node's state in the page's words, and its colour class:
/// Stopped, Starting, Ready or Failed, from the container's state, its
/// health (`ready` once it answers) and whether a start runs or failed.
pub(crate) fn node_state(
    state: &str,
    health: &str,
    starting: bool,
    failed: bool,
) -> (&'static str, &'static str) {
    match (state, health) {
        _ if failed => ("Failed", "bad"),
        _ if starting => ("Starting", "warn"),
        ("running", "ready") => ("Ready", "ok"),
        ("running" | "restarting", _) => ("Starting", "warn"),
        ("missing" | "dead", _) => ("Failed", "bad"),
        _ => ("Stopped", "idle"),
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
    fn backticks_become_quotes_and_repeats_go() {
        assert_eq!(
            plain("There is no file `/a b.zip`"),
            "There is no file “/a b.zip”"
        );
        assert_eq!(plain("a lone ` stays"), "a lone ` stays");
        assert_eq!(
            plain("cannot open “/x.zip”: No such file: check the path: check the path."),
            "cannot open “/x.zip”: No such file: check the path."
        );
        assert_eq!(
            plain("There is no file x; check the path. Check the path."),
            "There is no file x; check the path."
        );
        assert_eq!(plain("a: b: a: b"), "a: b: a: b", "short clauses stay");
        assert_eq!(
            plain("No such file or folder: cannot read `/m/x: No such file or folder: y`: check the path"),
            "No such file or folder: cannot read “/m/x: No such file or folder: y”: check the path",
            "a quoted path is one piece, never cut into clauses"
        );
        assert_eq!(quotes("`a`: x: x: x: x"), "“a”: x: x: x: x");
    }

    #[test]
    fn node_states_are_four_words() {
        assert_eq!(
            node_state("running", "ready", false, false),
            ("Ready", "ok")
        );
        assert_eq!(
            node_state("running", "not ready", false, false).0,
            "Starting"
        );
        assert_eq!(node_state("exited", "-", true, false).0, "Starting");
        assert_eq!(node_state("created", "-", false, false).0, "Stopped");
        assert_eq!(node_state("exited", "-", false, false).0, "Stopped");
        assert_eq!(node_state("missing", "-", false, false).0, "Failed");
        assert_eq!(node_state("running", "ready", false, true).0, "Failed");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(4.25), "4.2 s");
        assert_eq!(duration(12.4), "12 s");
        assert_eq!(duration(65.2), "1 min 5 s");
        assert_eq!(duration(7260.0), "2 h 1 min");
    }
}
