"""The baseline for `make bench`: the same job written the usual Python way,
boto3 clients created at import, run by a minimal Lambda runtime loop (the
Runtime API over HTTP, as awslambdaric does). It follows the same steps as
the Rust function (HEAD the zip, check the staged lock file, find the latest
version, compare, publish, keep the lock file and a deployment record), so
start-up, memory, latency and AWS calls compare like for like. Each response
carries the number of AWS calls it made, counted by a botocore hook.
"""

import hashlib
import json
import os
import re
import urllib.parse
import urllib.request

import boto3

s3 = boto3.client("s3")
lam = boto3.client("lambda")

CALLS = {"n": 0}


def _count(**_):
    CALLS["n"] += 1


for client in (s3, lam):
    client.meta.events.register("before-call", _count)

LAYER_NAME = os.environ.get("LAYER_NAME", "")
MANIFEST_NAME = os.environ.get("MANIFEST_NAME", "requirements.txt")
MARKER = re.compile(r"manifest-md5:([0-9a-f]{32})")


def _exists(bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


def _get(bucket, key):
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def process(record):
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    if not record["eventName"].startswith("ObjectCreated:") or not key.endswith("/layer.zip"):
        return {"outcome": "ignored", "key": key}
    folder = key.rsplit("/", 1)[0]
    head = s3.head_object(Bucket=bucket, Key=key)
    md5 = head["Metadata"]["manifest-md5"]
    manifest = head["Metadata"].get("manifest-name", MANIFEST_NAME)
    layer = head["Metadata"].get("layer-name", LAYER_NAME)
    staged = _get(bucket, f"{folder}/{manifest}")
    if staged is not None and hashlib.md5(staged).hexdigest() != md5:
        raise ValueError("InconsistentManifest")
    versions = lam.list_layer_versions(LayerName=layer).get("LayerVersions", [])
    latest = max(versions, key=lambda v: v["Version"], default=None)
    if latest is not None:
        found = MARKER.search(latest.get("Description", ""))
        if found and found.group(1) == md5:
            number = latest["Version"]
            _exists(bucket, f"{folder}/{number:06d}/{manifest}")
            _exists(bucket, f"{folder}/{number:06d}/deployment.json")
            return {"outcome": "unchanged", "layer_version": number}
    new = lam.publish_layer_version(
        LayerName=layer,
        Description=f"manifest-md5:{md5}",
        Content={"S3Bucket": bucket, "S3Key": key},
    )
    number = new["Version"]
    if staged is not None:
        s3.put_object(Bucket=bucket, Key=f"{folder}/{number:06d}/{manifest}", Body=staged)
        s3.put_object(Bucket=bucket, Key=f"{folder}/last-{manifest}", Body=staged)
    record_body = json.dumps({"outcome": "published", "layer_version": number, "manifest_md5": md5})
    s3.put_object(Bucket=bucket, Key=f"{folder}/{number:06d}/deployment.json", Body=record_body)
    return {"outcome": "published", "layer_version": number}


def handler(event):
    CALLS["n"] = 0
    results = [process(record) for record in event["Records"]]
    return {"results": results, "aws_calls": CALLS["n"]}


def main():
    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{api}/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        body = json.dumps(handler(event)).encode()
        urllib.request.urlopen(urllib.request.Request(f"{api}/{request_id}/response", data=body, method="POST")).read()


if __name__ == "__main__":
    main()
