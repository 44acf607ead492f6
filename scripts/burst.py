#!/usr/bin/env python3
"""A burst of simultaneous API requests, and the server's memory around it.

Opens N connections, then sends one query on each at the same moment
(GetTopThreePlayers: it stores nothing, so whatever memory stays after it
is the allocator's or a leak), and prints the server's RSS before, at its
peak, right after, and 10 and 30 seconds later (docs/performance.md,
"Memory after a burst"):

    taskset -c 0 target/release/server --max-connections-per-address 0 \\
        --rate-limit-per-sec 1000000 --rate-limit-burst 1000000 &
    taskset -c 1 python3 scripts/burst.py --pid $! --requests 2000
"""

import argparse
import asyncio
import collections
import time

BODY = b'{"query":{"type":"GetTopThreePlayers","payload":{}}}'
REQUEST = (
    b"POST /api/queries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n" % len(BODY)
) + BODY


def memory(pid, field):
    """A VmRSS-like field of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for process {pid}")


async def one(host, port, go):
    reader, writer = await asyncio.open_connection(host, port)
    await go.wait()
    writer.write(REQUEST)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer.split(b" ", 2)[1].decode() if answer else "no answer"


async def burst(host, port, requests):
    go = asyncio.Event()
    calls = [asyncio.create_task(one(host, port, go)) for _ in range(requests)]
    await asyncio.sleep(1)  # every connection open before the first request
    go.set()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    return collections.Counter(str(a) for a in answers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    before = memory(args.pid, "VmRSS")
    answers = asyncio.run(burst(args.host, args.port, args.requests))
    after, peak = memory(args.pid, "VmRSS"), memory(args.pid, "VmHWM")
    time.sleep(10)
    later = memory(args.pid, "VmRSS")
    time.sleep(20)
    latest = memory(args.pid, "VmRSS")
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    print(f"answers: {dict(answers)}")
    print(
        f"RSS before {mib(before)}, peak {mib(peak)}, after {mib(after)}, "
        f"10 s later {mib(later)}, 30 s later {mib(latest)}"
    )


if __name__ == "__main__":
    main()
