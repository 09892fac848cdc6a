//! Addresses of values inside a scenario: `pools["onprem-fra/H100"].owned.count`,
//! `services[assistant].demand[0].arrivals.peak`, `incidents["eu down"].duration`.
//!
//! An address is a field name followed by `.field`, `[index]` or `[name]` steps (the name may be
//! quoted with `"` or `'`). It is resolved against the scenario as a JSON tree (the serde form of
//! [`ScenarioSpec`](crate::scenario::ScenarioSpec)): a `[name]` step picks the list item whose
//! `name` is that name — pools and links without one are named `<site>/<accelerator>` and
//! `<a>--<b>` as everywhere else — and a field step passes through an enum variant
//! (`arrivals: diurnal(peak: …)` is reached as `arrivals.peak`). A step that does not resolve
//! says which names or fields exist at that point.

use serde_json::Value;

use crate::scenario::closest;

/// One step of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.field`
    Field(String),
    /// `[3]`
    Index(usize),
    /// `["name"]`
    Name(String),
}

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address as written.
    pub text: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl AddressError {
    fn new(message: impl Into<String>, help: Option<String>) -> Self {
        AddressError {
            message: message.into(),
            help,
        }
    }
}

impl Address {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let syntax = |what: &str| {
            AddressError::new(
                format!("cannot read address `{text}`: {what}"),
                Some(
                    "write it like `pools[\"onprem-fra/H100\"].owned.count` or `services[0].slo.latency`"
                        .into(),
                ),
            )
        };
        let mut steps = Vec::new();
        let mut rest = text.trim();
        let mut first = true;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| syntax("a `[` is not closed"))?;
                let inside = after[..end].trim();
                let unquoted = ['"', '\''].iter().find_map(|q| {
                    inside
                        .strip_prefix(*q)
                        .and_then(|s| s.strip_suffix(*q))
                        .map(|s| (s, true))
                });
                let (key, quoted) = unquoted.unwrap_or((inside, false));
                if key.is_empty() {
                    return Err(syntax("`[]` needs an index or a name"));
                }
                steps.push(match key.parse::<usize>() {
                    Ok(index) if !quoted => Step::Index(index),
                    _ => Step::Name(key.to_string()),
                });
                rest = &after[end + 1..];
            } else {
                let body = if first {
                    rest
                } else {
                    rest.strip_prefix('.')
                        .ok_or_else(|| syntax("expected `.field` or `[…]`"))?
                };
                let end = body.find(['.', '[']).unwrap_or(body.len());
                let field = body[..end].trim();
                if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(syntax(
                        "a field name is empty or has characters other than letters, digits and `_`",
                    ));
                }
                steps.push(Step::Field(field.to_string()));
                rest = &body[end..];
            }
            first = false;
        }
        if !matches!(steps.first(), Some(Step::Field(_))) {
            return Err(syntax(
                "it must start with a field of the scenario, such as `pools`",
            ));
        }
        Ok(Address {
            text: text.to_string(),
            steps,
        })
    }

    /// Replaces the value at this address in `root` with `value`.
    pub fn set(&self, root: &mut Value, value: Value) -> Result<(), AddressError> {
        let mut node = root;
        let mut walked = String::new();
        for step in &self.steps {
            node = descend(node, step, &walked)?;
            match step {
                Step::Field(f) if walked.is_empty() => walked.push_str(f),
                Step::Field(f) => walked.push_str(&format!(".{f}")),
                Step::Index(i) => walked.push_str(&format!("[{i}]")),
                Step::Name(n) => walked.push_str(&format!("[\"{n}\"]")),
            }
        }
        if node.is_object() || node.is_array() {
            return Err(AddressError::new(
                format!("`{}` is a whole part of the scenario, not one value", self.text),
                Some(format!("address one of its fields: {}", keys_of(node).join(", "))),
            ));
        }
        *node = value;
        Ok(())
    }
}

fn descend<'v>(node: &'v mut Value, step: &Step, walked: &str) -> Result<&'v mut Value, AddressError> {
    let place = if walked.is_empty() {
        "the scenario".to_string()
    } else {
        format!("`{walked}`")
    };
    match step {
        Step::Field(field) => {
            let node = through_variant(node, field);
            if node.get(field).is_some() {
                return Ok(&mut node[field.as_str()]);
            }
            match node {
                Value::Object(map) => {
                    let known: Vec<&str> = map.keys().map(String::as_str).collect();
                    let help = match closest(field, known.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`? The fields here: {}", known.join(", ")),
                        None => format!("the fields here: {}", known.join(", ")),
                    };
                    Err(AddressError::new(
                        format!("{place} has no field `{field}`"),
                        Some(help),
                    ))
                }
                Value::Array(_) => Err(AddressError::new(
                    format!("{place} is a list: pick an item with `[name]` or `[index]` before `.{field}`"),
                    None,
                )),
                _ => Err(AddressError::new(
                    format!("{place} is a single value with no field `{field}`"),
                    None,
                )),
            }
        }
        Step::Index(index) => match node {
            Value::Array(items) => {
                let len = items.len();
                items.get_mut(*index).ok_or_else(|| {
                    AddressError::new(
                        format!("{place} has {len} items; there is no [{index}]"),
                        Some(format!("indices run from 0 to {}", len.saturating_sub(1))),
                    )
                })
            }
            _ => Err(AddressError::new(
                format!("{place} is not a list; `[{index}]` does not apply"),
                None,
            )),
        },
        Step::Name(name) => match node {
            Value::Array(items) => {
                let names: Vec<String> = items.iter().map(item_name).collect();
                match names.iter().position(|n| n == name) {
                    Some(at) => Ok(&mut items[at]),
                    None => {
                        let help = match closest(name, names.iter().map(String::as_str)) {
                            Some(near) => {
                                format!("did you mean \"{near}\"? The names here: {}", quoted(&names))
                            }
                            None => format!("the names here: {}", quoted(&names)),
                        };
                        Err(AddressError::new(
                            format!("{place} has no item named \"{name}\""),
                            Some(help),
                        ))
                    }
                }
            }
            _ => Err(AddressError::new(
                format!("{place} is not a list; `[\"{name}\"]` does not apply"),
                None,
            )),
        },
    }
}

/// An enum value is a one-key object (`{"diurnal": {…}}`): a field of the variant is reached
/// through it.
fn through_variant<'v>(node: &'v mut Value, field: &str) -> &'v mut Value {
    let variant = match &*node {
        Value::Object(map)
            if !map.contains_key(field) && map.len() == 1 && map.values().all(Value::is_object) =>
        {
            map.keys().next().cloned()
        }
        _ => None,
    };
    match variant {
        Some(name) => &mut node[name.as_str()],
        None => node,
    }
}

/// The name a list item is addressed by.
fn item_name(item: &Value) -> String {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    if let Some(name) = text("name") {
        return name.to_string();
    }
    match (text("site"), text("accelerator"), text("a"), text("b")) {
        (Some(site), Some(accelerator), _, _) => format!("{site}/{accelerator}"),
        (_, _, Some(a), Some(b)) => format!("{a}--{b}"),
        _ => String::new(),
    }
}

fn keys_of(node: &Value) -> Vec<String> {
    match node {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items.iter().map(item_name).collect(),
        _ => Vec::new(),
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn estate() -> Value {
        json!({
            "pools": [
                {"name": null, "site": "onprem-fra", "accelerator": "H100", "owned": {"count": 8}, "spot": null},
                {"name": "burst", "site": "cloud-eu", "accelerator": "H100", "owned": null},
            ],
            "services": [{"name": "chat", "demand": [{"arrivals": {"diurnal": {"peak": "20/s"}}}]}],
        })
    }

    #[test]
    fn addresses_parse_into_steps() {
        let a = Address::parse("pools[\"onprem-fra/H100\"].owned.count").unwrap();
        assert_eq!(
            a.steps,
            vec![
                Step::Field("pools".into()),
                Step::Name("onprem-fra/H100".into()),
                Step::Field("owned".into()),
                Step::Field("count".into()),
            ]
        );
        let b = Address::parse("services[chat].demand[0].arrivals.peak").unwrap();
        assert_eq!(b.steps[1], Step::Name("chat".into()));
        assert_eq!(b.steps[3], Step::Index(0));
        assert_eq!(
            Address::parse("incidents['7']").unwrap().steps[1],
            Step::Name("7".into())
        );
        for bad in ["", "[0]", "pools[", "pools[].x", "pools..x", "pools x"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn setting_reaches_named_items_and_enum_variants() {
        let mut root = estate();
        Address::parse("pools[\"onprem-fra/H100\"].owned.count")
            .unwrap()
            .set(&mut root, json!(16))
            .unwrap();
        assert_eq!(root["pools"][0]["owned"]["count"], json!(16));
        Address::parse("services[chat].demand[0].arrivals.peak")
            .unwrap()
            .set(&mut root, json!("40/s"))
            .unwrap();
        assert_eq!(
            root["services"][0]["demand"][0]["arrivals"]["diurnal"]["peak"],
            json!("40/s")
        );
    }

    #[test]
    fn a_wrong_step_says_what_exists_there() {
        let mut root = estate();
        let error = Address::parse("pools[\"onprem-fra/H10\"].owned.count")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap_err();
        assert!(
            error.message.contains("no item named \"onprem-fra/H10\""),
            "{error:?}"
        );
        assert!(error.help.unwrap().contains("did you mean \"onprem-fra/H100\""));
        let error = Address::parse("pools[0].owned.cout")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap_err();
        assert!(error.help.unwrap().contains("did you mean `count`"));
        let error = Address::parse("pools[burst].owned.count")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap_err();
        assert!(
            error
                .message
                .contains("`pools[\"burst\"].owned` is a single value"),
            "{error:?}"
        );
        // An optional value the base leaves out can be set; whether the value fits is checked
        // with the whole scenario when the study is loaded.
        Address::parse("pools[1].owned")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap();
        let error = Address::parse("pools[5]")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap_err();
        assert!(error.message.contains("has 2 items"), "{error:?}");
        let error = Address::parse("pools[0].owned")
            .unwrap()
            .set(&mut root, json!(1))
            .unwrap_err();
        assert!(error.message.contains("whole part"), "{error:?}");
    }
}
