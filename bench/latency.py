"""`make bench-latency`: what users wait on, with AWS's latency. A proxy
(bench/latency_proxy.py) between the programs and moto server answers each
call its latency after receiving it (moto's own work inside it, as a
service's is on AWS) and limits each connection's upload bandwidth; through
it, side by side in one run, medians [min-max] of several runs:

- the function, the boto3 baseline of bench/ and the seed's own publish step
  (`LambdaLayerVersionPublisher` of aws-lambda-artifact-builder, run as CI
  runs it: a fresh process, tests/seed/seed.py): cold (process start to
  answer) and warm (event handed out to answer) wall time per outcome. A
  cold process's first event publishes or finds its lock file unchanged;
  warm figures are a second and third event in the process that published
  first. The seed runs once per CI job, so it has no warm figure;
- a 100 MiB zip's upload: wall time and peak RSS of `layerctl upload`,
  `aws s3 cp` and the seed's `upload_layer_zip_to_s3`.

Usage: python bench/latency.py BOOTSTRAP LAYERCTL [RUNS]
Latency (ms) and bandwidth from S3_MS (20), LAMBDA_MS (40), PUBLISH_MS (500),
OTHER_MS (20), UPLOAD_MIB_S (50).
"""

import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from urllib.parse import urlparse

from bench import (
    BUCKET, event, lambda_env, layer_zip, peak_rss_kib, s3_client, serve, start_moto,
    start_proxy, upload,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "tests", "seed", "seed.py")
KNOBS = {"S3_MS": 20, "LAMBDA_MS": 40, "PUBLISH_MS": 500, "OTHER_MS": 20, "UPLOAD_MIB_S": 50}
UPLOAD_MIB = 100


def knob(name):
    return float(os.environ.get(name, KNOBS[name]))


def proxy_options(timing_file):
    """The proxy's latencies and bandwidth, from the knobs."""
    return [
        f"--s3-ms={knob('S3_MS')}",
        f"--lambda-ms={knob('LAMBDA_MS')}",
        f"--publish-ms={knob('PUBLISH_MS')}",
        f"--other-ms={knob('OTHER_MS')}",
        f"--upload-mib-s={knob('UPLOAD_MIB_S')}",
        f"--timing-file={timing_file}",
    ]


def uploaded_event(s3, folder, lock):
    """The lock file and its zip, straight to moto (setup, not measured),
    and the zip's event."""
    return event(f"{folder}/layer.zip", upload(s3, folder, lock))


def answered(command, env, events, expected):
    """Runs `command` under the stand-in Runtime API with `events`; returns
    the cold figure (start to first answer) and each later event's wall
    time, checking each outcome."""
    started, api, _ = serve(command, env, events)
    times = []
    for n, outcome in enumerate(expected):
        at, ok, body = api.answers[f"r{n}"]
        if not ok or f'"outcome":"{outcome}"' not in body.decode().replace(" ", ""):
            raise SystemExit(f"{command[0]}: expected {outcome}, got {body[:300]!r}")
        since = started if n == 0 else api.handed[f"r{n}"]
        times.append((at - since) * 1000)
    return times


def function_runs(name, command, env, s3, run):
    """Cold published, warm published, warm unchanged; then cold unchanged."""
    layer_env = {**env, "LAYER_NAME": f"latency-{name}"}
    first = uploaded_event(s3, f"latency-{name}/run{run}/a", f"boto3==1.35.{run}\n".encode())
    second = uploaded_event(s3, f"latency-{name}/run{run}/b", f"boto3==1.36.{run}\n".encode())
    cold_published, warm_published, warm_unchanged = answered(
        command, layer_env, [first, second, second], ["published", "published", "unchanged"]
    )
    (cold_unchanged,) = answered(command, layer_env, [second], ["unchanged"])
    return {
        "cold published": cold_published,
        "cold unchanged": cold_unchanged,
        "warm published": warm_published,
        "warm unchanged": warm_unchanged,
    }


def seed_project(root, lock, zip_bytes=None, zip_path=None):
    os.makedirs(os.path.join(root, "build", "lambda", "layer"), exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as f:
        f.write('[project]\nname = "app"\n')
    with open(os.path.join(root, "poetry.lock"), "wb") as f:
        f.write(lock)
    target = os.path.join(root, "build", "lambda", "layer", "layer.zip")
    if os.path.lexists(target):
        os.remove(target)
    if zip_path:
        os.symlink(zip_path, target)
    else:
        with open(target, "wb") as f:
            f.write(zip_bytes)


def timed(command, env):
    """Wall time (s) and peak RSS (MiB) of one process, which must succeed.
    The peak is the new program's own high-water mark (VmHWM), polled: a
    forked child's rusage would count this Python process's pages too."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_kib = 0
    while process.poll() is None:
        try:
            # Once the child runs the command (before, it is a copy of this
            # process, with its command line).
            with open(f"/proc/{process.pid}/cmdline", "rb") as f:
                running = f.read().rstrip(b"\0").split(b"\0")[-1] == command[-1].encode()
            if running:
                peak_kib = max(peak_kib, peak_rss_kib(process.pid))
        except OSError:
            pass
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {out[-500:]!r} {err[-1500:]!r}")
    return elapsed, peak_kib / 1024, out


def moto_call_ms(endpoint):
    """How long moto itself takes to answer a call here (a HEAD of the
    bucket, straight to moto): part of every figure above the latency."""
    url = urlparse(endpoint)
    connection = http.client.HTTPConnection(url.hostname, url.port)
    times = []
    for _ in range(30):
        started = time.perf_counter()
        connection.request("HEAD", f"/{BUCKET}")
        connection.getresponse().read()
        times.append((time.perf_counter() - started) * 1000)
    connection.close()
    return statistics.median(times)


def seed_runs(env, s3dir, project, run):
    """The seed's publish step as CI runs it: published, then unchanged."""
    lock = f"boto3 = 1.37.{run}\n".encode()
    seed_project(project, lock, zip_bytes=layer_zip(lock))
    seed = [sys.executable, SEED]
    timed(seed + ["upload", project, s3dir, "poetry"], env)
    figures = {}
    for outcome in ["published", "unchanged"]:
        args = ["publish", project, s3dir, "poetry", "latency-seed"]
        elapsed, _, out = timed(seed + args, env)
        if f'"{outcome}"' not in out.decode():
            raise SystemExit(f"the seed: expected {outcome}, got {out!r}")
        figures[f"cold {outcome}"] = elapsed * 1000
    return figures


def big_zip(path):
    """A real zip of UPLOAD_MIB MiB (one stored entry of random bytes)."""
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("python/blob.bin", "w") as entry:
            for _ in range(UPLOAD_MIB):
                entry.write(os.urandom(1024 * 1024))


def upload_runs(layerctl, env, workdir, zip_path, run):
    lock = os.path.join(workdir, "requirements.txt")
    with open(lock, "w") as f:
        f.write(f"boto3==1.38.{run}\n")
    project = os.path.join(workdir, "seed-upload")
    seed_project(project, b"boto3 = 1.38.0\n", zip_path=zip_path)
    endpoint = env["AWS_ENDPOINT_URL"]
    commands = {
        "layerctl upload": [
            layerctl, "--quiet", "--endpoint-url", endpoint, "upload", "--zip", zip_path, "--manifest", lock,
            "--s3-dir", f"s3://{BUCKET}/upload/layerctl",
        ],
        "aws s3 cp": [
            os.path.join(os.path.dirname(sys.executable), "aws"), "--endpoint-url", endpoint,
            "s3", "cp", "--quiet", zip_path, f"s3://{BUCKET}/upload/awscli/layer.zip",
        ],
        "the seed's upload_layer_zip_to_s3": [
            sys.executable, SEED, "upload", project, f"s3://{BUCKET}/upload/seed/", "poetry",
        ],
    }
    return {name: timed(command, env)[:2] for name, command in commands.items()}


def summary(values):
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


def main():
    bootstrap, layerctl = sys.argv[1:3]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    moto, direct = start_moto()
    timing_file = tempfile.mktemp()
    proxy, endpoint = start_proxy(direct, proxy_options(timing_file))
    try:
        env = lambda_env(endpoint)
        s3 = s3_client(direct)
        s3.create_bucket(Bucket=BUCKET)
        # Versioned, as the template creates it: the publish names the
        # checked object version (an unversioned bucket adds one copy).
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        moto_ms = moto_call_ms(direct)
        implementations = {
            "layer-autopublish": [bootstrap],
            "boto3 baseline": [sys.executable, os.path.join(HERE, "boto3_publisher.py")],
        }
        measured = {name: [] for name in [*implementations, "the seed's publish step"]}
        uploads = []
        with tempfile.TemporaryDirectory() as workdir:
            zip_path = os.path.join(workdir, "layer.zip")
            big_zip(zip_path)
            # Run 0 is not counted: it warms moto up (its first calls of each
            # kind are slow), which AWS needs no one to do.
            for run in range(runs + 1):
                figures = {
                    name: function_runs(name.split()[0], command, env, s3, run)
                    for name, command in implementations.items()
                }
                project = os.path.join(workdir, "seed")
                figures["the seed's publish step"] = seed_runs(
                    env, f"s3://{BUCKET}/seed/lambda/", project, run
                )
                uploaded = upload_runs(layerctl, env, workdir, zip_path, run)
                if run == 0:
                    os.remove(timing_file)
                    continue
                for name, figure in figures.items():
                    measured[name].append(figure)
                uploads.append(uploaded)
    finally:
        for process in (proxy, moto):
            process.terminate()
            process.wait()

    s3_ms, lambda_ms, publish_ms = knob("S3_MS"), knob("LAMBDA_MS"), knob("PUBLISH_MS")
    print(
        f"{runs} runs each, medians [min-max], through a proxy adding S3 {s3_ms:g} ms, "
        f"Lambda {lambda_ms:g} ms, PublishLayerVersion {publish_ms:g} ms a call, "
        f"uploads at {knob('UPLOAD_MIB_S'):g} MiB/s a connection\n"
    )
    names = list(measured)
    print(f"| {'wall time (ms)':24} | " + " | ".join(f"{n:>25}" for n in names) + " |")
    print(f"|{'-' * 26}|" + "|".join("-" * 26 + ":" for _ in names) + "|")
    for row in ["cold published", "cold unchanged", "warm published", "warm unchanged"]:
        cells = []
        for name in names:
            values = [run[row] for run in measured[name] if row in run]
            cells.append(summary(values) if values else "-")
        print(f"| {row:24} | " + " | ".join(f"{c:>25}" for c in cells) + " |")
    # The function's calls one after another: unchanged, the versions (beside
    # the HEAD) then the folder; published, the versions, the first bytes
    # (beside the folder and the lease), the versions again (beside the
    # take), the publish, the records, the release.
    # The upload's receipt (issue 34) is one S3 call after the rest.
    floor_unchanged = lambda_ms + 2 * s3_ms
    floor_published = publish_ms + 2 * lambda_ms + 4 * s3_ms
    print(
        f"\nThe function's floor, the latency of its calls one after another: unchanged "
        f"{floor_unchanged:g} ms (3 calls), published {floor_published:g} ms (7 calls). "
        f"A call is answered its latency after it was received, or when moto answers if later "
        f"(moto answers a HEAD in {moto_ms:.1f} ms here)."
    )
    # How close the proxy kept to its latency: the instrument's own error.
    with open(timing_file) as f:
        answers = [line.split() for line in f]
    os.remove(timing_file)
    on_time = [float(late) for late, moto_late, _ in answers if moto_late == "0"]
    moto_late = [kind for _, late, kind in answers if late == "1"]
    print(
        f"The proxy answered {len(on_time)} of {len(answers)} calls a median "
        f"{statistics.median(on_time):.2f} ms (at most {max(on_time):.2f} ms) after their latency; "
        f"moto itself took longer than the latency for the other {len(moto_late)} "
        f"({moto_late.count('upload')} of them parts of the uploads below)."
    )
    print(f"\n| {f'{UPLOAD_MIB} MiB zip upload':36} | {'time (s)':>20} | {'peak RSS (MiB)':>20} |")
    print(f"|{'-' * 38}|{'-' * 21}:|{'-' * 21}:|")
    for name in uploads[0]:
        seconds = [u[name][0] for u in uploads]
        rss = [u[name][1] for u in uploads]
        fmt = lambda v: f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
        print(f"| {name:36} | {fmt(seconds):>20} | {fmt(rss):>20} |")


if __name__ == "__main__":
    main()
