//! The function's log lines: `tracing` to stdout, as JSON when Lambda's
//! advanced logging controls say `AWS_LAMBDA_LOG_FORMAT=JSON`, at the level of
//! `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO).
//!
//! What `lambda_runtime`'s default subscriber does, without its per-module
//! filter: that filter links a regex engine into the binary for directives
//! this function never needs, and the binary must stay small to start fast.

use tracing::level_filters::LevelFilter;

/// The level a variable names (`debug`, `INFO`, …); `None` for anything
/// else, such as a `RUST_LOG` with per-module directives.
pub fn level_of(value: &str) -> Option<LevelFilter> {
    value.trim().parse().ok()
}

/// Installs the subscriber; call once, first thing in `main`.
pub fn init() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().as_deref().and_then(level_of))
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let lines = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_max_level(level);
    if json {
        lines.json().init();
    } else {
        lines.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_in_any_case() {
        assert_eq!(level_of("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(level_of(" WARN "), Some(LevelFilter::WARN));
        assert_eq!(level_of("my_crate=debug"), None);
    }
}
