//! How the server commands and `top` write numbers, sizes, durations and tables, in the
//! forms the `nats` CLI and nats-top use: Go's duration text (`1.234567ms`), the CLI's
//! humanized durations (`5.03s`, `1h2m3s`), IEC sizes (`14 MiB`), thousands separators, the
//! boxed table of `nats server list` and the aligned `Label: value` sections of
//! `nats server info`.

use std::fmt::Write as _;
use std::time::Duration;

/// A duration as Go's `time.Duration.String()` writes it: `0s`, `850ns`, `12.5µs`,
/// `1.234567ms`, `2.5s`, `1h2m3.5s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", decimal(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let secs = nanos / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// `value / unit` with the fraction's trailing zeros dropped.
fn decimal(value: u128, unit: u128) -> String {
    let (whole, frac) = (value / unit, value % unit);
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A duration as the `nats` CLI shows one: `512µs`, `12ms`, `5.03s`, `2m3s`, `1h2m3s`,
/// `3d1h2m3s`, `1y2d1h2m3s`.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        return go_duration(Duration::from_micros(round_div(d.as_nanos(), 1_000) as u64));
    }
    if d < Duration::from_secs(1) {
        return go_duration(Duration::from_millis(
            round_div(d.as_nanos(), 1_000_000) as u64
        ));
    }
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn round_div(value: u128, by: u128) -> u128 {
    (value + by / 2) / by
}

/// A size in bytes in IEC units as go-humanize's `IBytes` writes it: `512 B`, `1.5 KiB`,
/// `14 MiB` (one decimal below 10 of a unit, none above).
pub fn ibytes(bytes: i64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let negative = bytes < 0;
    let mut value = bytes.unsigned_abs() as f64;
    let sign = if negative { "-" } else { "" };
    if value < 10.0 {
        return format!("{sign}{value} B");
    }
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // go-humanize rounds to one decimal, then drops it from 10 up.
    let rounded = (value * 10.0 + 0.5).floor() / 10.0;
    if rounded < 10.0 {
        format!("{sign}{rounded:.1} {}", UNITS[unit])
    } else {
        format!("{sign}{rounded:.0} {}", UNITS[unit])
    }
}

/// An integer with thousands separators: `1,234,567`.
pub fn comma(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The number of characters a cell takes on screen.
fn width(s: &str) -> usize {
    s.chars().count()
}

/// A boxed table with a title, a header row, rows and an optional footer row.
#[derive(Debug, Default)]
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    footer: Option<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            ..Table::default()
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn footer(&mut self, cells: Vec<String>) {
        self.footer = Some(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in self.rows.iter().chain(&self.footer) {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let inner: usize = widths
            .iter()
            .map(|w| w + 3)
            .sum::<usize>()
            .saturating_sub(1);
        let line = |left: &str, mid: &str, right: &str| {
            let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            format!("{left}{}{right}\n", parts.join(mid))
        };
        let cells = |row: &[String]| {
            let mut out = String::from("│");
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let _ = write!(out, " {cell}{} │", " ".repeat(w - width(cell)));
            }
            out.push('\n');
            out
        };

        let mut out = String::new();
        if self.title.is_empty() {
            out += &line("╭", "┬", "╮");
        } else {
            let inner = inner.max(width(&self.title) + 2);
            let pad = inner - width(&self.title);
            let _ = writeln!(out, "╭{}╮", "─".repeat(inner));
            let _ = writeln!(
                out,
                "│{}{}{}│",
                " ".repeat(pad / 2),
                self.title,
                " ".repeat(pad - pad / 2)
            );
            out += &line("├", "┬", "┤");
        }
        out += &cells(&self.header);
        out += &line("├", "┼", "┤");
        for row in &self.rows {
            out += &cells(row);
        }
        if let Some(footer) = &self.footer {
            out += &line("├", "┼", "┤");
            out += &cells(footer);
        }
        out += &line("╰", "┴", "╯");
        out
    }
}

/// Sections of right-aligned `Label: value` rows under a heading, as `nats server info`
/// prints them.
#[derive(Debug, Default)]
pub struct Columns {
    heading: String,
    /// A section title, or a row (an empty label continues the row above).
    items: Vec<Item>,
}

#[derive(Debug)]
enum Item {
    Title(String),
    Row(String, String),
}

impl Columns {
    pub fn new(heading: String) -> Columns {
        Columns {
            heading,
            items: Vec::new(),
        }
    }

    pub fn section(&mut self, title: &str) {
        self.items.push(Item::Title(title.into()));
    }

    pub fn row(&mut self, label: &str, value: impl ToString) {
        self.items.push(Item::Row(label.into(), value.to_string()));
    }

    /// One row per value, the label on the first only (nothing for no values).
    pub fn rows(&mut self, label: &str, values: &[String]) {
        for (i, value) in values.iter().enumerate() {
            self.row(if i == 0 { label } else { "" }, value);
        }
    }

    pub fn render(&self) -> String {
        let longest = self
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Row(label, _) => Some(width(label)),
                Item::Title(_) => None,
            })
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        if !self.heading.is_empty() {
            let _ = writeln!(out, "{}\n", self.heading);
        }
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Title(title) => {
                    if i != 0 {
                        out.push('\n');
                    }
                    let _ = writeln!(out, "{title}:\n");
                }
                Item::Row(label, value) if label.is_empty() => {
                    let _ = writeln!(out, "{} {value}", " ".repeat(longest + 3));
                }
                Item::Row(label, value) => {
                    let pad = longest + 2 - width(label);
                    let _ = writeln!(out, "{}{label}: {value}", " ".repeat(pad));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ns = Duration::from_nanos;
        assert_eq!(go_duration(ns(0)), "0s");
        assert_eq!(go_duration(ns(850)), "850ns");
        assert_eq!(go_duration(ns(12_500)), "12.5µs");
        assert_eq!(go_duration(ns(1_234_567)), "1.234567ms");
        assert_eq!(go_duration(ns(2_000_000)), "2ms");
        assert_eq!(go_duration(ns(2_500_000_000)), "2.5s");
        assert_eq!(go_duration(ns(63_000_000_001)), "1m3.000000001s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_nanos(512_400)), "512µs");
        assert_eq!(human_duration(Duration::from_micros(12_345)), "12ms");
        assert_eq!(human_duration(Duration::from_millis(5_033)), "5.03s");
        assert_eq!(human_duration(Duration::from_secs(123)), "2m3s");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(
            human_duration(Duration::from_secs(86_400 + 3723)),
            "1d1h2m3s"
        );
        assert_eq!(
            human_duration(Duration::from_secs(366 * 86_400 + 3723)),
            "1y1d1h2m3s"
        );
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(ibytes(0), "0 B");
        assert_eq!(ibytes(512), "512 B");
        assert_eq!(ibytes(1536), "1.5 KiB");
        assert_eq!(ibytes(14_700_544), "14 MiB");
        assert_eq!(ibytes(1_073_741_824), "1.0 GiB");
        assert_eq!(comma(0), "0");
        assert_eq!(comma(999), "999");
        assert_eq!(comma(1_234_567), "1,234,567");
        assert_eq!(comma(-1000), "-1,000");
    }

    #[test]
    fn tables_line_up() {
        let mut t = Table::new("Overview", &["Name", "Conns"]);
        t.row(vec!["alpha".into(), "3".into()]);
        t.row(vec!["b".into()]);
        t.footer(vec!["".into(), "3".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "│   Overview    │");
        assert_eq!(lines[3], "│ Name  │ Conns │");
        assert_eq!(lines[5], "│ alpha │ 3     │");
        assert_eq!(lines[6], "│ b     │       │");
        assert!(lines.iter().all(|l| width(l) == width(lines[0])), "{text}");
    }

    #[test]
    fn columns_align_on_the_colon() {
        let mut c = Columns::new("Server information for a".into());
        c.section("Process Details");
        c.row("Version", "2.15.1");
        c.rows("Client URLs", &["u1".into(), "u2".into()]);
        assert_eq!(
            c.render(),
            "Server information for a\n\nProcess Details:\n\n      Version: 2.15.1\n  Client URLs: u1\n               u2\n"
        );
    }
}
