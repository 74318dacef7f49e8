//! `layerctl`: the CI side of layer-autopublish. Wiring only: parse the
//! command line, build the AWS clients once, run the command, exit with its
//! code. The commands are the modules beside this file.

mod args;
mod calls;
mod code_bucket;
mod defaults;
mod deploy;
mod diff;
mod failed;
mod failure;
mod invoke;
mod layer_check;
mod release;
mod report;
mod stack;
mod status;
mod status_all;
mod template;
mod upload;
mod wait;

use args::{Cli, Command, Global};
use clap::Parser;
use layer_autopublish::adapters::aws::{self, Aws};
use report::Report;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let report = Report::new(cli.global.quiet, cli.global.json);
    let (sdk, aws, region) = clients(&cli.global).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    if let Err(failure) = read_stack_name(&cloudformation, &mut cli.command).await {
        eprintln!("layerctl: {failure}");
        return ExitCode::from(failure.exit_code());
    }
    let result = match cli.command {
        Command::Upload(args) => upload::run(&aws, &region, &report, args).await,
        Command::Status(args) => status::run(&aws, &report, args).await,
        Command::Invoke(args) => invoke::run(&aws, &region, &report, args).await,
        Command::Diff(args) => diff::run(&aws, &report, args).await,
        Command::Failed(args) => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            failed::run(&aws, &sqs, &region, &report, args).await
        }
        Command::Deploy(args) => {
            let clients = deploy::Clients {
                cloudformation,
                s3: aws.s3().clone(),
                sts: aws_sdk_sts::Client::new(&sdk),
            };
            deploy::run(&clients, &region, &report, args).await
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

/// `--stack-name` read into what it stands for: the folder under the
/// stack's prefix, or its failed-events queue (one DescribeStacks).
async fn read_stack_name(
    cloudformation: &aws_sdk_cloudformation::Client, command: &mut Command,
) -> Result<(), failure::Failure> {
    let folder = match command {
        Command::Upload(args) => &mut args.folder,
        Command::Status(args) => &mut args.folder,
        Command::Diff(args) => &mut args.folder,
        Command::Failed(args) => {
            if let Some(name) = &args.stack_name {
                let queue = stack::output(cloudformation, name, "FailedEventsQueueUrl").await?;
                args.queue_url = Some(queue);
            }
            return Ok(());
        }
        Command::Invoke(_) | Command::Deploy(_) => return Ok(()),
    };
    if let Some(name) = folder.stack_name.clone() {
        let prefix = stack::output(cloudformation, &name, "ArtifactsUploadPrefix").await?;
        folder.under(&prefix);
    }
    Ok(())
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
