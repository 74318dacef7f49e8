"""A small HTTP proxy between the benchmarked programs and moto server that
makes the local AWS answer as slowly as AWS does in-region: each call is
answered a per-call latency after its request was received (by service,
from the SigV4 `Authorization` header: S3, Lambda, and `PublishLayerVersion`
on its own), or when moto answers if moto takes longer, as an AWS service's
latency includes its own work; and each connection's request body goes up
no faster than a bandwidth limit.

    python bench/latency_proxy.py UPSTREAM_URL PORT_FILE
        [--s3-ms 20] [--lambda-ms 40] [--publish-ms 500] [--other-ms 20]
        [--upload-mib-s 50] [--timing-file FILE]
        [--lambda-rps 15] [--calls-file FILE]

With --lambda-rps it also answers as Lambda's control-plane limit does: one
bucket of that many requests a second (refilled continuously, holding one
second's worth), shared by every Lambda call but invoking; a call that finds
it empty is answered 429 `TooManyRequestsException` with a `Retry-After`
header and a `retryAfterSeconds` in its body, after Lambda's latency, and
never reaches moto. With --calls-file it appends a line per call: the time,
the service, the method and path, the status answered and the request
body's length.

It listens on a free loopback port and writes it to PORT_FILE once ready.
With --timing-file it appends a line per answer: how late after its
latency the answer went out (ms), whether moto was the one late, and
whether the call was a part of a multipart upload.
HTTP/1.1, bodies framed by Content-Length or chunked; the caller's
connections are kept open, as AWS keeps them (moto closes each after one
call: the proxy opens a new one to moto, inside the call's latency);
`Expect: 100-continue` is answered here, at once, as S3 does.
"""

import argparse
import asyncio
import json
import math
import re
import time
from urllib.parse import urlparse

PUBLISH = re.compile(rb"^POST /2018-10-31/layers/[^/?]+/versions")
INVOKE = re.compile(rb"^POST /2015-03-31/functions/[^/]+/invocations")
SERVICE = re.compile(rb"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", re.I)
CHUNK = 64 * 1024


class Limits:
    def __init__(self, args):
        self.timing_file = args.timing_file
        self.s3 = args.s3_ms / 1000
        self.lambda_ = args.lambda_ms / 1000
        self.publish = args.publish_ms / 1000
        self.other = args.other_ms / 1000
        self.upload_bytes_s = args.upload_mib_s * 1024 * 1024
        self.calls_file = open(args.calls_file, "a", buffering=1) if args.calls_file else None
        self.rate = args.lambda_rps
        self.tokens = self.rate
        self.refilled = time.perf_counter()

    def service(self, headers):
        found = SERVICE.search(headers.get(b"authorization", b""))
        return found.group(1).lower() if found else b"s3"

    def throttled(self, request_line, headers):
        """Whether Lambda's control-plane rate refuses this call: how many
        seconds its answer asks to wait, else None (a token was taken)."""
        if not self.rate or self.service(headers) != b"lambda" or INVOKE.match(request_line):
            return None
        now = time.perf_counter()
        self.tokens = min(self.rate, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))

    def log_call(self, request_line, headers, status):
        if self.calls_file:
            method, path = request_line.split(b" ")[:2]
            service = self.service(headers).decode()
            length = int(headers.get(b"content-length", b"0") or 0)
            self.calls_file.write(
                f"{time.time():.3f} {service} {method.decode()} {path.decode()} {status} {length}\n"
            )

    def latency(self, request_line, headers):
        if PUBLISH.match(request_line):
            return self.publish
        service = self.service(headers)
        if service == b"s3":
            return self.s3
        if service == b"lambda":
            return self.lambda_
        return self.other

    def record(self, late_s, moto_late, request_line):
        """One answer's lateness past its latency (ms), whether moto was the
        late one, and the call's kind (an upload's part or not)."""
        if self.timing_file:
            upload = b"uploadId=" in request_line
            with open(self.timing_file, "a") as out:
                out.write(f"{late_s * 1000:.3f} {int(moto_late)} {'upload' if upload else 'call'}\n")


async def until(deadline):
    """Waits until `deadline` (perf_counter), to a few microseconds: the
    event loop's timers wake up to a millisecond late (epoll's timeout is in
    whole milliseconds, rounded up), which would add about 1 ms to every
    call. So: the loop's timer until 2 ms before, then yield until then."""
    coarse = deadline - time.perf_counter() - 0.002
    if coarse > 0:
        await asyncio.sleep(coarse)
    while time.perf_counter() < deadline:
        await asyncio.sleep(0)


async def read_head(reader):
    """The request or status line and the headers (names lower-cased), or
    None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], lines[1:], headers


async def relay_body(reader, writer, headers, bytes_per_s=None, no_body=False):
    """Copies one message body (Content-Length, chunked, or to the end when
    `until_close`), no faster than `bytes_per_s`. Returns False when the body
    ran to the connection's end."""
    started, sent = time.perf_counter(), 0

    async def send(data):
        nonlocal sent
        writer.write(data)
        sent += len(data)
        if bytes_per_s:
            ahead = sent / bytes_per_s - (time.perf_counter() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await writer.drain()

    if no_body:
        return True
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            await send(size_line)
            if size == 0:
                while True:
                    trailer = await reader.readuntil(b"\r\n")
                    await send(trailer)
                    if trailer == b"\r\n":
                        return True
            await send(await reader.readexactly(size + 2))
    if b"content-length" in headers:
        left = int(headers[b"content-length"])
        while left:
            data = await reader.read(min(CHUNK, left))
            if not data:
                raise ConnectionError("body cut short")
            left -= len(data)
            await send(data)
        return True
    return None


class Discard:
    """Where a throttled request's body goes."""

    def write(self, data):
        pass

    async def drain(self):
        pass


async def throttle(reader, writer, headers, latency, retry_after):
    """Lambda's answer to a call over its rate, after its latency: the body
    read and dropped, nothing sent to moto."""
    answer_at = time.perf_counter() + latency
    await relay_body(reader, Discard(), headers)
    body = json.dumps({
        "Type": "User",
        "message": "Rate exceeded",
        "Reason": "CallerRateLimitExceeded",
        "retryAfterSeconds": str(retry_after),
    }).encode()
    head = [
        b"HTTP/1.1 429 Too Many Requests",
        b"Content-Type: application/json",
        b"x-amzn-ErrorType: TooManyRequestsException",
        b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000429",
        f"Retry-After: {retry_after}".encode(),
        f"Content-Length: {len(body)}".encode(),
    ]
    await until(answer_at)
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()


async def serve(client_reader, client_writer, upstream, limits):
    up_reader = up_writer = None
    try:
        while True:
            request = await read_head(client_reader)
            if request is None:
                return
            line, header_lines, headers = request
            latency = limits.latency(line, headers)
            retry_after = limits.throttled(line, headers)
            if retry_after is not None:
                await throttle(client_reader, client_writer, headers, latency, retry_after)
                limits.log_call(line, headers, 429)
                continue
            # The connection to moto is the proxy's own work, inside the
            # call's latency: the clock starts once the request is received.
            connecting = time.perf_counter()
            if up_writer is None:
                up_reader, up_writer = await asyncio.open_connection(*upstream)
            connected_in = time.perf_counter() - connecting
            if headers.get(b"expect", b"").lower() == b"100-continue":
                client_writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await client_writer.drain()
                header_lines = [h for h in header_lines if not h.lower().startswith(b"expect:")]
            up_writer.write(b"\r\n".join([line, *header_lines]) + b"\r\n\r\n")
            await relay_body(client_reader, up_writer, headers, limits.upload_bytes_s)
            answer_at = time.perf_counter() - connected_in + latency
            method = line.split(b" ", 1)[0]
            while True:
                response = await read_head(up_reader)
                if response is None:
                    return
                status, status_headers, response_headers = response
                moto_late = time.perf_counter() > answer_at
                await until(answer_at)
                code = int(status.split(b" ")[1])
                upstream_closes = response_headers.get(b"connection", b"").lower() == b"close"
                delimited = (
                    b"content-length" in response_headers
                    or b"chunked" in response_headers.get(b"transfer-encoding", b"").lower()
                    or method == b"HEAD"
                    or code in (100, 204, 304)
                )
                if delimited:
                    # moto (werkzeug) closes every connection; AWS keeps
                    # them open: so does the proxy, towards the caller.
                    status_headers = [
                        h for h in status_headers if not h.lower().startswith(b"connection:")
                    ]
                client_writer.write(b"\r\n".join([status, *status_headers]) + b"\r\n\r\n")
                if code != 100:
                    limits.record(time.perf_counter() - answer_at, moto_late, line)
                    limits.log_call(line, headers, code)
                    break
            no_body = method == b"HEAD" or code in (204, 304)
            framed = await relay_body(up_reader, client_writer, response_headers, no_body=no_body)
            if framed is None:
                # Delimited by the connection's end: copy it, then close.
                while data := await up_reader.read(CHUNK):
                    client_writer.write(data)
                await client_writer.drain()
                return
            await client_writer.drain()
            if upstream_closes:
                up_writer.close()
                up_writer = None
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        client_writer.close()
        if up_writer is not None:
            up_writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("port_file")
    parser.add_argument("--s3-ms", type=float, default=20)
    parser.add_argument("--lambda-ms", type=float, default=40)
    parser.add_argument("--publish-ms", type=float, default=500)
    parser.add_argument("--other-ms", type=float, default=20)
    parser.add_argument("--upload-mib-s", type=float, default=50)
    parser.add_argument("--timing-file")
    parser.add_argument("--lambda-rps", type=float, default=0)
    parser.add_argument("--calls-file")
    args = parser.parse_args()
    url = urlparse(args.upstream)
    upstream = (url.hostname, url.port)
    limits = Limits(args)
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, upstream, limits), "127.0.0.1", 0, limit=1 << 20
    )
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file, "w") as out:
        out.write(str(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
