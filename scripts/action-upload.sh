#!/usr/bin/env bash
# The step of the GitHub Action (action.yml): installs layerctl into a venv
# of its own (from INPUT_WHEEL, else the package index's layerctl at
# INPUT_LAYERCTL_VERSION), runs `layerctl upload` with the action's inputs
# (`--wait` with INPUT_WAIT=true), and writes the zip's S3 URI, version id
# and, having waited, the layer version's ARN to $GITHUB_OUTPUT.
# tests/on_moto/packaging.rs runs it against moto as GitHub would.
set -euo pipefail

: "${INPUT_ZIP:?the zip input is required}"
: "${INPUT_MANIFEST:?the manifest input is required}"
: "${INPUT_S3_DIR:?the s3-dir input is required}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set: this runs as a GitHub Actions step}"

venv="$(mktemp -d "${RUNNER_TEMP:-/tmp}/layerctl.XXXXXX")"
python3 -m venv "$venv"
if [[ -n "${INPUT_WHEEL:-}" ]]; then
  package="$INPUT_WHEEL"
else
  package="layerctl==${INPUT_LAYERCTL_VERSION:?set the layerctl-version input or the wheel input}"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "$package"

args=()
if [[ -n "${INPUT_REGION:-}" ]]; then
  args+=(--region "$INPUT_REGION")
fi
args+=(--json upload --zip "$INPUT_ZIP" --manifest "$INPUT_MANIFEST" --s3-dir "$INPUT_S3_DIR"
  --concurrency "${INPUT_CONCURRENCY:-10}")
if [[ -n "${INPUT_LAYER_NAME:-}" ]]; then
  args+=(--layer-name "$INPUT_LAYER_NAME")
fi
if [[ "${INPUT_WAIT:-false}" == "true" ]]; then
  args+=(--wait --timeout "${INPUT_TIMEOUT:-10m}")
fi
# The progress lines go to the log (stderr); the result, one JSON object, to
# the outputs. A refused, failed or timed-out wait fails the step with
# layerctl's exit code and message.
result="$("$venv/bin/layerctl" "${args[@]}")"
"$venv/bin/python" - "$result" "$GITHUB_OUTPUT" <<'PY'
import json, sys
uploaded = json.loads(sys.argv[1])
with open(sys.argv[2], "a", encoding="utf-8") as outputs:
    outputs.write(f"zip-uri={uploaded['zip']}\n")
    outputs.write(f"version-id={uploaded.get('zip_version_id') or ''}\n")
    receipt = uploaded.get("receipt") or {}
    outputs.write(f"layer-version-arn={receipt.get('layer_version_arn') or ''}\n")
print(f"uploaded {uploaded['zip']}")
PY
