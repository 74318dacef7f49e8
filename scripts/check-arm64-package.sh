#!/usr/bin/env bash
# What `make deploy ARCH=arm64` hands to CloudFormation, checked on moto
# (MOTO_ENDPOINT, scripts/with-moto.sh): `sam package` of TEMPLATE uploads
# exactly ZIP (the arm64 bootstrap) as the function's code, and the packaged
# template runs it on arm64 when Architecture=arm64.
set -euo pipefail
template="${1:?usage: check-arm64-package.sh TEMPLATE ZIP}"
zip="${2:?usage: check-arm64-package.sh TEMPLATE ZIP}"
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
export AWS_ENDPOINT_URL="${MOTO_ENDPOINT:?run under scripts/with-moto.sh}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
packaged="$(mktemp)" log="$(mktemp)"
trap 'rm -f "$packaged" "$log"' EXIT
"$venv/bin/aws" s3 mb s3://sam-code >/dev/null
"$venv/bin/sam" package --template-file "$template" --s3-bucket sam-code \
  --output-template-file "$packaged" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
code="$(grep -E '^      CodeUri: s3://sam-code/' "$packaged" | sed 's/.*CodeUri: //')"
[[ -n "$code" ]] || { echo "the packaged template names no uploaded code" >&2; exit 1; }
uploaded="$("$venv/bin/aws" s3 cp "$code" - | md5sum | cut -d' ' -f1)"
built="$(md5sum < "$zip" | cut -d' ' -f1)"
[[ "$uploaded" == "$built" ]] || { echo "sam package uploaded other code than $zip" >&2; exit 1; }
grep -q -- '- !Ref Architecture\|- Ref: Architecture' "$packaged" || {
  echo "the packaged function's architecture is not the Architecture parameter" >&2; exit 1; }
echo "sam package uploads the arm64 bootstrap.zip as it is ($code)"
