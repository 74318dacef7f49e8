//! Moving consumers (`FOLLOWERS`): which functions follow the layer, and
//! what a new version changes in each one's layers. A function that uses an
//! older version of the layer is moved to the new one, its other layers kept
//! in their order; one that does not use the layer is left alone.

/// `FOLLOWERS`: function names or ARNs.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let mut functions: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = item.rsplit(':').next().unwrap_or(item);
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let arn_ok = !item.contains(':') || item.starts_with("arn:");
        if !plain || !arn_ok {
            return Err(format!("{item:?} is not a function name or ARN"));
        }
        if !functions.iter().any(|f| f == item) {
            functions.push(item.to_owned());
        }
    }
    Ok(functions)
}

/// What a new version changes in one function's layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// It uses an older version: its layers become these.
    Move(Vec<String>),
    /// It already uses this version, or a newer one.
    UpToDate,
    /// It does not use the layer.
    NotUsing,
}

/// The plan for a function with `layers` (version ARNs, in order) when
/// `new` (a version ARN) is published.
pub fn plan(layers: &[String], new: &str) -> Plan {
    let Some((new_layer, new_version)) = split_version(new) else {
        return Plan::NotUsing;
    };
    let uses = layers
        .iter()
        .position(|arn| split_version(arn).is_some_and(|(layer, _)| layer == new_layer));
    let Some(index) = uses else {
        return Plan::NotUsing;
    };
    match split_version(&layers[index]) {
        Some((_, version)) if version < new_version => {
            let mut moved = layers.to_vec();
            moved[index] = new.to_owned();
            Plan::Move(moved)
        }
        _ => Plan::UpToDate,
    }
}

/// A layer version ARN as (the layer's ARN, the version).
fn split_version(arn: &str) -> Option<(&str, i64)> {
    let (layer, version) = arn.rsplit_once(':')?;
    Some((layer, version.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPS: &str = "arn:aws:lambda:us-east-1:123456789012:layer:deps";
    const OTHER: &str = "arn:aws:lambda:us-east-1:123456789012:layer:other:4";

    #[test]
    fn an_older_version_is_replaced_in_place() {
        let layers = [OTHER.to_owned(), format!("{DEPS}:2"), format!("{OTHER}0")];
        let new = format!("{DEPS}:3");
        assert_eq!(
            plan(&layers, &new),
            Plan::Move(vec![OTHER.to_owned(), new.clone(), format!("{OTHER}0")])
        );
        assert_eq!(plan(&[format!("{DEPS}:3")], &new), Plan::UpToDate);
        assert_eq!(
            plan(&[format!("{DEPS}:9")], &new),
            Plan::UpToDate,
            "never back"
        );
        assert_eq!(plan(&[OTHER.to_owned()], &new), Plan::NotUsing);
        assert_eq!(plan(&[], &new), Plan::NotUsing);
        let lookalike = format!("{DEPS}-v2:1");
        assert_eq!(plan(&[lookalike], &new), Plan::NotUsing);
    }

    #[test]
    fn followers_are_names_or_arns() {
        let parsed =
            parse_list("api, arn:aws:lambda:us-east-1:123456789012:function:worker,api").unwrap();
        assert_eq!(
            parsed,
            [
                "api",
                "arn:aws:lambda:us-east-1:123456789012:function:worker"
            ]
        );
        for bad in ["a b", "x:y", "arn:aws:lambda:us-east-1:1:function:"] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }
}
