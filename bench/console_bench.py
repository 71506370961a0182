#!/usr/bin/env python3
"""Server time of the web console's pages over a seeded exchange (bench/console.sh runs this).

For each size N, on a fresh data directory and server:

  seed      N objects POSTed over TAXII (envelopes of 1,000, 4 in flight) into two collections
            of one sharing group, as a CERT's feed would hold them: per 100 objects, 55
            indicators (names, descriptions from a small vocabulary, IPv4/domain/hash/URL
            patterns), 5 malware, 2 intrusion sets, 3 attack patterns (with ATT&CK-style
            external ids), 30 relationships (indicator indicates malware, malware uses
            attack pattern, intrusion set uses malware) and 5 sightings of indicators; TLP
            GREEN 60 %, AMBER 30 %, AMBER+STRICT 8 %, RED 2 %; `created` spread over two years.
  index     waits until the dashboard counts all N versions (the indexer has caught up) and
            records how long that took after the last POST was answered.
  measure   signs in through the form as an analyst of the producing organisation and GETs
            each page --requests times over one keep-alive connection (after a warm-up),
            reading the server's own time from its `Server-Timing: app;dur=…` header (the
            time from the request reaching the console's router to the response head) and
            the client's round trip. p50/p95 per page.

Prints a markdown section and puts it into docs/benchmarks.md (unless --no-doc).
"""

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taxii_bench  # noqa: E402  (indicator patterns, ids and the machine description)

SECTION = "## Web console (bench/console.sh)"
TAXII = "application/taxii+json;version=2.1"
PASSWORD = "console bench passphrase"
TLP = {
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
BASE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
PAGE_TARGET_MS = 50
SEARCH_TARGET_MS = 200

FAMILIES = ["Gremlin", "Kitten", "Sandcat", "Lotus", "Ember", "Quarry", "Harbor", "Mantis",
            "Cobalt", "Juniper", "Tamarind", "Monsoon", "Durian", "Rambutan", "Krait", "Gecko"]
TARGETS = ["ministries", "telecom operators", "banks", "ports", "universities", "hospitals",
           "power utilities", "election bodies"]
COUNTRIES = ["Malaysia", "Cambodia", "Thailand", "Indonesia", "Viet Nam", "the Philippines",
             "Laos", "Singapore"]
DELIVERY = ["phishing", "watering-hole", "supply-chain", "credential stuffing", "USB",
            "exploited VPN appliances"]
TECHNIQUES = [("T1566", "Phishing"), ("T1059", "Command and Scripting Interpreter"),
              ("T1071", "Application Layer Protocol"), ("T1105", "Ingress Tool Transfer"),
              ("T1190", "Exploit Public-Facing Application"), ("T1078", "Valid Accounts"),
              ("T1027", "Obfuscated Files or Information"), ("T1486", "Data Encrypted for Impact")]


def log(msg):
    print(f"[console_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def uid(kind, i):
    return f"{kind}--{taxii_bench._uuid4('kawal-console-bench-' + kind, i)}"


def stamp(i):
    # Two years of `created` over the seeded objects, whatever N.
    t = BASE + dt.timedelta(seconds=(i * 7919) % (2 * 365 * 86400))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def tlp_of(i):
    r = (i * 37) % 100
    return "green" if r < 60 else "amber" if r < 90 else "amber+strict" if r < 98 else "red"


def obj(i, block):
    """Object i of the seed: its place in each block of 100 decides what it is."""
    slot = i % 100
    created = stamp(i)
    common = {"spec_version": "2.1", "created": created, "modified": created,
              "object_marking_refs": [TLP[tlp_of(i)]]}
    family = FAMILIES[(block + slot) % len(FAMILIES)]
    if slot < 55:
        n = block * 55 + slot
        pattern, name, kind = taxii_bench._observable(n)
        return {"type": "indicator", "id": uid("indicator", n), **common, "name": name,
                "description": f"{family} infrastructure seen in {DELIVERY[n % len(DELIVERY)]} "
                               f"against {TARGETS[n % len(TARGETS)]} in {COUNTRIES[n % len(COUNTRIES)]}.",
                "indicator_types": [kind], "pattern": pattern, "pattern_type": "stix",
                "valid_from": created, "labels": [f"campaign-{block % 50}"]}
    if slot < 60:
        n = block * 5 + slot - 55
        return {"type": "malware", "id": uid("malware", n), **common,
                "name": f"{family} {n}", "is_family": True, "malware_types": ["backdoor"],
                "description": f"{family} backdoor family used against {TARGETS[n % len(TARGETS)]}."}
    if slot < 62:
        n = block * 2 + slot - 60
        return {"type": "intrusion-set", "id": uid("intrusion-set", n), **common,
                "name": f"{family} Panda {n}", "aliases": [f"APT-{n}"],
                "description": f"Espionage group targeting {TARGETS[n % len(TARGETS)]} in {COUNTRIES[n % len(COUNTRIES)]}."}
    if slot < 65:
        n = block * 3 + slot - 62
        technique, title = TECHNIQUES[n % len(TECHNIQUES)]
        return {"type": "attack-pattern", "id": uid("attack-pattern", n), **common,
                "name": f"{title} ({family} variant {n})",
                "external_references": [{"source_name": "mitre-attack", "external_id": f"{technique}.{n % 900:03d}"}]}
    if slot < 95:
        n = block * 30 + slot - 65
        r = slot - 65
        if r < 20:
            source = uid("indicator", block * 55 + r * 2)
            target, kind = uid("malware", block * 5 + r % 5), "indicates"
        elif r < 25:
            source, target, kind = uid("malware", block * 5 + r - 20), uid("attack-pattern", block * 3 + r % 3), "uses"
        else:
            source, target, kind = uid("intrusion-set", block * 2 + r % 2), uid("malware", block * 5 + r - 25), "uses"
        return {"type": "relationship", "id": uid("relationship", n), **common,
                "relationship_type": kind, "source_ref": source, "target_ref": target}
    n = block * 5 + slot - 95
    # Two in five sightings are of twenty much-seen indicators of the first block; the rest
    # are spread over the indicators of their own block.
    sighted = (n * 7) % 20 * 2 if n % 5 < 2 else block * 55 + (slot - 95) * 7
    return {"type": "sighting", "id": uid("sighting", n), **common,
            "sighting_of_ref": uid("indicator", sighted), "count": 1 + n % 9}


def envelopes(n, batch=1000):
    out = []
    for start in range(0, n, batch):
        objects = [obj(i, i // 100) for i in range(start, min(n, start + batch))]
        out.append((len(objects), json.dumps({"objects": objects}, separators=(",", ":")).encode()))
    return out


class Server:
    def __init__(self, kawal, workdir):
        self.data = os.path.join(workdir, "data")
        base = [kawal, "admin", "--data", self.data]

        def admin(*args, stdin=None):
            return subprocess.run(base + list(args), check=True, capture_output=True, text=True,
                                  input=stdin).stdout.strip()

        admin("org", "add", "Bench CERT", "--country", "MY")
        admin("org", "add", "Peer CERT", "--country", "KH")
        admin("group", "add", "region", "--orgs", "Bench CERT,Peer CERT")
        self.collections = [admin("collection", "add", title, "--group", "region")
                            for title in ("Regional indicators", "Campaign tracking")]
        self.token = admin("token", "add", "--org", "Bench CERT", "--role", "analyst")
        admin("user", "add", "--org", "Bench CERT", "--role", "analyst", "bench",
              "--password-stdin", stdin=PASSWORD + "\n")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.stderr = open(os.path.join(workdir, "server.log"), "w")
        self.proc = subprocess.Popen([kawal, "serve", "--data", self.data, "--listen", f"127.0.0.1:{port}"],
                                     stdout=self.stderr, stderr=subprocess.STDOUT,
                                     env={**os.environ, "RUST_LOG": "warn"})
        for _ in range(300):
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited during start-up; see {self.stderr.name}")
            try:
                requests.get(self.base + "/taxii2/", timeout=1)
                return
            except requests.exceptions.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def seed(server, n):
    payloads = envelopes(n)
    # Seven of every ten envelopes to the first collection.
    targets = [server.collections[0] if k % 10 < 7 else server.collections[1] for k in range(len(payloads))]
    headers = {"Accept": TAXII, "Content-Type": TAXII, "Authorization": "Bearer " + server.token}
    work = list(zip(payloads, targets))

    def post(item):
        (count, body), collection = item
        r = requests.post(f"{server.base}/kawal/collections/{collection}/objects/", data=body,
                          headers=headers, timeout=600)
        if r.status_code != 202 or r.json().get("success_count") != count:
            raise SystemExit(f"seeding failed: HTTP {r.status_code}: {r.text[:400]}")

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(post, work))
    return time.monotonic() - started


def sign_in(base):
    s = requests.Session()
    form = s.get(base + "/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)
    r = s.post(base + "/sign-in", data={"csrf": csrf, "username": "bench", "password": PASSWORD,
                                        "next": "/"}, allow_redirects=False)
    if r.status_code != 303 or "kawal_session" not in s.cookies:
        raise SystemExit(f"sign-in failed: HTTP {r.status_code}")
    return s


COUNT = re.compile(r'href="/explore\?type=[^"]+">[^<]+</a></td><td class="num">(\d+)</td>')


def wait_for_index(session, base, n, timeout):
    started = time.monotonic()
    while True:
        counted = sum(int(c) for c in COUNT.findall(session.get(base + "/").text))
        if counted >= n:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the index counted {counted} of {n} after {timeout} s")
        time.sleep(0.5)


def pages(n, collections):
    """(label, kind, [paths]) — each label's paths are used in turn."""
    rng = random.Random(n)
    # Indicators that indicate a malware, which uses attack patterns and is used by intrusion
    # sets: a graph of depth 2 to draw.
    indicators = [f"/objects/{uid('indicator', rng.randrange(max(1, n // 100)) * 55 + rng.randrange(20) * 2)}"
                  for _ in range(50)]
    return [
        ("dashboard `/`", "page", ["/"]),
        ("object page `/objects/{id}` (an indicator, its graph to depth 2)", "page", indicators),
        ("alerts `/alerts`", "page", ["/alerts"]),
        ("new indicator `/indicators/new`", "page", ["/indicators/new"]),
        ("explore, no query `/explore`", "search", ["/explore"]),
        ("explore, a word `?q=…`", "search",
         [f"/explore?q={w}" for w in ("phishing", "gremlin", "ministries", "backdoor", "T1566", "Cambodia")]),
        ("explore, a rare word `?q=…`", "search",
         [f"/explore?q=variant+{rng.randrange(max(1, n // 100))}" for _ in range(20)]),
        ("explore, facets `?type=…&tlp=…`", "search",
         ["/explore?type=malware", "/explore?type=indicator&tlp=amber",
          f"/explore?collection={collections[1]}&type=relationship", "/explore?tlp=red"]),
        ("explore, created range `?created_from=…&created_to=…`", "search",
         ["/explore?created_from=2024-03-01&created_to=2024-03-31",
          "/explore?created_from=2025-06-01&created_to=2025-06-07"]),
        ("explore, word + facet + range, page 2", "search",
         ["/explore?q=loader&type=indicator&created_from=2024-01-01&created_to=2024-12-31&page=2"]),
    ]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure(session, base, label_pages, requests_per_page, warmup):
    results = []
    for label, kind, paths in label_pages:
        server_ms, client_ms = [], []
        for k in range(warmup + requests_per_page):
            path = paths[k % len(paths)]
            t0 = time.perf_counter()
            r = session.get(base + path)
            wall = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise SystemExit(f"GET {path}: HTTP {r.status_code}: {r.text[:300]}")
            timing = re.match(r"app;dur=([0-9.]+)", r.headers.get("server-timing", ""))
            if not timing:
                raise SystemExit(f"GET {path}: no Server-Timing header")
            if k >= warmup:
                server_ms.append(float(timing.group(1)))
                client_ms.append(wall)
        results.append({"label": label, "kind": kind, "requests": requests_per_page,
                        "server_p50": percentile(server_ms, 50), "server_p95": percentile(server_ms, 95),
                        "server_max": max(server_ms), "client_p95": percentile(client_ms, 95),
                        "mean": statistics.mean(server_ms)})
        r = results[-1]
        log(f"  {label}: p50 {r['server_p50']:.1f} ms, p95 {r['server_p95']:.1f} ms")
    return results


def run_size(kawal, n, requests_per_page, keep):
    workdir = tempfile.mkdtemp(prefix=f"console-bench-{n}-")
    server = Server(kawal, workdir)
    try:
        log(f"N={n}: seeding")
        seeded = seed(server, n)
        log(f"N={n}: seeded in {seeded:.1f} s; waiting for the index")
        session = sign_in(server.base)
        indexed = wait_for_index(session, server.base, n, timeout=max(600, n // 100))
        log(f"N={n}: index caught up {indexed:.1f} s after the last POST")
        results = measure(session, server.base, pages(n, server.collections), requests_per_page, 10)
        sizes = {name: os.path.getsize(os.path.join(server.data, name))
                 for name in ("kawal.db", "search.db") if os.path.exists(os.path.join(server.data, name))}
        return {"n": n, "seed_s": seeded, "index_s": indexed, "pages": results, "sizes": sizes}
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report(runs, a):
    lines = [SECTION, ""]
    lines.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    lines.append(f"- Machine: {taxii_bench._machine()}")
    lines.append(f"- Command: `{a.command}`")
    lines.append(f"- Versions: {a.version}")
    lines.append("- Workload: N objects POSTed over TAXII into two collections of one sharing group "
                 "(per 100: 55 indicators, 5 malware, 2 intrusion sets, 3 attack patterns, 30 "
                 "relationships, 5 sightings, two in five of them of twenty much-seen indicators; TLP "
                 "GREEN/AMBER/AMBER+STRICT/RED 60/30/8/2 %), then "
                 f"each page GET {a.requests} times in turn after 10 warm-up requests, signed in as "
                 "an analyst of the producing organisation (who may read everything, so every "
                 "version is a candidate), one request at a time over one keep-alive connection.")
    lines.append("- Server time: the `Server-Timing: app;dur=` header, from the request entering the "
                 "console's router to the response head (the page rendered); client p95 adds loopback "
                 "transport and reading the body.")
    lines.append(f"- Targets: p95 ≤ {PAGE_TARGET_MS} ms for a page, ≤ {SEARCH_TARGET_MS} ms for a search.")
    lines.append("")
    for run in runs:
        sizes = ", ".join(f"`{k}` {v / 1024 / 1024:,.0f} MiB" for k, v in run["sizes"].items())
        lines.append(f"**N = {run['n']:,}** — seeded in {run['seed_s']:.1f} s "
                     f"({run['n'] / run['seed_s']:,.0f} objects/s); the index counted every version "
                     f"{run['index_s']:.1f} s after the last POST was answered; {sizes}.")
        lines.append("")
        lines.append("| page | server p50 | server p95 | server max | client p95 | target | |")
        lines.append("|:--|---:|---:|---:|---:|---:|:--|")
        for p in run["pages"]:
            target = SEARCH_TARGET_MS if p["kind"] == "search" else PAGE_TARGET_MS
            verdict = "meets" if p["server_p95"] <= target else "**misses**"
            lines.append(f"| {p['label']} | {p['server_p50']:.1f} ms | {p['server_p95']:.1f} ms | "
                         f"{p['server_max']:.1f} ms | {p['client_p95']:.1f} ms | {target} ms | {verdict} |")
        lines.append("")
    section = "\n".join(lines)
    print(section)
    if a.doc:
        text = open(a.doc).read() if os.path.exists(a.doc) else "# Benchmarks\n\n"
        start = text.find(SECTION)
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n## ", start + len(SECTION))
            rest = text[end + 1:] if end >= 0 else ""
            text = text[:start] + section + ("\n" + rest if rest else "")
        with open(a.doc, "w") as f:
            f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kawal", required=True)
    p.add_argument("--version", default="")
    p.add_argument("--command", default="bench/console.sh")
    p.add_argument("--sizes", default="10000")
    p.add_argument("--requests", type=int, default=200, help="measured requests per page")
    p.add_argument("--keep", action="store_true", help="keep the data directories")
    p.add_argument("--doc", help="docs/benchmarks.md to write the section into")
    a = p.parse_args()
    runs = [run_size(a.kawal, int(n.replace("_", "")), a.requests, a.keep) for n in a.sizes.split(",")]
    report(runs, a)


if __name__ == "__main__":
    main()
