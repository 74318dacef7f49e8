#!/usr/bin/env bash
# The main job end to end on a local AWS: moto server as S3 and Lambda, the
# real function binary under cargo-lambda's Lambda runtime emulator, and
# uploads made exactly as the README tells CI to make them (layerctl).
#
#   publish v1 -> re-upload with the same lock file (unchanged)
#   -> change the lock file -> v2; then the layer versions and the S3 layout.
#
# Run it with `make demo`, which installs the tools first. It stops every
# process it started, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

work=.demo
bucket=demo-artifacts
dir=projects/my-app/lambda/layer
layer=my-app-deps

rm -rf "$work"
mkdir -p "$work/build/python/my_app_deps"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for_port() { # port, pid of the process that should open it
    for _ in $(seq 1 600); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "the process for 127.0.0.1:$1 exited; see $work/*.log" >&2
            return 1
        fi
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "nothing listens on 127.0.0.1:$1; see $work/*.log" >&2
    return 1
}

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

moto_port=$(free_port)
invoke_port=$(free_port)
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

say "Starting the local AWS (moto server) on $AWS_ENDPOINT_URL"
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_port" $!
aws s3api create-bucket --bucket "$bucket" >/dev/null
aws s3api put-bucket-versioning --bucket "$bucket" \
    --versioning-configuration Status=Enabled
echo "bucket s3://$bucket (versioned, as template.yaml creates it)"

say "Building the function and layerctl (the tests' debug build, make bins)"
# With an example target the build has the tests' features, so make demo and
# make test share one build (Makefile, bins).
cargo build --quiet --workspace --bins --examples
bin_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug"
layerctl() { "$bin_dir/layerctl" "$@"; }

say "Starting the function under cargo lambda's Lambda runtime emulator"
# The emulator serves the Runtime API and takes the invocations; the
# function is the binary just built, in the environment template.yaml gives
# it, plus the four variables the emulator asks for.
setsid cargo lambda watch --only-lambda-apis \
    --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for_port "$invoke_port" $!
(
    export AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 \
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
        AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$invoke_port/.rt"
    export AWS_LAMBDA_LOG_FORMAT=JSON LAYER_NAME="$layer" \
        COMPATIBLE_RUNTIMES=python3.12,python3.13 COMPATIBLE_ARCHITECTURES=x86_64 \
        LAYER_DESCRIPTION="Dependencies of my-app" \
        LATEST_PARAMETER='/layer-autopublish/{layer}/latest'
    exec setsid "$bin_dir/layer-autopublish"
) >"$work/function.log" 2>&1 &
function_pid=$!
pids+=($function_pid)

# What CI does: build layer.zip from the lock file, then upload the lock
# file and the zip with one command, which waits for the function's receipt
# of the upload (--wait). moto sends no S3 notification: once the zip is up
# (layerctl says it waits), the demo invokes the function with the event S3
# would send (invoke_expect), and then shows how the wait ended.
ci_upload() {
    local lock_text=$1 build=$2
    printf '%s' "$lock_text" >"$work/requirements.txt"
    printf '# build %s\n' "$build" >"$work/build/python/my_app_deps/__init__.py"
    (cd "$work/build" && rm -f ../layer.zip && python3 -m zipfile -c ../layer.zip python)
    echo "\$ layerctl upload --zip layer.zip --manifest requirements.txt --s3-dir s3://$bucket/$dir --wait"
    layerctl upload --zip "$work/layer.zip" --manifest "$work/requirements.txt" \
        --s3-dir "s3://$bucket/$dir" --wait --timeout 60s >"$work/upload.log" 2>&1 &
    upload_pid=$!
    pids+=("$upload_pid")
    for _ in $(seq 1 600); do
        if grep -q "waiting for the function's receipt" "$work/upload.log"; then
            upload_shown=$(wc -l <"$work/upload.log")
            cat "$work/upload.log"
            return 0
        fi
        if ! kill -0 "$upload_pid" 2>/dev/null; then
            cat "$work/upload.log" >&2
            echo "layerctl upload ended before it waited" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "layerctl upload did not finish uploading; see $work/upload.log" >&2
    exit 1
}

# How CI's `layerctl upload --wait` ended: exit 0, with the version's ARN.
upload_outcome() {
    local status=0
    wait "$upload_pid" || status=$?
    echo "layerctl upload --wait:"
    tail -n "+$((upload_shown + 1))" "$work/upload.log"
    if [ "$status" -ne 0 ]; then
        echo "layerctl upload --wait exited with $status" >&2
        exit 1
    fi
}

# The event S3 sends for the upload: the sample event, pointed at the
# object just written (its ETag and version).
s3_event() {
    aws s3api head-object --bucket "$bucket" --key "$dir/layer.zip" --output json >"$work/head.json"
    python3 - "$bucket" "$dir/layer.zip" "$work/head.json" >"$work/event.json" <<'PY'
import json, sys, urllib.parse
bucket, key, head_file = sys.argv[1:]
head = json.load(open(head_file))
event = json.load(open("events/put-layer-zip.json"))
obj = event["Records"][0]["s3"]["object"]
event["Records"][0]["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
obj.update(key=urllib.parse.quote_plus(key, safe="/"), eTag=head["ETag"].strip('"'),
           size=head["ContentLength"], versionId=head["VersionId"])
print(json.dumps(event))
PY
}

# Invoke the function with the upload's event; check the outcome.
invoke_expect() {
    local outcome=$1 version=$2
    s3_event
    if ! kill -0 "$function_pid" 2>/dev/null; then
        echo "the function exited; see $work/function.log" >&2
        exit 1
    fi
    echo "the function, invoked with the event S3 sends for the upload:"
    cargo lambda invoke _ --invoke-address 127.0.0.1 \
        --invoke-port "$invoke_port" --data-file "$work/event.json" >"$work/response.json"
    python3 - "$outcome" "$version" "$work/response.json" <<'PY'
import json, sys
outcome, version, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
result = json.load(open(path))["results"][0]
print(json.dumps(result, indent=2))
if (result["outcome"], result.get("layer_version")) != (outcome, version):
    sys.exit(f"expected {outcome} v{version}, got {result['outcome']} v{result.get('layer_version')}")
PY
    upload_outcome
}

lock_v1='requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6
'
lock_v2='requests==2.32.4 --hash=sha256:27babd3cda2a6d50b30443204ee89830707d396671944c998b5975b031ac2b2c
'

# The latest pointer (LATEST_PARAMETER): what stacks resolve; it must name
# version $1.
pointer="/layer-autopublish/$layer/latest"
pointer_expect() {
    local value
    value=$(aws ssm get-parameter --name "$pointer" --query Parameter.Value --output text)
    echo "latest pointer $pointer = $value"
    case "$value" in
        *":$1") ;;
        *) echo "expected the pointer to name version $1" >&2; exit 1 ;;
    esac
}

say "1. First upload: the layer has no version yet -> publish v1"
ci_upload "$lock_v1" 1
invoke_expect published 1
pointer_expect 1

say "2. Rebuild from the same lock file -> unchanged, nothing published"
ci_upload "$lock_v1" 2
invoke_expect unchanged 1

say "3. The lock file changes -> publish v2, and the latest pointer moves to it"
ci_upload "$lock_v2" 3
invoke_expect published 2
pointer_expect 2

say "4. An unpinned lock file is refused before anything is uploaded (exit 3)"
printf 'requests>=2\n' >"$work/unpinned.txt"
echo "\$ layerctl upload --zip layer.zip --manifest unpinned.txt --s3-dir s3://$bucket/$dir"
status=0
layerctl upload --zip "$work/layer.zip" --manifest "$work/unpinned.txt" \
    --s3-dir "s3://$bucket/$dir" || status=$?
if [ "$status" -ne 3 ]; then
    echo "expected exit code 3, got $status" >&2
    exit 1
fi
echo "exit code $status"

say "The function's decisions, as it logged them"
grep -h '"layer decision"' "$work/function.log" | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line[line.index("{"):]).get("fields", {})
    print(f'\''{f.get("outcome"):10} v{f.get("version")}  {f.get("layer_console")}'\'')
'

say "What is published: layerctl status"
echo "\$ layerctl status --s3-dir s3://$bucket/$dir --layer-name $layer --latest-parameter '/layer-autopublish/{layer}/latest'"
layerctl status --s3-dir "s3://$bucket/$dir" --layer-name "$layer" \
    --latest-parameter '/layer-autopublish/{layer}/latest'

say "What v2 changed: layerctl diff"
echo "\$ layerctl diff --s3-dir s3://$bucket/$dir"
layerctl diff --s3-dir "s3://$bucket/$dir"

say "S3 layout under s3://$bucket/$dir/"
aws s3 ls --recursive "s3://$bucket/$dir/"
echo
echo "last-requirements.txt holds the lock file of v2:"
aws s3 cp --only-show-errors "s3://$bucket/$dir/last-requirements.txt" -
echo
echo "Demo done: v1 published, unchanged skipped, v2 published, the latest pointer moved v1 -> v2."
