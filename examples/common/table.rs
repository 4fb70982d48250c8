//! A results table written as CSV (for machines) and markdown (for people and EXPERIMENTS.md).

use std::fmt::Write as _;
use std::path::Path;

/// Rows of text cells under a header.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// # Panics
    /// If the row does not have one cell per column.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        let row: Vec<String> = row.into_iter().map(Into::into).collect();
        assert_eq!(row.len(), self.header.len(), "one cell per column");
        self.rows.push(row);
    }

    /// The table as GitHub markdown.
    pub fn markdown(&self) -> String {
        let mut text = format!("| {} |\n|", self.header.join(" | "));
        text.push_str(&" --- |".repeat(self.header.len()));
        text.push('\n');
        for row in &self.rows {
            writeln!(text, "| {} |", row.join(" | ")).expect("writing to a string");
        }
        text
    }

    /// The table as CSV; cells holding a comma or a quote are quoted.
    pub fn csv(&self) -> String {
        let line = |cells: &[String]| {
            let quoted: Vec<String> = cells
                .iter()
                .map(|cell| {
                    if cell.contains([',', '"', '\n']) {
                        format!("\"{}\"", cell.replace('"', "\"\""))
                    } else {
                        cell.clone()
                    }
                })
                .collect();
            quoted.join(",") + "\n"
        };
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|cells| line(cells))
            .collect()
    }

    /// Writes `<stem>.csv` and `<stem>.md` into `folder`.
    pub fn write(&self, folder: &Path, stem: &str) -> Result<(), String> {
        for (extension, text) in [("csv", self.csv()), ("md", self.markdown())] {
            let path = folder.join(format!("{stem}.{extension}"));
            std::fs::write(&path, text)
                .map_err(|error| format!("cannot write `{}`: {error}", path.display()))?;
        }
        Ok(())
    }
}
