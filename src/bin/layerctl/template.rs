//! The deployable template's parameters, read from the template itself: what
//! each takes, and whether a value given on the command line is one
//! CloudFormation would accept. A wrong value is refused here, before any
//! call, with the template's own rule.

use crate::failure::Failure;
use serde_json::Value;
use std::collections::BTreeMap;

/// The parameters `layerctl deploy` sets itself: where the function's zip is.
pub const CODE_BUCKET: &str = "CodeBucket";
pub const CODE_KEY: &str = "CodeKey";

/// One parameter of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub description: String,
    pub default: Option<String>,
    allowed_values: Vec<String>,
    allowed_pattern: Option<String>,
    min_length: Option<usize>,
    max_length: Option<usize>,
}

/// The template's parameters, by name.
#[derive(Debug)]
pub struct Parameters(BTreeMap<String, Parameter>);

impl Parameters {
    pub fn of(template: &Value) -> Result<Self, Failure> {
        let declared = template["Parameters"]
            .as_object()
            .ok_or_else(|| Failure::Rejected("the release's template has no Parameters".into()))?;
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let size = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
        let parameters = declared
            .iter()
            .map(|(name, p)| {
                let parameter = Parameter {
                    name: name.clone(),
                    description: p["Description"].as_str().unwrap_or_default().to_owned(),
                    default: text(&p["Default"]),
                    allowed_values: p["AllowedValues"]
                        .as_array()
                        .map(|values| values.iter().filter_map(text).collect())
                        .unwrap_or_default(),
                    allowed_pattern: p["AllowedPattern"].as_str().map(str::to_owned),
                    min_length: size(&p["MinLength"]),
                    max_length: size(&p["MaxLength"]),
                };
                (name.clone(), parameter)
            })
            .collect();
        Ok(Self(parameters))
    }

    /// The parameters a user sets (not the code's location), in order.
    pub fn for_users(&self) -> impl Iterator<Item = &Parameter> {
        self.0
            .values()
            .filter(|p| p.name != CODE_BUCKET && p.name != CODE_KEY)
    }

    /// Each `Key=Value` checked against the template: a parameter it has,
    /// a value its rules allow. Every problem at once.
    pub fn check(&self, given: &BTreeMap<String, String>) -> Result<(), Failure> {
        let mut problems = Vec::new();
        for (name, value) in given {
            match self.0.get(name) {
                None if name == CODE_BUCKET || name == CODE_KEY => problems.push(format!(
                    "{name} is layerctl deploy's to set (where it put the function's zip); \
                     use --code-bucket or --function-zip"
                )),
                None => problems.push(format!(
                    "the template has no parameter {name}{}: it has {}",
                    self.closest(name)
                        .map(|n| format!(" (did you mean {n}?)"))
                        .unwrap_or_default(),
                    self.for_users()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some(parameter) => {
                    if let Err(problem) = parameter.accepts(value) {
                        problems.push(problem);
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Failure::Rejected(format!(
                "the stack's parameters:\n  {}",
                problems.join("\n  ")
            )))
        }
    }

    /// The parameter whose name differs from `name` only by its case.
    fn closest(&self, name: &str) -> Option<&str> {
        self.0
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }
}

impl Parameter {
    /// Whether CloudFormation would take `value`, by the parameter's rules.
    pub fn accepts(&self, value: &str) -> Result<(), String> {
        let name = &self.name;
        if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|v| v == value) {
            return Err(format!(
                "{name}={value}: it must be one of {}",
                self.allowed_values.join(", ")
            ));
        }
        let length = value.chars().count();
        if let Some(min) = self.min_length.filter(|&min| length < min) {
            return Err(format!("{name}={value}: at least {min} characters"));
        }
        if let Some(max) = self.max_length.filter(|&max| length > max) {
            return Err(format!("{name}: at most {max} characters, not {length}"));
        }
        if let Some(pattern) = &self.allowed_pattern {
            // CloudFormation matches the whole value.
            let whole = format!("^(?:{pattern})$");
            match regex_lite::Regex::new(&whole) {
                Ok(regex) if !regex.is_match(value) => {
                    return Err(format!(
                        "{name}={value}: it must match {pattern} ({})",
                        self.description
                    ));
                }
                // A pattern this engine cannot read is left to CloudFormation.
                _ => {}
            }
        }
        Ok(())
    }
}

/// `Key=Value` from the command line.
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "{text:?}: give it as Key=Value, e.g. LayerName=my-deps"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parameters() -> Parameters {
        Parameters::of(&json!({"Parameters": {
            "Architecture": {"Type": "String", "AllowedValues": ["x86_64", "arm64"], "Default": "x86_64"},
            "LayerName": {"Type": "String", "AllowedPattern": "^[a-zA-Z0-9_-]{1,140}$", "Description": "The layer"},
            "KeepVersions": {"Type": "String", "AllowedPattern": "[0-9]*", "Default": ""},
            "LicenseInfo": {"Type": "String", "MaxLength": 3, "Default": ""},
            "CodeBucket": {"Type": "String", "MinLength": 3},
        }}))
        .expect("parameters")
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_the_template_allows_pass() {
        let ok = given(&[
            ("Architecture", "arm64"),
            ("LayerName", "my-deps"),
            ("KeepVersions", "12"),
            ("LicenseInfo", "MIT"),
        ]);
        parameters().check(&ok).expect("allowed");
    }

    #[test]
    fn every_wrong_value_is_named_with_the_templates_rule() {
        let wrong = given(&[
            ("Architecture", "sparc"),
            ("LayerName", "my deps"),
            ("KeepVersions", "1a"),
            ("LicenseInfo", "Apache-2.0"),
            ("layername", "x"),
            ("CodeKey", "mine.zip"),
        ]);
        let error = parameters().check(&wrong).unwrap_err();
        assert_eq!(error.exit_code(), 3);
        let text = error.to_string();
        for said in [
            "Architecture=sparc: it must be one of x86_64, arm64",
            "LayerName=my deps: it must match ^[a-zA-Z0-9_-]{1,140}$ (The layer)",
            // Unanchored in the template, and still the whole value.
            "KeepVersions=1a: it must match [0-9]*",
            "LicenseInfo: at most 3 characters, not 10",
            "no parameter layername (did you mean LayerName?)",
            "CodeKey is layerctl deploy's to set",
        ] {
            assert!(text.contains(said), "{said}\n{text}");
        }
    }

    #[test]
    fn an_assignment_is_key_equals_value() {
        assert_eq!(
            parse_assignment("LayerName=a=b"),
            Ok(("LayerName".into(), "a=b".into()))
        );
        assert_eq!(
            parse_assignment("AlarmEmail="),
            Ok(("AlarmEmail".into(), String::new()))
        );
        assert!(parse_assignment("LayerName").is_err());
        assert!(parse_assignment("=x").is_err());
    }
}
