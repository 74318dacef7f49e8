//! The documentation holds together: every relative link in `README.md` and
//! `docs/*.md` names a file of this repository, and every `#anchor` a
//! heading of the page it points to (GitHub's anchors: lowercase, spaces to
//! hyphens, punctuation dropped). Code blocks are not read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The pages: the README and every Markdown file in `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    let docs = Path::new(ROOT).join("docs");
    for entry in std::fs::read_dir(&docs).expect("docs/ exists") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// GitHub's anchor of a heading's text.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (a repeated one gets `-1`, `-2`, …).
fn anchors(text: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    for line in prose(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = anchor(heading);
        let mut name = base.clone();
        let mut n = 0;
        while !found.insert(name.clone()) {
            n += 1;
            name = format!("{base}-{n}");
        }
    }
    found
}

/// The targets of the Markdown links `[text](target)` on a page, outside
/// code blocks and inline code.
fn links(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        // Inline code may hold `](`: drop it first.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a page");
        let dir = page.parent().expect("a folder");
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let name = page.strip_prefix(ROOT).unwrap_or(&page).display();
            if !file.exists() {
                broken.push(format!("{name}: {target}: no such file"));
                continue;
            }
            if let Some(fragment) = fragment {
                let target_text = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&target_text).contains(fragment) {
                    broken.push(format!("{name}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 50,
        "the pages link to each other ({checked} links)"
    );
}

#[test]
fn the_readme_stays_short() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md is {lines} lines: move the rest to docs/"
    );
    let opening: Vec<&str> = readme.lines().take(6).collect();
    assert!(
        opening.iter().any(|l| l.starts_with("make demo"))
            && opening.iter().any(|l| l.starts_with("make test")),
        "the README opens with the two commands"
    );
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        anchor(" How CI uploads: `layerctl`"),
        "how-ci-uploads-layerctl"
    );
    assert_eq!(anchor(" CI's rights"), "cis-rights");
    assert_eq!(
        anchor(" Alarms, metrics and failed events"),
        "alarms-metrics-and-failed-events"
    );
    let page = "# A\n## Same\n```\n# not a heading\n```\n## Same\n";
    let found = anchors(page);
    assert!(found.contains("same") && found.contains("same-1") && !found.contains("not-a-heading"));
    assert_eq!(
        links("see [x](a.md#b) and `[y](c)` [z](#d)"),
        ["a.md#b", "#d"]
    );
}
