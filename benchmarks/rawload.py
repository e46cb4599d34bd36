"""A minimal keep-alive HTTP/1.1 load generator on asyncio streams, for loopback benchmarks only.

A Python HTTP client library costs more CPU per request than the server under test; this one sends
pre-encoded requests and reads just enough of each response, so the server stays the bottleneck.
Bounded in count and time; refuses anything but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class RawResult:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    latencies: np.ndarray

    @property
    def rps(self) -> float:
        """Return completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """Return the q-th latency percentile in milliseconds."""
        return float(np.percentile(self.latencies, q) * 1e3) if len(self.latencies) else float("nan")


def encode_post(port: int, path: str, payload: dict) -> bytes:
    """Return the bytes of one keep-alive JSON POST request."""
    body = json.dumps(payload).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _worker(port: int, request: bytes, deadline: float, budget: list[int], out: list[float],
                  errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            if status == 200:
                out.append(time.perf_counter() - start)
            else:
                errors[0] += 1
    finally:
        writer.close()


def run(port: int, path: str, payload: dict, *, concurrency: int, max_requests: int, max_seconds: float) -> RawResult:
    """Send up to `max_requests` requests from `concurrency` connections for at most `max_seconds`."""
    request = encode_post(port, path, payload)
    latencies: list[float] = []
    errors = [0]

    async def main() -> float:
        budget = [max_requests]
        start = time.perf_counter()
        deadline = start + max_seconds
        await asyncio.gather(*(_worker(port, request, deadline, budget, latencies, errors)
                               for _ in range(concurrency)))
        return time.perf_counter() - start

    seconds = asyncio.run(main())
    return RawResult(len(latencies), errors[0], seconds, np.array(latencies))
