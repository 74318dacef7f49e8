//! Which layers one deployment may publish to (`ALLOWED_LAYERS`): a comma
//! list of layer names, where an entry ending in `*` stands for every name
//! with that prefix. Empty: any layer (the role decides).
//!
//! An upload whose `layer-name` is outside the set is refused as soon as its
//! HEAD tells the name, before any call on Lambda and before any write.

use crate::domain::metadata::validate_layer_name;

/// The set of layer names a deployment may publish to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedLayers {
    /// Exact names and `prefix*` entries, as configured; empty: any layer.
    entries: Vec<String>,
}

impl AllowedLayers {
    /// Parses `ALLOWED_LAYERS`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<String> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let name = entry.strip_suffix('*').unwrap_or(entry);
            if name.is_empty() {
                return Err(
                    "a bare * would allow any layer: leave ALLOWED_LAYERS empty for that".into(),
                );
            }
            // A prefix is the start of a name, so the same characters.
            validate_layer_name(name).map_err(|why| format!("{entry:?}: {why}"))?;
            if !entries.iter().any(|seen| seen == entry) {
                entries.push(entry.to_owned());
            }
        }
        Ok(Self { entries })
    }

    /// Whether `layer` is in the set.
    pub fn allows(&self, layer: &str) -> bool {
        self.entries.is_empty()
            || self
                .entries
                .iter()
                .any(|entry| match entry.strip_suffix('*') {
                    Some(prefix) => layer.starts_with(prefix),
                    None => layer == entry,
                })
    }

    /// Whether the set is empty: any layer (the role decides).
    pub fn is_unset(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the set is `layer` and nothing else.
    pub fn is_only(&self, layer: &str) -> bool {
        matches!(self.entries.as_slice(), [only] if only == layer)
    }

    /// The set as configured, for messages.
    pub fn describe(&self) -> String {
        self.entries.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes_are_the_set() {
        let allowed = AllowedLayers::parse("app-deps, team-* ,,app-deps").unwrap();
        assert_eq!(allowed.describe(), "app-deps,team-*");
        for inside in ["app-deps", "team-", "team-data"] {
            assert!(allowed.allows(inside), "{inside}");
        }
        for outside in ["app-deps2", "app", "Team-data", "other"] {
            assert!(!allowed.allows(outside), "{outside}");
        }
        assert!(AllowedLayers::parse("").unwrap().allows("anything"));
        assert!(AllowedLayers::parse(" , ").unwrap().allows("anything"));
    }

    #[test]
    fn entries_that_are_not_names_or_prefixes_are_refused() {
        for bad in ["*", "a,*", "a b", "team/*", "x**", &"a".repeat(141)] {
            assert!(AllowedLayers::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
