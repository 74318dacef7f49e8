//! `layerctl`: the CI side of layer-autopublish. Wiring only: parse the
//! command line, build the AWS clients once, run the command, exit with its
//! code. The commands are the modules beside this file.

mod args;
mod calls;
mod defaults;
mod diff;
mod failed;
mod failure;
mod invoke;
mod layer_check;
mod report;
mod status;
mod upload;

use args::{Cli, Command, Global};
use clap::Parser;
use layer_autopublish::adapters::aws::{self, Aws};
use report::Report;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = Report::new(cli.global.quiet, cli.global.json);
    let (sdk, aws, region) = clients(&cli.global).await;
    let result = match cli.command {
        Command::Upload(args) => upload::run(&aws, &region, &report, args).await,
        Command::Status(args) => status::run(&aws, &report, args).await,
        Command::Invoke(args) => invoke::run(&aws, &region, &report, args).await,
        Command::Diff(args) => diff::run(&aws, &report, args).await,
        Command::Failed(args) => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            failed::run(&aws, &sqs, &region, &report, args).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("layerctl: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// The SDK clients, from the environment and profile as the AWS CLI reads
/// them, with the command line's overrides.
async fn clients(global: &Global) -> (aws_config::SdkConfig, Aws, String) {
    let mut loader = aws::config_loader();
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &global.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &global.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let aws = Aws::new(&sdk);
    (sdk, aws, region)
}
