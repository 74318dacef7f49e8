//! Is a lock file deterministic? The whole product rests on "same lock file,
//! same layer": a `requirements.txt` with `requests>=2` builds a different
//! layer tomorrow under the same MD5. `layerctl upload` refuses such a file
//! (the seed's documentation warns about it) unless told otherwise.
//!
//! Only pip requirements files (`*.txt`) are read; `poetry.lock`, `uv.lock`,
//! `Pipfile.lock` and other generated lock files pin by construction.

/// One requirement that does not pin a single version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpinned {
    /// 1-based, of the requirement's first line.
    pub line_number: usize,
    pub requirement: String,
    pub why: &'static str,
}

/// Whether `file_name` is a format this module reads.
pub fn is_requirements_file(file_name: &str) -> bool {
    file_name.ends_with(".txt")
}

/// Every requirement of a pip requirements file that is not pinned.
pub fn unpinned_requirements(text: &str) -> Vec<Unpinned> {
    logical_lines(text)
        .into_iter()
        .filter_map(|(line_number, line)| {
            why_unpinned(&line).map(|why| Unpinned {
                line_number,
                requirement: line,
                why,
            })
        })
        .collect()
}

/// Lines joined across trailing backslashes, comments and blanks dropped,
/// with the number of each one's first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (start, mut joined) = current.take().unwrap_or((index + 1, String::new()));
        let continued = raw.trim_end().ends_with('\\');
        joined.push_str(raw.trim_end().trim_end_matches('\\'));
        joined.push(' ');
        if continued {
            current = Some((start, joined));
            continue;
        }
        let without_comment = strip_comment(&joined).trim().to_owned();
        if !without_comment.is_empty() {
            lines.push((start, without_comment));
        }
    }
    if let Some((start, joined)) = current {
        let rest = strip_comment(&joined).trim().to_owned();
        if !rest.is_empty() {
            lines.push((start, rest));
        }
    }
    lines
}

/// pip's rule: `#` starts a comment at the start of a line or after
/// whitespace (a URL fragment such as `#sha256=` is not one).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn why_unpinned(line: &str) -> Option<&'static str> {
    if let Some(option) = line.strip_prefix('-') {
        let name = option.split([' ', '=']).next().unwrap_or_default();
        return match name {
            "r" | "-requirement" | "c" | "-constraint" => {
                Some("it includes another file, whose content this one does not pin")
            }
            "e" | "-editable" => Some("an editable install follows a working tree, not a version"),
            _ => None, // index, hash and install options pin nothing and unpin nothing
        };
    }
    // Options after the requirement (`--hash=…`) and environment markers
    // (`; python_version < "3.12"`) do not change what is pinned.
    let requirement = line.split(" --").next().unwrap_or(line);
    let requirement = requirement.split(';').next().unwrap_or(requirement).trim();
    if let Some((_, url)) = requirement.split_once(" @ ").or_else(|| {
        requirement
            .split_once('@')
            .filter(|(name, _)| !name.contains(['=', '<', '>', '~', '!']))
    }) {
        return why_url_unpinned(url.trim());
    }
    let Some(at) = requirement.find("==") else {
        return Some("it names no exact version (use name==version)");
    };
    let version = requirement[at..].trim_start_matches('=').trim();
    if version.is_empty() || version.contains(['*', ',', '<', '>', '~', '!']) {
        return Some("its version is a range, not one version");
    }
    None
}

/// A direct reference pins when it names an archive file, or a VCS commit
/// by its full hash (a branch or tag can move).
fn why_url_unpinned(url: &str) -> Option<&'static str> {
    let is_vcs = ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if is_vcs {
        let path = url.split('#').next().unwrap_or(url);
        let revision = path.rsplit_once('@').map(|(_, rev)| rev).unwrap_or("");
        let is_commit = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
        return (!is_commit).then_some("a VCS reference pins only with a full commit hash");
    }
    let path = url.split(['#', '?']).next().unwrap_or(url);
    let is_archive = [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .any(|ext| path.ends_with(ext));
    (!is_archive).then_some("a URL that is not an archive file can change")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpinned(text: &str) -> Vec<(usize, &'static str)> {
        unpinned_requirements(text)
            .into_iter()
            .map(|u| (u.line_number, u.why))
            .collect()
    }

    #[test]
    fn pinned_files_pass() {
        let text = "\
# generated by pip-compile --generate-hashes
--index-url https://example.org/simple
boto3==1.35.0 \\
    --hash=sha256:0123abcd \\
    --hash=sha256:4567ef01
requests[socks]==2.32.4 ; python_version >= \"3.9\"  # pinned
typing-extensions===4.12.2
pkg @ https://example.org/pkg-1.0-py3-none-any.whl#sha256=abcd
lib @ git+https://github.com/o/lib@0123456789abcdef0123456789abcdef01234567

";
        assert_eq!(unpinned(text), vec![]);
    }

    #[test]
    fn every_unpinned_requirement_is_reported_with_its_line() {
        let text = "\
boto3==1.35.0
requests>=2
urllib3
numpy==1.*
six==1.16,<2
-r base.txt
-e ./local
lib @ git+https://github.com/o/lib@main
site @ https://example.org/simple/site/
";
        let found = unpinned(text);
        let lines: Vec<usize> = found.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(found[0].1, "it names no exact version (use name==version)");
        assert_eq!(found[2].1, "its version is a range, not one version");
        assert_eq!(
            found[4].1,
            "it includes another file, whose content this one does not pin"
        );
    }

    #[test]
    fn continuation_lines_count_from_their_first_line() {
        let text = "a==1 \\\n  --hash=sha256:00\nb>=2 \\\n  --hash=sha256:11\n";
        assert_eq!(
            unpinned(text),
            vec![(3, "it names no exact version (use name==version)")]
        );
    }

    #[test]
    fn only_requirements_files_are_read() {
        assert!(is_requirements_file("requirements.txt"));
        assert!(is_requirements_file("requirements-prod.txt"));
        assert!(!is_requirements_file("poetry.lock"));
        assert!(!is_requirements_file("uv.lock"));
    }
}
