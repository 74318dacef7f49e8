//! The GitHub Action agrees with the script its step runs and with the
//! crate: every input reaches the script as GitHub passes it (`INPUT_*`),
//! every output is one the script writes, the layerctl it installs by
//! default is this version, and the docs install the package by its name.
//! (The wheel's own name and version are checked on the built wheel, in
//! tests/on_moto/packaging.rs.)

use super::support::{load, Yaml};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_actions_inputs_reach_its_script_and_its_outputs_come_from_it() {
    let action = load(&read("action.yml"));
    let script = read("scripts/action-upload.sh");
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"].as_vec().expect("steps");
    assert_eq!(steps.len(), 1, "one step: the script");
    let step = &steps[0];
    assert_eq!(
        step["run"].as_str(),
        Some("\"$GITHUB_ACTION_PATH/scripts/action-upload.sh\"")
    );
    let inputs = action["inputs"].as_hash().expect("inputs");
    for (name, input) in inputs {
        let name = name.as_str().expect("a name");
        let variable = format!("INPUT_{}", name.replace('-', "_").to_uppercase());
        assert_eq!(
            step["env"][variable.as_str()].as_str(),
            Some(format!("${{{{ inputs.{name} }}}}").as_str()),
            "the step passes input {name} as {variable}"
        );
        assert!(script.contains(&variable), "the script reads {variable}");
        let required = input["required"].as_bool() == Some(true);
        let needed = ["zip", "manifest", "s3-dir"].contains(&name);
        assert_eq!(
            required, needed,
            "{name} is required exactly when layerctl needs it"
        );
    }
    let outputs = action["outputs"].as_hash().expect("outputs");
    let names: Vec<&str> = outputs.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(names, ["zip-uri", "version-id", "layer-version-arn"]);
    for name in names {
        assert_eq!(
            outputs[&Yaml::from_str(name)]["value"].as_str(),
            Some(format!("${{{{ steps.upload.outputs.{name} }}}}").as_str())
        );
        assert!(
            script.contains(&format!("{name}=")),
            "the script writes {name}"
        );
    }
    assert_eq!(
        action["inputs"]["layerctl-version"]["default"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "the Action installs the layerctl of its own release"
    );
}

#[test]
fn the_package_is_layerctl_at_the_crates_version_and_the_docs_install_it_so() {
    let pyproject = read("pyproject.toml");
    for line in [
        "name = \"layerctl\"",
        "dynamic = [\"version\"]",
        "bindings = \"bin\"",
        "build-backend = \"maturin\"",
    ] {
        assert!(pyproject.contains(line), "pyproject.toml: {line}");
    }
    for doc in ["README.md", "docs/ci.md", "docs/layerctl-package.md"] {
        assert!(
            read(doc).contains("pip install layerctl"),
            "{doc} installs the package"
        );
    }
    let ci = read("docs/ci.md");
    let uses = format!("/layer-autopublish@v{}", env!("CARGO_PKG_VERSION"));
    assert!(
        ci.contains(&uses),
        "docs/ci.md uses the Action at this version: {uses}"
    );
}
