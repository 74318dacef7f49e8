"""`make bench-burst`: a monorepo's burst (issue 31). One stack serving
`ALLOWED_LAYERS=burst-*`; N layers, each in its own folder naming its own
layer, uploaded at once; a proxy before moto answering as AWS does
(bench/latency_proxy.py: latencies, and one bucket of RPS Lambda
control-plane requests a second for the whole account); each event its own
cold invocation of the function (a fresh process under a stand-in Runtime
API, the template's 120 s timeout as its deadline), a failed one retried as
Lambda retries an asynchronous event (about 60 s later, then 120 s after
that), then sent to the failed-events queue.

Prints, per case: the wall time until every upload settled, the floor the
rate sets (the control-plane calls answered, divided by the rate), the
invocations and those that failed, the uploads lost to the failed-events
queue, the throttled answers, the calls per upload, the lease takes, and
the versions each layer ended with (exactly one is right).

Usage:
    python bench/burst.py BOOTSTRAP                    # the cases of make bench-burst
    python bench/burst.py BOOTSTRAP --layers 100 --rps 15 [--unchanged] [--json FILE]

--unchanged publishes every layer first (not measured), then measures the
same uploads again: each answer is `unchanged`. KEEP_LOGS=1 keeps each
invocation's log in the temporary folder it names.
"""

import argparse
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter

from bench import (
    BUCKET, REGION, event, lambda_env, layer_zip, reply, s3_client, start_moto, start_proxy,
)

import boto3

TIMEOUT_S = 120  # template.yaml's Timeout
HELD_LEASE_BYTES = 512  # domain/lease_state.rs
# Lambda's retries of a failed asynchronous invocation: about 1 minute
# after the first attempt, about 2 minutes after the second.
RETRY_AFTER_S = [60, 120]
CASES = [
    ("100 published, 15/s", 100, 15, False),
    ("100 unchanged, 15/s", 100, 15, True),
    ("300 unchanged, 15/s", 300, 15, True),
    ("100 published, 5/s", 100, 5, False),
]


def layer(n):
    return f"burst-p{n:03d}"


def folder(n):
    return f"projects/p{n:03d}/lambda/layer"


def upload_layer(s3, n, lock):
    """Layer n's lock file and zip, straight to moto (setup, not measured);
    the zip's event."""
    s3.put_object(Bucket=BUCKET, Key=f"{folder(n)}/requirements.txt", Body=lock)
    out = s3.put_object(
        Bucket=BUCKET,
        Key=f"{folder(n)}/layer.zip",
        Body=layer_zip(lock),
        Metadata={"manifest-md5": hashlib.md5(lock).hexdigest(), "layer-name": layer(n)},
    )
    return event(f"{folder(n)}/layer.zip", out["ETag"].strip('"'))


class Invocation:
    """One cold invocation: a process of its own, and a Runtime API that
    hands it one event with the function's deadline and keeps its answer."""

    def __init__(self, command, env, payload, log_path):
        self.answer = None  # ("response" | "error", body)
        self.answered_at = None  # time.monotonic() of the answer
        self.answered = threading.Event()
        invocation = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            handed = False

            def log_message(self, *args):
                pass

            def reply(self, status, headers, body=b""):
                reply(self, status, headers, body)

            def do_GET(self):
                if Handler.handed:
                    invocation.answered.wait(TIMEOUT_S + 60)
                    return
                Handler.handed = True
                deadline_ms = int(time.time() * 1000) + TIMEOUT_S * 1000
                self.reply(200, {
                    "Lambda-Runtime-Aws-Request-Id": "burst",
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:burst",
                    "Lambda-Runtime-Trace-Id": "Root=1-burst",
                    "Content-Type": "application/json",
                }, json.dumps(payload).encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = "response" if self.path.endswith("/response") else "error"
                self.reply(202, {})
                invocation.answered_at = time.monotonic()
                invocation.answer = (kind, body)
                invocation.answered.set()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        address = f"127.0.0.1:{self.server.server_address[1]}"
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            command, env={**env, "AWS_LAMBDA_RUNTIME_API": address},
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.started = time.monotonic()

    def done(self):
        """The answer, once there: the process's time is up after it (or
        after the timeout, as Lambda's would be)."""
        if self.answer is None and time.monotonic() - self.started > TIMEOUT_S:
            self.answer = ("error", b'{"errorType":"Sandbox.Timedout"}')
        if self.answer is None and self.process.poll() is not None:
            self.answer = ("error", b'{"errorType":"Runtime.ExitError"}')
        if self.answer is not None and self.answered_at is None:
            self.answered_at = time.monotonic()
        return self.answer

    def close(self):
        """Ends the process at once; the Runtime API's server, whose
        shutdown waits out its polling, in the background, so that the
        other answers are not read late."""
        self.process.kill()
        self.process.wait()
        self.log.close()

        def stop():
            self.server.shutdown()
            self.server.server_close()

        threading.Thread(target=stop, daemon=True).start()


def deliver(command, env, events, logs):
    """Every event at once, each its own invocation, failures retried on
    Lambda's schedule. Returns the wall time until all settled, and per
    event its attempts: a list of (errorType or None, message)."""
    started = time.monotonic()
    due = [(started, i, 1) for i in range(len(events))]
    running = {}
    attempts = {i: [] for i in range(len(events))}
    settled_at = started
    while due or running:
        now = time.monotonic()
        for entry in [d for d in due if d[0] <= now]:
            due.remove(entry)
            _, i, attempt = entry
            log = os.path.join(logs, f"{i:03d}-{attempt}.log")
            running[(i, attempt)] = Invocation(command, env, events[i], log)
        for (i, attempt), invocation in list(running.items()):
            answer = invocation.done()
            if answer is None:
                continue
            invocation.close()
            del running[(i, attempt)]
            kind, body = answer
            if kind == "response":
                attempts[i].append((None, ""))
                settled_at = max(settled_at, invocation.answered_at)
                continue
            error = json.loads(body or b"{}")
            attempts[i].append((error.get("errorType"), error.get("errorMessage", "")))
            if attempt <= len(RETRY_AFTER_S):
                due.append((invocation.answered_at + RETRY_AFTER_S[attempt - 1], i, attempt + 1))
            else:
                settled_at = max(settled_at, invocation.answered_at)
        time.sleep(0.01)
    return settled_at - started, attempts


def read_calls(path, since):
    """The calls the proxy logged after `since`: (service, method, path,
    status, request body length)."""
    calls = []
    with open(path) as f:
        for line in f:
            at, service, method, target, status, length = line.split()
            if float(at) >= since:
                calls.append((service, method, target, int(status), int(length)))
    return calls


def run_case(bootstrap, layers, rps, unchanged):
    moto, endpoint = start_moto()
    work = tempfile.mkdtemp(prefix="burst-")
    calls_file = os.path.join(work, "calls.log")
    proxy, through = start_proxy(endpoint, [
        "--s3-ms=20", "--lambda-ms=40", "--publish-ms=500", "--upload-mib-s=50",
        f"--lambda-rps={rps}", f"--calls-file={calls_file}",
    ])
    try:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        # As the template deploys it: LAYER_NAME always set (for uploads that
        # name no layer), ALLOWED_LAYERS the set the uploads name theirs in.
        env = {**lambda_env(through), "LAYER_NAME": "burst-shared", "ALLOWED_LAYERS": "burst-*"}
        command = [bootstrap]
        locks = [f"requests==2.32.{n}\n".encode() for n in range(layers)]
        events = [upload_layer(s3, n, locks[n]) for n in range(layers)]
        if unchanged:
            # Setup: every layer published, its failed events replayed.
            pending = list(range(layers))
            for _ in range(5):
                _, first = deliver(command, env, [events[i] for i in pending], work)
                pending = [pending[j] for j, a in first.items() if a[-1][0] is not None]
                if not pending:
                    break
            if pending:
                raise SystemExit(f"setup: {len(pending)} uploads did not publish")
            events = [upload_layer(s3, n, locks[n]) for n in range(layers)]
            time.sleep(1.5)  # the bucket full again, as after an idle second
        since = time.time()
        wall, attempts = deliver(command, env, events, work)
        calls = read_calls(calls_file, since)
        lambda_ = boto3.client(
            "lambda", endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )
        versions = Counter(
            len(lambda_.list_layer_versions(LayerName=layer(n))["LayerVersions"])
            for n in range(layers)
        )
    finally:
        proxy.terminate()
        moto.terminate()
        proxy.wait()
        moto.wait()
        # KEEP_LOGS=1 keeps each invocation's log (the function's JSON lines).
        if not os.environ.get("KEEP_LOGS"):
            shutil.rmtree(work, ignore_errors=True)
    control = [c for c in calls if c[0] == "lambda"]
    answered = [c for c in control if c[3] != 429]
    # A lease taken is written held (a 512-byte body); a release writes less.
    leases = [
        c for c in calls
        if c[0] == "s3" and c[1] == "PUT" and "/leases/" in c[2] and c[4] == HELD_LEASE_BYTES
    ]
    outcomes = Counter(a[-1][0] or "ok" for a in attempts.values())
    errors = Counter(e for a in attempts.values() for e, _ in a if e)
    return {
        "layers": layers,
        "rps": rps,
        "unchanged": unchanged,
        "wall_s": round(wall, 1),
        "floor_s": round(len(answered) / rps, 1),
        "invocations": sum(len(a) for a in attempts.values()),
        "failed_invocations": sum(1 for a in attempts.values() for e, _ in a if e),
        "settled_first": sum(1 for a in attempts.values() if len(a) == 1 and a[0][0] is None),
        "failed_events": outcomes.total() - outcomes["ok"],
        "errors": dict(errors),
        "first_error": next((m for a in attempts.values() for e, m in a if e), None),
        "throttled": len(control) - len(answered),
        "control_calls_per_upload": round(len(answered) / layers, 2),
        "calls_per_upload": round(sum(1 for c in calls if c[3] != 429) / layers, 2),
        "lease_takes": len(leases),
        "versions_per_layer": {str(k): v for k, v in sorted(versions.items())},
    }


def show(name, r):
    print(
        f"{name:<22} {r['wall_s']:>7.1f} s  floor {r['floor_s']:>5.1f} s  "
        f"invocations {r['invocations']:>4} (failed {r['failed_invocations']:>3}, "
        f"first-time {r['settled_first']:>3}/{r['layers']})  lost {r['failed_events']:>3}  "
        f"throttled {r['throttled']:>5}  control-plane/upload {r['control_calls_per_upload']:>4}  "
        f"calls/upload {r['calls_per_upload']:>5}  lease takes {r['lease_takes']:>4}  "
        f"versions/layer {r['versions_per_layer']}"
    )
    if r["errors"]:
        print(f"{'':<22} errors {r['errors']}; e.g. {r['first_error']}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--layers", type=int)
    parser.add_argument("--rps", type=float, default=15)
    parser.add_argument("--unchanged", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    cases = CASES
    if args.layers:
        kind = "unchanged" if args.unchanged else "published"
        cases = [(f"{args.layers} {kind}, {args.rps:g}/s", args.layers, args.rps, args.unchanged)]
    print("case                      settled  floor (calls/rate)  invocations  lost  throttled  calls  leases")
    results = {}
    for name, layers, rps, unchanged in cases:
        results[name] = run_case(os.path.abspath(args.bootstrap), layers, rps, unchanged)
        show(name, results[name])
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
