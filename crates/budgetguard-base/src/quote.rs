//! Text from a package, as messages show it. Entry names, node names, image
//! references and parser details come from a file someone else made: shown
//! raw, a control character could rewrite the terminal, and a long name could
//! bury the message. Every message that quotes such text goes through here.

use std::fmt::{self, Write};
use std::path::Path;

/// The most characters a quoted name takes in a message (escapes included).
pub const NAME_LIMIT: usize = 160;

/// The most characters a quoted detail or path takes in a message.
pub const DETAIL_LIMIT: usize = 240;

/// Whether `c` may not appear raw in a message: control characters (C0, DEL,
/// C1), line and paragraph separators, and the invisible format characters
/// (Unicode category Cf: the marks that reorder text, zero-width ones, the
/// byte order mark, tags…), which make a name look like another.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                // Category Cf, as of Unicode 15.1.
                | '\u{00ad}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061c}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

/// Whether `text` holds a character that [`is_unsafe`]: printable ASCII
/// text, the usual case, is settled byte by byte.
pub fn has_unsafe(text: &str) -> bool {
    !text.bytes().all(|b| (0x20..0x7f).contains(&b)) && text.chars().any(is_unsafe)
}

/// Text from a package as a message shows it: unsafe characters escaped as
/// `\u{1b}`, and cut with `…` once it reaches its limit.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a> {
    text: &'a str,
    limit: usize,
}

/// The most characters a whole message takes (escapes included).
pub const MESSAGE_LIMIT: usize = 2000;

/// A whole message, as the last guard before a terminal, a page or a log:
/// what an engine or a registry said may reach it unquoted.
pub fn quote_message(text: &str) -> Quoted<'_> {
    Quoted {
        text,
        limit: MESSAGE_LIMIT,
    }
}

/// A name (entry, node, image reference) from a package, for a message.
pub fn quote(text: &str) -> Quoted<'_> {
    Quoted {
        text,
        limit: NAME_LIMIT,
    }
}

/// A longer text from a package (a parser's detail), for a message.
pub fn quote_detail(text: &str) -> Quoted<'_> {
    Quoted {
        text,
        limit: DETAIL_LIMIT,
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = 0;
        let mut escape = String::new();
        for c in self.text.chars() {
            escape.clear();
            if is_unsafe(c) {
                write!(escape, "{}", c.escape_unicode())?;
            } else {
                escape.push(c);
            }
            let width = escape.chars().count();
            if shown + width > self.limit {
                return f.write_char('…');
            }
            f.write_str(&escape)?;
            shown += width;
        }
        Ok(())
    }
}

/// The most items of a list from outside that a message shows.
pub const LIST_LIMIT: usize = 10;

/// A list from outside (a registry's platforms…) for a one-line message:
/// each item quoted, all of them when there are few, else their count, the
/// first [`LIST_LIMIT`] and how many more: `15000 platforms: linux/amd64, …,
/// and 14990 more`.
pub fn quote_list(items: &[&str], plural: &str) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(LIST_LIMIT)
        .map(|item| quote(item).to_string())
        .collect();
    match items.len().checked_sub(LIST_LIMIT) {
        Some(more) if more > 0 => format!(
            "{} {plural}: {}, and {more} more",
            items.len(),
            shown.join(", ")
        ),
        _ => shown.join(", "),
    }
}

/// A file path for a message: a package's file name is chosen by whoever sent
/// it, so it is quoted like the text inside.
#[derive(Debug, Clone, Copy)]
pub struct QuotedPath<'a>(&'a Path);

/// Quotes `path` for a message.
pub fn quote_path(path: &Path) -> QuotedPath<'_> {
    QuotedPath(path)
}

impl fmt::Display for QuotedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quote_detail(&self.0.to_string_lossy()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_is_cut() {
        assert_eq!(quote("a\u{1b}[31mb").to_string(), "a\\u{1b}[31mb");
        assert_eq!(
            quote("x\u{9b}\u{7f}\n").to_string(),
            "x\\u{9b}\\u{7f}\\u{a}"
        );
        assert_eq!(quote("\u{202e}txt.exe").to_string(), "\\u{202e}txt.exe");
        for format in [
            '\u{200b}',
            '\u{200d}',
            '\u{2066}',
            '\u{2069}',
            '\u{feff}',
            '\u{61c}',
            '\u{e0041}',
        ] {
            let shown = quote(&format!("a{format}b")).to_string();
            assert_eq!(shown, format!("a{}b", format.escape_unicode()));
        }
        assert_eq!(quote("café ünïcode").to_string(), "café ünïcode");
    }

    #[test]
    fn long_lists_are_summarised_on_one_line() {
        assert_eq!(quote_list(&["a", "b\u{202e}"], "things"), "a, b\\u{202e}");
        let many: Vec<String> = (0..15_000).map(|i| format!("linux/arch{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let shown = quote_list(&many, "platforms");
        assert!(
            shown.starts_with("15000 platforms: linux/arch0, "),
            "{shown}"
        );
        assert!(shown.ends_with("linux/arch9, and 14990 more"), "{shown}");
        let long = "x".repeat(10_000);
        let shown = quote_list(&[long.as_str(); 20], "platforms");
        assert!(
            shown.len() < LIST_LIMIT * (NAME_LIMIT + 8) + 40,
            "{}",
            shown.len()
        );
        assert_eq!(quote("plain/name").to_string(), "plain/name");
        let long = quote(&"é".repeat(10_000)).to_string();
        assert_eq!(long.chars().count(), NAME_LIMIT + 1);
        assert!(long.ends_with('…'));
        let escapes = quote(&"\u{1b}".repeat(10_000)).to_string();
        assert!(escapes.chars().count() <= NAME_LIMIT + 1, "{escapes}");
        assert!(!escapes.contains('\u{1b}'));
        assert_eq!(
            quote(&"a".repeat(NAME_LIMIT)).to_string(),
            "a".repeat(NAME_LIMIT)
        );
    }
}
