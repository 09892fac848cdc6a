//! Reading a scenario past its parse errors, so that one bad item does not hide the problems
//! of the others.
//!
//! RON stops at the first error. When that error lies inside an item of a top-level list (a
//! site, a pool, a service …) whose brackets close, the item is blanked out — replaced by
//! spaces, keeping every line and column of the rest — and the file is read again. Once it
//! reads, the rest is checked without the blanked items. Problems that only exist because an
//! item is missing (a name that no longer resolves) are not reported: they would vanish with
//! the fix. An error outside any list item (a broken bracket, a bad `horizon`) stops reading.

use super::locate::{ListItem, list_item_at};
use super::{Diagnostic, Diagnostics};

/// At most this many items are left out of one file before reading gives up.
const MAX_SKIPPED: usize = 50;

/// The items left out of a file so far, and the file as it reads without them.
#[derive(Debug)]
pub(super) struct Recovery {
    readable: String,
    skipped: Vec<ListItem>,
}

impl Recovery {
    /// Starts with the whole file.
    pub(super) fn new(text: &str) -> Self {
        Recovery {
            readable: text.to_string(),
            skipped: Vec::new(),
        }
    }

    /// The text as it stands, with the skipped items blanked.
    pub(super) fn readable(&self) -> &str {
        &self.readable
    }

    /// How many items were left out.
    pub(super) fn skipped(&self) -> usize {
        self.skipped.len()
    }

    /// Leaves out the list item holding byte offset `at`. False when there is none to leave
    /// out, and reading has to stop.
    pub(super) fn skip_item_at(&mut self, at: usize) -> bool {
        if self.skipped.len() >= MAX_SKIPPED {
            return false;
        }
        let Some(item) = list_item_at(&self.readable, at) else {
            return false;
        };
        let ends = [item.span.start, item.span.end];
        if !ends.iter().all(|&end| self.readable.is_char_boundary(end)) {
            return false;
        }
        let blank: String = self.readable[item.span.clone()]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        self.readable.replace_range(item.span.clone(), &blank);
        self.skipped.push(item);
        true
    }

    /// Moves the problems found in the readable text into `into`, with paths that count the
    /// skipped items again, leaving out those that name a skipped item.
    pub(super) fn carry_over(&self, found: &Diagnostics, into: &mut Diagnostics) {
        for item in found.items() {
            if self.mentions_skipped(&item.message) {
                continue;
            }
            into.push(Diagnostic {
                path: item.path.as_deref().map(|path| self.path_as_written(path)),
                ..item.clone()
            });
        }
    }

    fn mentions_skipped(&self, message: &str) -> bool {
        self.skipped
            .iter()
            .filter_map(|item| item.name.as_deref())
            .any(|name| message.contains(&format!("\"{name}\"")))
    }

    /// `services[2].slo` in the readable text is `services[3].slo` in the file if an earlier
    /// service was left out.
    fn path_as_written(&self, path: &str) -> String {
        let Some((list, rest)) = path.split_once('[') else {
            return path.to_string();
        };
        let Some((index, tail)) = rest.split_once(']') else {
            return path.to_string();
        };
        let Ok(mut index) = index.parse::<usize>() else {
            return path.to_string();
        };
        let mut skipped: Vec<usize> = self
            .skipped
            .iter()
            .filter(|item| item.list == list)
            .map(|item| item.index)
            .collect();
        skipped.sort_unstable();
        for at in skipped {
            if at <= index {
                index += 1;
            }
        }
        format!("{list}[{index}]{tail}")
    }
}
