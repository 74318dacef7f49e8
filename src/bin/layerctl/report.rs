//! What a command prints: lines for people on stdout (none with `--quiet`),
//! or one JSON document with `--json`.

use serde::Serialize;

pub struct Report {
    quiet: bool,
    json: bool,
}

impl Report {
    pub fn new(quiet: bool, json: bool) -> Self {
        Self { quiet, json }
    }

    /// Whether lines for people are printed (not quiet, not JSON).
    pub fn for_people(&self) -> bool {
        !self.quiet && !self.json
    }

    pub fn line(&self, text: impl AsRef<str>) {
        if self.for_people() {
            println!("{}", text.as_ref());
        }
    }

    /// The command's result: printed as JSON with `--json`, else nothing
    /// (the lines said it).
    pub fn result(&self, value: &impl Serialize) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("layerctl: the result could not be written as JSON: {e}"),
            }
        }
    }
}
