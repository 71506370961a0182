#!/usr/bin/env python3
"""Monitoring end to end on the real server (bench/detect.sh runs this).

For each indicator count K: a fresh server; K STIX indicators (IPs, domains, URLs, file
hashes) posted over TAXII to a collection the monitoring organisation reads; then E Suricata
EVE events (dns, flow, http, fileinfo; about 1 in --hit-every names an indicator's value)
POSTed to /api/events as NDJSON in batches of --batch lines, --concurrency batches in flight,
--repeat times to the same server once it idles after the ingest. Measured: events/s (events accepted ÷ wall time of the phase), event-to-alert latency (from
the start of the POST carrying the event to the alert's arrival on /api/alerts/stream,
p50/p99), the server's peak RSS (VmHWM), and that every expected alert arrived; the median
run's rate, p50 and alerts, the worst run's p99.

Prints a markdown section and puts it into docs/benchmarks.md (unless --no-doc).
"""

import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taxii_bench  # noqa: E402  (the machine description and TAXII POST code)

SECTION = "## Monitoring: events to alerts (bench/detect.sh)"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def log(msg):
    print(f"[detect_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ip_of(i):
    return f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def domain_of(i):
    return f"{hashlib.sha256(i.to_bytes(8, 'big')).hexdigest()[:12]}.example.net"


def sha256_of(i):
    return hashlib.sha256(b"sample" + i.to_bytes(8, "big")).hexdigest()


def pattern_of(i):
    kind = i % 4
    if kind == 0:
        return f"[ipv4-addr:value = '{ip_of(i)}']"
    if kind == 1:
        return f"[domain-name:value = '{domain_of(i)}']"
    if kind == 2:
        return f"[url:value = 'http://{domain_of(i)}/x/{i}']"
    return f"[file:hashes.'SHA-256' = '{sha256_of(i)}']"


def indicator_bodies(k, batch=1000):
    out = []
    for start in range(0, k, batch):
        objects = []
        for i in range(start, min(k, start + batch)):
            digest = hashlib.blake2b(f"ind:{i}".encode(), digest_size=16).hexdigest()
            uid = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
            objects.append({
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uid}",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": f"bench {i}", "pattern": pattern_of(i), "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": [TLP_GREEN],
            })
        out.append((len(objects), json.dumps({"objects": objects}, separators=(",", ":")).encode()))
    return out


def event(n, k, hit_every):
    """(EVE line, the value that makes it hit or None)."""
    ts = f"2024-03-10T12:{(n // 60) % 60:02d}:{n % 60:02d}.{n % 1000000:06d}+0000"
    hit = k > 0 and n % hit_every == 0
    # Distinct indicators for the first k hits (7919 is prime, so coprime with k).
    i = (n // hit_every * 7919) % k if hit else None
    kind = n % 4
    src = f"192.168.{(n >> 8) & 255}.{n & 255}"
    if kind == 0:
        dst = ip_of(i) if hit and i % 4 == 0 else f"172.16.{(n >> 8) & 255}.{n & 255}"
        line = {"timestamp": ts, "flow_id": n, "event_type": "flow", "src_ip": src, "src_port": 40000 + n % 20000,
                "dest_ip": dst, "dest_port": 443, "proto": "TCP",
                "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 500, "bytes_toclient": 900,
                         "start": ts, "end": ts, "state": "closed"}}
        key = dst if hit and i % 4 == 0 else None
    elif kind == 1:
        name = domain_of(i) if hit and i % 4 == 1 else f"host{n}.benign.example"
        line = {"timestamp": ts, "flow_id": n, "event_type": "dns", "src_ip": src, "src_port": 50000,
                "dest_ip": "172.31.0.53", "dest_port": 53, "proto": "UDP",
                "dns": {"type": "query", "id": n % 65536, "rrname": name, "rrtype": "A", "tx_id": 0}}
        key = name if hit and i % 4 == 1 else None
    elif kind == 2:
        host = domain_of(i) if hit and i % 4 == 2 else f"www{n}.benign.example"
        url = f"/x/{i}" if hit and i % 4 == 2 else f"/page/{n}"
        line = {"timestamp": ts, "flow_id": n, "event_type": "http", "src_ip": src, "src_port": 50001,
                "dest_ip": "172.31.0.80", "dest_port": 80, "proto": "TCP",
                "http": {"hostname": host, "url": url, "http_method": "GET", "http_user_agent": "bench/1.0",
                         "status": 200, "length": 10}}
        key = f"http://{host}{url}" if hit and i % 4 == 2 else None
    else:
        digest = sha256_of(i) if hit and i % 4 == 3 else hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
        line = {"timestamp": ts, "flow_id": n, "event_type": "fileinfo", "src_ip": "172.31.0.80", "src_port": 80,
                "dest_ip": src, "dest_port": 50002, "proto": "TCP",
                "fileinfo": {"filename": f"/f/{n}.bin", "sha256": digest, "size": 1000, "state": "CLOSED",
                             "stored": False}}
        key = digest if hit and i % 4 == 3 else None
    return json.dumps(line, separators=(",", ":")), key


class Server:
    def __init__(self, kawal, workdir, name):
        self.data = os.path.join(workdir, name)
        base = [kawal, "admin", "--data", self.data]

        def admin(*args):
            return subprocess.run(base + list(args), check=True, capture_output=True, text=True).stdout.strip()

        admin("org", "add", "Producer")
        admin("org", "add", "Monitor")
        admin("group", "add", "g", "--orgs", "Producer,Monitor")
        self.collection = admin("collection", "add", "Indicators", "--group", "g")
        self.producer = admin("token", "add", "--org", "Producer", "--role", "analyst")
        self.sensor = admin("token", "add", "--org", "Monitor", "--role", "sensor")
        self.analyst = admin("token", "add", "--org", "Monitor", "--role", "analyst")
        self.port = free_port()
        self.out = open(os.path.join(workdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen([kawal, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=self.out, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"})
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/taxii2/")
                c.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


def stream_alerts(port, token, seen, stop):
    """Reads /api/alerts/stream; records (arrival time, observable values) per alert."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /api/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    sock.settimeout(0.5)
    buf = b""
    while not stop.is_set():
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            continue
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            for line in block.split(b"\n"):
                # Chunked transfer framing lines are skipped; data lines carry the alert.
                if line.startswith(b"data: "):
                    try:
                        alert = json.loads(line[6:])
                    except ValueError:
                        continue
                    values = set()
                    for o in alert.get("objects", []):
                        for v in (o.get("value"), (o.get("hashes") or {}).get("SHA-256")):
                            if v:
                                values.add(v)
                    seen.append((now, values))
    sock.close()


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(a, k, workdir):
    server = Server(a.kawal, workdir, f"k{k}")
    try:
        t0 = time.monotonic()
        stored, secs, _, _ = taxii_bench.ingest(f"bearer:{server.producer}",
                                                f"http://127.0.0.1:{server.port}/kawal/collections/{server.collection}/objects/",
                                                indicator_bodies(k), None, 4)
        log(f"K={k}: {stored} indicators posted in {secs:.1f} s")
        lines, keys = [], []
        for n in range(a.events):
            line, key = event(n, k, a.hit_every)
            lines.append(line)
            keys.append(key)
        batches = []
        for start in range(0, a.events, a.batch):
            batches.append((start, ("\n".join(lines[start:start + a.batch]) + "\n").encode()))
        del lines
        # One warm-up POST loads the organisation's indicator set (compiling K patterns).
        warm = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        t1 = time.monotonic()
        warm.request("POST", "/api/events", body=(event(1, 0, a.hit_every)[0] + "\n").encode(),
                     headers={"Authorization": f"Bearer {server.sensor}"})
        warm.getresponse().read()
        load_seconds = time.monotonic() - t1
        log(f"K={k}: indicator set loaded in {load_seconds:.1f} s")
        # After a large ingest the server's search indexer catches up in the background, on
        # the cores the events would use: the events wait for a quiet machine.
        settle_seconds = taxii_bench.wait_quiet(f"K={k}", 0.3, 300)
        log(f"K={k}: server idle after {settle_seconds:.0f} s more")
        runs = [send_events(a, server, batches, keys) for _ in range(a.repeat)]
        for i, r in enumerate(runs):
            log(f"K={k}: run {i + 1}: {r['rate']:,.0f} events/s, p99 {r['p99_ms']:.0f} ms")
        # The median run by rate (the lower of the two middle ones); the worst p99 of all runs.
        middle = sorted(runs, key=lambda r: r["rate"])[(len(runs) - 1) // 2]
        expected = sum(1 for key in keys if key is not None)
        # Nothing accepted is lost: the server's counters account for every line sent.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        counted = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(kawal_\w+)(?:\{[^}]*\})? (\d+)$", metrics, re.M)}
        received = counted.get("kawal_events_received_total", 0)
        normalised = counted.get("kawal_events_normalised_total", 0)
        refused = sum(int(m.group(1)) for m in re.finditer(r"^kawal_events_refused_total\{[^}]*\} (\d+)$", metrics, re.M))
        sent = a.repeat * a.events + 1
        if received != sent or normalised + refused != received:
            raise SystemExit(f"counters do not account for every event: sent {sent}, {metrics}")
        rss = server.rss_kb()
    finally:
        server.stop()
    return {**middle, "indicators": k, "events": a.events, "expected_hits": expected,
            "refused": sum(r["refused"] for r in runs), "rates": [r["rate"] for r in runs],
            "p99_ms": max(r["p99_ms"] for r in runs), "rss_mib": rss / 1024, "load_seconds": load_seconds,
            "indicator_post_seconds": secs, "counted": received}


def send_events(a, server, batches, keys):
    """POSTs every batch, a.concurrency at a time, reading the alerts off the stream; returns the
    rate, the latencies and what the server answered."""
    seen, stop = [], threading.Event()
    reader = threading.Thread(target=stream_alerts, args=(server.port, server.analyst, seen, stop))
    reader.start()
    time.sleep(0.3)
    sent_at = {}
    lock = threading.Lock()
    todo = iter(batches)
    totals = {"accepted": 0, "alerts": 0, "refused": 0}
    durations = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            start, body = item
            t = time.monotonic()
            with lock:
                for key in keys[start:start + a.batch]:
                    if key is not None:
                        sent_at.setdefault(key, t)
            conn.request("POST", "/api/events", body=body,
                         headers={"Authorization": f"Bearer {server.sensor}", "Content-Type": "application/x-ndjson"})
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            durations.append(time.monotonic() - t)
            if resp.status != 202:
                raise SystemExit(f"POST /api/events: {resp.status} {answer}")
            with lock:
                totals["accepted"] += answer["normalised"]
                totals["refused"] += answer["refused"]
                totals["alerts"] += len(answer["alerts"])

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(a.concurrency)]:
            f.result()
    wall = time.monotonic() - start
    deadline = time.monotonic() + 10
    while len(seen) < totals["alerts"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join()
    latencies = []
    for arrived, values in seen:
        for v in values:
            if v in sent_at:
                latencies.append(arrived - sent_at[v])
                break
    log(f"POST p50 {percentile(durations, 50) * 1000:.0f} ms, p99 {percentile(durations, 99) * 1000:.0f} ms")
    return {"accepted": totals["accepted"], "refused": totals["refused"], "seconds": wall,
            "rate": totals["accepted"] / wall, "alerts": totals["alerts"], "streamed": len(seen),
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


def report(a, results):
    lines = [SECTION, "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- Machine: {taxii_bench._machine()}",
             f"- Command: `{a.command}`",
             f"- Binary: {a.version}",
             f"- Workload: K STIX indicators (IP, domain, URL, SHA-256; TLP:GREEN) posted over TAXII; "
             f"{a.events:,} Suricata EVE events (flow, dns, http, fileinfo; 1 in {a.hit_every} names an "
             f"indicator's value) POSTed to /api/events as NDJSON, {a.batch:,} lines per POST, "
             f"{a.concurrency} POSTs in flight, once the machine is quiet after the ingest (the server's search index "
             f"caught up); alerts read from /api/alerts/stream. Latency: from the start "
             f"of the POST carrying an event to its alert on the stream. The events are sent {a.repeat} "
             f"times to the same server: events/s, p50 and alerts are those of the median run by rate, "
             f"p99 the worst of the runs.",
             "- Targets (2-core machine): ≥ 250,000 events/s sustained, p99 event-to-alert ≤ 50 ms, "
             "RSS ≤ 1 GiB at 1,000,000 indicators.",
             "",
             "| active indicators | events/s | ≥ 250,000 | p50 event→alert | p99 event→alert | ≤ 50 ms | alerts (expected) | "
             "peak RSS | ≤ 1 GiB | indicator set load |",
             "|---:|---:|:--|---:|---:|:--|---:|---:|:--|---:|"]
    for r in results:
        meets = lambda ok: "meets" if ok else "**misses**"  # noqa: E731
        lines.append(
            f"| {r['indicators']:,} | {r['rate']:,.0f} | {meets(r['rate'] >= 250_000)} | {r['p50_ms']:.0f} ms | "
            f"{r['p99_ms']:.0f} ms | {meets(r['p99_ms'] <= 50)} | {r['alerts']:,} ({r['expected_hits']:,}) | "
            f"{r['rss_mib']:,.0f} MiB | {meets(r['rss_mib'] <= 1024)} | {r['load_seconds']:.1f} s |")
    lines += ["", "Rates of the runs: " + "; ".join(
        f"{r['indicators']:,} indicators: " + ", ".join(f"{x:,.0f}" for x in r["rates"]) for r in results) + " events/s.",
        "", "Every event was accepted or refused with a reason (refused: "
              + ", ".join(f"{r['refused']}" for r in results) + "), and /metrics counted every line sent ("
              + ", ".join(f"{r['counted']:,}" for r in results) + ", with one warm-up event per server). The event-to-alert latency includes the "
              f"batching: an event waits for its POST of {a.batch:,} lines to arrive whole, then for its part of "
              "the POST (256 lines) to be matched and the part's alerts stored, before they are streamed.", ""]
    text = "\n".join(lines)
    print(text)
    if a.doc:
        old = open(a.doc).read() if os.path.exists(a.doc) else "# Benchmarks\n"
        start = old.find(SECTION)
        if start >= 0:
            end = old.find("\n## ", start + len(SECTION))
            old = old[:start] + text + (old[end + 1:] if end >= 0 else "")
        else:
            old = old.rstrip("\n") + "\n\n" + text
        with open(a.doc, "w") as f:
            f.write(old)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kawal", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--indicators", default="100000,1000000")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--hit-every", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="times the events are sent to the same server; the median rate is reported")
    ap.add_argument("--command", default="bench/detect.sh")
    ap.add_argument("--doc", default="")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="kawal-detect-bench-") as workdir:
        for k in [int(x.replace("_", "")) for x in a.indicators.split(",")]:
            r = run(a, k, workdir)
            log(f"K={k}: {r['rate']:,.0f} events/s, p99 {r['p99_ms']:.0f} ms, {r['alerts']} alerts "
                f"({r['expected_hits']} expected, {r['streamed']} streamed), RSS {r['rss_mib']:.0f} MiB")
            results.append(r)
    report(a, results)


if __name__ == "__main__":
    main()
