#!/usr/bin/env python3
"""TAXII 2.1 conformance checks for a running Kawal server.

Every TAXII 2.1 endpoint and URL filter is driven through the reference client
(taxii2-client, ``taxii2client.v21``); raw HTTP is used only where the client hides what is
being checked (response headers, status codes of refused requests, content negotiation).
Each collection is then exported through ``kawal export`` and ``GET /api/collections/{id}/export``
and every exported object is validated with the OASIS STIX 2.1 validator.

Started by scripts/conformance.sh, which prepares the instance and writes the config file:
organisations Alpha, Beta, Delta (sharing group "trusted") and Gamma (group "outsiders"),
their tokens and the collections used below.

Output: one PASS/FAIL line per check and a closing "conformance: N passed, N failed" line.
Exit status 1 when any check failed.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
import uuid

import requests
import requests.auth
import stix2
from stix2validator import ValidationOptions, validate_instance, validate_string
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, Status, as_pages

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
RECIPIENTS = "X-Kawal-Recipients"
DATE_FIRST = "X-TAXII-Date-Added-First"
DATE_LAST = "X-TAXII-Date-Added-Last"

# TLP 2.0 marking definitions (OASIS TLP 2.0 extension); stix2 only ships the TLP 1.0 ones.
TLP2_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
TLP2_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP2_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
TLP2_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

PAGING_OBJECTS = 260  # at least 250, split over two add requests


# ---- reporting -------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS  {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"FAIL  {name}" + (f"\n      {detail}" if detail else ""), flush=True)
        return ok

    def equal(self, name, actual, expected):
        """A check that prints what differed."""
        return self.check(name, actual == expected, f"expected {expected!r}, got {actual!r}")

    @contextlib.contextmanager
    def section(self, title):
        print(f"\n== {title}", flush=True)
        start = time.monotonic()
        try:
            yield
        except Exception as e:  # a crash fails the section, the run goes on
            detail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
            if isinstance(e, requests.HTTPError) and e.response is not None:
                detail += f"      response body: {e.response.text[:500]}"
            self.check(f"{title}: completes without an unexpected error", False,
                       detail.strip().replace("\n", "\n      "))
        print(f"   ({time.monotonic() - start:.1f} s)", flush=True)


# ---- helpers ---------------------------------------------------------------------------------


def micros(text):
    """A STIX/TAXII timestamp as microseconds since the epoch, whatever its precision."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    moment = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    seconds = int(moment.replace(tzinfo=datetime.timezone.utc).timestamp())
    return seconds * 1_000_000 + int((fraction + "000000")[:6] or 0)


def is_timestamp(text):
    try:
        micros(text)
        return True
    except (ValueError, TypeError):
        return False


def version_of(obj):
    return obj.get("modified") or obj.get("created")


def as_dict(obj):
    """A stix2 object (or dict) as the plain JSON dict that goes on the wire."""
    return obj if isinstance(obj, dict) else json.loads(obj.serialize())


def envelope(*objects):
    return {"objects": [as_dict(o) for o in objects]}


def objects_of(env):
    return env.get("objects", [])


def ids_of(env):
    return [o["id"] for o in objects_of(env)]


def status_code(call):
    """Runs a client call and returns the HTTP status it ended with (200 when it returned)."""
    try:
        call()
        return 200
    except requests.HTTPError as e:
        return e.response.status_code


def new_id(type_name):
    return f"{type_name}--{uuid.uuid4()}"


class KawalAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic with the token id and secret, plus the RED recipients header when given."""

    def __init__(self, credentials, recipients=None):
        user, _, password = credentials.partition(":")
        super().__init__(user, password)
        self.recipients = recipients

    def __call__(self, request):
        request = super().__call__(request)
        if self.recipients:
            request.headers[RECIPIENTS] = ",".join(self.recipients)
        return request


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, credentials):
        self.credentials = credentials

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.credentials}"
        return request


class Party:
    """One client of the exchange: an organisation's token, or anonymous when None."""

    def __init__(self, ctx, name, credentials):
        self.ctx = ctx
        self.name = name
        self.credentials = credentials
        self.http = requests.Session()
        if credentials:
            self.http.auth = KawalAuth(credentials)

    def auth(self, recipients=None):
        return KawalAuth(self.credentials, recipients) if self.credentials else None

    def server(self):
        return Server(self.ctx.discovery_url, auth=self.auth())

    def api_root(self):
        return ApiRoot(self.ctx.api_root_url, auth=self.auth())

    def collection(self, key_or_id, recipients=None):
        cid = self.ctx.collections.get(key_or_id, key_or_id)
        return Collection(f"{self.ctx.api_root_url}collections/{cid}/", auth=self.auth(recipients))

    def raw(self, method, path, accept=TAXII, headers=None, **kwargs):
        """A raw request to a path below the server's base URL."""
        all_headers = {"Accept": accept} if accept else {}
        all_headers.update(headers or {})
        return self.http.request(method, self.ctx.base_url + path, headers=all_headers,
                                 timeout=30, **kwargs)


class Context:
    def __init__(self, config):
        self.base_url = config["base_url"].rstrip("/")
        self.discovery_url = self.base_url + "/taxii2/"
        self.api_root_url = self.base_url + "/kawal/"
        self.kawal = config["kawal"]
        self.data = config["data"]
        self.work = config["work"]
        self.identities = config["identities"]
        self.collections = config["collections"]
        tokens = config["tokens"]
        self.alpha = Party(self, "Alpha", tokens["alpha"])
        self.beta = Party(self, "Beta", tokens["beta"])
        self.beta_reader = Party(self, "Beta (reader)", tokens["beta_reader"])
        self.delta = Party(self, "Delta", tokens["delta"])
        self.gamma = Party(self, "Gamma", tokens["gamma"])
        self.anonymous = Party(self, "anonymous", None)
        self.revoked = tokens["revoked"]
        # What each collection holds, as Alpha (producer of nearly everything, recipient of
        # the rest) sees it: collection key -> object id -> {version: object}.
        self.stored = {key: {} for key in self.collections}

    def remember(self, key, *objects):
        for obj in objects:
            obj = as_dict(obj)
            self.stored[key].setdefault(obj["id"], {})[version_of(obj)] = obj

    def latest(self, key):
        """The newest version of each object stored in a collection (by the script's model)."""
        out = {}
        for oid, versions in self.stored[key].items():
            if versions:
                newest = max(versions, key=lambda v: micros(v) if v else 0)
                out[oid] = versions[newest]
        return out


def all_pages(func, per_request, **filters):
    """Every envelope of a paged listing, through the client's as_pages."""
    return list(as_pages(func, per_request=per_request, **filters))


def add(report, name, collection, *objects, expect_success=None, raw_envelope=None):
    """Adds objects through the client and checks the returned status resource."""
    body = raw_envelope if raw_envelope is not None else envelope(*objects)
    status = collection.add_objects(body, wait_for_completion=True, poll_interval=0.1, timeout=10)
    total = len(body["objects"]) if isinstance(body, dict) else None
    expected = len(objects) if expect_success is None else expect_success
    report.check(
        f"{name}: status complete, {expected} of {total} stored",
        status.status == "complete" and status.success_count == expected
        and status.total_count == total and status.pending_count == 0,
        f"status={status.status} total={status.total_count} success={status.success_count} "
        f"failure={status.failure_count} pending={status.pending_count} failures={status.failures}",
    )
    return status


# ---- the checks ------------------------------------------------------------------------------


def discovery(r, ctx):
    server = ctx.alpha.server()
    r.check("discovery: title present", bool(server.title))
    r.equal("discovery: api_roots lists the one API root", [a.url for a in server.api_roots],
            [ctx.api_root_url])
    r.check("discovery: default is one of api_roots",
            server.default is not None and server.default.url == ctx.api_root_url)

    root = server.api_roots[0]
    r.check("api root: title present", bool(root.title))
    r.check("api root: versions lists TAXII 2.1", TAXII in root.versions, str(root.versions))
    r.check("api root: max_content_length is a positive integer",
            isinstance(root.max_content_length, int) and root.max_content_length > 0)

    # Discovery is public; an anonymous client gets the same document.
    anon = ctx.anonymous.server()
    r.check("discovery: anonymous client gets the discovery document", bool(anon.title))


def collections_list(r, ctx):
    root = ctx.alpha.api_root()
    listed = {c.id: c for c in root.collections}
    mine = {k: ctx.collections[k] for k in ("main", "paging", "alpha_only", "public", "probe")}
    r.check("collections: Alpha sees its group's collections",
            set(mine.values()) <= set(listed), f"listed {sorted(listed)}")
    r.check("collections: Alpha does not see the outsiders' collection",
            ctx.collections["gamma"] not in listed)
    for c in listed.values():
        ok = (c.title and isinstance(c.can_read, bool) and isinstance(c.can_write, bool)
              and STIX in c.media_types)
        r.check(f"collections: `{c.title}` has id, title, can_read, can_write, media_types", ok,
                json.dumps(c._raw))

    main = ctx.alpha.collection("main")
    r.equal("collection: get one collection (id)", main.id, ctx.collections["main"])
    r.equal("collection: title", main.title, "Conformance main")
    r.equal("collection: description", main.description, "Objects, versions, filters, TLP")
    r.check("collection: Alpha may read and write", main.can_read and main.can_write)

    only = ctx.beta.collection("alpha_only")
    r.check("collection: Beta reads but may not write a collection written by Alpha only",
            only.can_read and not only.can_write)
    reader = ctx.beta_reader.collection("main")
    r.check("collection: a reader token may read but not write", reader.can_read and not reader.can_write)

    gamma_root = ctx.gamma.api_root()
    gamma_ids = {c.id for c in gamma_root.collections}
    r.check("collections: Gamma sees its own collection", ctx.collections["gamma"] in gamma_ids)
    r.check("collections: Gamma sees the public collection", ctx.collections["public"] in gamma_ids)
    r.check("collections: Gamma does not see the trusted group's private collections",
            not gamma_ids & {ctx.collections[k] for k in ("main", "paging", "alpha_only", "probe")},
            f"listed {sorted(gamma_ids)}")


def build_main_objects(ctx):
    """A small, realistic graph built with the stix2 library."""
    author = stix2.Identity(name="Alpha CERT", identity_class="organization",
                            object_marking_refs=[TLP2_GREEN])
    by = {"created_by_ref": author.id}
    malware = stix2.Malware(name="Kuda RAT", is_family=True, malware_types=["remote-access-trojan"],
                            description="Remote access trojan seen in the region.",
                            object_marking_refs=[TLP2_AMBER], **by)
    actor = stix2.ThreatActor(name="Lotus Harbour", threat_actor_types=["nation-state"],
                              description="Long-running espionage group.",
                              object_marking_refs=[TLP2_AMBER], **by)
    technique = stix2.AttackPattern(name="Spearphishing Attachment",
                                    description="Phishing e-mail with a malicious file.",
                                    external_references=[{"source_name": "mitre-attack",
                                                          "external_id": "T1566.001"}], **by)
    indicators = [
        stix2.Indicator(name=f"Kuda RAT C2 {n}", description="Command and control address.",
                        pattern=f"[ipv4-addr:value = '203.0.113.{n}']", pattern_type="stix",
                        indicator_types=["malicious-activity"],
                        valid_from="2024-01-01T00:00:00Z", object_marking_refs=[TLP2_AMBER], **by)
        for n in (10, 11, 12)
    ]
    domain_indicator = stix2.Indicator(
        name="Kuda RAT drop domain", description="Domain used to deliver payloads.",
        pattern="[domain-name:value = 'update.example.net']", pattern_type="stix",
        valid_from="2024-01-01T00:00:00Z", object_marking_refs=[TLP2_GREEN], **by)
    uses = stix2.Relationship(actor, "uses", malware, **by)
    indicates = stix2.Relationship(indicators[0], "indicates", malware, **by)
    ip = stix2.IPv4Address(value="203.0.113.10")
    domain = stix2.DomainName(value="update.example.net")
    sample = stix2.File(name="invoice.pdf.exe", hashes={"SHA-256": hashlib.sha256(b"kuda").hexdigest()})
    observed = stix2.ObservedData(first_observed="2024-02-01T08:00:00Z",
                                  last_observed="2024-02-01T09:00:00Z", number_observed=3,
                                  object_refs=[ip.id, domain.id], **by)
    sighting = stix2.Sighting(sighting_of_ref=indicators[0].id, count=3,
                              observed_data_refs=[observed.id], where_sighted_refs=[author.id], **by)
    vulnerability = stix2.Vulnerability(name="CVE-2023-38831", description="WinRAR spoofing.",
                                        external_references=[{"source_name": "cve",
                                                              "external_id": "CVE-2023-38831"}], **by)
    campaign = stix2.Campaign(name="Harbour Lights", description="2024 phishing wave.", **by)
    coa = stix2.CourseOfAction(name="Block C2 addresses", description="Block at the perimeter.", **by)
    report = stix2.Report(name="Kuda RAT activity", published="2024-02-02T00:00:00Z",
                          report_types=["threat-report"], description="Weekly summary.",
                          object_refs=[malware.id, actor.id, indicators[0].id, uses.id], **by)
    return {
        "author": author, "malware": malware, "actor": actor, "technique": technique,
        "indicators": indicators, "domain_indicator": domain_indicator, "uses": uses,
        "indicates": indicates, "ip": ip, "domain": domain, "file": sample, "observed": observed,
        "sighting": sighting, "vulnerability": vulnerability, "campaign": campaign, "coa": coa,
        "report": report,
    }


def versioned_indicator(ctx, identity_id):
    """Three hand-written versions of one indicator, differing in `modified`."""
    oid = new_id("indicator")
    created = "2024-03-01T10:00:00.000Z"
    stamps = [created, "2024-03-02T10:00:00.000Z", "2024-03-03T10:00:00.000Z"]
    versions = []
    for n, modified in enumerate(stamps):
        versions.append({
            "type": "indicator",
            "spec_version": "2.1",
            "id": oid,
            "created": created,
            "modified": modified,
            "name": f"Harbour Lights loader, revision {n}",
            "description": "Hash of the loader; revised as analysis progressed.",
            "indicator_types": ["malicious-activity"],
            "pattern": f"[file:hashes.'SHA-256' = '{hashlib.sha256(str(n).encode()).hexdigest()}']",
            "pattern_type": "stix",
            "valid_from": "2024-03-01T00:00:00Z",
            "confidence": 40 + 20 * n,
            "created_by_ref": identity_id,
            "object_marking_refs": [TLP2_AMBER],
        })
    return oid, versions


def add_and_status(r, ctx, objs):
    main = ctx.alpha.collection("main")
    everything = [
        objs["author"], objs["malware"], objs["actor"], objs["technique"], *objs["indicators"],
        objs["domain_indicator"], objs["uses"], objs["indicates"], objs["ip"], objs["domain"],
        objs["file"], objs["observed"], objs["sighting"], objs["vulnerability"],
        objs["campaign"], objs["coa"], objs["report"],
    ]
    status = add(r, "add objects (stix2-built graph)", main, *everything)
    ctx.remember("main", *everything)
    r.check("add objects: every success names an id and a timestamp version",
            all(s.get("id") and is_timestamp(s.get("version")) for s in status.successes),
            json.dumps(status.successes[:3]))
    r.equal("add objects: successes list the ids sent",
            sorted(s["id"] for s in status.successes), sorted(as_dict(o)["id"] for o in everything))
    r.check("add objects: no failures", status.failure_count == 0 and not status.failures)

    # The client's own polling: refresh() and wait_until_final() against the status endpoint.
    status.refresh()
    r.check("status: Status.refresh() re-reads the resource", status.status == "complete"
            and status.success_count == len(everything))
    status.wait_until_final(poll_interval=0.1, timeout=5)
    r.check("status: wait_until_final() returns on a complete status", status.status == "complete")
    raw = status._raw
    r.check("status: resource carries `pendings` (TAXII 2.1 section 4.3.1)",
            "pendings" in raw, f"properties: {sorted(raw)}")
    ctx.status_main = status.id

    # Fetched again through the API root.
    again = ctx.alpha.api_root().get_status(status.id)
    r.equal("status: GET status/{id}/ returns the same counts",
            (again.id, again.total_count, again.success_count, again.failure_count, again.pending_count),
            (status.id, len(everything), len(everything), 0, 0))
    r.check("status: request_timestamp is a timestamp", is_timestamp(again.request_timestamp))

    # Content comes back exactly as sent.
    got = {o["id"]: o for o in objects_of(main.get_objects())}
    r.check("get objects: every stored object comes back unchanged",
            all(got.get(as_dict(o)["id"]) == as_dict(o) for o in everything),
            f"missing or changed: {[as_dict(o)['id'] for o in everything if got.get(as_dict(o)['id']) != as_dict(o)]}")

    # Adding the same bytes again is idempotent.
    dup = add(r, "add objects: re-sending a stored version", main, objs["malware"])
    r.check("add objects: a re-sent version is reported as a success, not stored twice",
            dup.success_count == 1 and len(main.object_versions(objs["malware"].id)["versions"]) == 1)


def invalid_bundle(r, ctx, objs):
    main = ctx.alpha.collection("main")
    good = [
        stix2.Malware(name="Gelap dropper", is_family=False, description="First-stage dropper.",
                      created_by_ref=objs["author"].id),
        stix2.Indicator(name="Gelap dropper URL", pattern="[url:value = 'http://198.51.100.7/a']",
                        pattern_type="stix", valid_from="2024-04-01T00:00:00Z",
                        created_by_ref=objs["author"].id),
        stix2.IPv4Address(value="198.51.100.7"),
    ]
    now = "2024-04-01T00:00:00.000Z"
    bad_uuid = {"type": "indicator", "spec_version": "2.1", "id": "indicator--not-a-uuid",
                "created": now, "modified": now}
    wrong_prefix_id = new_id("indicator")
    wrong_prefix = {"type": "malware", "spec_version": "2.1", "id": wrong_prefix_id,
                    "created": now, "modified": now, "name": "x", "is_family": False}
    backwards_id = new_id("campaign")
    backwards = {"type": "campaign", "spec_version": "2.1", "id": backwards_id, "name": "back",
                 "created": "2024-04-02T00:00:00.000Z", "modified": "2024-04-01T00:00:00.000Z"}
    bad_time_id = new_id("campaign")
    bad_time = {"type": "campaign", "spec_version": "2.1", "id": bad_time_id, "name": "when",
                "created": "yesterday", "modified": "yesterday"}
    old_spec_id = new_id("campaign")
    old_spec = {"type": "campaign", "spec_version": "2.0", "id": old_spec_id, "name": "old",
                "created": now, "modified": now}
    bad_ref_id = new_id("relationship")
    bad_ref = {"type": "relationship", "spec_version": "2.1", "id": bad_ref_id, "created": now,
               "modified": now, "relationship_type": "uses", "source_ref": "nothing",
               "target_ref": objs["malware"].id}
    conflict = dict(as_dict(objs["actor"]), name="Someone else entirely")
    invalid = [bad_uuid, wrong_prefix, backwards, bad_time, old_spec, bad_ref, conflict]
    body = {"objects": [as_dict(o) for o in good[:2]] + invalid[:3] + [42] + invalid[3:] + [as_dict(good[2])]}

    status = add(r, "add objects: bundle mixing valid and invalid objects", main,
                 raw_envelope=body, expect_success=len(good))
    ctx.remember("main", *good)
    r.equal("invalid objects: failure_count counts every invalid entry", status.failure_count,
            len(invalid) + 1)
    r.check("invalid objects: every failure carries a message",
            all(f.get("message") for f in status.failures), json.dumps(status.failures))
    failed_ids = {f.get("id") for f in status.failures}
    for name, oid in [("id that is not <type>--<UUID>", bad_uuid["id"]),
                      ("id prefix differs from type", wrong_prefix_id),
                      ("modified before created", backwards_id), ("unparsable timestamp", bad_time_id),
                      ("spec_version 2.0", old_spec_id), ("malformed _ref", bad_ref_id),
                      ("same id and version, different content", objs["actor"].id)]:
        r.check(f"invalid objects: failure listed for `{name}`", oid in failed_ids, str(failed_ids))
    for f in status.failures:
        print(f"      failure: {f.get('id')}: {f.get('message')}")
    r.equal("invalid objects: the valid neighbours are stored",
            sorted(ids_of(main.get_objects(id=[as_dict(o)["id"] for o in good]))),
            sorted(as_dict(o)["id"] for o in good))
    r.equal("invalid objects: none of the invalid ones is stored",
            ids_of(main.get_objects(id=[wrong_prefix_id, backwards_id, bad_time_id, old_spec_id,
                                        bad_ref_id])), [])
    r.equal("invalid objects: a conflicting version does not replace the stored one",
            objects_of(main.get_object(objs["actor"].id)), [as_dict(objs["actor"])])

    # A body over the API root's max_content_length is refused whole.
    limit = ctx.alpha.api_root().max_content_length
    oversized = b'{"objects":[' + b" " * limit + b"]}"
    try:
        code = ctx.alpha.raw("POST", f"/kawal/collections/{ctx.collections['main']}/objects/",
                             headers={"Content-Type": TAXII}, data=oversized).status_code
    except requests.ConnectionError as e:
        code = f"connection error before a response: {e}"
    r.equal(f"add objects: a body over max_content_length ({limit} bytes) gets 413", code, 413)

    # Not an envelope at all: the whole request is refused.
    resp = ctx.alpha.raw("POST", f"/kawal/collections/{ctx.collections['main']}/objects/",
                         headers={"Content-Type": TAXII}, data=b'{"objects": {}}')
    r.equal("add objects: a body whose `objects` is not a list gets 400", resp.status_code, 400)
    resp = ctx.alpha.raw("POST", f"/kawal/collections/{ctx.collections['main']}/objects/",
                         headers={"Content-Type": TAXII}, data=b"not json")
    r.equal("add objects: a body that is not JSON gets 400", resp.status_code, 400)


def versions(r, ctx, objs):
    main = ctx.alpha.collection("main")
    oid, (v0, v1, v2) = versioned_indicator(ctx, objs["author"].id)
    ctx.versioned = oid
    # Out of order on purpose: the middle version first, so that date_added order and
    # version order differ.
    add(r, "versions: add revision 1", main, v1)
    add(r, "versions: add revisions 0 and 2", main, v0, v2)
    ctx.remember("main", v0, v1, v2)
    stamps = [v0["modified"], v1["modified"], v2["modified"]]

    def got(**filters):
        return objects_of(main.get_objects(id=oid, **filters))

    r.equal("match[version] absent: newest version only", got(), [v2])
    r.equal("match[version]=last", got(version="last"), [v2])
    r.equal("match[version]=first", got(version="first"), [v0])
    r.equal("match[version]=all: every version",
            sorted(o["modified"] for o in got(version="all")), stamps)
    r.equal("match[version]=first,last", sorted(o["modified"] for o in got(version=["first", "last"])),
            [stamps[0], stamps[2]])
    r.equal("match[version]=<timestamp>", got(version=v1["modified"]), [v1])
    # The same instant written with other precision selects the same version.
    r.equal("match[version]=<timestamp> in another precision", got(version="2024-03-02T10:00:00Z"), [v1])
    r.equal("match[version]=<two timestamps>",
            sorted(o["modified"] for o in got(version=[v0["modified"], v2["modified"]])),
            [stamps[0], stamps[2]])
    r.equal("match[version]=<timestamp of no version>: nothing", got(version="2020-01-01T00:00:00Z"), [])

    r.equal("get object: newest version by default", objects_of(main.get_object(oid)), [v2])
    r.equal("get object: match[version]=first", objects_of(main.get_object(oid, version="first")), [v0])
    r.equal("get object: match[version]=all",
            sorted(o["modified"] for o in objects_of(main.get_object(oid, version="all"))), stamps)
    r.equal("get object: match[version]=<timestamp>",
            objects_of(main.get_object(oid, version=v1["modified"])), [v1])
    r.equal("get object: match[spec_version]=2.1", objects_of(main.get_object(oid, spec_version="2.1")), [v2])

    listed = main.object_versions(oid)
    r.equal("object versions: every version listed",
            sorted(micros(v) for v in listed.get("versions", [])), sorted(micros(s) for s in stamps))
    r.check("object versions: more is false", listed.get("more") is False, json.dumps(listed))
    # as_pages counts `objects`, which a versions resource does not have: follow `next` by hand.
    pages = [main.object_versions(oid, limit=2)]
    while pages[-1].get("more") and len(pages) < 10:
        pages.append(main.object_versions(oid, limit=2, next=pages[-1]["next"]))
    r.equal("object versions: limit=2 and next page through every version once",
            (len(pages), sorted(micros(v) for env in pages for v in env.get("versions", []))),
            (2, sorted(micros(s) for s in stamps)))
    added_v1 = next(m["date_added"] for m in objects_of(main.get_manifest(id=oid, version=v1["modified"])))
    r.equal("object versions: added_after the middle version's date_added",
            sorted(micros(v) for v in main.object_versions(oid, added_after=added_v1).get("versions", [])),
            sorted(micros(v["modified"]) for v in (v0, v2)))
    r.equal("object versions: match[spec_version]=2.1",
            len(main.object_versions(oid, spec_version="2.1").get("versions", [])), 3)

    manifest = objects_of(main.get_manifest(id=oid, version="all"))
    r.equal("manifest: one record per version",
            sorted(micros(m["version"]) for m in manifest), sorted(micros(s) for s in stamps))
    r.check("manifest: records carry id, date_added, version and media_type",
            all(m["id"] == oid and is_timestamp(m["date_added"]) and m.get("media_type") == STIX
                for m in manifest), json.dumps(manifest))
    by_version = {micros(m["version"]): micros(m["date_added"]) for m in manifest}
    r.check("manifest: date_added follows the order the versions were added",
            by_version[micros(v1["modified"])] < by_version[micros(v0["modified"])]
            < by_version[micros(v2["modified"])], json.dumps(manifest))
    r.equal("manifest: default is the newest version",
            [micros(m["version"]) for m in objects_of(main.get_manifest(id=oid))], [micros(v2["modified"])])
    r.equal("manifest: match[version]=first",
            [micros(m["version"]) for m in objects_of(main.get_manifest(id=oid, version="first"))],
            [micros(v0["modified"])])


def filters(r, ctx, objs):
    main = ctx.alpha.collection("main")
    everything = objects_of(main.get_objects())
    latest = ctx.latest("main")
    r.equal("get objects: one newest version of each stored object",
            sorted(o["id"] for o in everything), sorted(latest))
    r.check("get objects: each is the newest version",
            all(o == latest[o["id"]] for o in everything))

    expected_indicators = sorted(i for i, o in latest.items() if o["type"] == "indicator")
    got = objects_of(main.get_objects(type="indicator"))
    r.equal("match[type]=indicator", sorted(o["id"] for o in got), expected_indicators)
    got = objects_of(main.get_objects(type=["malware", "threat-actor"]))
    r.equal("match[type]=malware,threat-actor",
            sorted(o["id"] for o in got),
            sorted(i for i, o in latest.items() if o["type"] in ("malware", "threat-actor")))
    got = objects_of(main.get_objects(type="ipv4-addr"))
    r.equal("match[type]=ipv4-addr (a cyber-observable)", sorted(o["id"] for o in got),
            sorted(i for i, o in latest.items() if o["type"] == "ipv4-addr"))
    r.equal("match[type]=<type with no objects>: empty", objects_of(main.get_objects(type="grouping")), [])

    r.equal("manifest: match[type]=indicator",
            sorted(m["id"] for m in objects_of(main.get_manifest(type="indicator"))), expected_indicators)
    r.equal("manifest: match[id] and match[type] combined",
            [m["id"] for m in objects_of(main.get_manifest(id=[objs["malware"].id, objs["report"].id],
                                                            type="malware"))], [objs["malware"].id])

    pick = [objs["malware"].id, objs["report"].id]
    r.equal("match[id]=one id", ids_of(main.get_objects(id=pick[0])), [pick[0]])
    r.equal("match[id]=two ids", sorted(ids_of(main.get_objects(id=pick))), sorted(pick))
    r.equal("match[id] combined with match[type]",
            ids_of(main.get_objects(id=pick, type="report")), [objs["report"].id])
    r.equal("match[id]=<unknown id>: empty", ids_of(main.get_objects(id=new_id("malware"))), [])

    r.equal("match[spec_version]=2.1: everything", sorted(ids_of(main.get_objects(spec_version="2.1"))),
            sorted(latest))
    r.equal("match[spec_version]=2.0: nothing", ids_of(main.get_objects(spec_version="2.0")), [])
    r.equal("match[spec_version]=2.0,2.1: everything",
            sorted(ids_of(main.get_objects(spec_version=["2.0", "2.1"]))), sorted(latest))

    # added_after against the manifest of every version.
    manifest = objects_of(main.get_manifest(version="all"))
    added = sorted(micros(m["date_added"]) for m in manifest)
    r.equal("manifest: strictly increasing date_added",
            len(set(added)) == len(added), True)
    middle = sorted(manifest, key=lambda m: micros(m["date_added"]))[len(manifest) // 2]
    after = [m for m in manifest if micros(m["date_added"]) > micros(middle["date_added"])]
    got = objects_of(main.get_manifest(added_after=middle["date_added"], version="all"))
    r.equal("added_after (manifest, all versions): exactly those added later",
            sorted((m["id"], micros(m["version"])) for m in got),
            sorted((m["id"], micros(m["version"])) for m in after))
    got = objects_of(main.get_objects(added_after=middle["date_added"], version="all"))
    r.equal("added_after (objects, all versions)",
            sorted((o["id"], micros(version_of(o) or m_date(after, o["id"]))) for o in got),
            sorted((m["id"], micros(m["version"])) for m in after))
    newest = max(manifest, key=lambda m: micros(m["date_added"]))
    empty = main.get_objects(added_after=newest["date_added"])
    r.check("added_after=<newest date_added>: an empty envelope",
            objects_of(empty) == [] and not empty.get("more"), json.dumps(empty))
    r.equal("added_after=<long ago>: everything",
            sorted(ids_of(main.get_objects(added_after="2000-01-01T00:00:00Z"))), sorted(latest))

    page = main.get_objects(limit=1)
    r.check("limit=1: one object, more=true, a next token",
            len(objects_of(page)) == 1 and page.get("more") is True and bool(page.get("next")),
            json.dumps({k: v for k, v in page.items() if k != "objects"}))

    for query, what in [("limit=0", "limit=0"), ("limit=x", "limit=x"),
                        ("added_after=yesterday", "an unparsable added_after"),
                        ("match[id]=nope", "a malformed match[id]"),
                        ("match[version]=newest", "an unknown match[version] keyword"),
                        ("next=zz-not-issued", "a next token not issued by the server")]:
        resp = ctx.alpha.raw("GET", f"/kawal/collections/{ctx.collections['main']}/objects/?{query}")
        r.equal(f"get objects: {what} gets 400", resp.status_code, 400)


def m_date(manifest, oid):
    """The version a manifest gives an unversioned object (its date_added)."""
    return next(m["version"] for m in manifest if m["id"] == oid)


def paging(r, ctx):
    col = ctx.alpha.collection("paging")
    batch = []
    for n in range(PAGING_OBJECTS):
        batch.append(stix2.Indicator(
            name=f"Scanner {n}", description="Host seen scanning the exchange's members.",
            pattern=f"[ipv4-addr:value = '192.0.2.{n % 250}'] AND [network-traffic:dst_port = {1000 + n}]",
            pattern_type="stix", valid_from="2024-05-01T00:00:00Z",
            object_marking_refs=[TLP2_GREEN]))
    half = PAGING_OBJECTS // 2
    add(r, f"paging: add {half} objects", col, *batch[:half])
    add(r, f"paging: add {PAGING_OBJECTS - half} more", col, *batch[half:])
    ctx.remember("paging", *batch)
    sent = {o.id for o in batch}

    for per_page in (17, 26):
        pages = all_pages(col.get_objects, per_page)
        ids = [o["id"] for env in pages for o in objects_of(env)]
        r.check(f"paging (objects, {per_page} per page): no duplicate",
                len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates")
        r.check(f"paging (objects, {per_page} per page): nothing missing, nothing extra",
                set(ids) == sent, f"missing {len(sent - set(ids))}, extra {len(set(ids) - sent)}")
        expected_pages = -(-PAGING_OBJECTS // per_page)
        r.equal(f"paging (objects, {per_page} per page): page count", len(pages), expected_pages)
        r.check(f"paging (objects, {per_page} per page): more/next on every page but the last",
                all(p.get("more") is True and p.get("next") for p in pages[:-1])
                and pages[-1].get("more") is False and "next" not in pages[-1],
                json.dumps([{k: v for k, v in p.items() if k != "objects"} for p in pages]))

    pages = all_pages(col.get_manifest, 40)
    ids = [m["id"] for env in pages for m in objects_of(env)]
    r.check("paging (manifest, 40 per page): every object exactly once",
            len(ids) == len(set(ids)) and set(ids) == sent, f"{len(ids)} records, {len(set(ids))} distinct")
    added = [micros(m["date_added"]) for env in pages for m in objects_of(env)]
    r.check("paging (manifest): date_added strictly increases across pages",
            all(a < b for a, b in zip(added, added[1:])))

    # added_after combined with next: the second add request only.
    records = [m for env in pages for m in objects_of(env)]
    boundary = records[half - 1]["date_added"]
    pages = all_pages(col.get_objects, 13, added_after=boundary)
    ids = [o["id"] for env in pages for o in objects_of(env)]
    r.check("paging with added_after: exactly the second request's objects, once each",
            len(ids) == len(set(ids)) and set(ids) == {o.id for o in batch[half:]},
            f"{len(ids)} objects, {len(set(ids))} distinct")
    r.equal("paging with added_after: page count", len(pages), -(-(PAGING_OBJECTS - half) // 13))

    # Filters combined with paging.
    pages = all_pages(col.get_objects, 7, id=[o.id for o in batch[100:120]])
    ids = [o["id"] for env in pages for o in objects_of(env)]
    r.equal("paging with match[id]: 20 ids over 3 pages", (sorted(ids), len(pages)),
            (sorted(o.id for o in batch[100:120]), 3))

    # Headers: on every page, first/last date_added of the page, and pages do not overlap.
    path = f"/kawal/collections/{ctx.collections['paging']}"
    query, previous_last, ok, detail = "limit=50", 0, True, ""
    while True:
        objects_resp = ctx.alpha.raw("GET", f"{path}/objects/?{query}")
        manifest_resp = ctx.alpha.raw("GET", f"{path}/manifest/?{query}")
        body = manifest_resp.json()
        stamps = [micros(m["date_added"]) for m in body["objects"]]
        for resp in (objects_resp, manifest_resp):
            first, last = resp.headers.get(DATE_FIRST), resp.headers.get(DATE_LAST)
            if not first or not last or micros(first) != stamps[0] or micros(last) != stamps[-1]:
                ok, detail = False, f"{query}: headers {first}/{last}, page {stamps[0]}..{stamps[-1]}"
        if stamps[0] <= previous_last:
            ok, detail = False, f"{query}: page starts at or before the previous page's end"
        previous_last = stamps[-1]
        if not body.get("more"):
            break
        query = f"limit=50&next={body['next']}"
    r.check("headers: X-TAXII-Date-Added-First/Last bound every page (objects and manifest)", ok, detail)


def headers(r, ctx):
    main_path = f"/kawal/collections/{ctx.collections['main']}"
    manifest = ctx.alpha.raw("GET", f"{main_path}/manifest/?match[version]=all").json()["objects"]
    stamps = sorted(m["date_added"] for m in manifest)
    oid = ctx.versioned
    own = sorted(m["date_added"] for m in manifest if m["id"] == oid)
    cases = [
        ("get objects (all versions)", f"{main_path}/objects/?match[version]=all", stamps),
        ("get manifest (all versions)", f"{main_path}/manifest/?match[version]=all", stamps),
        ("get object (all versions)", f"{main_path}/objects/{oid}/?match[version]=all", own),
        ("get object versions", f"{main_path}/objects/{oid}/versions/", own),
    ]
    for name, path, expected in cases:
        resp = ctx.alpha.raw("GET", path)
        got = (resp.headers.get(DATE_FIRST), resp.headers.get(DATE_LAST))
        r.check(f"headers: {name} carries X-TAXII-Date-Added-First/Last of its items",
                resp.status_code == 200 and None not in got
                and (micros(got[0]), micros(got[1])) == (micros(expected[0]), micros(expected[-1])),
                f"status {resp.status_code}, headers {got}, expected {expected[0]}/{expected[-1]}")
        r.equal(f"headers: {name} is served as {TAXII}", resp.headers.get("Content-Type"), TAXII)
    resp = ctx.alpha.raw("GET", f"{main_path}/objects/?match[type]=grouping")
    r.check("headers: an empty result has no X-TAXII-Date-Added headers",
            resp.status_code == 200 and DATE_FIRST not in resp.headers and DATE_LAST not in resp.headers)


def negotiation(r, ctx):
    col = ctx.collections["main"]
    oid = ctx.versioned
    gets = [
        ("discovery", "/taxii2/"),
        ("api root", "/kawal/"),
        ("collections", "/kawal/collections/"),
        ("collection", f"/kawal/collections/{col}/"),
        ("objects", f"/kawal/collections/{col}/objects/"),
        ("object", f"/kawal/collections/{col}/objects/{oid}/"),
        ("versions", f"/kawal/collections/{col}/objects/{oid}/versions/"),
        ("manifest", f"/kawal/collections/{col}/manifest/"),
        ("status", f"/kawal/status/{ctx.status_main}/"),
    ]
    for name, path in gets:
        bad = ctx.alpha.raw("GET", path, accept="application/json")
        old = ctx.alpha.raw("GET", path, accept="application/taxii+json;version=2.0")
        plain = ctx.alpha.raw("GET", path, accept="application/taxii+json")
        r.check(f"406: GET {name} with Accept application/json or TAXII 2.0; 200 for application/taxii+json",
                (bad.status_code, old.status_code, plain.status_code) == (406, 406, 200),
                f"got {bad.status_code}, {old.status_code}, {plain.status_code}")
    r.equal("200: Accept */* and no Accept header",
            (ctx.alpha.raw("GET", "/kawal/", accept="*/*").status_code,
             ctx.alpha.raw("GET", "/kawal/", accept=None).status_code), (200, 200))
    error = ctx.alpha.raw("GET", "/kawal/", accept="text/html")
    r.check("406: the body is a TAXII error object with http_status 406",
            error.json().get("http_status") == "406" and bool(error.json().get("title")), error.text)
    delete = ctx.alpha.raw("DELETE", f"/kawal/collections/{col}/objects/{new_id('malware')}/",
                           accept="application/json")
    r.equal("406: DELETE with a wrong Accept", delete.status_code, 406)

    objects = f"/kawal/collections/{col}/objects/"
    body = json.dumps(envelope(stix2.Campaign(name="never stored"))).encode()
    for content_type in ("application/json", STIX, "application/taxii+json;version=2.0", None):
        headers = {"Content-Type": content_type} if content_type else {}
        resp = ctx.alpha.raw("POST", objects, headers=headers, data=body)
        r.equal(f"415: POST objects with Content-Type {content_type or '(none)'}", resp.status_code, 415)
    resp = ctx.alpha.raw("POST", objects, accept="application/json",
                         headers={"Content-Type": TAXII}, data=body)
    r.equal("406: POST objects with a wrong Accept", resp.status_code, 406)
    r.equal("415/406: nothing was stored by the refused requests",
            ids_of(ctx.alpha.collection("main").get_objects(type="campaign", added_after=ctx.now_mark)), [])


def authentication(r, ctx):
    creds = ctx.alpha.credentials
    user = creds.split(":")[0]
    for name, auth in [("wrong secret", (user, "0" * 64)), ("unknown token", ("0123456789abcdef", "x"))]:
        resp = requests.get(ctx.api_root_url + "collections/", auth=auth, headers={"Accept": TAXII}, timeout=30)
        r.check(f"auth: {name} gets 401 with WWW-Authenticate",
                resp.status_code == 401 and "WWW-Authenticate" in resp.headers, f"got {resp.status_code}")
    revoked = requests.get(ctx.api_root_url, auth=tuple(ctx.revoked.split(":", 1)),
                           headers={"Accept": TAXII}, timeout=30)
    r.equal("auth: a token revoked with `kawal admin token revoke` while serving gets 401",
            revoked.status_code, 401)
    bearer = Collection(f"{ctx.api_root_url}collections/{ctx.collections['main']}/", auth=BearerAuth(creds))
    r.check("auth: Bearer TOKEN_ID:SECRET works through the client",
            bearer.can_read and len(objects_of(bearer.get_objects(limit=1))) == 1)
    resp = ctx.anonymous.raw("GET", f"/kawal/collections/{ctx.collections['main']}/objects/")
    r.equal("auth: anonymous request for a private collection gets 401", resp.status_code, 401)


def write_permissions(r, ctx):
    campaign = stix2.Campaign(name="Write test", description="Written where it may not be.")
    only = ctx.beta.collection("alpha_only")
    try:
        only.add_objects(envelope(campaign))
        refused = False
    except AccessError:
        refused = True
    r.check("write: the client refuses to add where can_write is false", refused)
    for party, key, name in [(ctx.beta, "alpha_only", "Beta to a collection only Alpha writes"),
                             (ctx.beta_reader, "main", "a reader token")]:
        resp = party.raw("POST", f"/kawal/collections/{ctx.collections[key]}/objects/",
                         headers={"Content-Type": TAXII}, data=json.dumps(envelope(campaign)))
        r.equal(f"write: POST by {name} gets 403", resp.status_code, 403)
    resp = ctx.anonymous.raw("POST", f"/kawal/collections/{ctx.collections['public']}/objects/",
                             headers={"Content-Type": TAXII}, data=json.dumps(envelope(campaign)))
    r.check("write: anonymous POST to the public collection is refused (401/403)",
            resp.status_code in (401, 403), f"got {resp.status_code}")
    add(r, "write: Alpha adds to the collection only Alpha writes", ctx.alpha.collection("alpha_only"), campaign)
    ctx.remember("alpha_only", campaign)


def red_sharing(r, ctx, objs):
    """TLP:RED: only the named recipients (and the producer) read it."""
    by = {"created_by_ref": objs["author"].id}
    red_beta = stix2.Indicator(name="Insider mailbox", description="RED for Beta only.",
                               pattern="[email-addr:value = 'ops@example.org']", pattern_type="stix",
                               valid_from="2024-06-01T00:00:00Z", object_marking_refs=[TLP2_RED], **by)
    red_delta = stix2.Indicator(name="Partner VPN host", description="RED for Delta only.",
                                pattern="[ipv4-addr:value = '198.51.100.99']", pattern_type="stix",
                                valid_from="2024-06-01T00:00:00Z", object_marking_refs=[TLP2_RED], **by)
    # TLP 1.0 RED, named by nobody: only its producer reads it.
    red_tlp1 = stix2.Indicator(name="Unnamed RED", description="TLP 1.0 RED, no recipients.",
                               pattern="[domain-name:value = 'red.example.org']", pattern_type="stix",
                               valid_from="2024-06-01T00:00:00Z", object_marking_refs=[stix2.TLP_RED], **by)
    add(r, "RED: Alpha shares one object with Beta (recipient by name)",
        ctx.alpha.collection("main", recipients=["Beta"]), red_beta)
    add(r, "RED: Alpha shares one object with Delta (recipient by identity id)",
        ctx.alpha.collection("main", recipients=[ctx.identities["Delta"]]), red_delta)
    add(r, "RED: Alpha adds a TLP 1.0 RED object naming no recipient", ctx.alpha.collection("main"), red_tlp1)
    ctx.remember("main", red_beta, red_delta, red_tlp1)
    ctx.red = {"beta": red_beta.id, "delta": red_delta.id, "nobody": red_tlp1.id}

    # One object whose newer version is RED: readers not named keep seeing the older one.
    amber = {"type": "malware", "spec_version": "2.1", "id": new_id("malware"),
             "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
             "name": "Senyap", "description": "Wiper.", "is_family": True,
             "object_marking_refs": [TLP2_AMBER], "created_by_ref": objs["author"].id}
    red = dict(amber, modified="2024-06-02T00:00:00.000Z",
               description="Wiper; attributed, source sensitive.", object_marking_refs=[TLP2_RED])
    add(r, "RED: Alpha adds the AMBER first version of an object", ctx.alpha.collection("main"), amber)
    add(r, "RED: Alpha adds a RED newer version for Beta",
        ctx.alpha.collection("main", recipients=["Beta"]), red)
    ctx.remember("main", amber, red)
    ctx.red_versioned = (amber, red)

    for party, sees, hidden in [(ctx.beta, red_beta, red_delta), (ctx.delta, red_delta, red_beta)]:
        col = party.collection("main")
        listed = set(ids_of(col.get_objects()))
        manifest = {m["id"] for m in objects_of(col.get_manifest())}
        r.check(f"RED: {party.name} (named) reads its RED object: listing, manifest, get object",
                sees.id in listed and sees.id in manifest and ids_of(col.get_object(sees.id)) == [sees.id])
        r.check(f"RED: {party.name} (group member, not named) does not see the other RED object",
                hidden.id not in listed and hidden.id not in manifest
                and ids_of(col.get_objects(id=hidden.id)) == [])
        r.equal(f"RED: {party.name} gets 404 for the unnamed RED object",
                (status_code(lambda: col.get_object(hidden.id)),
                 status_code(lambda: col.object_versions(hidden.id))), (404, 404))
        r.equal(f"RED: {party.name} gets 404 for TLP 1.0 RED without recipients",
                status_code(lambda: col.get_object(red_tlp1.id)), 404)
        r.check(f"RED: {party.name} reads AMBER content of the group",
                objs["malware"].id in listed)

    beta = ctx.beta.collection("main")
    delta = ctx.delta.collection("main")
    r.equal("RED versions: Beta (named) gets the RED newest version", objects_of(beta.get_object(amber["id"])), [red])
    r.equal("RED versions: Delta gets the newest version it may read",
            objects_of(delta.get_object(amber["id"])), [amber])
    r.equal("RED versions: Delta's match[version]=last", objects_of(delta.get_objects(id=amber["id"], version="last")),
            [amber])
    r.equal("RED versions: Delta's match[version]=all", objects_of(delta.get_objects(id=amber["id"], version="all")),
            [amber])
    r.equal("RED versions: Delta's version list",
            [micros(v) for v in delta.object_versions(amber["id"]).get("versions", [])], [micros(amber["modified"])])
    r.equal("RED versions: Delta's manifest",
            [micros(m["version"]) for m in objects_of(delta.get_manifest(id=amber["id"], version="all"))],
            [micros(amber["modified"])])

    # Paging where the policy hides objects: small pages must still cover exactly what one
    # unpaged read returns.
    for party in (ctx.beta, ctx.delta):
        col = party.collection("main")
        whole = sorted(ids_of(col.get_objects()))
        pages = all_pages(col.get_objects, 2)
        paged = [o["id"] for env in pages for o in objects_of(env)]
        r.check(f"RED paging: {party.name}'s pages of 2 hold exactly its unpaged listing",
                sorted(paged) == whole and all(objects_of(p) for p in pages),
                f"{len(paged)} paged vs {len(whole)} unpaged over {len(pages)} pages")

    alpha = ctx.alpha.collection("main")
    r.check("RED: the producer reads every RED object",
            {red_beta.id, red_delta.id, red_tlp1.id} <= set(ids_of(alpha.get_objects())))

    campaign = stix2.Campaign(name="Misaddressed", description="RED naming a non-member.",
                              object_marking_refs=[TLP2_RED])
    for recipients, why in [("Gamma", "an organisation outside the sharing group"),
                            ("Nobody Ltd", "an unknown organisation")]:
        resp = ctx.alpha.raw("POST", f"/kawal/collections/{ctx.collections['main']}/objects/",
                             headers={"Content-Type": TAXII, RECIPIENTS: recipients},
                             data=json.dumps(envelope(campaign)))
        r.equal(f"RED: {RECIPIENTS} naming {why} gets 400", resp.status_code, 400)

    # Gamma is outside the trusted group: the collection does not exist for it.
    gamma = ctx.gamma.collection("main")
    r.equal("outsider: Gamma gets 404 for the collection, its objects, manifest, an object",
            [ctx.gamma.raw("GET", p).status_code for p in (
                f"/kawal/collections/{ctx.collections['main']}/",
                f"/kawal/collections/{ctx.collections['main']}/objects/",
                f"/kawal/collections/{ctx.collections['main']}/manifest/",
                f"/kawal/collections/{ctx.collections['main']}/objects/{objs['malware'].id}/")],
            [404, 404, 404, 404])
    r.equal("outsider: Gamma through the client gets 404", status_code(lambda: gamma.refresh()), 404)
    resp = ctx.gamma.raw("POST", f"/kawal/collections/{ctx.collections['main']}/objects/",
                         headers={"Content-Type": TAXII}, data=json.dumps(envelope(campaign)))
    r.equal("outsider: Gamma's POST gets 404", resp.status_code, 404)


def public_collection(r, ctx):
    col = ctx.alpha.collection("public")
    clear = stix2.Indicator(name="Public scanner", description="Known mass scanner.",
                            pattern="[ipv4-addr:value = '192.0.2.200']", pattern_type="stix",
                            valid_from="2024-07-01T00:00:00Z", object_marking_refs=[TLP2_CLEAR])
    white = stix2.Vulnerability(name="CVE-2024-3400", description="PAN-OS command injection.",
                                object_marking_refs=[stix2.TLP_WHITE])
    green = stix2.Indicator(name="Community scanner", description="GREEN.",
                            pattern="[ipv4-addr:value = '192.0.2.201']", pattern_type="stix",
                            valid_from="2024-07-01T00:00:00Z", object_marking_refs=[TLP2_GREEN])
    amber = stix2.Malware(name="Private implant", is_family=True, description="AMBER.",
                          object_marking_refs=[TLP2_AMBER])
    unmarked = stix2.Campaign(name="Unmarked campaign", description="Default TLP (GREEN) applies.")
    red = stix2.Campaign(name="Red campaign", description="RED, for Beta.", object_marking_refs=[TLP2_RED])
    add(r, "public: Alpha adds CLEAR, WHITE, GREEN, AMBER and unmarked objects", col,
        clear, white, green, amber, unmarked)
    add(r, "public: Alpha adds a RED object for Beta", ctx.alpha.collection("public", recipients=["Beta"]), red)
    ctx.remember("public", clear, white, green, amber, unmarked, red)
    public_ids = sorted([clear.id, white.id])

    anon_root = ctx.anonymous.api_root()
    anon_ids = [c.id for c in anon_root.collections]
    r.equal("anonymous: collections lists only the public collection", anon_ids, [ctx.collections["public"]])
    anon = ctx.anonymous.collection("public")
    r.check("anonymous: may read, may not write the public collection", anon.can_read and not anon.can_write)
    r.equal("anonymous: get objects returns only TLP:CLEAR (and TLP 1.0 WHITE)",
            sorted(ids_of(anon.get_objects())), public_ids)
    r.equal("anonymous: manifest lists only TLP:CLEAR",
            sorted(m["id"] for m in objects_of(anon.get_manifest())), public_ids)
    r.equal("anonymous: get object of a CLEAR object", objects_of(anon.get_object(clear.id)), [as_dict(clear)])
    r.equal("anonymous: GREEN, AMBER, unmarked and RED objects are 404",
            [status_code(lambda o=o: anon.get_object(o.id)) for o in (green, amber, unmarked, red)],
            [404, 404, 404, 404])
    r.equal("anonymous: match[type]=indicator sees only the CLEAR indicator",
            ids_of(anon.get_objects(type="indicator")), [clear.id])

    gamma = ctx.gamma.collection("public")
    r.equal("public: Gamma (not in the group) also sees only TLP:CLEAR",
            sorted(ids_of(gamma.get_objects())), public_ids)
    beta = ctx.beta.collection("public")
    r.equal("public: Beta (member, named for RED) sees everything",
            sorted(ids_of(beta.get_objects())), sorted(o.id for o in (clear, white, green, amber, unmarked, red)))
    delta = ctx.delta.collection("public")
    r.equal("public: Delta (member, not named) sees all but the RED object",
            sorted(ids_of(delta.get_objects())), sorted(o.id for o in (clear, white, green, amber, unmarked)))


def deletes(r, ctx, objs):
    main = ctx.alpha.collection("main")
    main_path = f"/kawal/collections/{ctx.collections['main']}"

    # Only the producer deletes.
    target = objs["technique"].id
    r.equal("delete: Beta (a writer, not the producer) gets 403",
            status_code(lambda: ctx.beta.collection("main").delete_object(target)), 403)
    r.equal("delete: a reader token gets 403",
            ctx.beta_reader.raw("DELETE", f"{main_path}/objects/{target}/").status_code, 403)
    r.equal("delete: Gamma (outsider) gets 404",
            ctx.gamma.raw("DELETE", f"{main_path}/objects/{target}/").status_code, 404)
    r.equal("delete: anonymous gets 401",
            ctx.anonymous.raw("DELETE", f"{main_path}/objects/{target}/").status_code, 401)
    r.equal("delete: refused deletes left the object in place", ids_of(main.get_object(target)), [target])

    # A Beta-produced object: Beta deletes it, Alpha may not.
    beta_obj = stix2.Campaign(name="Beta's campaign", description="Produced by Beta.")
    add(r, "delete: Beta adds its own object", ctx.beta.collection("main"), beta_obj)
    r.equal("delete: Alpha may not delete Beta's object",
            status_code(lambda: main.delete_object(beta_obj.id)), 403)
    ctx.beta.collection("main").delete_object(beta_obj.id)
    r.equal("delete: Beta deletes its own object (then 404)",
            status_code(lambda: main.get_object(beta_obj.id)), 404)

    # One version by timestamp, then the newest, then the whole object.
    oid = ctx.versioned
    stamps = sorted(ctx.stored["main"][oid])
    main.delete_object(oid, version=stamps[1])
    r.equal("delete: match[version]=<timestamp> removes that version only",
            sorted(micros(v) for v in main.object_versions(oid)["versions"]),
            [micros(stamps[0]), micros(stamps[2])])
    main.delete_object(oid, version="last")
    r.equal("delete: match[version]=last removes the newest",
            [micros(v) for v in main.object_versions(oid)["versions"]], [micros(stamps[0])])
    r.equal("delete: the remaining version is now served as the newest",
            [version_of(o) for o in objects_of(main.get_object(oid))], [stamps[0]])
    del ctx.stored["main"][oid][stamps[1]]
    del ctx.stored["main"][oid][stamps[2]]

    resp = ctx.alpha.raw("DELETE", f"{main_path}/objects/{target}/")
    r.equal("delete: DELETE an object returns 200", resp.status_code, 200)
    del ctx.stored["main"][target]
    r.equal("delete: the deleted object is gone from get object and versions",
            (status_code(lambda: main.get_object(target)), status_code(lambda: main.object_versions(target))),
            (404, 404))
    r.check("delete: the deleted object is gone from get objects and the manifest",
            target not in ids_of(main.get_objects())
            and target not in [m["id"] for m in objects_of(main.get_manifest(version="all"))])
    r.equal("delete: deleting it again gets 404", status_code(lambda: main.delete_object(target)), 404)
    r.equal("delete: match[type] is not a delete filter (400)",
            ctx.alpha.raw("DELETE", f"{main_path}/objects/{oid}/?match[type]=indicator").status_code, 400)


def status_resources(r, ctx):
    root = ctx.alpha.api_root()
    status = root.get_status(ctx.status_main)
    status.refresh()
    r.equal("status: Alpha refreshes its status resource", status.status, "complete")
    r.equal("status: another organisation gets 404 for it",
            status_code(lambda: ctx.beta.api_root().get_status(ctx.status_main)), 404)
    r.equal("status: an unknown status id gets 404",
            status_code(lambda: root.get_status(str(uuid.uuid4()))), 404)
    # A status the client fetches by URL, as add_objects builds it.
    by_url = Status(f"{ctx.api_root_url}status/{ctx.status_main}/", auth=ctx.alpha.auth())
    r.equal("status: Status(url) loads the resource", by_url.id, ctx.status_main)


def validation_probe(r, ctx):
    """Objects that break STIX 2.1 rules the OASIS validator enforces. A conforming server
    refuses each; what it stores anyway is a gap in its ingest validation, printed with the
    validator's words."""
    col = ctx.alpha.collection("probe")
    now = "2024-08-01T00:00:00.000Z"

    def sdo(type_name, **props):
        return dict({"type": type_name, "spec_version": "2.1", "id": new_id(type_name),
                     "created": now, "modified": now}, **props)

    def sco(type_name, **props):
        return dict({"type": type_name, "spec_version": "2.1", "id": new_id(type_name)}, **props)

    def indicator(**props):
        return sdo("indicator", **dict({"name": "probe", "pattern": "[ipv4-addr:value = '192.0.2.1']",
                                        "pattern_type": "stix", "valid_from": now}, **props))

    # (what is wrong, the object)
    probes = [
        ("indicator without pattern, pattern_type, valid_from", sdo("indicator", name="x")),
        ("malware without is_family", sdo("malware", name="x")),
        ("relationship without source_ref and target_ref", sdo("relationship", relationship_type="uses")),
        ("campaign without modified",
         {"type": "campaign", "spec_version": "2.1", "id": new_id("campaign"), "created": now, "name": "x"}),
        ("report without published", sdo("report", name="x", object_refs=[new_id("indicator")])),
        ("confidence above 100", indicator(confidence=101)),
        ("empty list property", indicator(labels=[])),
        ("SHA-256 of the wrong length", sco("file", name="f", hashes={"SHA-256": "abcd"})),
        ("ipv4-addr value out of range", sco("ipv4-addr", value="999.1.1.1")),
        ("property name with capitals", indicator(Score=3)),
        ("opinion outside its closed vocabulary", sdo("opinion", opinion="maybe", object_refs=[new_id("indicator")])),
        ("network-traffic without src_ref or dst_ref", sco("network-traffic", protocols=["tcp"])),
        ("indicator whose pattern does not parse", indicator(pattern="[ipv4-addr:value = ")),
        ("extensions key that is not an extension name", indicator(extensions={"foo": {"x": 1}})),
        ("url value that is not a URL", sco("url", value="not a url")),
        ("domain-name value that is not a host name", sco("domain-name", value="not a domain!")),
        ("TLP:RED marking-definition id with TLP:GREEN content",
         {"type": "marking-definition", "spec_version": "2.1", "id": TLP2_RED, "created": now,
          "definition_type": "tlp", "name": "TLP:RED", "definition": {"tlp": "green"}}),
        ("id with the nil UUID", dict(indicator(), id="indicator--00000000-0000-0000-0000-000000000000")),
        ("artifact mime_type that is not a media type",
         sco("artifact", mime_type="not/a/mime type", url="http://192.0.2.1/a", hashes={"SHA-256": "a" * 64})),
    ]
    status = col.add_objects({"objects": [obj for _, obj in probes]}, wait_for_completion=True,
                             poll_interval=0.1, timeout=10)
    refused = {f.get("id"): f.get("message") for f in status.failures}
    for what, obj in probes:
        errors, _ = validate_objects([obj], {})
        r.check(f"probe: the STIX validator rejects: {what}", bool(errors))
        accepted = obj["id"] not in refused
        r.check(f"probe: the server refuses: {what}", not accepted,
                "stored; stix2-validator says: " + "; ".join(errors))
        if accepted:
            ctx.remember("probe", obj)


# ---- exports and validation ------------------------------------------------------------------


def cli_export(ctx, key, org):
    out = os.path.join(ctx.work, f"export-{key}-{org}.json")
    cmd = [ctx.kawal, "export", "--data", ctx.data, "--collection", ctx.collections[key],
           "--org", org, "--output", out]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    with open(out, encoding="utf-8") as f:
        return f.read()


def validate_objects(objects, cache):
    """Validates each object with default options (STIX 2.1), once per distinct content, and
    returns its errors and warnings, each prefixed with the object's id."""
    errors, warnings = [], []
    for obj in objects:
        key = json.dumps(obj, sort_keys=True)
        if key not in cache:
            try:
                result = validate_instance(obj, ValidationOptions())
                cache[key] = ([str(e) for e in result.errors], [str(w) for w in result.warnings])
            except Exception as e:  # the validator itself failed on this object
                cache[key] = ([f"the validator failed: {e!r}"], [])
        oid = str(obj.get("id"))
        found, warned = cache[key]
        errors += [m if m.startswith(oid + ":") else f"{oid}: {m}" for m in found]
        warnings += warned
    return errors, warnings


def exports(r, ctx):
    cache = {}
    totals = {"objects": 0, "warnings": {}, "samples": {}}
    for key in ("main", "paging", "alpha_only", "public", "probe"):
        expected = ctx.latest(key)
        taxii = [o for env in all_pages(ctx.alpha.collection(key).get_objects, 500) for o in objects_of(env)]
        cli_text = cli_export(ctx, key, "Alpha")
        http = ctx.alpha.raw("GET", f"/api/collections/{ctx.collections[key]}/export", accept=None)
        r.check(f"export `{key}`: HTTP export is 200 {STIX}",
                http.status_code == 200 and http.headers.get("Content-Type") == STIX,
                f"{http.status_code} {http.headers.get('Content-Type')}")
        bundles = {"kawal export": json.loads(cli_text), "GET /api/.../export": http.json()}
        for how, bundle in bundles.items():
            objects = bundle.get("objects", [])
            r.check(f"export `{key}` ({how}): a STIX bundle",
                    bundle.get("type") == "bundle" and str(bundle.get("id", "")).startswith("bundle--"))
            r.equal(f"export `{key}` ({how}): every object, newest version, nothing else",
                    sorted((o["id"], version_of(o)) for o in objects),
                    sorted((i, version_of(o)) for i, o in expected.items()))
            r.check(f"export `{key}` ({how}): objects exactly as stored",
                    all(o == expected.get(o["id"]) for o in objects))
        r.equal(f"export `{key}`: same objects as paging through TAXII get objects",
                sorted(o["id"] for o in bundles["kawal export"]["objects"]), sorted(o["id"] for o in taxii))

        gaps = {}
        for how, bundle in bundles.items():
            objects = bundle["objects"]
            errors, warnings = validate_objects(objects, cache)
            totals["objects"] += len(objects)
            for w in warnings:
                code = w.split("{", 1)[1].split("}", 1)[0] if "{" in w else "other"
                totals["warnings"][code] = totals["warnings"].get(code, 0) + 1
                totals["samples"].setdefault(code, w)
            if key == "probe":
                for e in errors:
                    gaps.setdefault(e.split(":", 1)[0], {}).setdefault(e, set()).add(how)
            else:
                r.check(f"stix2-validator on `{key}` ({how}): {len(objects)} objects, zero errors",
                        not errors, "\n      ".join(errors[:20]))
        # Probe objects the server stored: each validator error is a gap in its ingest
        # validation.
        for oid, errors in sorted(gaps.items()):
            hows = sorted(set().union(*errors.values()))
            r.check(f"stix2-validator on exported `{key}` object {oid} ({', '.join(hows)}): zero errors",
                    False, "SERVER VALIDATION GAP: " + "; ".join(e.split(": ", 1)[1] for e in errors))
        whole = validate_string(cli_text, ValidationOptions())
        results = whole if isinstance(whole, list) else [whole]
        if key != "probe":
            r.check(f"stix2-validator on `{key}`: the exported bundle as a whole is valid",
                    all(res.is_valid for res in results))
    r.equal("export: Gamma (outsider) gets 404 for the export of a private collection",
            ctx.gamma.raw("GET", f"/api/collections/{ctx.collections['main']}/export", accept=None).status_code,
            404)

    # The export applies the access policy like every other read.
    def exported(party, key):
        resp = party.raw("GET", f"/api/collections/{ctx.collections[key]}/export", accept=None)
        return {o["id"]: o for o in resp.json()["objects"]}

    if ctx.red:
        beta, delta = exported(ctx.beta, "main"), exported(ctx.delta, "main")
        r.check("export: Beta's export holds the RED object for Beta, not those for Delta or nobody",
                ctx.red["beta"] in beta and ctx.red["delta"] not in beta and ctx.red["nobody"] not in beta)
        r.check("export: Delta's export holds the RED object for Delta, not those for Beta or nobody",
                ctx.red["delta"] in delta and ctx.red["beta"] not in delta and ctx.red["nobody"] not in delta)
    if ctx.red_versioned:
        amber, red = ctx.red_versioned
        r.equal("export: Delta's export has the newest version Delta may read",
                exported(ctx.delta, "main").get(amber["id"]), amber)
        r.equal("export: Beta's export has the RED newest version", exported(ctx.beta, "main").get(red["id"]), red)
    anon = ctx.anonymous.raw("GET", f"/api/collections/{ctx.collections['public']}/export", accept=None).json()
    r.check("export: anonymous export of the public collection holds only TLP:CLEAR",
            all({TLP2_CLEAR, stix2.TLP_WHITE.id} & set(o.get("object_marking_refs", []))
                for o in anon["objects"]) and len(anon["objects"]) == 2)
    print(f"   stix2-validator: {totals['objects']} exported objects checked ({len(cache)} distinct), "
          f"{sum(totals['warnings'].values())} warnings (allowed)")
    for code, count in sorted(totals["warnings"].items()):
        print(f"     warning {{{code}}} x{count}, e.g. {totals['samples'][code]}")


# ---- main ------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the JSON file written by conformance.sh")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as f:
        ctx = Context(json.load(f))
    report = Report()
    started = time.monotonic()
    print(f"TAXII 2.1 conformance against {ctx.base_url}")

    objs = build_main_objects(ctx)
    ctx.status_main = ""
    ctx.versioned = ""
    ctx.red = {}
    ctx.red_versioned = None
    ctx.now_mark = "2000-01-01T00:00:00Z"

    with report.section("Discovery and API root"):
        discovery(report, ctx)
    with report.section("Collections"):
        collections_list(report, ctx)
    with report.section("Add objects and status"):
        add_and_status(report, ctx, objs)
    with report.section("Invalid objects"):
        invalid_bundle(report, ctx, objs)
    with report.section("Versions: match[version], get object, object versions, manifest"):
        versions(report, ctx, objs)
    with report.section("Filters: match[type], match[id], match[spec_version], added_after, limit"):
        filters(report, ctx, objs)
    with report.section(f"Paging over {PAGING_OBJECTS} objects (as_pages, next)"):
        paging(report, ctx)
    with report.section("X-TAXII-Date-Added-First/Last headers"):
        headers(report, ctx)
    with report.section("Content negotiation (406, 415)"):
        ctx.now_mark = ctx.alpha.raw("GET", f"/kawal/collections/{ctx.collections['main']}/manifest/?"
                                     "match[version]=all").headers.get(DATE_LAST, ctx.now_mark)
        negotiation(report, ctx)
    with report.section("Authentication"):
        authentication(report, ctx)
    with report.section("Write permissions"):
        write_permissions(report, ctx)
    with report.section("TLP:RED recipients and outsiders"):
        red_sharing(report, ctx, objs)
    with report.section("Public collection and anonymous readers"):
        public_collection(report, ctx)
    with report.section("Delete"):
        deletes(report, ctx, objs)
    with report.section("Status resources"):
        status_resources(report, ctx)
    with report.section("Ingest validation probe"):
        validation_probe(report, ctx)
    with report.section("Exports validated with stix2-validator"):
        exports(report, ctx)

    elapsed = time.monotonic() - started
    print()
    if report.failed:
        print("failed checks:")
        for name in report.failed:
            print(f"  - {name}")
    print(f"TAXII checks took {elapsed:.1f} s")
    t0 = os.environ.get("KAWAL_CONFORMANCE_T0")
    if t0:
        print(f"total run time (environment, setup, server, checks, exports): {time.time() - float(t0):.1f} s")
    print(f"conformance: {report.passed} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
