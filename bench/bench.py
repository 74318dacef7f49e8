"""`make bench`: this function against the boto3 baseline, side by side, on
the same local AWS (moto server) and the same stand-in Lambda Runtime API.

For each implementation and each of several runs, a fresh process is started
as Lambda starts one, and this script, serving the Runtime API, measures:
- start-up: from exec to the process's first request for work;
- latency of each outcome: from handing out the event to the answer
  (published, then unchanged, then ignored, in one process; the first
  event also pays for building the SDK clients, which the function defers
  until then);
- peak RSS: the process's high-water mark (VmHWM) after the three.
AWS calls per outcome: this function's are counted by an SDK interceptor
(examples/count_calls.rs), the baseline's by a botocore hook.
Prints medians with [min-max] over the runs, and the ratios.

Usage: python bench/bench.py BOOTSTRAP BOOTSTRAP_ZIP COUNT_CALLS_BIN [RUNS]
"""

import hashlib
import http.server
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
BUCKET = "bench-artifacts"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    moto = subprocess.Popen(
        # The project's pinned moto, beside this interpreter, whatever PATH says.
        [os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return moto, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def lambda_env(endpoint):
    """The variables Lambda sets for a function, with the local AWS at
    `endpoint` and its test credentials."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }


def s3_client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )


def reply(handler, status, headers, body=b""):
    """A Runtime API handler's answer: status line, headers and body in one
    write."""
    lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    handler.wfile.flush()


def start_proxy(upstream, options):
    """bench/latency_proxy.py before moto at `upstream`, with `options` (its
    flags): the process and the URL to call through it."""
    port_file = tempfile.mktemp()
    proxy = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "latency_proxy.py"), upstream, port_file, *options]
    )
    for _ in range(300):
        if os.path.exists(port_file) and os.path.getsize(port_file):
            with open(port_file) as f:
                return proxy, f"http://127.0.0.1:{f.read()}"
        time.sleep(0.05)
    raise SystemExit("the latency proxy did not start")


class RuntimeApi:
    """Hands out `events` one by one and records when each was handed out and
    answered; after the last, requests for work wait until the process is
    killed."""

    def __init__(self, events):
        self.events = list(events)
        self.first_request = None
        self.handed = {}
        self.answers = {}
        self.done = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Answer at once, as Lambda's Runtime API does: no Nagle
                # delay on our side of the loopback connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def reply(self, status, headers, body=b""):
                reply(self, status, headers, body)

            def do_GET(self):
                now = time.perf_counter()
                if api.first_request is None:
                    api.first_request = now
                if not api.events:
                    api.done.wait(60)
                    return
                n = len(api.handed)
                body = json.dumps(api.events.pop(0)).encode()
                api.handed[f"r{n}"] = time.perf_counter()
                self.reply(
                    200,
                    {
                        "Lambda-Runtime-Aws-Request-Id": f"r{n}",
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60000),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                        "Lambda-Runtime-Trace-Id": f"Root=1-{n}",
                        "Content-Type": "application/json",
                    },
                    body,
                )

            def do_POST(self):
                now = time.perf_counter()
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                request_id = self.path.split("/")[-2]
                api.answers[request_id] = (now, self.path.endswith("/response"), body)
                self.reply(202, {})

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                """A process killed mid-request (after the last event) is
                expected: nothing to report."""

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.done.set()
        self.server.shutdown()


def layer_zip(content):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/bench.py", content)
    return buffer.getvalue()


def upload(s3, folder, lock):
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/requirements.txt", Body=lock)
    out = s3.put_object(
        Bucket=BUCKET,
        Key=f"{folder}/layer.zip",
        Body=layer_zip(lock),
        Metadata={"manifest-md5": hashlib.md5(lock).hexdigest()},
    )
    return out["ETag"].strip('"')


def event(key, etag=None):
    obj = {"key": key, "size": 1}
    if etag:
        obj["eTag"] = etag
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-23T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:BENCH"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}, "object": obj},
            }
        ]
    }


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def serve(command, env, events):
    """Starts `command` as Lambda starts a function and hands it `events`
    until all are answered. Returns when it started, the Runtime API's
    record of the answers, and the process's peak RSS (KiB)."""
    api = RuntimeApi(events)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while len(api.answers) < len(events) and time.time() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited with {process.returncode}")
            time.sleep(0.001)
        rss = peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        api.close()
    return started, api, rss


def one_run(command, env, s3, folder, run):
    etag = upload(s3, folder, f"boto3==1.35.{run}\n".encode())
    zip_event = event(f"{folder}/layer.zip", etag)
    outcomes = ["published", "unchanged", "ignored"]
    events = [zip_event, zip_event, event(f"{folder}/requirements.txt")]
    started, api, rss = serve(command, env, events)
    result = {"startup_ms": (api.first_request - started) * 1000, "rss_mib": rss / 1024}
    for n, expected in enumerate(outcomes):
        answered, ok, body = api.answers[f"r{n}"]
        response = json.loads(body)
        got = response.get("results", [{}])[0].get("outcome") if ok else body
        if got != expected:
            raise SystemExit(f"{command[0]}: expected {expected}, got {got}")
        result[f"{expected}_ms"] = (answered - api.handed[f"r{n}"]) * 1000
        if "aws_calls" in response:
            result[f"{expected}_calls"] = response["aws_calls"]
    return result


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    bootstrap, bootstrap_zip, count_calls = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    moto, endpoint = start_moto()
    try:
        env = lambda_env(endpoint)
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        # Versioned, as the template makes it.
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        implementations = {
            "layer-autopublish": [bootstrap],
            "boto3 baseline": [sys.executable, os.path.join(os.path.dirname(__file__), "boto3_publisher.py")],
        }
        measured = {name: [] for name in implementations}
        for run in range(runs):
            for name, command in implementations.items():
                folder = f"{name.split()[0]}/run{run}"
                layer_env = {**env, "LAYER_NAME": f"bench-{name.split()[0]}"}
                measured[name].append(one_run(command, layer_env, s3, folder, run))
        counted = subprocess.run(
            [count_calls], env=env, check=True, capture_output=True, text=True
        ).stdout
        rust_calls = json.loads(counted)
    finally:
        moto.terminate()
        moto.wait()

    rust, python = measured["layer-autopublish"], measured["boto3 baseline"]
    rows = [
        ("start-up, exec -> first request (ms)", "startup_ms"),
        ("peak RSS after the three (MiB)", "rss_mib"),
        ("1st event, published (ms, builds clients)", "published_ms"),
        ("2nd event, unchanged (ms)", "unchanged_ms"),
        ("3rd event, ignored (ms)", "ignored_ms"),
    ]
    print(f"{runs} runs each, medians [min-max], on moto server {endpoint}\n")
    print(f"| {'':42} | {'layer-autopublish':>24} | {'boto3 baseline':>24} | {'ratio':>7} |")
    print(f"|{'-' * 44}|{'-' * 25}:|{'-' * 25}:|{'-' * 8}:|")
    fmt = lambda s: f"{s[0]:.2f} [{s[1]:.2f}-{s[2]:.2f}]"
    for label, key in rows:
        r, p = summary([x[key] for x in rust]), summary([x[key] for x in python])
        print(f"| {label:42} | {fmt(r):>24} | {fmt(p):>24} | {p[0] / r[0]:>6.1f}x |")
    for outcome in ["published", "unchanged", "ignored"]:
        label = f"AWS calls, {outcome}"
        p_calls = statistics.median(x[f"{outcome}_calls"] for x in python)
        print(f"| {label:42} | {rust_calls[outcome]:>24} | {p_calls:>24g} | {'':>7} |")
    for outcome in ["published", "unchanged"]:
        label = f"AWS calls one after another, {outcome}"
        print(f"| {label:42} | {rust_calls[outcome + '_depth']:>24} | {'-':>24} | {'':>7} |")
    size = os.path.getsize(bootstrap)
    zipped = os.path.getsize(bootstrap_zip)
    print(f"| {'bootstrap, stripped (bytes)':42} | {size:>24,} | {'-':>24} | {'':>7} |")
    print(f"| {'bootstrap.zip (bytes)':42} | {zipped:>24,} | {'-':>24} | {'':>7} |")
    for outcome in ["published", "unchanged"]:
        print(f"\nOne after another, {outcome}: {rust_calls[outcome + '_chain']}")


if __name__ == "__main__":
    main()
