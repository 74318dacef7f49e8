//! The function's configuration, read from its environment once at start-up.
//!
//! Bad configuration stops the function before it serves anything, with a
//! message naming the variable: a wrong deployment must be loud at once, not
//! on the first upload.

use crate::domain::allowed::AllowedLayers;
use crate::domain::declared;
use crate::domain::manifest::MAX_HUMAN_DESCRIPTION_CHARS;
use crate::domain::metadata::{validate_layer_name, validate_manifest_name};
use crate::lifecycle::announce::validate_bus;
use crate::lifecycle::pointer::validate_template;
use crate::lifecycle::sharing::Grantee;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ARTIFACTS_PREFIX`: the key prefix uploads come under (the template's
    /// `ArtifactsPrefix`); a key outside it is ignored, whatever delivered
    /// it, before any call: the role may read only under it. `None`: any key.
    pub artifacts_prefix: Option<String>,
    /// `ARTIFACTS_BUCKET`: the bucket a scheduled sweep looks through (the
    /// template sets it with `SweepSchedule`); events name their own.
    pub artifacts_bucket: Option<String>,
    /// `LAYER_NAME`: the layer to publish to when the zip names none.
    pub layer_name: Option<String>,
    /// `MANIFEST_NAME`: the lock file name when the zip names none.
    pub manifest_name: String,
    /// `COMPATIBLE_RUNTIMES`: what a version declares when its upload
    /// does not say (`compatible-runtimes`).
    pub compatible_runtimes: Vec<String>,
    /// `COMPATIBLE_ARCHITECTURES`: the same (`compatible-architectures`).
    pub compatible_architectures: Vec<String>,
    /// `LICENSE_INFO`: the same (`license-info`).
    pub license_info: Option<String>,
    /// `SKIP_LAYER_CHECKS`: check only Lambda's unzipped limit before a
    /// publish, not the layout and the compiled code (`layer_checks.rs`).
    pub skip_layer_checks: bool,
    /// `LAYER_DESCRIPTION`: the human part of each version's description.
    pub layer_description: String,
    /// `DRY_RUN`: decide and report, write and publish nothing.
    pub dry_run: bool,
    /// `LATEST_PARAMETER`: the SSM parameter (`{layer}` stands for the
    /// layer's name) that holds the latest version's ARN; `None`: off.
    pub latest_parameter: Option<String>,
    /// `SHARE_WITH`: who each new version is shared with.
    pub share_with: Vec<Grantee>,
    /// `EVENT_BUS`: the bus each new version is announced on; `None`: off.
    pub event_bus: Option<String>,
    /// `KEEP_VERSIONS`: how many of the newest versions stay after a
    /// publish; `None` (empty or 0): all.
    pub keep_versions: Option<usize>,
    /// `PRUNE_RECORDS`: with retention, delete the folder's records of the
    /// versions deleted too.
    pub prune_records: bool,
    /// `FOLLOWERS`: functions moved to each new version.
    pub followers: Vec<String>,
    /// `ALLOWED_LAYERS`: the layers uploads may name; empty: any.
    pub allowed_layers: AllowedLayers,
    /// `REPLICATE_TO`: the other regions each version is published in.
    pub replicate_to: Vec<crate::lifecycle::replicas::Target>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the metric lines.
    pub metrics_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            artifacts_prefix: None,
            artifacts_bucket: None,
            layer_name: None,
            manifest_name: "requirements.txt".into(),
            compatible_runtimes: Vec::new(),
            compatible_architectures: Vec::new(),
            license_info: None,
            skip_layer_checks: false,
            layer_description: String::new(),
            dry_run: false,
            latest_parameter: None,
            share_with: Vec::new(),
            event_bus: None,
            keep_versions: None,
            prune_records: false,
            followers: Vec::new(),
            allowed_layers: AllowedLayers::default(),
            replicate_to: Vec::new(),
            metrics_namespace: crate::metrics::DEFAULT_NAMESPACE.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub problem: String,
}

impl Config {
    /// The home region may not be among `REPLICATE_TO`'s: its version is
    /// the one published first.
    pub fn check_home_region(&self, home: &str) -> Result<(), ConfigError> {
        match self.replicate_to.iter().find(|t| t.region == home) {
            Some(target) => Err(ConfigError {
                variable: "REPLICATE_TO",
                value: format!("{}={}", target.region, target.bucket),
                problem: format!("{home} is the function's own region, where it publishes first"),
            }),
            None => Ok(()),
        }
    }

    /// The layer whose versions are read beside the zip's HEAD, before the
    /// upload's metadata says which layer it names: `LAYER_NAME`, when the
    /// deployment serves that layer alone (`ALLOWED_LAYERS` is it, as the
    /// template sets it without `AllowedLayers`) or does not say (empty).
    /// A deployment serving several layers reads none ahead: in a
    /// monorepo's burst that read was a third of the control-plane calls,
    /// all wasted (issue 31).
    pub fn read_ahead_layer(&self) -> Option<&str> {
        let layer = self.layer_name.as_deref()?;
        (self.allowed_layers.is_unset() || self.allowed_layers.is_only(layer)).then_some(layer)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `get`; an empty value counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let fail = |variable: &'static str, value: &str, problem: String| ConfigError {
            variable,
            value: value.to_owned(),
            problem,
        };

        // Kept as written (not trimmed): a key's prefix is exact.
        let artifacts_prefix = get("ARTIFACTS_PREFIX").filter(|p| !p.is_empty());
        if let Some(prefix) = &artifacts_prefix {
            validate_artifacts_prefix(prefix)
                .map_err(|why| fail("ARTIFACTS_PREFIX", prefix, why))?;
        }

        let artifacts_bucket = var("ARTIFACTS_BUCKET");

        let layer_name = var("LAYER_NAME");
        if let Some(name) = &layer_name {
            validate_layer_name(name).map_err(|why| fail("LAYER_NAME", name, why))?;
        }

        let manifest_name = var("MANIFEST_NAME").unwrap_or_else(|| Config::default().manifest_name);
        validate_manifest_name(&manifest_name)
            .map_err(|why| fail("MANIFEST_NAME", &manifest_name, why))?;

        let runtimes_text = var("COMPATIBLE_RUNTIMES").unwrap_or_default();
        let compatible_runtimes = declared::parse_runtimes(&runtimes_text)
            .map_err(|why| fail("COMPATIBLE_RUNTIMES", &runtimes_text, why))?;
        let arch_text = var("COMPATIBLE_ARCHITECTURES").unwrap_or_default();
        let compatible_architectures = declared::parse_architectures(&arch_text)
            .map_err(|why| fail("COMPATIBLE_ARCHITECTURES", &arch_text, why))?;
        let license_text = var("LICENSE_INFO").unwrap_or_default();
        let license_info = declared::parse_license(&license_text)
            .map_err(|why| fail("LICENSE_INFO", &license_text, why))?;

        let layer_description = var("LAYER_DESCRIPTION").unwrap_or_default();
        if layer_description.chars().count() > MAX_HUMAN_DESCRIPTION_CHARS {
            return Err(fail(
                "LAYER_DESCRIPTION",
                &layer_description,
                format!(
                    "at most {MAX_HUMAN_DESCRIPTION_CHARS} characters fit beside the \
                     manifest-md5 marker in Lambda's 256-character description"
                ),
            ));
        }

        let flag = |name: &'static str| match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("true" | "1" | "yes") => Ok(true),
            Some(other) => Err(fail(name, other, "use true or false".to_owned())),
        };
        let dry_run = flag("DRY_RUN")?;
        let skip_layer_checks = flag("SKIP_LAYER_CHECKS")?;

        let latest_parameter = var("LATEST_PARAMETER");
        if let Some(template) = &latest_parameter {
            validate_template(template).map_err(|why| fail("LATEST_PARAMETER", template, why))?;
        }

        let share_text = var("SHARE_WITH").unwrap_or_default();
        let share_with =
            Grantee::parse_list(&share_text).map_err(|why| fail("SHARE_WITH", &share_text, why))?;

        let event_bus = var("EVENT_BUS");
        if let Some(bus) = &event_bus {
            validate_bus(bus).map_err(|why| fail("EVENT_BUS", bus, why))?;
        }

        let keep_text = var("KEEP_VERSIONS").unwrap_or_default();
        let keep_versions = match keep_text.as_str() {
            "" => None,
            text => match text.parse::<usize>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => {
                    let why = "a number of versions to keep (empty or 0: all)".to_owned();
                    return Err(fail("KEEP_VERSIONS", text, why));
                }
            },
        };
        let prune_records = flag("PRUNE_RECORDS")?;
        let followers_text = var("FOLLOWERS").unwrap_or_default();
        let followers = crate::lifecycle::followers::parse_list(&followers_text)
            .map_err(|why| fail("FOLLOWERS", &followers_text, why))?;

        let allowed_text = var("ALLOWED_LAYERS").unwrap_or_default();
        let allowed_layers = AllowedLayers::parse(&allowed_text)
            .map_err(|why| fail("ALLOWED_LAYERS", &allowed_text, why))?;
        if let Some(name) = layer_name.as_ref().filter(|n| !allowed_layers.allows(n)) {
            let why = format!("LAYER_NAME {name:?} is not in it: add it, or change LAYER_NAME");
            return Err(fail("ALLOWED_LAYERS", &allowed_text, why));
        }

        let replicate_text = var("REPLICATE_TO").unwrap_or_default();
        let replicate_to = crate::lifecycle::replicas::parse_list(&replicate_text)
            .map_err(|why| fail("REPLICATE_TO", &replicate_text, why))?;

        let metrics_namespace =
            var("METRICS_NAMESPACE").unwrap_or_else(|| Config::default().metrics_namespace);
        crate::metrics::validate_namespace(&metrics_namespace)
            .map_err(|why| fail("METRICS_NAMESPACE", &metrics_namespace, why))?;

        Ok(Self {
            artifacts_prefix,
            artifacts_bucket,
            layer_name,
            manifest_name,
            compatible_runtimes,
            compatible_architectures,
            license_info,
            skip_layer_checks,
            layer_description,
            dry_run,
            latest_parameter,
            share_with,
            event_bus,
            keep_versions,
            prune_records,
            followers,
            allowed_layers,
            replicate_to,
            metrics_namespace,
        })
    }
}

/// As the template's `ArtifactsPrefix`: a folder (ending in `/`), with no
/// wildcard (it is matched literally here, and as a pattern in IAM).
fn validate_artifacts_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.ends_with('/') {
        return Err("it must end with / (a folder, as ArtifactsPrefix is)".into());
    }
    if prefix.contains(['*', '?']) {
        return Err("it may not hold * or ? (IAM would read them as wildcards)".into());
    }
    Ok(())
}

/// A lookup of variables in `pairs`, for the tests of what reads the
/// environment (the configuration, the SDK's).
#[cfg(test)]
pub(crate) fn lookup_in(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let env: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| env.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(lookup_in(pairs))
    }

    #[test]
    fn defaults() {
        assert_eq!(config(&[]), Ok(Config::default()));
        assert_eq!(config(&[("LAYER_NAME", " ")]), Ok(Config::default()));
    }

    #[test]
    fn only_a_deployment_serving_one_layer_reads_its_versions_ahead() {
        let ahead = |allowed: &str| {
            let c = config(&[("LAYER_NAME", "deps"), ("ALLOWED_LAYERS", allowed)]).unwrap();
            c.read_ahead_layer().map(str::to_owned)
        };
        assert_eq!(
            ahead("deps").as_deref(),
            Some("deps"),
            "the template's default"
        );
        assert_eq!(ahead("").as_deref(), Some("deps"), "unset: as before");
        assert_eq!(ahead("deps,team-*"), None);
        assert_eq!(ahead("deps,other"), None);
        assert_eq!(ahead("dep*"), None);
        assert_eq!(config(&[]).unwrap().read_ahead_layer(), None);
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("LAYER_NAME", "deps"),
            ("MANIFEST_NAME", "uv.lock"),
            ("COMPATIBLE_RUNTIMES", "python3.12, python3.13,,python3.12"),
            ("COMPATIBLE_ARCHITECTURES", "x86_64,arm64"),
            ("LICENSE_INFO", "MIT"),
            ("LAYER_DESCRIPTION", "Shared deps"),
            ("DRY_RUN", "True"),
            ("METRICS_NAMESPACE", "Team/Layers"),
            ("ARTIFACTS_PREFIX", "projects/ my app/"),
        ])
        .unwrap();
        assert!(c.dry_run);
        assert_eq!(c.artifacts_prefix.as_deref(), Some("projects/ my app/"));
        assert_eq!(c.metrics_namespace, "Team/Layers");
        assert_eq!(c.layer_name.as_deref(), Some("deps"));
        assert_eq!(c.manifest_name, "uv.lock");
        assert_eq!(c.compatible_runtimes, ["python3.12", "python3.13"]);
        assert_eq!(c.compatible_architectures, ["x86_64", "arm64"]);
        assert_eq!(c.license_info.as_deref(), Some("MIT"));
        assert_eq!(c.layer_description, "Shared deps");
        assert!(!c.skip_layer_checks);
        assert!(
            config(&[("SKIP_LAYER_CHECKS", "true")])
                .unwrap()
                .skip_layer_checks
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            ("LAYER_NAME", "no spaces".to_string()),
            ("MANIFEST_NAME", "../x".to_string()),
            ("COMPATIBLE_RUNTIMES", "python 3".to_string()),
            ("COMPATIBLE_RUNTIMES", "python3.99".to_string()),
            ("SKIP_LAYER_CHECKS", "perhaps".to_string()),
            ("COMPATIBLE_ARCHITECTURES", "x86_64,aarch64".to_string()),
            ("LICENSE_INFO", "x".repeat(513)),
            ("LAYER_DESCRIPTION", "x".repeat(211)),
            ("DRY_RUN", "maybe".to_string()),
            ("LATEST_PARAMETER", "no spaces/{layer}".to_string()),
            ("SHARE_WITH", "123456789012,everyone".to_string()),
            ("EVENT_BUS", "no spaces please".to_string()),
            ("KEEP_VERSIONS", "-1".to_string()),
            ("PRUNE_RECORDS", "sometimes".to_string()),
            ("FOLLOWERS", "api,not a function".to_string()),
            ("ALLOWED_LAYERS", "deps,*".to_string()),
            ("REPLICATE_TO", "eu-west-1".to_string()),
            ("METRICS_NAMESPACE", "AWS/Lambda".to_string()),
            ("ARTIFACTS_PREFIX", "projects".to_string()),
            ("ARTIFACTS_PREFIX", "projects/*/".to_string()),
        ];
        for (variable, value) in cases {
            let err = config(&[(variable, value.as_str())]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.to_string().contains(variable), "{err}");
        }
        let many = (0..16).map(|i| format!("python3.{i}")).collect::<Vec<_>>();
        assert_eq!(
            config(&[("COMPATIBLE_RUNTIMES", &many.join(","))])
                .unwrap_err()
                .variable,
            "COMPATIBLE_RUNTIMES"
        );
        assert!(config(&[("LAYER_DESCRIPTION", &"x".repeat(210))]).is_ok());
        let outside = config(&[("LAYER_NAME", "deps"), ("ALLOWED_LAYERS", "team-*")]);
        assert_eq!(outside.unwrap_err().variable, "ALLOWED_LAYERS");
        let inside = config(&[("LAYER_NAME", "team-deps"), ("ALLOWED_LAYERS", "team-*")]);
        assert!(inside.unwrap().allowed_layers.allows("team-other"));
        let keeping = config(&[("KEEP_VERSIONS", "3"), ("PRUNE_RECORDS", "true")]).unwrap();
        assert_eq!(
            (keeping.keep_versions, keeping.prune_records),
            (Some(3), true)
        );
        assert_eq!(
            config(&[("KEEP_VERSIONS", "0")]).unwrap().keep_versions,
            None
        );
        let pointer = "/layer-autopublish/{layer}/latest";
        assert_eq!(
            config(&[("LATEST_PARAMETER", pointer)])
                .unwrap()
                .latest_parameter
                .as_deref(),
            Some(pointer)
        );
    }
}
