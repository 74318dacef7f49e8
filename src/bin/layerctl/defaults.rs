//! What `layerctl` falls back on when neither the command line nor the zip
//! names the layer or the lock file: the function's own environment
//! variables, read as the function reads them (trimmed, empty as unset).

use layer_autopublish::config::Config;

/// `LAYER_NAME`, when set.
pub fn layer_name() -> Option<String> {
    var("LAYER_NAME")
}

/// `LATEST_PARAMETER`, when set.
pub fn latest_parameter() -> Option<String> {
    var("LATEST_PARAMETER")
}

/// `KEEP_VERSIONS`, when set (and not 0).
pub fn keep_versions() -> Option<usize> {
    var("KEEP_VERSIONS")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
}

/// `MANIFEST_NAME`, else the function's default (`requirements.txt`).
pub fn manifest_name() -> String {
    var("MANIFEST_NAME").unwrap_or_else(|| Config::default().manifest_name)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}
