//! The latest version's pointer (`LATEST_PARAMETER`): an SSM String
//! parameter holding the newest published version's ARN, for stacks to
//! resolve (`{{resolve:ssm:…}}`, a Terraform data source). Which parameter
//! a layer's is, and whether a version may move it: never backwards.

use crate::domain::values::LayerVersion;
use crate::error::Problem;
use crate::ports::Parameters;
use tracing::info;

/// What stands for the layer's name in `LATEST_PARAMETER`.
pub const LAYER_PLACEHOLDER: &str = "{layer}";

/// SSM's limit on a parameter name, its path included.
const MAX_NAME_CHARS: usize = 1011;
/// SSM's limit on a name's levels.
const MAX_LEVELS: usize = 15;

/// The parameter of `layer` (a name, or an ARN whose name is taken).
pub fn parameter_name(template: &str, layer: &str) -> String {
    let name = layer.rsplit(':').next().unwrap_or(layer);
    template.replace(LAYER_PLACEHOLDER, name)
}

/// Whether `template` makes a valid SSM parameter name for every layer.
pub fn validate_template(template: &str) -> Result<(), String> {
    // The longest layer name Lambda allows stands in for the placeholder.
    let name = parameter_name(template, &"x".repeat(140));
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_.-/".contains(&b);
    if !name.bytes().all(allowed) {
        return Err(format!(
            "an SSM parameter name holds only letters, digits, _ . - / and {LAYER_PLACEHOLDER}"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "with a 140-character layer name it is longer than SSM's {MAX_NAME_CHARS} characters"
        ));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err("a parameter name with a path starts with /".into());
    }
    if name.ends_with('/') || name.contains("//") {
        return Err("it has an empty path level".into());
    }
    if name.matches('/').count() > MAX_LEVELS {
        return Err(format!("SSM allows at most {MAX_LEVELS} levels"));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err("names starting with aws or ssm are reserved by SSM".into());
    }
    Ok(())
}

/// Whether `new` moves the pointer that now holds `current`: yes when it
/// holds nothing, an older version of the same layer, or no version of it
/// at all; never to an older version than the one it names.
pub fn moves(current: Option<&str>, new: &LayerVersion) -> bool {
    current
        .and_then(|value| version_named(value, new))
        .is_none_or(|named| named < new.version)
}

/// The version of `version`'s layer that the pointer's `value` names, if
/// it names one.
pub fn version_named(value: &str, version: &LayerVersion) -> Option<i64> {
    let (layer, number) = value.rsplit_once(':')?;
    let (this_layer, _) = version.arn.rsplit_once(':')?;
    (layer == this_layer).then(|| number.parse().ok()).flatten()
}

/// The act, run after each publish (`publish/write.rs`), at home and in
/// each region. `LATEST_PARAMETER` (`template`): `layer`'s parameter names
/// `version`, unless it names a newer one (a late event never moves it
/// back). Returns the version it names now, if any.
pub(crate) async fn move_pointer(
    aws: &impl Parameters, template: Option<&str>, layer: &str, version: &LayerVersion,
) -> Result<Option<i64>, Problem> {
    let Some(template) = template else {
        return Ok(None);
    };
    let name = parameter_name(template, layer);
    let current = aws.get_parameter(&name).await?;
    if moves(current.as_deref(), version) {
        aws.put_parameter(&name, &version.arn).await?;
        info!(parameter = %name, version = version.version, "latest pointer moved");
        return Ok(Some(version.version));
    }
    let current = current.unwrap_or_default();
    info!(parameter = %name, current = %current, version = version.version, "latest pointer left: it names a newer version");
    Ok(version_named(&current, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer:deps";

    fn version(n: i64) -> LayerVersion {
        LayerVersion {
            version: n,
            arn: format!("{ARN}:{n}"),
            description: String::new(),
            created: String::new(),
            ..Default::default()
        }
    }

    #[test]
    fn the_layers_name_stands_for_the_placeholder() {
        let template = "/layer-autopublish/{layer}/latest";
        assert_eq!(
            parameter_name(template, "deps"),
            "/layer-autopublish/deps/latest"
        );
        assert_eq!(
            parameter_name(template, ARN),
            "/layer-autopublish/deps/latest"
        );
        assert_eq!(parameter_name("/fixed/name", "deps"), "/fixed/name");
    }

    #[test]
    fn only_names_ssm_takes_are_accepted() {
        for good in [
            "/layer-autopublish/{layer}/latest",
            "{layer}-latest",
            "/a/b.c_d-e",
        ] {
            assert_eq!(validate_template(good), Ok(()), "{good}");
        }
        for bad in [
            "/a b/{layer}",
            "a/{layer}",
            "/a//{layer}",
            "/a/{layer}/",
            "/aws/{layer}",
            "/SSM-{layer}",
            "/{layer}/{LAYER}",
        ] {
            assert!(validate_template(bad).is_err(), "{bad}");
        }
        let deep = "/a".repeat(16);
        assert!(validate_template(&deep).is_err());
        let long = format!("/{}", "a".repeat(1000));
        assert!(validate_template(&format!("{long}{{layer}}")).is_err());
    }

    #[test]
    fn the_pointer_moves_forward_only() {
        assert!(moves(None, &version(1)));
        assert!(moves(Some(&format!("{ARN}:1")), &version(2)));
        assert!(!moves(Some(&format!("{ARN}:3")), &version(2)), "never back");
        assert!(
            !moves(Some(&format!("{ARN}:2")), &version(2)),
            "already there"
        );
        let other = "arn:aws:lambda:us-east-1:123456789012:layer:other:9";
        assert!(moves(Some(other), &version(2)), "not this layer's");
        assert!(moves(Some("set by hand"), &version(2)));
        assert_eq!(version_named(&format!("{ARN}:7"), &version(2)), Some(7));
        assert_eq!(version_named(other, &version(2)), None);
    }
}
