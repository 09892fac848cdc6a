//! Finds where a value sits in a RON source, by its path (`links[2].to`).
//!
//! Serde hands the checker plain values without positions. Rather than thread spans through
//! every type, the checker names the path of a bad value and this module walks the source text
//! to it — a small scanner that understands RON's brackets, strings and comments, enough to
//! skip any value. If the path's last part is absent (a defaulted field), the position of the
//! deepest part that exists is returned, so every error still points somewhere useful.

/// A 1-based line and column, and the length of the token found there (for underlining).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Length in characters of the value's first token.
    pub len: usize,
}

enum Segment<'p> {
    Field(&'p str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indices) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            out.push(Segment::Field(name));
        }
        for index in indices.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

/// The location of the value at `path` in `src`, or of its deepest existing ancestor.
pub(super) fn locate(src: &str, path: &str) -> Location {
    location_of(src, walk(src, path).0)
}

/// The location of the value at `path` in `src`, only if every part of the path is written
/// there: tells a field the file gives from one left to its default.
pub(super) fn locate_written(src: &str, path: &str) -> Option<Location> {
    let (pos, whole) = walk(src, path);
    whole.then(|| location_of(src, pos))
}

/// The offset of the deepest part of `path` found in `src`, and whether that is all of it.
fn walk(src: &str, path: &str) -> (usize, bool) {
    let bytes = src.as_bytes();
    let mut pos = skip_trivia(bytes, skip_attributes(bytes));
    for segment in segments(path) {
        let found = match segment {
            Segment::Field(name) => field(bytes, pos, name),
            Segment::Index(i) => index(bytes, pos, i),
        };
        match found {
            Some(p) => pos = p,
            None => return (pos, false),
        }
    }
    (pos, true)
}

/// The location of byte offset `pos`.
pub(super) fn location_of(src: &str, pos: usize) -> Location {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..pos].chars().count() + 1;
    let len = src[pos..]
        .chars()
        .count()
        .min(token_len(src.as_bytes(), pos))
        .max(1);
    Location { line, col, len }
}

fn token_len(bytes: &[u8], pos: usize) -> usize {
    match bytes.get(pos) {
        Some(b'"') => skip_string(bytes, pos) - pos,
        Some(_) => bytes[pos..]
            .iter()
            .position(|b| b" \t\r\n,()[]{}:".contains(b))
            .unwrap_or(bytes.len() - pos)
            .max(1),
        None => 1,
    }
}

/// Where the first value of `src` starts, past blank space, comments and `#![enable(...)]`
/// lines: the text's length when it holds no value.
pub(super) fn past_attributes(src: &str) -> usize {
    skip_attributes(src.as_bytes())
}

/// Skips `#![enable(...)]` lines at the top of a file.
fn skip_attributes(bytes: &[u8]) -> usize {
    let mut pos = skip_trivia(bytes, 0);
    while bytes[pos..].starts_with(b"#!") {
        pos = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| pos + i + 1);
        pos = skip_trivia(bytes, pos);
    }
    pos
}

fn skip_trivia(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if bytes[pos..].starts_with(b"//") {
            pos = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| pos + i);
        } else if bytes[pos..].starts_with(b"/*") {
            pos = find(bytes, pos + 2, b"*/").map_or(bytes.len(), |i| i + 2);
        } else {
            return pos;
        }
    }
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

fn skip_string(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_raw_string(bytes: &[u8], pos: usize) -> usize {
    let hashes = bytes[pos + 1..].iter().take_while(|&&b| b == b'#').count();
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    find(bytes, pos + 2 + hashes, &close).map_or(bytes.len(), |i| i + close.len())
}

/// The end of the value starting at `pos` (which must be past trivia).
fn skip_value(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#')) => i = skip_raw_string(bytes, i),
            b'\'' => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'\'')
                    .map_or(bytes.len(), |j| i + j + 2)
            }
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => i = skip_trivia(bytes, i),
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            b',' | b':' if depth == 0 => return i,
            _ => i += 1,
        }
    }
    i
}

/// Steps into the brackets of the value at `pos`, past a struct or `Some` name. Returns the
/// position after the opening bracket.
fn open(bytes: &[u8], pos: usize, bracket: u8) -> Option<usize> {
    // `Some(( ... ))` or `Some([ ... ])`: look through the option.
    if bytes[pos..].starts_with(b"Some") {
        let paren = skip_trivia(bytes, pos + 4);
        if bytes.get(paren) == Some(&b'(')
            && let Some(inner) = open(bytes, skip_trivia(bytes, paren + 1), bracket)
        {
            return Some(inner);
        }
    }
    let mut i = pos;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i = skip_trivia(bytes, i);
    (bytes.get(i) == Some(&bracket)).then(|| skip_trivia(bytes, i + 1))
}

fn field(bytes: &[u8], pos: usize, name: &str) -> Option<usize> {
    let mut i = open(bytes, pos, b'(').or_else(|| open(bytes, pos, b'{'))?;
    loop {
        i = skip_trivia(bytes, i);
        if i >= bytes.len() || matches!(bytes[i], b')' | b'}') {
            return None;
        }
        let key_end = skip_value(bytes, i);
        let key = std::str::from_utf8(&bytes[i..key_end])
            .ok()?
            .trim()
            .trim_matches('"');
        i = skip_trivia(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let value = skip_trivia(bytes, i + 1);
        if key == name {
            return Some(value);
        }
        i = next_item(bytes, skip_value(bytes, value))?;
    }
}

fn index(bytes: &[u8], pos: usize, wanted: usize) -> Option<usize> {
    let mut i = open(bytes, pos, b'[')?;
    for _ in 0..wanted {
        i = skip_trivia(bytes, i);
        if i >= bytes.len() || bytes[i] == b']' {
            return None;
        }
        i = next_item(bytes, skip_value(bytes, i))?;
    }
    i = skip_trivia(bytes, i);
    (i < bytes.len() && bytes[i] != b']').then_some(i)
}

/// An item of one of the file's top-level lists (`sites`, `pools` …), as the scanner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListItem {
    /// The list's field name.
    pub(super) list: String,
    /// The item's index in the list as written.
    pub(super) index: usize,
    /// Its bytes, with the comma after it when there is one.
    pub(super) span: std::ops::Range<usize>,
    /// Its `name: "…"`, when it has one.
    pub(super) name: Option<String>,
}

/// The top-level list item that holds byte offset `at`, if the brackets around it close where
/// they should: an item not followed by a comma or the list's end is not taken to be one.
pub(super) fn list_item_at(src: &str, at: usize) -> Option<ListItem> {
    let bytes = src.as_bytes();
    let mut i = open(bytes, skip_trivia(bytes, skip_attributes(bytes)), b'(')?;
    loop {
        i = skip_trivia(bytes, i);
        if i >= bytes.len() || bytes[i] == b')' || i > at {
            return None;
        }
        let key_end = skip_value(bytes, i);
        let key = src.get(i..key_end)?.trim();
        let colon = skip_trivia(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value = skip_trivia(bytes, colon + 1);
        let value_end = skip_value(bytes, value);
        if (value..value_end).contains(&at) {
            let first = open(bytes, value, b'[')?;
            return item_in_list(src, first, at).map(|(index, span)| ListItem {
                list: key.to_string(),
                index,
                name: field(bytes, span.start, "name")
                    .filter(|&p| p < span.end && bytes[p] == b'"')
                    .and_then(|p| src.get(p + 1..skip_string(bytes, p).saturating_sub(1)))
                    .map(str::to_string),
                span,
            });
        }
        i = next_item(bytes, value_end)?;
    }
}

fn item_in_list(src: &str, first: usize, at: usize) -> Option<(usize, std::ops::Range<usize>)> {
    let bytes = src.as_bytes();
    let mut i = first;
    for index in 0.. {
        i = skip_trivia(bytes, i);
        if i >= bytes.len() || bytes[i] == b']' || i > at {
            return None;
        }
        let end = skip_value(bytes, i);
        let after = skip_trivia(bytes, end);
        let well_formed = matches!(bytes.get(after), Some(b',' | b']'));
        if (i..end).contains(&at) {
            let span_end = if bytes.get(after) == Some(&b',') {
                after + 1
            } else {
                end
            };
            return well_formed.then_some((index, i..span_end));
        }
        i = next_item(bytes, end)?;
    }
    None
}

/// The byte offset of a 1-based line and column (in characters), if the text has them.
pub(super) fn offset_of(src: &str, line: usize, col: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        src.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let rest = &src[line_start..];
    Some(
        line_start
            + rest
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(rest.len(), |(i, _)| i),
    )
}

/// Past the comma after an item, or `None` at the closing bracket.
fn next_item(bytes: &[u8], end: usize) -> Option<usize> {
    let i = skip_trivia(bytes, end);
    (bytes.get(i) == Some(&b',')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r##"#![enable(implicit_some)]
// a comment with ( and "quotes"
(
    name: "demo",
    sites: [
        (name: "a", kind: cloud),
        /* skipped */ (name: "b,c", kind: edge, pools: Some([ (x: 1), (x: [2, 3]) ])),
    ],
    map: { "k": (v: r#"raw ) "# ) },
)
"##;

    #[test]
    fn finds_fields_indices_and_nested_values() {
        assert_eq!(
            locate(SRC, "name"),
            Location {
                line: 4,
                col: 11,
                len: 6
            }
        );
        assert_eq!(
            locate(SRC, "sites[0].kind"),
            Location {
                line: 6,
                col: 27,
                len: 5
            }
        );
        assert_eq!(
            locate(SRC, "sites[1].name"),
            Location {
                line: 7,
                col: 30,
                len: 5
            }
        );
        assert_eq!(
            locate(SRC, "sites[1].pools[1].x[1]"),
            Location {
                line: 7,
                col: 79,
                len: 1
            }
        );
        assert_eq!(locate(SRC, "map.k.v").line, 9);
    }

    #[test]
    fn falls_back_to_the_deepest_existing_part() {
        assert_eq!(locate(SRC, "sites[1].missing").line, 7);
        assert_eq!(locate(SRC, "sites[9]").line, 5);
        assert_eq!(locate(SRC, "nothing").line, 3);
    }

    #[test]
    fn finds_only_what_is_written() {
        assert_eq!(
            locate_written(SRC, "sites[1].pools[0].x").map(|l| l.line),
            Some(7)
        );
        assert_eq!(locate_written(SRC, "sites[1].missing"), None);
        assert_eq!(locate_written(SRC, "nothing"), None);
    }

    #[test]
    fn finds_the_top_level_list_item_around_an_offset() {
        let at = |needle: &str| SRC.find(needle).unwrap();
        let item = list_item_at(SRC, at("edge")).unwrap();
        assert_eq!((item.list.as_str(), item.index), ("sites", 1));
        assert_eq!(item.name.as_deref(), Some("b,c"));
        assert!(SRC[item.span.clone()].starts_with("(name: \"b,c\""));
        assert!(
            SRC[item.span].ends_with("]) ])),"),
            "the comma after it goes with it"
        );
        assert_eq!(list_item_at(SRC, at("demo")), None, "not in a list");
        assert_eq!(list_item_at(SRC, at("raw")), None, "in a map");
        let unclosed = "(sites: [(name: \"a\", kind: cloud, (name: \"b\")])";
        assert_eq!(list_item_at(unclosed, unclosed.find("kind").unwrap()), None);
        let last = "(sites: [(name: \"a\"), (name: \"b\" x)])";
        let item = list_item_at(last, last.find('x').unwrap()).unwrap();
        assert_eq!((item.index, &last[item.span]), (1, "(name: \"b\" x)"));
    }
}
