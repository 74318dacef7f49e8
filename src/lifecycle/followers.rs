//! Moving consumers (`FOLLOWERS`): which functions follow the layer, and
//! what a new version changes in each one's layers. A function that uses an
//! older version of the layer is moved to the new one, its other layers kept
//! in their order; one that does not use the layer is left alone, and so is
//! one whose runtime or architecture the new version does not declare
//! (Lambda does not check it: the function would break at its next start).

use crate::backoff::Backoff;
use crate::domain::declared::Declared;
use crate::domain::outcome::FollowerResult;
use crate::domain::values::{FunctionSetup, LayerVersion};
use crate::error::Problem;
use crate::ports::{Clock, Functions};
use std::time::Duration;
use tracing::info;

/// How often a follower busy with another update is tried, and the ceilings
/// of the pauses between them: up to 7 s of waiting in all.
const FOLLOWER_ATTEMPTS: u32 = 4;
const FOLLOWER_FIRST_PAUSE: Duration = Duration::from_secs(1);
const FOLLOWER_LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// `FOLLOWERS`: function names or ARNs.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let mut functions: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = item.rsplit(':').next().unwrap_or(item);
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let arn_ok = !item.contains(':') || item.starts_with("arn:");
        if !plain || !arn_ok {
            return Err(format!("{item:?} is not a function name or ARN"));
        }
        if !functions.iter().any(|f| f == item) {
            functions.push(item.to_owned());
        }
    }
    Ok(functions)
}

/// What a new version changes in one function's layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// It uses an older version: its layers become these.
    Move(Vec<String>),
    /// It already uses this version, or a newer one.
    UpToDate,
    /// It does not use the layer.
    NotUsing,
}

/// The plan for a function with `layers` (version ARNs, in order) when
/// `new` (a version ARN) is published.
pub fn plan(layers: &[String], new: &str) -> Plan {
    let Some((new_layer, new_version)) = split_version(new) else {
        return Plan::NotUsing;
    };
    let uses = layers
        .iter()
        .position(|arn| split_version(arn).is_some_and(|(layer, _)| layer == new_layer));
    let Some(index) = uses else {
        return Plan::NotUsing;
    };
    match split_version(&layers[index]) {
        Some((_, version)) if version < new_version => {
            let mut moved = layers.to_vec();
            moved[index] = new.to_owned();
            Plan::Move(moved)
        }
        _ => Plan::UpToDate,
    }
}

/// Why a function cannot take a version that declares `declared`: its
/// runtime or its architecture is not among them (a version that declares
/// none fits any).
pub fn misfit(function: &FunctionSetup, declared: &Declared) -> Option<String> {
    let runtimes = &declared.runtimes;
    if let Some(runtime) = &function.runtime {
        if !runtimes.is_empty() && !runtimes.contains(runtime) {
            return Some(format!(
                "it runs {runtime}, and the new version declares {}",
                runtimes.join(", ")
            ));
        }
    }
    let architectures = &declared.architectures;
    let missing = function
        .architectures
        .iter()
        .find(|a| !architectures.is_empty() && !architectures.contains(a));
    missing.map(|architecture| {
        format!(
            "it runs on {architecture}, and the new version declares {}",
            architectures.join(", ")
        )
    })
}

/// A layer version ARN as (the layer's ARN, the version).
fn split_version(arn: &str) -> Option<(&str, i64)> {
    let (layer, version) = arn.rsplit_once(':')?;
    Some((layer, version.parse().ok()?))
}

/// The act, run after each publish (`publish/write.rs`). `FOLLOWERS`
/// (`followers`): each function that uses an older version of the layer is
/// moved to `version`, its other layers kept in order. Every one is tried;
/// if any is left busy or failed, the publish stands and the record fails
/// (`FollowersNotMoved`) for the retry to finish. One that `declared` does
/// not fit stays where it is (`incompatible`).
pub(crate) async fn move_followers(
    aws: &impl Functions, clock: &impl Clock, followers: &[String], version: &LayerVersion,
    declared: &Declared,
) -> Result<Vec<FollowerResult>, Problem> {
    let mut results = Vec::new();
    for function in followers {
        let result = move_follower(aws, clock, function, &version.arn, declared).await;
        info!(function = %function, result = %result.result, error = result.error.as_deref().unwrap_or_default(), "follower");
        results.push(result);
    }
    if results.iter().any(FollowerResult::unfinished) {
        return Err(Problem::FollowersNotMoved {
            version_arn: version.arn.clone(),
            followers: results,
        });
    }
    Ok(results)
}

/// One follower: read its layers, and move it when it uses an older
/// version; a function busy with another update is waited for (1, 2, 4 s).
async fn move_follower(
    aws: &impl Functions, clock: &impl Clock, function: &str, arn: &str, declared: &Declared,
) -> FollowerResult {
    let said = |result: &str, error: Option<String>| FollowerResult {
        function: function.to_owned(),
        result: result.to_owned(),
        error,
    };
    let setup = match aws.function_setup(function).await {
        Ok(Some(setup)) => setup,
        Ok(None) => return said("failed", Some("the function does not exist".into())),
        Err(e) => return said("failed", Some(e.to_string())),
    };
    let moved = match plan(&setup.layers, arn) {
        Plan::NotUsing => return said("not_using", None),
        Plan::UpToDate => return said("up_to_date", None),
        Plan::Move(moved) => moved,
    };
    if let Some(why) = misfit(&setup, declared) {
        return said("incompatible", Some(format!("not moved: {why}")));
    }
    let mut pauses = Backoff::new(FOLLOWER_FIRST_PAUSE, FOLLOWER_LONGEST_PAUSE);
    let mut attempt = 1;
    loop {
        match aws.set_function_layers(function, &moved).await {
            Ok(()) => return said("moved", None),
            Err(e) if e.code.as_deref() != Some("ResourceConflictException") => {
                return said("failed", Some(e.to_string()))
            }
            Err(e) if attempt == FOLLOWER_ATTEMPTS => return said("busy", Some(e.to_string())),
            Err(_) => {
                clock.sleep(pauses.next_pause(clock)).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPS: &str = "arn:aws:lambda:us-east-1:123456789012:layer:deps";
    const OTHER: &str = "arn:aws:lambda:us-east-1:123456789012:layer:other:4";

    #[test]
    fn an_older_version_is_replaced_in_place() {
        let layers = [OTHER.to_owned(), format!("{DEPS}:2"), format!("{OTHER}0")];
        let new = format!("{DEPS}:3");
        assert_eq!(
            plan(&layers, &new),
            Plan::Move(vec![OTHER.to_owned(), new.clone(), format!("{OTHER}0")])
        );
        assert_eq!(plan(&[format!("{DEPS}:3")], &new), Plan::UpToDate);
        assert_eq!(
            plan(&[format!("{DEPS}:9")], &new),
            Plan::UpToDate,
            "never back"
        );
        assert_eq!(plan(&[OTHER.to_owned()], &new), Plan::NotUsing);
        assert_eq!(plan(&[], &new), Plan::NotUsing);
        let lookalike = format!("{DEPS}-v2:1");
        assert_eq!(plan(&[lookalike], &new), Plan::NotUsing);
    }

    #[test]
    fn a_function_the_version_does_not_declare_is_not_moved() {
        let function = |runtime: Option<&str>, arch: &str| FunctionSetup {
            layers: Vec::new(),
            runtime: runtime.map(str::to_owned),
            architectures: vec![arch.to_owned()],
        };
        let declared = |runtimes: &[&str], architectures: &[&str]| Declared {
            runtimes: runtimes.iter().map(|r| r.to_string()).collect(),
            architectures: architectures.iter().map(|a| a.to_string()).collect(),
            license: None,
        };
        let py312 = declared(&["python3.12"], &["x86_64"]);
        assert_eq!(
            misfit(&function(Some("python3.12"), "x86_64"), &py312),
            None
        );
        let why = misfit(&function(Some("python3.11"), "x86_64"), &py312).unwrap();
        assert_eq!(
            why,
            "it runs python3.11, and the new version declares python3.12"
        );
        let why = misfit(&function(Some("python3.12"), "arm64"), &py312).unwrap();
        assert_eq!(why, "it runs on arm64, and the new version declares x86_64");
        assert_eq!(misfit(&function(None, "x86_64"), &py312), None, "an image");
        let nothing = Declared::default();
        assert_eq!(
            misfit(&function(Some("nodejs20.x"), "arm64"), &nothing),
            None
        );
    }

    #[test]
    fn followers_are_names_or_arns() {
        let parsed =
            parse_list("api, arn:aws:lambda:us-east-1:123456789012:function:worker,api").unwrap();
        assert_eq!(
            parsed,
            [
                "api",
                "arn:aws:lambda:us-east-1:123456789012:function:worker"
            ]
        );
        for bad in ["a b", "x:y", "arn:aws:lambda:us-east-1:1:function:"] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }
}
