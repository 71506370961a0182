#!/usr/bin/env python3
"""TAXII 2.1 ingest-and-read workload, driven the same way against any server.

Subcommands (bench/taxii.sh calls them; each can also be run by hand):

  run               POST N indicators in envelopes of --batch objects, then page through the
                    collection with limit=--page following `next`; writes a JSON result.
  sink              a trivial HTTP server that accepts any POST and answers every GET with one
                    canned page; measures what this client can do against an infinitely fast
                    server (its own ceiling).
  ceiling           drives `sink` with the same request code as `run`; writes a JSON result.
  medallion-config  writes a medallion config and data file (memory backend, one API root,
                    one readable and writable collection, one basic-auth user).
  report            turns the JSON results into a markdown section, prints it and puts it
                    into docs/benchmarks.md.

Ingest sends --concurrency POSTs at a time (default 1), each worker over its own keep-alive
connection; reads are sequential, since each page names the next. All request
bodies are built before the clock starts, so the ingest figure is the server's (plus
loopback transport), not the time Python takes to write JSON. During the read phase the
client has to decode each page to find `next`; that decoding is timed separately and
reported, and `ceiling` gives the client's limit outright.
"""

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import http.server
import json
import os
import platform
import re
import socket
import socketserver
import sys
import threading
import time
import uuid

import requests

TAXII = "application/taxii+json;version=2.1"
HEADERS = {"Accept": TAXII, "Content-Type": TAXII}
TLP2_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
BASE_TIME = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
SECTION = "## TAXII ingest and read (bench/taxii.sh)"
INGEST_TARGET = 50_000
READ_TARGET = 100_000


# --------------------------------------------------------------------------------------------
# Deterministic STIX 2.1 indicators


def _uuid4(namespace, i):
    """A UUID with the version-4 and RFC 4122 variant bits, derived from (namespace, i)."""
    digest = hashlib.blake2b(f"{namespace}:{i}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _stamp(seconds):
    t = BASE_TIME + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _observable(i):
    """(pattern, name, indicator type) for indicator number i; five realistic shapes."""
    h = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
    kind = i % 5
    if kind == 0:
        ip = f"{(i >> 24) % 223 + 1}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        return f"[ipv4-addr:value = '{ip}']", f"C2 address {ip}", "malicious-activity"
    if kind == 1:
        domain = f"{h[:10]}.{('example', 'example.net', 'example.org', 'test')[i % 4]}"
        return f"[domain-name:value = '{domain}']", f"Phishing domain {domain}", "anomalous-activity"
    if kind == 2:
        return (
            f"[file:hashes.'SHA-256' = '{h}']",
            f"Loader sample {h[:12]}",
            "malicious-activity",
        )
    if kind == 3:
        md5 = hashlib.md5(h.encode()).hexdigest()
        return (
            f"[file:hashes.MD5 = '{md5}' OR file:hashes.'SHA-256' = '{h}']",
            f"Dropper {md5[:12]}",
            "malicious-activity",
        )
    url = f"http://{h[:8]}.example.com/{h[8:16]}/login.php"
    return f"[url:value = '{url}']", f"Credential harvesting URL {h[:8]}", "compromised"


def indicator(i):
    created = _stamp(i // 10)
    pattern, name, kind = _observable(i)
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{_uuid4('kawal-bench-indicator', i)}",
        "created_by_ref": "identity--" + _uuid4("kawal-bench-producer", i % 7),
        "created": created,
        "modified": created,
        "name": name,
        "description": f"Observed in campaign {i % 97}; confidence from sensor correlation.",
        "indicator_types": [kind],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": created,
        "labels": ["bench", f"feed-{i % 13}"],
        "confidence": 50 + i % 50,
        "object_marking_refs": [TLP2_GREEN],
    }


def bodies(n, batch):
    """The request bodies, built ahead of timing: TAXII envelopes of `batch` indicators."""
    out = []
    for start in range(0, n, batch):
        objects = [indicator(i) for i in range(start, min(n, start + batch))]
        out.append((len(objects), json.dumps({"objects": objects}, separators=(",", ":")).encode()))
    return out


# --------------------------------------------------------------------------------------------
# The workload


class Stopped(Exception):
    pass


def _remaining(deadline):
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise Stopped()
    return left


def _session(auth):
    s = requests.Session()
    s.headers.update(HEADERS)
    if auth.startswith("bearer:"):
        s.headers["Authorization"] = "Bearer " + auth[len("bearer:"):]
    elif auth.startswith("basic:"):
        user, _, password = auth[len("basic:"):].partition(":")
        s.auth = (user, password)
    elif auth != "none":
        raise SystemExit(f"unknown --auth {auth!r}")
    return s


def ingest(auth, url, payloads, timeout, concurrency=1):
    """POSTs every envelope, `concurrency` requests at a time, each worker over its own
    keep-alive connection. Returns (objects stored, seconds, stopped?, client seconds)."""
    start = time.monotonic()
    deadline = start + timeout if timeout else None
    lock = threading.Lock()
    todo = iter(payloads)
    totals = {"stored": 0, "client": 0.0, "stopped": False}

    def worker():
        session = _session(auth)
        while True:
            with lock:
                if totals["stopped"]:
                    return
                item = next(todo, None)
            if item is None:
                return
            count, body = item
            try:
                left = _remaining(deadline)
                r = session.post(url, data=body, timeout=(10, left))
            except (Stopped, requests.exceptions.ReadTimeout):
                with lock:
                    totals["stopped"] = True
                return
            t0 = time.monotonic()
            if r.status_code != 202:
                raise SystemExit(f"POST {url}: HTTP {r.status_code}: {r.text[:500]}")
            status = r.json()
            if status.get("success_count") != count:
                raise SystemExit(
                    f"POST {url}: {status.get('success_count')} of {count} stored: "
                    f"{json.dumps(status.get('failures', [])[:3])}"
                )
            with lock:
                totals["client"] += time.monotonic() - t0
                totals["stored"] += count

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done in [pool.submit(worker) for _ in range(concurrency)]:
            done.result()
    return totals["stored"], time.monotonic() - start, totals["stopped"], totals["client"]


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def envelope_head(text):
    """(more, next) of a TAXII envelope, reading its top-level members in order and stopping
    at `objects` once `more` (and, when more is true, `next`) are known. Both servers put
    `objects` last, so the page's objects are not decoded here; a server that put them first
    would simply be decoded in full. The whole page is checked after the timed phase."""
    i = _WS.match(text, 0).end()
    if text[i:i + 1] != "{":
        raise ValueError("the envelope is not a JSON object")
    i += 1
    more, nxt = None, None
    while True:
        i = _WS.match(text, i).end()
        if text[i] == "}":
            break
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
        key, i = json.decoder.scanstring(text, i + 1)
        i = _WS.match(text, i).end()
        if text[i] != ":":
            raise ValueError("malformed envelope")
        i = _WS.match(text, i + 1).end()
        if key == "objects" and (more is False or (more and nxt)):
            break
        value, i = _DECODER.raw_decode(text, i)
        if key == "more":
            more = value
        elif key == "next":
            nxt = value
    return bool(more), nxt


def read_all(session, url, page, timeout, max_pages=None):
    """Pages through the collection with limit=`page`, following `next` while `more`.
    Returns (page bodies, seconds, stopped?, client seconds spent finding `next`)."""
    start = time.monotonic()
    deadline = start + timeout if timeout else None
    pages = []
    client = 0.0
    params = {"limit": str(page)}
    try:
        while max_pages is None or len(pages) < max_pages:
            left = _remaining(deadline)
            try:
                r = session.get(url, params=params, timeout=(10, left))
                body = r.content
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                if deadline is not None and time.monotonic() >= deadline - 1:
                    raise Stopped()
                raise
            t0 = time.monotonic()
            if r.status_code != 200:
                raise SystemExit(f"GET {url} {params}: HTTP {r.status_code}: {r.text[:500]}")
            pages.append(body)
            more, nxt = envelope_head(body.decode())
            client += time.monotonic() - t0
            if not more:
                break
            if not nxt:
                raise SystemExit(f"GET {url}: more is true but there is no next")
            params = {"limit": str(page), "next": nxt}
    except Stopped:
        return pages, time.monotonic() - start, True, client
    return pages, time.monotonic() - start, False, client


def decode_pages(pages):
    """Decodes every page in full (outside the timed phase). Returns (ids in order, seconds)."""
    t0 = time.monotonic()
    ids = []
    for body in pages:
        ids.extend(o["id"] for o in json.loads(body).get("objects", []))
    return ids, time.monotonic() - t0


def _cpu(pid):
    """User plus system CPU seconds used so far by process `pid` (all its threads)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _cpu_delta(before, pid):
    after = _cpu(pid)
    return None if before is None or after is None else after - before


def _machine_busy():
    """CPU seconds all processes on the machine have used so far (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu():
    t = os.times()
    return t.user + t.system


class Load:
    """CPU used during a phase by the server, by this client, and by everything else."""

    def __init__(self, pid):
        self.pid = pid
        self.server = _cpu(pid)
        self.client = _own_cpu()
        self.machine = _machine_busy()

    def done(self, phase):
        server = _cpu_delta(self.server, self.pid)
        client = _own_cpu() - self.client
        machine = _machine_busy()
        phase["server_cpu_seconds"] = server
        phase["client_cpu_seconds"] = client
        if machine is not None and self.machine is not None and server is not None:
            phase["other_cpu_seconds"] = max(0.0, machine - self.machine - server - client)


def wait_quiet(label, threshold, limit):
    """Waits until the machine is nearly idle (under `threshold` cores busy over 3 s), for at
    most `limit` seconds, so that other work on a shared machine does not skew a phase."""
    if limit <= 0:
        return 0.0
    start = time.monotonic()
    while True:
        b0 = _machine_busy()
        time.sleep(3)
        b1 = _machine_busy()
        if b0 is None or b1 is None:
            return 0.0
        busy = (b1 - b0) / 3
        waited = time.monotonic() - start
        if busy < threshold:
            if waited > 3.5:
                print(f"[{label}] machine quiet after {waited:.0f}s", file=sys.stderr, flush=True)
            return waited
        if waited >= limit:
            print(f"[{label}] machine still busy ({busy:.1f} cores) after {waited:.0f}s; going on",
                  file=sys.stderr, flush=True)
            return waited
        if int(waited) % 60 < 3:
            print(f"[{label}] waiting for a quiet machine ({busy:.1f} cores busy)", file=sys.stderr,
                  flush=True)


def cmd_run(a):
    t0 = time.monotonic()
    payloads = bodies(a.size, a.batch)
    gen = time.monotonic() - t0
    body_bytes = sum(len(b) for _, b in payloads)
    session = _session(a.auth)
    result = {
        "server": a.server,
        "size": a.size,
        "batch": a.batch,
        "page": a.page,
        "concurrency": a.concurrency,
        "timeout": a.timeout,
        "generate_seconds": gen,
        "body_bytes": body_bytes,
    }
    print(f"[{a.server} N={a.size}] bodies built in {gen:.1f}s ({body_bytes / 1e6:.0f} MB); ingesting",
          file=sys.stderr, flush=True)
    label = f"{a.server} N={a.size}"
    # One authenticated request before the clock starts: a server checks a credential the
    # first time at full cost (Kawal runs argon2 once per token), and that is not ingest. Its
    # answer does not matter: a refused credential fails the ingest below loudly.
    session.get(a.url, params={"limit": 1}, timeout=(10, 60))
    waited = wait_quiet(label, a.quiet_below, a.quiet_wait)
    load = Load(a.pid)
    stored, secs, stopped, client = ingest(a.auth, a.url, payloads, a.timeout, a.concurrency)
    del payloads
    result["ingest"] = {"objects": stored, "seconds": secs, "stopped": stopped, "client_seconds": client,
                        "waited_for_quiet_seconds": waited}
    load.done(result["ingest"])
    server_cpu = result["ingest"]["server_cpu_seconds"]
    print(f"[{a.server} N={a.size}] ingest: {stored} objects in {secs:.2f}s"
          f"{' (STOPPED)' if stopped else ''} = {stored / secs:,.0f} obj/s; server CPU {server_cpu or 0:.2f}s, "
          f"other processes {result['ingest'].get('other_cpu_seconds', 0):.2f}s",
          file=sys.stderr, flush=True)
    if stopped:
        result["read"] = {"skipped": "ingest was stopped"}
    else:
        waited = wait_quiet(label, a.quiet_below, a.quiet_wait)
        load = Load(a.pid)
        pages, secs, stopped, client = read_all(session, a.url, a.page, a.timeout)
        read_load = {}
        load.done(read_load)
        server_cpu = read_load["server_cpu_seconds"]
        ids, decode = decode_pages(pages)
        read_bytes = sum(len(p) for p in pages)
        del pages
        result["read"] = {"objects": len(ids), "seconds": secs, "stopped": stopped,
                          "client_seconds": client, "decode_seconds": decode, "bytes": read_bytes,
                          "waited_for_quiet_seconds": waited, **read_load}
        print(f"[{a.server} N={a.size}] read: {len(ids)} objects, {read_bytes / 1e6:.0f} MB in {secs:.2f}s"
              f"{' (STOPPED)' if stopped else ''} = {len(ids) / secs:,.0f} obj/s; "
              f"server CPU {server_cpu or 0:.2f}s, other processes {read_load.get('other_cpu_seconds', 0):.2f}s; "
              f"decoding every page afterwards took {decode:.2f}s",
              file=sys.stderr, flush=True)
        if not stopped:
            expect = {f"indicator--{_uuid4('kawal-bench-indicator', i)}" for i in range(a.size)}
            if len(ids) != a.size or set(ids) != expect:
                raise SystemExit(f"read {len(ids)} objects ({len(set(ids))} distinct ids), posted "
                                 f"{a.size}; {len(expect - set(ids))} posted ids missing")
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)


# --------------------------------------------------------------------------------------------
# The client's own ceiling


class _Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    page = b""
    status = b""

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Without this, Nagle's algorithm holds the body segment back until the client's
        # delayed ACK of the header segment (about 40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, code, body):
        head = (f"HTTP/1.1 {code} OK\r\nContent-Type: {TAXII}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.wfile.write(head + body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        # Count the objects the cheap way so the sink costs as little as possible.
        count = body.count(b'"type":"indicator"')
        self._send(202, _Sink.status.replace(b"COUNT", str(count).encode()))

    def do_GET(self):
        self._send(200, _Sink.page)


def cmd_sink(a):
    objects = [indicator(i) for i in range(a.page)]
    _Sink.page = json.dumps({"more": True, "next": "x", "objects": objects},
                            separators=(",", ":")).encode()
    _Sink.status = (b'{"id":"00000000-0000-4000-8000-000000000000","status":"complete",'
                    b'"total_count":COUNT,"success_count":COUNT,"failure_count":0,"pending_count":0}')

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True

    with Server(("127.0.0.1", a.port), _Sink) as server:
        print(f"sink listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


def cmd_ceiling(a):
    payloads = bodies(a.size, a.batch)
    wait_quiet("client ceiling", a.quiet_below, a.quiet_wait)
    session = _session("none")
    stored, isecs, _, iclient = ingest("none", a.url, payloads, None, a.concurrency)
    # The sink always answers more=true, so read a fixed number of pages.
    pages, rsecs, _, rclient = read_all(session, a.url, a.page, None, max_pages=a.size // a.page)
    ids, decode = decode_pages(pages)
    with open(a.out, "w") as f:
        json.dump({"size": a.size,
                   "ingest": {"objects": stored, "seconds": isecs, "client_seconds": iclient},
                   "read": {"objects": len(ids), "seconds": rsecs, "client_seconds": rclient,
                            "decode_seconds": decode}}, f, indent=2)
    print(f"[client ceiling] ingest {stored / isecs:,.0f} obj/s, read {len(ids) / rsecs:,.0f} obj/s; "
          f"decoding pages in full alone {len(ids) / decode:,.0f} obj/s", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# medallion


def cmd_medallion_config(a):
    """medallion 3.0's memory backend keeps everything in one dict: "/discovery", then one key
    per API root holding "information", "status" and "collections" (each with "objects" and
    "manifest"). Paging state (`next`) expires `session_timeout` seconds after the first page
    (30 by default), which would cut a long read short, so it is set to the phase limit."""
    root = f"http://127.0.0.1:{a.port}/bench/"
    data = {
        "/discovery": {
            "title": "medallion benchmark peer",
            "description": "TAXII 2.1 reference server, memory backend",
            "default": root,
            "api_roots": [root],
        },
        "bench": {
            "information": {
                "title": "Benchmark API root",
                "description": "One collection for the ingest-and-read workload",
                "versions": [TAXII],
                "max_content_length": 32 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": a.collection,
                    "title": "Indicators",
                    "description": "Benchmark indicators",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    data_path = os.path.join(a.dir, "medallion-data.json")
    with open(data_path, "w") as f:
        json.dump(data, f, indent=2)
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_path,
            "session_timeout": max(30, int(a.session_timeout)),
        },
        "users": {a.user: a.password},
        "taxii": {"max_page_size": 10000},
    }
    with open(os.path.join(a.dir, "medallion-config.json"), "w") as f:
        json.dump(config, f, indent=2)


# --------------------------------------------------------------------------------------------
# Report


def _rate(phase):
    if not phase or "objects" not in phase or phase["seconds"] <= 0:
        return None
    return phase["objects"] / phase["seconds"]


def _fmt_rate(phase):
    if not phase:
        return "—"
    if "skipped" in phase:
        return "not run"
    r = _rate(phase)
    text = f"{r:,.0f}" if r is not None else "—"
    if phase.get("stopped"):
        text = f"stopped after {_duration(phase['seconds'])} ({phase['objects']:,} done, {text}/s)"
    return text


def _duration(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _mib(kb):
    return f"{kb / 1024:,.0f} MiB" if kb else "—"


def _ratio(k, m, stopped=False):
    if k is None or m is None or m == 0:
        return "—"
    text = f"{k / m:,.0f}×" if k / m >= 100 else f"{k / m:,.1f}×"
    return f"≥ {text}" if stopped else text


def _cores(phase, key):
    if not phase or phase.get(key) is None or not phase.get("seconds"):
        return "—"
    return f"{phase[key] / phase['seconds']:.2f}"


def _share(phase, key):
    if not phase or phase.get(key) is None or not phase.get("seconds"):
        return "—"
    return f"{phase[key] / phase['seconds'] * 100:.0f}%"


def _machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {ram} RAM, Linux {platform.release()}, Python {platform.python_version()}"


def cmd_report(a):
    results = {}
    ceiling = None
    for name in sorted(os.listdir(a.results)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(a.results, name)) as f:
            r = json.load(f)
        if name.startswith("ceiling"):
            ceiling = r
            continue
        m = re.match(r"(kawal|medallion)-(\d+)\.json$", name)
        if not m:
            continue
        rss_path = os.path.join(a.results, f"{m.group(1)}-{m.group(2)}.rss")
        if os.path.exists(rss_path):
            with open(rss_path) as f:
                r["rss_kb"] = int(f.read().strip() or 0)
        results.setdefault(int(m.group(2)), {})[m.group(1)] = r

    lines = [SECTION, ""]
    lines.append(f"- Date: {a.date}")
    lines.append(f"- Machine: {_machine()}")
    lines.append(f"- Command: `{a.command}`")
    if a.versions:
        lines.append(f"- Versions: {a.versions}")
    concurrency = sorted({r.get("concurrency", 1) for by in results.values() for r in by.values()})
    posts = ("one POST at a time" if concurrency == [1]
             else f"{'/'.join(map(str, concurrency))} POSTs in flight (one keep-alive connection each)")
    lines.append(
        f"- Workload: POST N STIX 2.1 indicators as TAXII envelopes of 1,000 ({posts}), then GET them "
        f"all with `limit=1000`, following `next` (one request at a time); fresh server "
        f"per size; medallion phases stopped after {_duration(a.peer_timeout)}."
    )
    lines.append(
        f"- Targets for Kawal (2-core machine, holding at 1,000,000 stored objects): "
        f"ingest ≥ {INGEST_TARGET:,} objects/s, read ≥ {READ_TARGET:,} objects/s."
    )
    lines.append("")
    lines.append("| N | Kawal ingest obj/s | Kawal read obj/s | Kawal peak RSS | medallion ingest obj/s "
                 "| medallion read obj/s | medallion peak RSS | ingest ratio K/m | read ratio K/m "
                 "| RSS ratio K/m |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for n in sorted(results):
        k = results[n].get("kawal", {})
        m = results[n].get("medallion", {})
        ki, kr = k.get("ingest"), k.get("read")
        mi, mr = m.get("ingest"), m.get("read")
        m_stop = " (when stopped)" if any(p and p.get("stopped") for p in (mi, mr)) else ""
        lines.append(
            f"| {n:,} | {_fmt_rate(ki)} | {_fmt_rate(kr)} | {_mib(k.get('rss_kb'))} "
            f"| {_fmt_rate(mi)} | {_fmt_rate(mr)} | {_mib(m.get('rss_kb'))}{m_stop} "
            f"| {_ratio(_rate(ki), _rate(mi), bool(mi and mi.get('stopped')))} "
            f"| {_ratio(_rate(kr), _rate(mr), bool(mr and mr.get('stopped')))} "
            f"| {_ratio(k.get('rss_kb'), m.get('rss_kb')) if m.get('rss_kb') else '—'} |"
        )
        if ki and _rate(ki) is not None:
            ok_i = _rate(ki) >= INGEST_TARGET
            ok_r = kr is not None and _rate(kr) is not None and _rate(kr) >= READ_TARGET
            verdicts.append(
                f"| {n:,} | {_rate(ki):,.0f} | {'meets' if ok_i else '**misses**'} "
                f"| {_rate(kr) or 0:,.0f} | {'meets' if ok_r else '**misses**'} "
                f"| {_share(ki, 'server_cpu_seconds')} | {_share(ki, 'client_seconds')} "
                f"| {_share(kr, 'server_cpu_seconds')} | {_share(kr, 'client_seconds')} |"
            )
    lines.append("")
    lines.append("Kawal against the targets. Server CPU: the Kawal process's user + system CPU time "
                 "during the phase, as a share of the phase's wall time (200% = both cores busy). "
                 "Client: the share of the phase this client spent on its own work between requests "
                 "(decoding the status resource after each POST; finding `more` and `next` in each page).")
    lines.append("")
    lines.append(f"| N | ingest obj/s | ≥ {INGEST_TARGET:,} | read obj/s | ≥ {READ_TARGET:,} "
                 "| ingest: server CPU | ingest: client | read: server CPU | read: client |")
    lines.append("|---:|---:|:--|---:|:--|---:|---:|---:|---:|")
    lines.extend(verdicts)
    load_rows = []
    for n in sorted(results):
        for server in ("kawal", "medallion"):
            r = results[n].get(server)
            if not r:
                continue
            cells = []
            for phase in (r.get("ingest"), r.get("read")):
                if not phase or "seconds" not in phase:
                    cells += ["—", "—", "—"]
                    continue
                cells.append(f"{phase['seconds']:,.2f} s")
                cells.append(_cores(phase, "server_cpu_seconds"))
                cells.append(_cores(phase, "other_cpu_seconds"))
            load_rows.append(f"| {n:,} | {server} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("CPU during each phase, in cores (CPU seconds ÷ wall seconds): the server process, and "
                 "every other process on the machine except this client. "
                 + ("Each phase starts only once the machine has been nearly idle for 3 s (or after "
                    f"{_duration(a.quiet_wait)} of waiting); " if a.quiet_wait > 0 else "")
                 + "a large \"other\" figure means something else ran during the phase and the row is "
                 "less trustworthy.")
    lines.append("")
    lines.append("| N | server | ingest wall | ingest: server | ingest: other | read wall | read: server "
                 "| read: other |")
    lines.append("|---:|:--|---:|---:|---:|---:|---:|---:|")
    lines.extend(load_rows)
    if ceiling:
        ci, cr = ceiling["ingest"], ceiling["read"]
        lines.append("")
        lines.append(
            f"Client ceiling, same client code against a do-nothing HTTP sink ({ceiling['size']:,} objects): "
            f"ingest {_rate(ci):,.0f} obj/s, read {_rate(cr):,.0f} obj/s. The read phase does not decode "
            f"the objects (it reads `more` and `next`, which both servers send before `objects`); every "
            f"page is decoded and checked against the posted ids after the clock stops (decoding in full "
            f"with Python's `json` alone runs at about {cr['objects'] / cr['decode_seconds']:,.0f} obj/s). "
            f"Request bodies are built before the clock starts ("
            + ", ".join(
                f"{results[n]['kawal']['generate_seconds']:.1f} s for {n:,}"
                for n in sorted(results) if "kawal" in results[n]
            )
            + ")."
        )
    section = "\n".join(lines) + "\n"
    print(section)

    if a.doc:
        intro = (
            "# Benchmarks\n\n"
            "Measured throughput and memory of Kawal, each next to the command that reproduces it. "
            "A section whose heading names a script is rewritten in place by that script; its "
            "numbers come from one run on the machine stated, not averages.\n\n"
        )
        text = open(a.doc).read() if os.path.exists(a.doc) else intro
        start = text.find(SECTION)
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n## ", start + len(SECTION))
            rest = text[end + 1:] if end >= 0 else ""
            text = text[:start] + section + ("\n" + rest if rest else "")
        with open(a.doc, "w") as f:
            f.write(text)


# --------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run")
    r.add_argument("--server", required=True, help="label for the result")
    r.add_argument("--url", required=True, help="the collection's objects/ URL")
    r.add_argument("--auth", required=True, help="bearer:TOKEN, basic:USER:PASS or none")
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--batch", type=int, default=1000)
    r.add_argument("--page", type=int, default=1000)
    r.add_argument("--concurrency", type=int, default=1, help="POSTs in flight during ingest")
    r.add_argument("--timeout", type=float, default=0, help="seconds per phase; 0 = none")
    r.add_argument("--out", required=True)
    r.add_argument("--pid", type=int, default=0, help="the server's process id, to read its CPU time")
    r.add_argument("--quiet-below", type=float, default=0.3,
                   help="before each phase, wait until fewer than this many cores are busy")
    r.add_argument("--quiet-wait", type=float, default=900,
                   help="wait at most this many seconds for that; 0 = do not wait")

    s = sub.add_parser("sink")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--page", type=int, default=1000)

    c = sub.add_parser("ceiling")
    c.add_argument("--url", required=True)
    c.add_argument("--size", type=int, default=100_000)
    c.add_argument("--batch", type=int, default=1000)
    c.add_argument("--page", type=int, default=1000)
    c.add_argument("--concurrency", type=int, default=1)
    c.add_argument("--out", required=True)
    c.add_argument("--quiet-below", type=float, default=0.3)
    c.add_argument("--quiet-wait", type=float, default=900)

    m = sub.add_parser("medallion-config")
    m.add_argument("--dir", required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--collection", required=True)
    m.add_argument("--user", required=True)
    m.add_argument("--password", required=True)
    m.add_argument("--session-timeout", type=float, default=600)

    rep = sub.add_parser("report")
    rep.add_argument("--results", required=True)
    rep.add_argument("--date", required=True)
    rep.add_argument("--command", required=True)
    rep.add_argument("--versions", default="")
    rep.add_argument("--peer-timeout", type=float, required=True)
    rep.add_argument("--quiet-wait", type=float, default=0)
    rep.add_argument("--doc", default="")

    a = p.parse_args()
    {"run": cmd_run, "sink": cmd_sink, "ceiling": cmd_ceiling,
     "medallion-config": cmd_medallion_config, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
