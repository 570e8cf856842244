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
/// C1), line and paragraph separators, and the marks that reorder text
/// (bidirectional overrides), which make a name look like another.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Text from a package as a message shows it: unsafe characters escaped as
/// `\u{1b}`, and cut with `…` once it reaches its limit.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a> {
    text: &'a str,
    limit: usize,
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
