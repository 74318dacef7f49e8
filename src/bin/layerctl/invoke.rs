//! `layerctl invoke`: the function's handler, run here on the folder's
//! current `layer.zip` (or on a saved event), configured by the function's
//! environment variables, to publish without the trigger or replay a failed
//! event. `--dry-run` changes nothing.

use crate::args::InvokeArgs;
use crate::failure::Failure;
use crate::report::Report;
use lambda_runtime::{Context, LambdaEvent};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::config::Config;
use layer_autopublish::domain::event;
use layer_autopublish::domain::layout::LayerDir;
use layer_autopublish::domain::metadata::validate_layer_name;
use layer_autopublish::ports::Folder;
use layer_autopublish::{handle, Publisher};
use serde_json::Value;

pub async fn run(
    aws: &Aws, region: &str, report: &Report, args: InvokeArgs,
) -> Result<(), Failure> {
    let config = config(args.layer_name.as_deref(), args.dry_run)?;
    let payload = match (&args.event, &args.s3_dir) {
        (Some(path), _) => read_event(path)?,
        (None, Some(s3_dir)) => event_for_current_zip(aws, region, s3_dir).await?,
        (None, None) => {
            return Err(Failure::Rejected("give --s3-dir or --event".into()));
        }
    };
    let publisher = Publisher::new(aws.clone(), config, region);
    let response = handle(&publisher, LambdaEvent::new(payload, Context::default()))
        .await
        .map_err(|e| Failure::of_function(&e))?;
    for result in &response.results {
        report.line(format!(
            "{}: {}{}{}",
            result.outcome.as_str(),
            layer_autopublish::domain::layout::s3_uri(&result.bucket, &result.key),
            result
                .layer_version_arn
                .as_deref()
                .map(|arn| format!(" -> {arn}"))
                .unwrap_or_default(),
            result
                .reason
                .as_deref()
                .map(|why| format!(" ({why})"))
                .unwrap_or_default(),
        ));
    }
    report.result(&response);
    Ok(())
}

/// The function's configuration from its environment variables, as in
/// Lambda, with `--layer-name` and `--dry-run` over them.
pub fn config(layer_name: Option<&str>, dry_run: bool) -> Result<Config, Failure> {
    let mut config = Config::from_env().map_err(|e| Failure::Rejected(e.to_string()))?;
    if let Some(layer) = layer_name {
        validate_layer_name(layer)
            .map_err(|why| Failure::Rejected(format!("--layer-name {layer:?}: {why}")))?;
        config.layer_name = Some(layer.to_owned());
    }
    config.dry_run |= dry_run;
    Ok(config)
}

fn read_event(path: &std::path::Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Rejected(format!("{}: cannot read it: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::Rejected(format!("{}: not JSON: {e}", path.display())))
}

/// The notification S3 would send for the folder's `layer.zip` as it is now.
async fn event_for_current_zip(aws: &Aws, region: &str, s3_dir: &str) -> Result<Value, Failure> {
    let folder = LayerDir::from_s3_uri(s3_dir).map_err(Failure::Rejected)?;
    let key = folder.zip_key();
    let head = aws.head(folder.bucket(), &key).await?.ok_or_else(|| {
        Failure::Rejected(format!(
            "{} does not exist; upload it first (layerctl upload)",
            folder.s3_uri(&key)
        ))
    })?;
    Ok(event::object_created(
        region,
        folder.bucket(),
        &key,
        head.id.etag.as_deref(),
        head.id.version_id.as_deref(),
        head.size,
    ))
}
