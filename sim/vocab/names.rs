//! [`NameTable`]: the names of one kind of item (sites, pools, services …) and the typed id each
//! resolves to, built once from a checked scenario so nothing looks a name up by scanning
//! strings afterwards.

/// Names in id order, with a sorted index for lookups. Iteration is in id order (the scenario's
/// order), never in hash order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTable<Id> {
    /// Names by id: the name of id `i` is `names[i]`.
    names: Vec<String>,
    /// (name, id) sorted by name; the first of duplicate names wins, as a scan would.
    sorted: Vec<(String, Id)>,
}

impl<Id: Copy> NameTable<Id> {
    /// The table of `names`, whose ids are their positions (`id(i)` makes the id of position i).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, id: impl Fn(u32) -> Id) -> Self {
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let mut sorted: Vec<(String, Id)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), id(u32::try_from(i).unwrap_or(u32::MAX))))
            .collect();
        // A stable sort keeps equal names in id order, so the lowest id of a name is found.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        NameTable { names, sorted }
    }

    /// The id of `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Id> {
        let at = self.sorted.partition_point(|(n, _)| n.as_str() < name);
        self.sorted.get(at).filter(|(n, _)| n == name).map(|&(_, id)| id)
    }

    /// The name at `index` (an id's position), if there is one.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    /// How many items the table names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the table names nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names in id order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::NameTable;
    use crate::vocab::SiteId;

    #[test]
    fn names_resolve_to_their_positions_and_the_first_duplicate_wins() {
        let table = NameTable::new(["eu", "us", "ap", "us"], SiteId);
        assert_eq!(table.get("eu"), Some(SiteId(0)));
        assert_eq!(table.get("us"), Some(SiteId(1)));
        assert_eq!(table.get("ap"), Some(SiteId(2)));
        assert_eq!(table.get("moon"), None);
        assert_eq!(table.len(), 4);
        assert_eq!(table.names().collect::<Vec<_>>(), ["eu", "us", "ap", "us"]);
        assert_eq!(table.name(2), Some("ap"));
    }
}
