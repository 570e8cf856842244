//! The one place text reports are laid out: lines, `label: value` fields and
//! tables whose columns fit their widest cell. Commands fill a [`Text`]; the
//! printer prints it.

use std::fmt::{self, Display};

/// A text report, built line by line.
#[derive(Debug, Default)]
pub struct Text {
    out: String,
}

impl Text {
    /// Adds one line.
    pub fn line(&mut self, line: impl Display) {
        self.out.push_str(&line.to_string());
        self.out.push('\n');
    }

    /// Adds `label: value` lines, indented by two spaces, the values aligned.
    pub fn fields<L: Display, V: Display>(&mut self, fields: impl IntoIterator<Item = (L, V)>) {
        let mut table = Table::new(&[]);
        table.indent = 2;
        for (label, value) in fields {
            table.row([format!("{label}:"), value.to_string()]);
        }
        self.table(&table);
    }

    /// Adds a table.
    pub fn table(&mut self, table: &Table) {
        self.out.push_str(&table.to_string());
    }
}

impl Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.out)
    }
}

/// Columns of text: a header line (when given) and rows; every column is as
/// wide as its widest cell, the last one is not padded.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
    /// Spaces before each line.
    pub indent: usize,
}

impl Table {
    /// A table with these column titles (none: no header line).
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            right: Vec::new(),
            indent: 0,
        }
    }

    /// Aligns column `column` (from 0) to the right, as numbers are.
    pub fn right_align(mut self, column: usize) -> Self {
        self.right.push(column);
        self
    }

    /// Adds a row.
    pub fn row<C: Display>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
    }
}

impl Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&Vec<String>> = std::iter::once(&self.header)
            .filter(|h| !h.is_empty())
            .chain(&self.rows)
            .collect();
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                lines
                    .iter()
                    .filter_map(|l| l.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for line in lines {
            let mut text = " ".repeat(self.indent);
            for (c, cell) in line.iter().enumerate() {
                let last = c + 1 == line.len();
                let pad = widths[c] - cell.chars().count();
                if self.right.contains(&c) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if !last {
                        text.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    text.push_str("  ");
                }
            }
            writeln!(f, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let mut table = Table::new(&["NODE", "PORT", "IMAGE"]).right_align(1);
        table.row(["FLUX Dev", "8001", "nvcr.io/a:1"]);
        table.row(["Demo", "80", "b"]);
        assert_eq!(
            table.to_string(),
            "NODE      PORT  IMAGE\nFLUX Dev  8001  nvcr.io/a:1\nDemo        80  b\n"
        );
        let mut text = Text::default();
        text.line("Package p.zip");
        text.fields([("size", "1 MB"), ("package id", "abc")]);
        assert_eq!(
            text.to_string(),
            "Package p.zip\n  size:        1 MB\n  package id:  abc\n"
        );
    }
}
