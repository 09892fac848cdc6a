//! The building blocks of the report's markup: escaping, shortening long text, number and
//! time formats, and tables.

use std::fmt::Write as _;

/// Escapes `text` for use as HTML element content or as a quoted attribute value: `&`, `<`,
/// `>`, `"` and `'` become character references; everything else is kept as it is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// `text` cut to at most `max` characters, ending in "…" when it was cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_string();
    }
    let keep = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    format!("{}…", &text[..keep])
}

/// `n` with thousands separated by commas: `12,229`.
pub(crate) fn count(n: u64) -> String {
    group(&n.to_string())
}

fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `v` with `decimals` decimals and thousands separated by commas; "—" when not finite.
pub(crate) fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return DASH.to_string();
    }
    let text = format!("{:.decimals$}", v.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let negative = v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&group(whole));
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// The mark of a figure that is missing or cannot be given.
pub(crate) const DASH: &str = "—";

/// A dollar amount with cents: `5,481.28`.
pub(crate) fn usd(v: f64) -> String {
    number(v, 2)
}

/// Milliseconds with as many decimals as a reader needs: `4,208`, `31.5`, `2.38`.
pub(crate) fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => number(v, 0),
        Some(v) if v.abs() >= 10.0 => number(v, 1),
        Some(v) => number(v, 2),
        None => DASH.to_string(),
    }
}

/// A share as a percentage with two decimals, or more when two would round a share below one
/// up to `100.00%`: `90.10%`, `99.995%`, `100%`.
pub(crate) fn share(v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return DASH.to_string();
    };
    if v == 1.0 {
        return "100%".to_string();
    }
    let pct = v * 100.0;
    let mut decimals = 2;
    while decimals < 6 && pct < 100.0 && format!("{pct:.decimals$}").starts_with("100") {
        decimals += 1;
    }
    format!("{pct:.decimals$}%")
}

/// A span of seconds in its two largest units: `45 s`, `2 min`, `2 h 2 min`, `3 d 4 h`;
/// "—" when missing.
pub(crate) fn duration(v: Option<f64>) -> String {
    let Some(s) = v.filter(|s| s.is_finite() && *s >= 0.0) else {
        return DASH.to_string();
    };
    if s < 60.0 {
        return if s == s.round() || s >= 10.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        };
    }
    let total = s.round() as u64;
    let parts = [
        (total / 86_400, "d"),
        (total / 3_600 % 24, "h"),
        (total / 60 % 60, "min"),
        (total % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An instant as time since the start of the run on a clock: `10:00:00`, and after the
/// first day `2 d 10:00:00`.
pub(crate) fn clock(t_s: f64) -> String {
    if !t_s.is_finite() || t_s < 0.0 {
        return DASH.to_string();
    }
    let total = t_s.floor() as u64;
    let (days, rest) = (total / 86_400, total % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rest / 3_600, rest / 60 % 60, rest % 60);
    if days == 0 { hms } else { format!("{days} d {hms}") }
}

/// A table column: its title and whether its cells are figures (set right-aligned).
#[derive(Debug, Clone)]
pub(crate) struct Column {
    title: String,
    numeric: bool,
}

impl Column {
    /// A column of text.
    pub(crate) fn text(title: impl Into<String>) -> Self {
        Column {
            title: title.into(),
            numeric: false,
        }
    }

    /// A column of figures.
    pub(crate) fn num(title: impl Into<String>) -> Self {
        Column {
            title: title.into(),
            numeric: true,
        }
    }
}

/// One table cell: markup (already escaped) and an optional tooltip.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cell {
    html: String,
    title: Option<String>,
}

impl Cell {
    /// A cell showing `text`, escaped.
    pub(crate) fn text(text: impl AsRef<str>) -> Self {
        Cell {
            html: escape(text.as_ref()),
            title: None,
        }
    }

    /// A cell of ready markup.
    pub(crate) fn html(html: String) -> Self {
        Cell { html, title: None }
    }

    /// The same cell with a tooltip explaining it.
    pub(crate) fn titled(mut self, title: impl AsRef<str>) -> Self {
        self.title = Some(escape(title.as_ref()));
        self
    }
}

/// Writes a table with `columns` and `rows`; a row shorter than the columns is padded.
pub(crate) fn table(out: &mut String, class: &str, columns: &[Column], rows: &[Vec<Cell>]) {
    let align = |numeric: bool| if numeric { " class=\"num\"" } else { "" };
    let _ = write!(
        out,
        "<div class=\"scroll\"><table class=\"{class}\">\n<thead><tr>"
    );
    for column in columns {
        let _ = write!(out, "<th{}>{}</th>", align(column.numeric), escape(&column.title));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, column) in columns.iter().enumerate() {
            let cell = row.get(i).cloned().unwrap_or_default();
            let title = cell.title.map(|t| format!(" title=\"{t}\"")).unwrap_or_default();
            let _ = write!(out, "<td{}{title}>{}</td>", align(column.numeric), cell.html);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_every_special_character() {
        assert_eq!(
            escape(r#"<script>alert("x & 'y'")</script>"#),
            "&lt;script&gt;alert(&quot;x &amp; &#39;y&#39;&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain text, ünïcode — ok"), "plain text, ünïcode — ok");
        assert_eq!(
            escape("&amp;"),
            "&amp;amp;",
            "already escaped text is escaped again"
        );
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_on_character_boundaries() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly", 7), "exactly");
        assert_eq!(clip("ääääää", 4), "äää…");
        assert_eq!(clip("abcdef", 4).chars().count(), 4);
    }

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(count(0), "0");
        assert_eq!(count(12_229), "12,229");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(usd(5481.284), "5,481.28");
        assert_eq!(usd(-0.001), "0.00");
        assert_eq!(usd(-1234.5), "-1,234.50");
        assert_eq!(number(f64::NAN, 1), DASH);
        assert_eq!(ms(Some(4208.4)), "4,208");
        assert_eq!(ms(Some(31.46)), "31.5");
        assert_eq!(ms(None), DASH);
    }

    #[test]
    fn shares_near_one_keep_their_decimals() {
        assert_eq!(share(Some(0.901)), "90.10%");
        assert_eq!(share(Some(0.99995)), "99.995%");
        assert_eq!(share(Some(1.0)), "100%");
        assert_eq!(share(None), DASH);
    }

    #[test]
    fn durations_and_clock_times_read_naturally() {
        assert_eq!(duration(Some(0.0)), "0 s");
        assert_eq!(duration(Some(0.3)), "0.3 s");
        assert_eq!(duration(Some(120.0)), "2 min");
        assert_eq!(duration(Some(7320.0)), "2 h 2 min");
        assert_eq!(duration(Some(90_061.0)), "1 d 1 h");
        assert_eq!(duration(None), DASH);
        assert_eq!(clock(36_000.008), "10:00:00");
        assert_eq!(clock(86_400.0 + 3_661.0), "1 d 01:01:01");
    }

    #[test]
    fn tables_escape_titles_and_pad_short_rows() {
        let mut out = String::new();
        table(
            &mut out,
            "t",
            &[Column::text("a<b"), Column::num("n")],
            &[vec![Cell::text("x&y")]],
        );
        assert!(out.contains("<th>a&lt;b</th><th class=\"num\">n</th>"));
        assert!(out.contains("<td>x&amp;y</td><td class=\"num\"></td>"));
    }
}
