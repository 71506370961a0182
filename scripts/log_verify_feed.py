#!/usr/bin/env python3
"""Feeds a throw-away Kawal server for scripts/log_verify.sh, over TAXII 2.1 only.

Posts a few hundred STIX objects in several requests (one TLP:RED, one object in two versions,
objects serialised in different layouts), keeps each object's exact bytes as posted in
WORK/objects/, reads each one's leaf index from the "logged at leaf N" status messages, saves
a signed checkpoint taken after the first request, deletes one object, and waits for a
checkpoint that covers every leaf. Writes WORK/feed.env for the shell script to source:
FIRST, RED and SECOND (JSON_FILE:LEAF of the first object posted, of the TLP:RED one, of a
second version), DELETED (the deleted object's file), EARLY (the early checkpoint's file)
and SIZE (the number of leaves the last checkpoint covers at least).
"""

import argparse
import datetime
import json
import os
import random
import re
import shlex
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import log_verify  # noqa: E402  (the verifier's own checkpoint parsing)

TAXII = "application/taxii+json;version=2.1"
TLP2_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP2_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
# Objects per POST; the last also gets the TLP:RED object and a second version of an earlier
# one. Over 512 leaves in all, so the log has two full tiles and a partial one at level 0.
BATCHES = [40, 150, 150, 150, 70]


class Feed:
    def __init__(self, base, collection, token, work):
        self.base = base.rstrip("/")
        self.collection = collection
        self.token = token
        self.work = work
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.rng = random.Random(20260101)
        self.leaves = {}  # file -> leaf index
        os.makedirs(os.path.join(work, "objects"), exist_ok=True)

    def request(self, method, path, body=None):
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": TAXII,
                **({"Content-Type": TAXII} if body is not None else {}),
            },
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            sys.exit(
                f"feed: {method} {path}: HTTP {e.code}: {e.read()[:500].decode('utf-8', 'replace')}"
            )

    def make_object(self, n, stamp, marking=None, object_id=None):
        kind = ("indicator", "indicator", "indicator", "malware", "attack-pattern")[n % 5]
        obj = {
            "type": kind,
            "spec_version": "2.1",
            "id": object_id or f"{kind}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}",
            "created": "2026-01-01T00:00:00.000Z",
            "modified": stamp,
        }
        if kind == "indicator":
            obj.update(
                name=f"Scanner {n}",
                pattern=f"[ipv4-addr:value = '198.51.{n // 250}.{n % 250}']",
                pattern_type="stix",
                valid_from="2026-01-01T00:00:00Z",
            )
        elif kind == "malware":
            obj.update(name=f"Loader family {n}", is_family=True)
        else:
            obj.update(
                name=f"Technique {n}", description="Seen on port 443 \u2014 unicode kept as posted"
            )
        if marking:
            obj["object_marking_refs"] = [marking]
        return obj

    @staticmethod
    def serialise(obj, n):
        """Several layouts: the log commits to the exact bytes, not to a canonical form."""
        if n % 3 == 0:
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if n % 3 == 1:
            return json.dumps(obj, indent=2, ensure_ascii=True).encode("utf-8")
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    def post(self, raws, recipients=None):
        """POSTs one envelope of the given object bytes; returns {(id, version): leaf}."""
        body = b'{"objects": [\n' + b",\n".join(raws) + b"\n]}"
        status, reply = self.request("POST", f"/kawal/collections/{self.collection}/objects/", body)
        doc = json.loads(reply)
        if status != 202 or doc.get("failure_count") or doc.get("success_count") != len(raws):
            failures = json.dumps(doc.get("failures"))
            sys.exit(f"feed: POST answered {status}, {doc.get('success_count')} stored: {failures}")
        leaves = {}
        for success in doc.get("successes", []):
            m = re.fullmatch(r"logged at leaf (\d+)", success.get("message") or "")
            if not m:
                sys.exit(f"feed: a success without a leaf index: {success}")
            leaves[(success["id"], log_verify.normalise_timestamp(success["version"]))] = int(
                m.group(1)
            )
        return leaves

    def batch(self, objects):
        raws = [self.serialise(obj, i) for i, obj in enumerate(objects)]
        leaves = self.post(raws)
        files = []
        for obj, raw in zip(objects, raws, strict=True):
            leaf = leaves.get((obj["id"], log_verify.normalise_timestamp(obj["modified"])))
            if leaf is None:
                sys.exit(f"feed: no leaf reported for {obj['id']}")
            path = os.path.join(self.work, "objects", f"{obj['id']}@{leaf}.json")
            with open(path, "wb") as f:
                f.write(raw)
            self.leaves[path] = leaf
            files.append(path)
        return files

    def checkpoint(self, at_least, timeout=20.0):
        """Waits for a signed checkpoint of at least `at_least` leaves; returns its note."""
        key = log_verify.VerifierKey(self.text("/.well-known/kawal/log-key"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                note = self.text("/log/checkpoint")
                if log_verify.verify_checkpoint(note, key).size >= at_least:
                    return note
            except (log_verify.VerifyError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        sys.exit(f"feed: no checkpoint covering {at_least} leaves within {timeout} s")

    def text(self, path):
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode("utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    feed = Feed(args.url, args.collection, args.token, args.work)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    later = (now + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

    n = 0
    summary = {}
    early_checkpoint = None
    for b, count in enumerate(BATCHES):
        objects = []
        for _ in range(count):
            marking = TLP2_GREEN if n % 7 == 0 else None
            objects.append(feed.make_object(n, stamp, marking))
            n += 1
        if b == len(BATCHES) - 1:
            red = feed.make_object(n, stamp, TLP2_RED)
            n += 1
            objects.append(red)
            # A second version of an object of the first request.
            with open(min(feed.leaves, key=feed.leaves.get), "rb") as f:
                first_obj = json.loads(f.read())
            objects.append(dict(first_obj, modified=later))
        files = feed.batch(objects)
        if b == 0:
            summary["first"] = [files[0], feed.leaves[files[0]]]
            note = feed.checkpoint(max(feed.leaves.values()) + 1)
            early_checkpoint = os.path.join(args.work, "early.checkpoint")
            with open(early_checkpoint, "w", encoding="utf-8") as f:
                f.write(note)
        if b == 1:
            summary["deleted"] = files[len(files) // 2]
        if b == len(BATCHES) - 1:
            summary["red"] = [files[-2], feed.leaves[files[-2]]]
            summary["second_version"] = [files[-1], feed.leaves[files[-1]]]

    with open(summary["deleted"], "rb") as f:
        deleted_id = json.loads(f.read())["id"]
    status, _ = feed.request(
        "DELETE", f"/kawal/collections/{args.collection}/objects/{deleted_id}/"
    )
    if status != 200:
        sys.exit(f"feed: DELETE answered {status}")
    # The deletion leaf comes after every object leaf.
    size = max(feed.leaves.values()) + 2
    feed.checkpoint(size)

    env = {
        "FIRST": "{}:{}".format(*summary["first"]),
        "RED": "{}:{}".format(*summary["red"]),
        "SECOND": "{}:{}".format(*summary["second_version"]),
        "DELETED": summary["deleted"],
        "EARLY": early_checkpoint,
        "SIZE": str(size),
    }
    with open(os.path.join(args.work, "feed.env"), "w", encoding="utf-8") as f:
        f.writelines(f"{name}={shlex.quote(value)}\n" for name, value in env.items())
    print(
        f"feed: {len(feed.leaves)} object versions in {len(BATCHES)} requests, one deleted; "
        f"checkpoint covers {size} leaves",
        flush=True,
    )


if __name__ == "__main__":
    main()
