//! A record's settings, resolved once: the deployment's defaults
//! (`COMPATIBLE_RUNTIMES`, `COMPATIBLE_ARCHITECTURES`, `LICENSE_INFO`,
//! `SKIP_LAYER_CHECKS`) overlaid by what the upload's metadata says
//! (`compatible-runtimes`, `compatible-architectures`, `license-info`,
//! `skip-layer-checks`), then, where neither declares runtimes or
//! architectures, what the zip's compiled code proves. Every step of the
//! record reads this one value: the checks, the publish, the followers, the
//! records.

use crate::domain::declared::{self, Declared, Source};
use crate::domain::layer_checks::{Checks, Proven};
use crate::domain::metadata::lookup;
use std::collections::HashMap;

/// The upload's metadata key that turns the layout and compiled-code checks
/// off for it (`layerctl upload --skip-layer-checks`).
pub const SKIP_CHECKS_KEY: &str = "skip-layer-checks";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// What the version declares.
    pub declared: Declared,
    pub runtimes_from: Source,
    pub architectures_from: Source,
    pub license_from: Source,
    pub checks: Checks,
}

/// The deployment's defaults, as the configuration read them (none, for
/// `layerctl`, which does not know them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Defaults<'a> {
    pub runtimes: &'a [String],
    pub architectures: &'a [String],
    pub license: Option<&'a str>,
    pub skip_checks: bool,
}

/// A metadata value that is not valid: its key, the value, why.
pub type Invalid = (&'static str, String, String);

/// The settings of an upload with `metadata`, over the deployment's `defaults`.
pub fn resolve(
    metadata: &HashMap<String, String>, defaults: Defaults<'_>,
) -> Result<Settings, Invalid> {
    let read = |key: &'static str, parse: fn(&str) -> Result<Vec<String>, String>| {
        lookup(metadata, key)
            .map(|value| parse(value).map_err(|why| (key, value.to_owned(), why)))
            .transpose()
    };
    let from = |given: bool, default_empty: bool| match (given, default_empty) {
        (true, _) => Source::Upload,
        (false, false) => Source::Deployment,
        (false, true) => Source::None,
    };
    let runtimes = read(declared::RUNTIMES_KEY, declared::parse_runtimes)?;
    let architectures = read(declared::ARCHITECTURES_KEY, declared::parse_architectures)?;
    let license = lookup(metadata, declared::LICENSE_KEY)
        .map(|value| {
            declared::parse_license(value)
                .map_err(|why| (declared::LICENSE_KEY, value.to_owned(), why))
        })
        .transpose()?;
    let skip = match lookup(metadata, SKIP_CHECKS_KEY).map(|v| v.trim().to_ascii_lowercase()) {
        None => defaults.skip_checks,
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => true,
        Some(v) if matches!(v.as_str(), "false" | "0" | "no") => false,
        Some(v) => return Err((SKIP_CHECKS_KEY, v, "use true or false".into())),
    };
    // An empty value given is a choice too: declare none.
    let runtimes_from = from(runtimes.is_some(), defaults.runtimes.is_empty());
    let architectures_from = from(architectures.is_some(), defaults.architectures.is_empty());
    let license_from = from(license.is_some(), defaults.license.is_none());
    Ok(Settings {
        declared: Declared {
            runtimes: runtimes.unwrap_or_else(|| defaults.runtimes.to_vec()),
            architectures: architectures.unwrap_or_else(|| defaults.architectures.to_vec()),
            license: license.unwrap_or_else(|| defaults.license.map(str::to_owned)),
        },
        runtimes_from,
        architectures_from,
        license_from,
        checks: match skip {
            true => Checks::SizeOnly,
            false => Checks::All,
        },
    })
}

impl Settings {
    /// These settings, declaring what the compiled code proves where they
    /// declare no runtimes or no architectures.
    pub fn with_proven(mut self, proven: Proven) -> Self {
        if self.declared.runtimes.is_empty() && !proven.runtimes.is_empty() {
            self.declared.runtimes = proven.runtimes;
            self.runtimes_from = Source::Proven;
        }
        if self.declared.architectures.is_empty() && !proven.architectures.is_empty() {
            self.declared.architectures = proven.architectures;
            self.architectures_from = Source::Proven;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const DEFAULTS: Defaults<'static> = Defaults {
        runtimes: &[],
        architectures: &[],
        license: Some("MIT"),
        skip_checks: false,
    };

    #[test]
    fn the_upload_overrides_the_deployment() {
        let runtimes = ["python3.11".to_string()];
        let defaults = Defaults {
            runtimes: &runtimes,
            ..DEFAULTS
        };
        let seed = resolve(&metadata(&[("manifest-md5", "x")]), defaults).unwrap();
        assert_eq!(seed.declared.runtimes, ["python3.11"]);
        assert_eq!(seed.runtimes_from, Source::Deployment);
        assert_eq!(seed.architectures_from, Source::None);
        assert_eq!(seed.declared.license.as_deref(), Some("MIT"));
        assert_eq!(seed.checks, Checks::All);
        let upload = metadata(&[
            ("compatible-runtimes", "python3.12,python3.13"),
            ("compatible-architectures", "arm64"),
            ("license-info", "Apache-2.0"),
            ("skip-layer-checks", "true"),
        ]);
        let own = resolve(&upload, defaults).unwrap();
        assert_eq!(own.declared.runtimes, ["python3.12", "python3.13"]);
        assert_eq!(own.declared.architectures, ["arm64"]);
        assert_eq!(own.declared.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(
            (own.runtimes_from, own.checks),
            (Source::Upload, Checks::SizeOnly)
        );
        let none = resolve(&metadata(&[("compatible-runtimes", "")]), defaults).unwrap();
        assert!(
            none.declared.runtimes.is_empty(),
            "an empty list declares none"
        );
    }

    #[test]
    fn a_bad_value_names_its_key() {
        for (key, value) in [
            ("compatible-runtimes", "python312"),
            ("compatible-architectures", "aarch64"),
            ("license-info", &"x".repeat(600)),
            ("skip-layer-checks", "maybe"),
        ] {
            let (bad, got, _) = resolve(&metadata(&[(key, value)]), DEFAULTS).unwrap_err();
            assert_eq!((bad, got.as_str()), (key, value));
        }
    }

    #[test]
    fn proven_settings_fill_only_what_nothing_declared() {
        let proven = Proven {
            runtimes: vec!["python3.12".into()],
            architectures: vec!["x86_64".into()],
        };
        let upload = metadata(&[("compatible-architectures", "arm64")]);
        let settings = resolve(&upload, DEFAULTS).unwrap().with_proven(proven);
        assert_eq!(settings.declared.runtimes, ["python3.12"]);
        assert_eq!(settings.runtimes_from, Source::Proven);
        assert_eq!(settings.declared.architectures, ["arm64"]);
    }
}
