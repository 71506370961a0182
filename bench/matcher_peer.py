"""stix2-matcher on the matcher benchmark workloads, and the benign background values.

    matcher_peer.py benign FILE   write domains, IPv4 addresses and SHA-256 hashes from MISP
                                  warning lists, one per line
    matcher_peer.py peer DIR      time stix2-matcher on W1 and on the W2 1k feed written to DIR/w2
"""
import json
import re
import sys
import time


def benign(path):
    from pymispwarninglists import WarningLists

    lists = WarningLists(slow_search=True)
    values = set()
    for warninglist in lists.warninglists.values():
        for value in warninglist.list:
            v = str(value).strip().lower()
            if re.fullmatch(r"[0-9a-f]{64}", v) or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v):
                values.add(v)
            elif re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", v.lstrip("*.")):
                values.add(v.lstrip("*."))
    with open(path, "w") as f:
        f.write("\n".join(sorted(values)))
    print(f"{len(values)} benign values from {len(lists.warninglists)} MISP warning lists")


def observed(n, first, objects):
    refs = [o["id"] for o in objects]
    od = {"type": "observed-data", "spec_version": "2.1", "id": f"observed-data--00000000-0000-4000-8000-{n:012d}",
          "created": first, "modified": first, "first_observed": first, "last_observed": first,
          "number_observed": 1, "object_refs": refs}
    return {"type": "bundle", "id": f"bundle--00000000-0000-4000-8000-{n:012d}", "objects": [od] + objects}


def rate(fn, seconds=3.0):
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def peer(directory):
    from stix2matcher.matcher import Pattern

    sha = "".join(f"{x:016x}" for x in (1, 2, 3, 4))
    hash_pattern = Pattern(f"[file:hashes.'SHA-256' = '{sha}']", stix_version="2.1")
    hash_obs = [observed(1, "2024-01-01T00:00:00Z", [{"type": "file", "id": "file--1", "hashes": {"SHA-256": sha}}])]
    fb_pattern = Pattern("([domain-name:value = 'c2.example.net'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']) WITHIN 300 SECONDS", stix_version="2.1")
    fb_obs = [observed(1, "2024-01-01T00:00:00Z", [{"type": "domain-name", "id": "domain-name--1", "value": "c2.example.net"}]),
              observed(2, "2024-01-01T00:01:00Z", [{"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"}])]
    assert hash_pattern.match(hash_obs) and fb_pattern.match(fb_obs)
    print("| W1 (stix2-matcher 3.0.0) | evaluations/s |")
    print("|---|---:|")
    print(f"| hash equality | {rate(lambda: hash_pattern.match(hash_obs)):.0f} |")
    print(f"| FOLLOWEDBY … WITHIN 300 SECONDS | {rate(lambda: fb_pattern.match(fb_obs)):.0f} |")

    feed = json.load(open(f"{directory}/w2/indicators.json"))["objects"]
    patterns = [(o["id"], Pattern(o["pattern"], stix_version="2.1")) for o in feed]
    events = [json.loads(line) for line in open(f"{directory}/w2/events.ndjson")]
    sample = events[:40]
    hits = 0
    start = time.perf_counter()
    for event in sample:
        for _, p in patterns:
            if p.match([event]):
                hits += 1
    elapsed = time.perf_counter() - start
    print()
    print("| W2 (stix2-matcher 3.0.0), 1k-indicator full mix | value |")
    print("|---|---:|")
    print(f"| events timed | {len(sample)} |")
    print(f"| events/s | {len(sample) / elapsed:.2f} |")
    print(f"| hits in sample | {hits} |")


if __name__ == "__main__":
    {"benign": benign, "peer": peer}[sys.argv[1]](sys.argv[2])
