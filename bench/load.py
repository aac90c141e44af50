"""Section 6: the server under load from wrk, a second process on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from common import BIN, Sizes, goal, log, table


def load_test(sizes: Sizes, bundle: Path, keys: list[str], work: Path) -> str:
    log("server under load with wrk")
    wrk = shutil.which("wrk")
    if wrk is None:
        return "**not measured**: `wrk` is not installed (`apt-get install -y wrk`).\n"
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(BIN / "mlbridge"), "serve", str(bundle), "--port",
                               str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("mlbridge serve did not start") from None
                time.sleep(0.2)
        script = work / "keys.lua"
        quoted = ",".join(json.dumps(k) for k in keys[:500])
        script.write_text(f"local keys = {{{quoted}}}\nrequest = function()\n"
                          "  return wrk.format(nil, '/api/records/' .. "
                          "keys[math.random(#keys)])\nend\n")
        done = subprocess.run([wrk, "-t2", f"-c{sizes.load_connections}",
                               f"-d{sizes.load_seconds}s", "--latency", "-s", str(script),
                               f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                              check=True, timeout=sizes.load_seconds + 60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", output).group(1)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Socket errors: connect (\d+), read (\d+), "
                                            r"write (\d+), timeout (\d+)", output)[0]) \
        if "Socket errors" in output else 0
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)",
                                                 output)) else 0
    rows = [["requests per second", f"{rps:,.0f}"], ["latency p99", p99],
            ["requests", f"{total:,}"], ["errors (socket + non-2xx)", str(errors + non_2xx)]]
    return (f"`wrk -t2 -c{sizes.load_connections} -d{sizes.load_seconds}s` against "
            "`/api/records/{key}` of `mlbridge serve` (one uvicorn process) on the scale "
            "bundle's lookup database, keys drawn at random from 500 real ones, on "
            "127.0.0.1; wrk and the server share the 2 cores.\n\n"
            + table(["what", "figure"], rows) + "\n\n- Goal: zero errors. "
            + goal(errors + non_2xx == 0, f"{errors + non_2xx} errors.") + "\n")
