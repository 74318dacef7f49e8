"""The seed, aws-lambda-artifact-builder (pinned in scripts/python-tools.txt),
run for real against the local AWS: its own upload step
(`upload_layer_zip_to_s3`) and publish step (`LambdaLayerVersionPublisher`).
tests/on_moto/seed.rs runs it beside the function.

    seed.py upload  PROJECT_DIR S3DIR_LAMBDA TOOL
    seed.py publish PROJECT_DIR S3DIR_LAMBDA TOOL LAYER_NAME

PROJECT_DIR holds pyproject.toml, the tool's lock file and
build/lambda/layer/layer.zip, as the seed's build leaves them. The AWS
endpoint, region and credentials come from the usual variables. Prints one
JSON line: {"uploaded": key}, {"published": version} or {"unchanged": true}.
"""

import json
import sys
from pathlib import Path

import boto3
from aws_lambda_artifact_builder.api import (
    LambdaLayerVersionPublisher,
    LayerBuildToolEnum,
    upload_layer_zip_to_s3,
)
from s3pathlib import S3Path


def log(message):
    print(message, file=sys.stderr)


def main(argv):
    command, project, s3dir, tool = argv[1:5]
    s3_client = boto3.client("s3")
    path_pyproject_toml = Path(project) / "pyproject.toml"
    s3dir_lambda = S3Path(s3dir).to_dir()
    build_tool = LayerBuildToolEnum(tool)
    if command == "upload":
        upload_layer_zip_to_s3(
            s3_client=s3_client,
            path_pyproject_toml=path_pyproject_toml,
            s3dir_lambda=s3dir_lambda,
            layer_build_tool=build_tool,
            printer=log,
        )
        print(json.dumps({"uploaded": s3dir_lambda.joinpath("layer", "layer.zip").key}))
    elif command == "publish":
        publisher = LambdaLayerVersionPublisher(
            path_pyproject_toml=path_pyproject_toml,
            s3dir_lambda=s3dir_lambda,
            layer_build_tool=build_tool,
            s3_client=s3_client,
            layer_name=argv[5],
            lambda_client=boto3.client("lambda"),
            printer=log,
        )
        try:
            deployment = publisher.run()
        except ValueError as error:
            # The seed says "unchanged" by raising.
            if "unchanged" not in str(error).lower():
                raise
            print(json.dumps({"unchanged": True}))
        else:
            print(json.dumps({"published": deployment.layer_version}))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
