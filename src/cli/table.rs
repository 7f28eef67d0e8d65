//! Plain-text tables for the human output of list commands: every column
//! padded to its widest cell (counted in characters), so that the columns
//! line up whatever the names are.

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.to_vec());
    }

    /// The table, or `empty` when it has no rows.
    pub fn render_or(&self, empty: &str) -> String {
        if self.rows.is_empty() {
            return empty.to_string();
        }
        let width = |i: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                cells.join("  ").trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_whatever_the_cell_widths() {
        let mut t = Table::new(["ID", "NAME", "STATUS"]);
        t.row(["a".into(), "a much longer name".into(), "active".into()]);
        t.row(["bbbb".into(), "ü".into(), "revoked".into()]);
        let out = t.render_or("none");
        // The third column starts at the same character on every line.
        let third = "bbbb  a much longer name  ".chars().count();
        for line in out.lines() {
            let chars: Vec<char> = line.chars().collect();
            assert!(chars[third - 1] == ' ' && chars[third] != ' ', "{out}");
        }
        assert_eq!(Table::new(["X"]).render_or("none"), "none");
    }
}
