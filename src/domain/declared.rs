//! What a layer version declares: its compatible runtimes and architectures
//! and its licence, validated as Lambda validates them. Both the
//! deployment's defaults (`COMPATIBLE_RUNTIMES`, `COMPATIBLE_ARCHITECTURES`,
//! `LICENSE_INFO`) and an upload's own metadata (`compatible-runtimes`,
//! `compatible-architectures`, `license-info`, written by `layerctl upload`)
//! are read here.

use serde::{Deserialize, Serialize};

/// Lambda's runtime identifiers (`CompatibleRuntimes`), as the SDK's
/// `Runtime` enum lists them (`tests/checks/sdk_adapter.rs` keeps the two equal).
pub const RUNTIMES: &[&str] = &[
    "dotnet10",
    "dotnet6",
    "dotnet8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "go1.x",
    "java11",
    "java11.al2023",
    "java17",
    "java17.al2023",
    "java21",
    "java25",
    "java8",
    "java8.al2",
    "java8.al2023",
    "nodejs",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "nodejs26.x",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "provided",
    "provided.al2",
    "provided.al2023",
    "python2.7",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "python3.15",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
];

/// Lambda's architectures (`CompatibleArchitectures`).
pub const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];

/// Lambda's limits on `CompatibleRuntimes` and `LicenseInfo`.
pub const MAX_RUNTIMES: usize = 15;
pub const MAX_LICENSE_CHARS: usize = 512;

/// The upload's metadata keys (`layerctl upload --runtime/--architecture/--license`).
pub const RUNTIMES_KEY: &str = "compatible-runtimes";
pub const ARCHITECTURES_KEY: &str = "compatible-architectures";
pub const LICENSE_KEY: &str = "license-info";

/// What a version declares, as sent to `PublishLayerVersion`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    #[serde(
        rename = "compatible_runtimes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtimes: Vec<String>,
    #[serde(
        rename = "compatible_architectures",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    #[serde(
        rename = "license_info",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub license: Option<String>,
}

/// Where each of a version's declarations came from, for its log line and
/// the docs' "what a version declares".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The upload's metadata.
    Upload,
    /// The deployment's variable.
    Deployment,
    /// What the zip's compiled code proves (nothing else declared any).
    Proven,
    /// Nothing: the version declares none.
    None,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Deployment => "deployment",
            Self::Proven => "proven",
            Self::None => "none",
        }
    }
}

/// A comma list of runtimes, as `CompatibleRuntimes` takes it: Lambda's
/// identifiers, at most 15, without duplicates.
pub fn parse_runtimes(text: &str) -> Result<Vec<String>, String> {
    let runtimes = comma_list(text);
    if runtimes.len() > MAX_RUNTIMES {
        return Err(format!(
            "{} runtimes: Lambda accepts at most {MAX_RUNTIMES}",
            runtimes.len()
        ));
    }
    if let Some(bad) = runtimes.iter().find(|r| !RUNTIMES.contains(&r.as_str())) {
        let like = suggestion(bad);
        return Err(format!(
            "{bad:?} is not a Lambda runtime identifier{like}; name runtimes as Lambda does, \
             such as python3.12 or nodejs20.x"
        ));
    }
    Ok(runtimes)
}

/// A comma list of architectures: `x86_64`, `arm64`.
pub fn parse_architectures(text: &str) -> Result<Vec<String>, String> {
    let architectures = comma_list(text);
    if let Some(bad) = architectures
        .iter()
        .find(|a| !ARCHITECTURES.contains(&a.as_str()))
    {
        let hint = match bad.as_str() {
            "aarch64" | "arm" => " (Lambda calls it arm64)",
            "amd64" | "x64" | "x86-64" => " (Lambda calls it x86_64)",
            _ => "",
        };
        return Err(format!("{bad:?} is not one of x86_64, arm64{hint}"));
    }
    Ok(architectures)
}

/// A licence as `LicenseInfo` takes it: at most 512 characters.
pub fn parse_license(text: &str) -> Result<Option<String>, String> {
    let license = text.trim();
    if license.chars().count() > MAX_LICENSE_CHARS {
        return Err(format!(
            "Lambda accepts at most {MAX_LICENSE_CHARS} characters"
        ));
    }
    Ok((!license.is_empty()).then(|| license.to_owned()))
}

/// The closest identifier for a likely slip (`python3.12 ` or `Python3.12`,
/// `python312`, `node20`).
fn suggestion(bad: &str) -> String {
    let squashed: String = bad
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let like = RUNTIMES.iter().find(|r| {
        let known: String = r.chars().filter(char::is_ascii_alphanumeric).collect();
        known == squashed || known.replace("nodejs", "node").trim_end_matches('x') == squashed
    });
    like.map(|r| format!(" (did you mean {r}?)"))
        .unwrap_or_default()
}

/// `a, b,,c` → `[a, b, c]`, without duplicates (Lambda refuses them).
pub fn comma_list(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !items.iter().any(|seen| seen == item) {
            items.push(item.to_owned());
        }
    }
    items
}

/// The Python minor version a `python3.X` runtime runs.
pub fn python_minor(runtime: &str) -> Option<u8> {
    runtime.strip_prefix("python3.")?.parse().ok()
}

/// The processor a Lambda architecture names, as compiled code names it.
pub fn machine_of(architecture: &str) -> Option<&'static str> {
    match architecture {
        "x86_64" => Some("x86_64"),
        "arm64" => Some("aarch64"),
        _ => None,
    }
}

/// The Lambda architecture running code compiled for `machine`.
pub fn architecture_of(machine: &str) -> Option<&'static str> {
    match machine {
        "x86_64" => Some("x86_64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_lambdas_identifiers() {
        assert_eq!(
            parse_runtimes("python3.12, python3.13,,python3.12").unwrap(),
            ["python3.12", "python3.13"]
        );
        assert_eq!(parse_runtimes("").unwrap(), Vec::<String>::new());
        let err = parse_runtimes("python312").unwrap_err();
        assert!(err.contains("did you mean python3.12?"), "{err}");
        let err = parse_runtimes("node20").unwrap_err();
        assert!(err.contains("did you mean nodejs20.x?"), "{err}");
        assert!(parse_runtimes("python3.99").is_err());
        let many: Vec<String> = RUNTIMES.iter().take(16).map(|r| r.to_string()).collect();
        assert!(parse_runtimes(&many.join(","))
            .unwrap_err()
            .contains("at most 15"));
        assert_eq!(parse_runtimes(&many[..15].join(",")).unwrap().len(), 15);
    }

    #[test]
    fn architectures_are_lambdas_two() {
        assert_eq!(
            parse_architectures("arm64, x86_64").unwrap(),
            ["arm64", "x86_64"]
        );
        let err = parse_architectures("aarch64").unwrap_err();
        assert!(err.contains("Lambda calls it arm64"), "{err}");
        assert_eq!(machine_of("arm64"), Some("aarch64"));
        assert_eq!(architecture_of("x86_64"), Some("x86_64"));
    }

    #[test]
    fn a_license_fits_lambdas_limit() {
        assert_eq!(parse_license(" MIT ").unwrap().as_deref(), Some("MIT"));
        assert_eq!(parse_license("").unwrap(), None);
        assert!(parse_license(&"x".repeat(513)).is_err());
        assert!(parse_license(&"é".repeat(512)).is_ok());
    }
}
