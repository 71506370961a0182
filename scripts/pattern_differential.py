#!/usr/bin/env python3
"""Differential test of Kawal's STIX pattern parser and matcher against the OASIS tools.

    pattern_differential.py --kawal BIN [--patterns N] [--seed S] [--keep DIR] [-v]

Generates, from a fixed seed, N patterns (valid ones from a grammar-aware generator, invalid
ones by mutating them) and observation sets (bundles of observed-data whose SCO values come
from the same pools as the patterns' literals, so that patterns do match). Then:

- every pattern's `stix2patterns.validator.run_validator` verdict is compared with
  `kawal pattern check --batch`;
- every pattern both accept is matched against two observation sets, with
  `stix2matcher.matcher` and with `kawal pattern match --batch`, and the verdicts (match,
  no match, error) compared.

A disagreement is explained when it is an instance of a divergence listed in docs/patterns.md
("Divergences from stix2-patterns" for parse verdicts, "Divergences from stix2-matcher" for
match verdicts); the rules recognising them are PARSE_DIVERGENCES and MATCH_DIVERGENCES
below, and each names its entry in the document, which must exist. Explained disagreements
are counted per divergence; any other fails the run (exit 1) and is printed.

Run by scripts/pattern_differential.sh, which provides the Python environment.
"""

import argparse
import base64
import copy
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "patterns.md")

# ---- Value pools ---------------------------------------------------------------------------
# Observations draw their values from these pools and patterns their literals, so equal
# values meet often enough for matches to happen.

STRINGS = [
    "alice", "bob", "carol", "evil.exe", "Evil.EXE", "evil.exe.bak", "a%b", "a_b", "100%",
    "line1\nline2", "trailing\n", "", " ", "caf\u00e9", "cafe\u0301", "\u1e0d\u0307",
    "d\u0323\u0307", "quote'inside", "back\\slash", "198.51.100.7", "12", "true",
    "C:\\Windows\\System32\\cmd.exe", "/usr/bin/curl", "GET /index.html", "\u00fcber",
    "\u65e5\u672c", "x" * 40, "tab\there", "MiXeD", "mixed",
]
INTS = [0, 1, -1, 2, 5, 53, 80, 443, 8080, 65535, 2 ** 31, -(2 ** 40), 10 ** 15]
FLOATS = [0.5, 1.0, -2.25, 12.658, 443.0, 1e-3, 100.25]
TIMESTAMPS = [
    "2020-01-01T00:00:00Z", "2020-01-01T00:00:05Z", "2020-01-01T00:01:00.5Z",
    "2019-12-31T23:59:59.999Z", "2020-01-01T00:00:00.123456Z", "2020-06-15T12:30:00Z",
]
BAD_TIMESTAMPS = ["2020-01-01", "2020-01-01T00:00:00", "yesterday", "2020-13-01T00:00:00Z"]
HEXES = ["00", "ff", "4d5a", "616c696365", "deadbeef", "0102030405", "e282ac"]
BASE64S = ["YWxpY2U=", "TVo=", "AAEC", "3q2+7w==", "ZXZpbC5leGU=", "4oKs"]
IPV4 = ["198.51.100.7", "198.51.100.200", "198.51.100.0/24", "198.51.100.0/25", "203.0.113.5",
        "10.1.2.3", "10.0.0.0/8", "192.0.2.1", "0.0.0.0/0", "198.51.100.7/32"]
IPV6 = ["2001:db8::1", "2001:db8::/32", "2001:db8:1::9", "::1", "2001:db8:1::/48",
        "2001:db8::1/128", "fe80::1", "::ffff:198.51.100.7"]
DOMAINS = ["evil.example", "a.evil.example", "good.example", "mail.good.example",
           "xn--bcher-kva.example", "EVIL.example"]
EMAILS = ["alice@evil.example", "bob@good.example", "carol@a.evil.example"]
MACS = ["00:00:5e:00:53:01", "00:00:5e:00:53:ff"]
PROTOCOLS = ["tcp", "udp", "tls", "http", "dns", "ipv4", "ipv6"]
MD5S = ["d41d8cd98f00b204e9800998ecf8427e", "0123456789abcdef0123456789abcdef",
        "D41D8CD98F00B204E9800998ECF8427E"]
SHA256S = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"]
MIMES = ["application/zip", "text/plain", "application/x-dosexec"]
# Regular expressions both Python's `re` and Rust's `regex` read alike.
REGEXES = ["^evil", "exe$", "^e.*e$", "l+", "^[a-c]", "\\\\.exe$", "^$", "a.b", "line1.line2",
           "^line2$", "^trailing$", "[0-9]+", "^caf\u00e9$", "^cafe\u0301$", "(?i)^evil\\\\.exe$",
           "^.{3}$", "x{40}", "^(alice|bob)$", "\\\\d", "^..?$", "%", "_", "\u00fc", "^\\\\w+$",
           "ff", "MZ", "\\\\x00", "^[^a]"]
LIKES = ["evil%", "%.exe", "%exe%", "a_b", "a\\_b", "%", "_", "", "line1%", "%line2", "%\n%",
         "line1_line2", "trailing_", "trailing%", "caf\u00e9", "cafe\u0301", "caf_", "%\u00e9",
         "_lice", "al%ce", "100%", "%\\%", "MZ%", "%.example", "%@evil.example"]

# The properties patterns and observations use: (object type, path in pattern syntax, kind).
PATHS = [
    ("file", "name", "str"), ("file", "size", "int"), ("file", "hashes.MD5", "md5"),
    ("file", "hashes.'SHA-256'", "sha256"), ("file", "parent_directory_ref.path", "str"),
    ("file", "magic_number_hex", "hex"), ("file", "ctime", "ts"), ("file", "mime_type", "mime"),
    ("file", "contains_refs[*].name", "str"), ("file", "contains_refs[0].size", "int"),
    ("file", "x_score", "float"),
    ("directory", "path", "str"),
    ("ipv4-addr", "value", "ip4"), ("ipv4-addr", "resolves_to_refs[*].value", "mac"),
    ("ipv6-addr", "value", "ip6"),
    ("domain-name", "value", "domain"), ("domain-name", "resolves_to_refs[*].value", "ip4"),
    ("domain-name", "resolves_to_refs[0].value", "ip4"),
    ("network-traffic", "src_ref.value", "ip4"), ("network-traffic", "dst_ref.value", "ip6"),
    ("network-traffic", "dst_port", "int"), ("network-traffic", "src_port", "int"),
    ("network-traffic", "protocols[*]", "proto"), ("network-traffic", "protocols[0]", "proto"),
    ("network-traffic", "protocols[1]", "proto"), ("network-traffic", "is_active", "bool"),
    ("network-traffic", "start", "ts"), ("network-traffic", "src_byte_count", "int"),
    ("email-message", "subject", "str"), ("email-message", "from_ref.value", "email"),
    ("email-message", "to_refs[*].value", "email"), ("email-message", "is_multipart", "bool"),
    ("email-message", "date", "ts"),
    ("process", "pid", "int"), ("process", "name", "str"), ("process", "arguments[*]", "str"),
    ("process", "arguments[2]", "str"), ("process", "command_line", "str"),
    ("process", "created_time", "ts"),
    ("artifact", "payload_bin", "bin"), ("artifact", "mime_type", "mime"),
    ("x-custom", "'has-hyphen'", "int"), ("x-custom", "'a.b'", "str"),
    ("x-custom", "score", "float"), ("x-custom", "nested.k[*]", "int"),
    ("x-custom", "nested.k[1]", "int"), ("x-custom", "nothing", "null"),
    ("x-custom", "text", "str"), ("x-custom", "flag", "bool"),
    ("x-custom", "nested.deep.v", "str"), ("x-custom", "when", "ts"),
    ("x-custom", "blob_hex", "hex"), ("x-custom", "list", "any"),
]
SCO_TYPES = sorted({t for t, _, _ in PATHS})
UNSEEN_PATHS = [("x-unseen", "value", "str"), ("file", "absent", "str"),
                ("file", "name.inner", "str"), ("network-traffic", "protocols[9]", "proto")]


def kind_values(kind):
    return {
        "str": STRINGS, "int": INTS, "float": FLOATS + INTS[:6], "ts": TIMESTAMPS,
        "hex": HEXES, "bin": BASE64S, "ip4": IPV4, "ip6": IPV6, "domain": DOMAINS,
        "email": EMAILS, "mac": MACS, "proto": PROTOCOLS, "md5": MD5S, "sha256": SHA256S,
        "mime": MIMES, "bool": [True, False], "null": [None],
        "any": STRINGS[:5] + INTS[:5] + [True, None, 1.5],
    }[kind]


# ---- Observations ----------------------------------------------------------------------------

BASE_TIME = 1577836800  # 2020-01-01T00:00:00Z


def ts_text(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class ObservationGenerator:
    def __init__(self, rng):
        self.rng = rng

    def new_id(self, kind):
        return "%s--%s" % (kind, uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def value(self, kind):
        rng = self.rng
        if kind == "ts" and rng.random() < 0.06:
            return rng.choice(BAD_TIMESTAMPS)
        return rng.choice(kind_values(kind))

    def sco(self, kind, scos):
        """A new SCO of the given type (appended to scos with the objects it refers to)."""
        rng = self.rng
        obj = {"type": kind, "spec_version": "2.1", "id": self.new_id(kind)}
        scos.append(obj)

        def maybe(p=0.8):
            return rng.random() < p

        def ref(kind_):
            return self.sco(kind_, scos)["id"]

        if kind == "file":
            if maybe():
                obj["name"] = self.value("str")
            if maybe(0.6):
                obj["size"] = self.value("int")
            hashes = {}
            if maybe(0.5):
                hashes["MD5"] = self.value("md5")
            if maybe(0.4):
                hashes["SHA-256"] = self.value("sha256")
            if hashes:
                obj["hashes"] = hashes
            if maybe(0.4):
                obj["magic_number_hex"] = self.value("hex")
            if maybe(0.4):
                obj["ctime"] = self.value("ts")
            if maybe(0.4):
                obj["mime_type"] = self.value("mime")
            if maybe(0.3):
                obj["x_score"] = self.value("float")
            if maybe(0.3) and len(scos) < 12:
                obj["parent_directory_ref"] = ref("directory")
            if maybe(0.2) and len(scos) < 12:
                obj["contains_refs"] = [ref("file") for _ in range(rng.randint(1, 2))]
        elif kind == "directory":
            obj["path"] = self.value("str")
        elif kind == "ipv4-addr":
            obj["value"] = self.value("ip4")
            if maybe(0.3):
                obj["resolves_to_refs"] = [ref("mac-addr")]
        elif kind == "ipv6-addr":
            obj["value"] = self.value("ip6")
        elif kind == "mac-addr":
            obj["value"] = self.value("mac")
        elif kind == "domain-name":
            obj["value"] = self.value("domain")
            if maybe(0.5):
                obj["resolves_to_refs"] = [ref("ipv4-addr") for _ in range(rng.randint(1, 2))]
        elif kind == "network-traffic":
            if maybe():
                obj["src_ref"] = ref("ipv4-addr")
            if maybe(0.6):
                obj["dst_ref"] = ref(rng.choice(["ipv6-addr", "ipv4-addr"]))
            if maybe():
                obj["dst_port"] = self.value("int")
            if maybe(0.5):
                obj["src_port"] = self.value("int")
            obj["protocols"] = rng.sample(PROTOCOLS, rng.randint(1, 3))
            if maybe(0.5):
                obj["is_active"] = self.value("bool")
            if maybe(0.5):
                obj["start"] = self.value("ts")
            if maybe(0.4):
                obj["src_byte_count"] = self.value("int")
        elif kind == "email-addr":
            obj["value"] = self.value("email")
        elif kind == "email-message":
            obj["is_multipart"] = self.value("bool")
            if maybe():
                obj["subject"] = self.value("str")
            if maybe():
                obj["from_ref"] = ref("email-addr")
            if maybe(0.6):
                obj["to_refs"] = [ref("email-addr") for _ in range(rng.randint(1, 2))]
            if maybe(0.5):
                obj["date"] = self.value("ts")
        elif kind == "process":
            if maybe():
                obj["pid"] = self.value("int")
            if maybe():
                obj["name"] = self.value("str")
            if maybe(0.6):
                obj["arguments"] = [self.value("str") for _ in range(rng.randint(1, 4))]
            if maybe(0.6):
                obj["command_line"] = self.value("str")
            if maybe(0.4):
                obj["created_time"] = self.value("ts")
        elif kind == "artifact":
            obj["payload_bin"] = self.value("bin")
            if maybe(0.5):
                obj["mime_type"] = self.value("mime")
        elif kind == "x-custom":
            if maybe():
                obj["has-hyphen"] = self.value("int")
            if maybe():
                obj["a.b"] = self.value("str")
            if maybe():
                obj["score"] = self.value("float")
            if maybe():
                obj["nested"] = {"k": [self.value("int") for _ in range(rng.randint(0, 3))],
                                 "deep": {"v": self.value("str")}}
            if maybe(0.5):
                obj["nothing"] = None
            if maybe():
                obj["text"] = self.value("str")
            if maybe():
                obj["flag"] = self.value("bool")
            if maybe(0.5):
                obj["when"] = self.value("ts")
            if maybe(0.5):
                obj["blob_hex"] = self.value("hex")
            if maybe(0.5):
                obj["list"] = [self.value("any") for _ in range(rng.randint(0, 3))]
        return obj

    def observation_set(self):
        """A JSON array of bundles of observed-data and their SCOs."""
        rng = self.rng
        bundles = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            objects = []
            for _ in range(rng.randint(1, 3)):
                scos = []
                for _ in range(rng.randint(1, 3)):
                    self.sco(rng.choice(SCO_TYPES), scos)
                first = BASE_TIME + rng.randint(0, 120)
                last = first + rng.choice([0, 0, 0, 1, 5, 30])
                objects.append({
                    "type": "observed-data", "spec_version": "2.1",
                    "id": self.new_id("observed-data"),
                    "created": ts_text(first), "modified": ts_text(first),
                    "first_observed": ts_text(first), "last_observed": ts_text(last),
                    "number_observed": rng.choice([1, 1, 1, 2, 3]),
                    # Referenced objects are listed too: references resolve only within
                    # one observed-data's objects.
                    "object_refs": [o["id"] for o in scos],
                })
                objects.extend(scos)
            bundles.append({"type": "bundle", "id": self.new_id("bundle"), "objects": objects})
        return bundles


# ---- Patterns --------------------------------------------------------------------------------

def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_float(x):
    text = repr(float(x))
    return text if "e" not in text else "%.6f" % x


class PatternGenerator:
    def __init__(self, rng):
        self.rng = rng

    def literal(self, kind):
        """A literal, of the path's kind mostly, of any kind sometimes."""
        rng = self.rng
        if rng.random() < 0.25:
            kind = rng.choice(["str", "int", "float", "ts", "hex", "bin", "bool", "ip4", "md5"])
        if kind in ("null", "any"):
            kind = rng.choice(["str", "int", "bool"])
        if kind == "int":
            return str(rng.choice(INTS))
        if kind == "float":
            return format_float(rng.choice(FLOATS))
        if kind == "bool":
            return rng.choice(["true", "false"])
        if kind == "ts":
            r = rng.random()
            if r < 0.6:
                return "t'%s'" % rng.choice(TIMESTAMPS)
            if r < 0.8:
                return quote(rng.choice(TIMESTAMPS))
            return rng.choice(["t'2020-02-30T00:00:00Z'", "t'2020-01-01T00:00:60Z'",
                               "t'2020-01-01 00:00:00Z'", "t'2020-01-01T00:00:00'"])
        if kind == "hex":
            r = rng.random()
            if r < 0.5:
                return "h'%s'" % rng.choice(HEXES)
            if r < 0.7:
                return "b'%s'" % base64.b64encode(bytes.fromhex(rng.choice(HEXES))).decode()
            return quote(bytes.fromhex(rng.choice(HEXES)).decode("latin-1"))
        if kind == "bin":
            r = rng.random()
            if r < 0.5:
                return "b'%s'" % rng.choice(BASE64S)
            if r < 0.7:
                return "h'%s'" % base64.b64decode(rng.choice(BASE64S)).hex()
            return quote(base64.b64decode(rng.choice(BASE64S)).decode("latin-1"))
        return quote(rng.choice(kind_values(kind)))

    def path(self):
        rng = self.rng
        if rng.random() < 0.04:
            return rng.choice(UNSEEN_PATHS)
        return rng.choice(PATHS)

    def test(self):
        rng = self.rng
        object_type, path, kind = self.path()
        target = "%s:%s" % (object_type, path)
        negate = "NOT " if rng.random() < 0.15 else ""
        r = rng.random()
        if r < 0.30:
            op = rng.choice(["=", "=", "!="])
            return "%s %s%s %s" % (target, negate, op, self.literal(kind))
        if r < 0.45:
            op = rng.choice(["<", "<=", ">", ">="])
            lit = self.literal(kind)
            if lit in ("true", "false"):
                lit = "1"
            return "%s %s%s %s" % (target, negate, op, lit)
        if r < 0.57:
            members = [self.literal(kind) for _ in range(rng.choice([0, 1, 2, 3, 3]))]
            if rng.random() < 0.8:  # mostly one type, as the standard asks
                members = [m for m in members if kind_of_literal(m) == kind_of_literal(members[0])]
            return "%s %sIN (%s)" % (target, negate, ", ".join(members))
        if r < 0.69:
            like = rng.choice(LIKES + [v for v in kind_values(kind) if isinstance(v, str)][:4])
            return "%s %sLIKE %s" % (target, negate, quote(like))
        if r < 0.80:
            return "%s %sMATCHES %s" % (target, negate, "'%s'" % rng.choice(REGEXES).replace("'", "\\'"))
        if r < 0.90:
            op = rng.choice(["ISSUBSET", "ISSUPERSET"])
            return "%s %s%s %s" % (target, negate, op, quote(rng.choice(IPV4 + IPV6)))
        return "%sEXISTS %s" % (negate, target)

    def comparison(self, depth=0):
        rng = self.rng
        if depth < 2 and rng.random() < 0.3:
            op = rng.choice(["AND", "OR"])
            text = "%s %s %s" % (self.comparison(depth + 1), op, self.comparison(depth + 1))
            return "(%s)" % text if rng.random() < 0.4 else text
        return self.test()

    def observation(self, budget):
        """An observation expression with at most `budget` brackets."""
        rng = self.rng
        if budget > 1 and rng.random() < 0.35:
            left = rng.randint(1, budget - 1)
            op = rng.choice(["AND", "OR", "FOLLOWEDBY"])
            text = "%s %s %s" % (self.observation(left), op, self.observation(budget - left))
            # Without parentheses, precedence decides (and a qualifier binds to the last part).
            if rng.random() < 0.7:
                text = "(%s)" % text
        else:
            text = "[%s]" % self.comparison()
        kinds = ["WITHIN", "REPEATS", "START"]
        r = rng.random()
        qualifiers = 0 if r < 0.8 else 1 if r < 0.95 else 2
        for kind in rng.sample(kinds, qualifiers):
            text += " " + self.qualifier(kind)
        return text

    def qualifier(self, kind):
        rng = self.rng
        if kind == "WITHIN":
            return "WITHIN %s SECONDS" % rng.choice(["1", "5", "30", "0.5", "120", "2.5"])
        if kind == "REPEATS":
            return "REPEATS %d TIMES" % rng.choice([1, 2, 2, 3])
        start = BASE_TIME + rng.choice([-60, 0, 10, 60])
        stop = start + rng.choice([1, 30, 60, 600])
        return "START t'%s' STOP t'%s'" % (ts_text(start), ts_text(stop))

    def pattern(self):
        return self.observation(self.rng.choice([1, 1, 1, 2, 2, 3]))


def kind_of_literal(text):
    if text.startswith("t'"):
        return "ts"
    if text.startswith(("h'", "b'")):
        return "binary"
    if text.startswith("'"):
        return "str"
    if text in ("true", "false"):
        return "bool"
    return "number"


TOKEN = re.compile(r"[thb]'[^']*'|'(?:[^'\\]|\\.)*'|[A-Za-z_][A-Za-z0-9_-]*|-?\d+(?:\.\d+)?|"
                   r"<=|>=|!=|\s+|.")
FRAGMENTS = ["[", "]", "(", ")", "'", ":", ".", "AND", "OR", "NOT", "FOLLOWEDBY", "EXISTS",
             "WITHIN 0 SECONDS", "REPEATS 0 TIMES", "[*]", "[-1]", "= 1", "IN ()", "and",
             "h'0'", "b'A'", "t'2020-01-01T00:00:00Z'", "x-y", "-", ".5", "1.", "\\", "LIKE",
             "MATCHES '('", "hashes.MD5 = 'abc'", "ISSUBSET", "true", "'SHA-256'", ","]


def mutate(rng, pattern):
    tokens = TOKEN.findall(pattern)
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not tokens:
            tokens = [""]
        i = rng.randrange(len(tokens))
        action = rng.randrange(7)
        if action == 0:
            del tokens[i]
        elif action == 1:
            tokens.insert(i, tokens[i])
        elif action == 2:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif action == 3:
            tokens[i] = tokens[i].swapcase()
        elif action == 4:
            tokens.insert(i, rng.choice(FRAGMENTS))
        elif action == 5:
            tokens[i] = rng.choice(FRAGMENTS)
        elif tokens[i]:
            k = rng.randrange(len(tokens[i]))
            tokens[i] = tokens[i][:k] + tokens[i][k + 1:]
    return "".join(tokens)


def generate(seed, count, sets):
    rng = random.Random(seed)
    observations = [ObservationGenerator(rng).observation_set() for _ in range(sets)]
    generator = PatternGenerator(rng)
    patterns, seen = [], set()
    while len(patterns) < count:
        p = generator.pattern()
        if rng.random() < 0.35:
            p = mutate(rng, p)
        # One pattern a line for the batch runs.
        if "\n" in p or "\r" in p or p in seen:
            continue
        seen.add(p)
        patterns.append(p)
    return patterns, observations


# ---- Running both sides ----------------------------------------------------------------------

class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def oasis_parse(run_validator, pattern):
    try:
        errors = run_validator(pattern, "2.1")
    except Exception as e:  # noqa: BLE001 - the validator crashing is a refusal
        return "invalid", "crash: %s" % type(e).__name__
    return ("invalid", errors[0]) if errors else ("valid", "")


def oasis_match(matcher, pattern, observation_sets, limit):
    """stix2-matcher's verdicts on one pattern for each observation set."""
    try:
        compiled = matcher.Pattern(pattern, "2.1")
    except Exception as e:  # noqa: BLE001
        return [("error", "%s: %s" % (type(e).__name__, e))] * len(observation_sets)
    out = []
    for observations in observation_sets:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            found = compiled.match(copy.deepcopy(observations))
            out.append(("match" if found else "no match", ""))
        except Timeout:
            out.append(("timeout", ""))
        except Exception as e:  # noqa: BLE001 - MatcherException and crashes alike
            out.append(("error", "%s: %s" % (type(e).__name__, e)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return out


def kawal_batch(kawal, args, patterns, work):
    path = os.path.join(work, "patterns.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for p in patterns))
    proc = subprocess.run([kawal, "pattern"] + args[:1] + ["--batch", path] + args[1:],
                          capture_output=True, text=True, encoding="utf-8")
    if proc.returncode not in (0, 1):
        sys.exit("kawal %s failed (%d): %s" % (args[0], proc.returncode, proc.stderr.strip()))
    lines = proc.stdout.split("\n")[:-1]
    if len(lines) != len(patterns):
        sys.exit("kawal %s --batch answered %d lines for %d patterns"
                 % (args[0], len(lines), len(patterns)))
    return lines


def kawal_parse(line):
    if line == "valid":
        return "valid", ""
    verdict, _, message = line.partition("\t")
    return verdict, message


def kawal_match(line):
    if line.startswith("match"):
        return "match", line
    if line == "no match":
        return "no match", ""
    verdict, _, message = line.partition("\t")
    return verdict, message


# ---- Divergences -----------------------------------------------------------------------------
# Each rule: (entry in docs/patterns.md, predicate). Parse predicates get
# (pattern, oasis verdict, oasis message, kawal verdict, kawal message); match predicates get
# (pattern, observations, oasis verdict, oasis message, kawal verdict, kawal message).

def _kawal_refuses(*fragments):
    def rule(pattern, theirs, their_message, ours, our_message):
        return theirs == "valid" and ours == "invalid" and any(f in our_message for f in fragments)
    return rule


PARSE_DIVERGENCES = [
    ("Dates that do not exist.", _kawal_refuses("has no day")),
    ("START not before STOP.", _kawal_refuses("START must be earlier")),
    ("WITHIN 0 SECONDS, REPEATS 0 TIMES.", _kawal_refuses("takes a positive")),
    ("Numbers outside 64 bits.", _kawal_refuses("literal out of range")),
    ("MATCHES expressions.", _kawal_refuses(
        "not supported in MATCHES", "ambiguous in MATCHES", "in regular expression",
        "invalid regular expression", "quantifier directly after", "are not PCRE",
        "recursion in PCRE")),
    ("MD6 values.", _kawal_refuses("is not a valid MD6 hash")),
    ("Hashes compared with non-strings.", _kawal_refuses("hash compared with")),
    ("Nesting deeper than 100", _kawal_refuses("nested too deeply")),
    ("Hash values in IN sets.", lambda p, t, tm, o, om: t == "invalid" and o == "valid"
        and "is not a valid" in tm and re.search(r"\bIN\s*\(", p) is not None),
    ("LIKE and MATCHES on hashes.", lambda p, t, tm, o, om: t == "invalid" and o == "valid"
        and "is not a valid" in tm and re.search(r"\b(LIKE|MATCHES)\b", p) is not None),
    ("Negative list indexes, and hash paths ending in an index.",
        lambda p, t, tm, o, om: t == "invalid" and o == "valid" and tm.startswith("crash")),
    ("Comments before the first bracket.", lambda p, t, tm, o, om: t == "invalid"
        and o == "valid" and "missing square brackets" in tm),
]

# Match divergences. Some show as an error stix2-matcher raises, which names its cause; the
# others are silent, and are recognised by a counterfactual: stix2-matcher run again with the
# behaviour the divergence describes changed to Kawal's (a patch applied while it matches)
# must then give Kawal's verdict.

def _raises(pattern_re, *messages):
    def rule(pattern, observations, theirs, their_message, ours, our_message):
        return (theirs == "error" and any(m in their_message for m in messages)
                and re.search(pattern_re, pattern) is not None)
    return rule


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _uses_with_newlines(operator):
    def rule(pattern, observations, theirs, their_message, ours, our_message):
        return (re.search(r"\b%s\b" % operator, pattern) is not None
                and any("\n" in s for s in _strings(observations)))
    return rule


class _Patch:
    """Changes stix2-matcher while a `with` block runs."""

    def __init__(self, install):
        self.install = install
        self.undo = []

    def __enter__(self):
        self.undo = self.install()

    def __exit__(self, *exc):
        for target, name, value in reversed(self.undo):
            setattr(target, name, value)


def _exists_handler():
    """Gives stix2-matcher the EXISTS handler it lacks: the roots having the path, or with
    NOT the roots of the object type lacking it."""
    import stix2matcher.matcher as m

    def exit_prop_test_exists(self, ctx):
        present = m._obs_map_prop_test(self._MatchListener__pop("EXISTS"), lambda v: True)
        if not ctx.NOT():
            self._MatchListener__push(present, "EXISTS")
            return
        object_type = ctx.objectPath().objectType().getText()
        absent = {}
        for index, observation in enumerate(self._MatchListener__observations):
            roots = {o["id"] for o in observation.get("objects", [])
                     if o.get("type") == object_type and object_type not in m.TYPES_V21}
            roots -= present.get(index, set())
            if roots:
                absent[index] = roots
        self._MatchListener__push(absent, "NOT EXISTS")

    had = m.MatchListener.__dict__.get("exitPropTestExists")
    m.MatchListener.exitPropTestExists = exit_prop_test_exists
    if had is None:
        return [(m.MatchListener, "exitPropTestExists",
                 m.STIXPatternListener.exitPropTestExists)]
    return [(m.MatchListener, "exitPropTestExists", had)]


def _like_dotall():
    """LIKE's `%` and `_` match line breaks and `$` is the very end, as in Kawal."""
    import stix2matcher.matcher as m
    original = m._like_to_regex
    m._like_to_regex = lambda like: "(?s)" + original(like)[:-1] + "\\Z"
    return [(m, "_like_to_regex", original)]


def _end_anchors(source):
    """A regular expression with each `$` outside character classes made `\\Z`."""
    is_bytes = isinstance(source, bytes)
    text = source.decode("latin-1") if is_bytes else source
    out, i, in_class = [], 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            # A `]` (after an optional `^`) first in a class is literal.
            if text[i:i + 1] == "^":
                out.append("^")
                i += 1
            if text[i:i + 1] == "]":
                out.append("]")
                i += 1
            continue
        elif c == "$":
            c = "\\Z"
        out.append(c)
        i += 1
    text = "".join(out)
    return text.encode("latin-1") if is_bytes else text


def _matches_dotall():
    """MATCHES with the DOTALL option and `$` only at the very end, as in Kawal."""
    import stix2matcher.matcher as m
    real_re = m.re

    class DotAllRe:
        def __getattr__(self, name):
            return getattr(real_re, name)

        @staticmethod
        def compile(source, flags=0):
            return real_re.compile(_end_anchors(source), flags | real_re.DOTALL)

    original = m.MatchListener.exitPropTestRegex

    def exit_prop_test_regex(self, ctx):
        m.re = DotAllRe()
        try:
            return original(self, ctx)
        finally:
            m.re = real_re

    m.MatchListener.exitPropTestRegex = exit_prop_test_regex
    return [(m.MatchListener, "exitPropTestRegex", original)]


def _negated_orderings():
    """NOT negates an ordering of values of incomparable types (false, so NOT gives true)."""
    import stix2matcher.matcher as m
    original = m._get_table_symmetric

    def incomparable(a, b):
        raise ValueError("incomparable")

    def lookup(table, type1, type2):
        found = original(table, type1, type2)
        if found is None and table is m._COMPARE_ORDER_FUNCS:
            # The order test reads a ValueError as "false" and then applies NOT.
            return incomparable
        return found

    m._get_table_symmetric = lookup
    return [(m, "_get_table_symmetric", original)]


class _EqualitySet(set):
    """A set whose membership test is the `=` of the matcher's comparison table, so that
    IN holds exactly when `=` holds for one member."""

    def __contains__(self, value):
        import stix2matcher.matcher as m
        for member in self:
            equal = m._get_table_symmetric(m._COMPARE_EQ_FUNCS, type(member), type(value))
            if equal is not None and equal(value, member):
                return True
        return False


def _in_as_equality():
    import stix2matcher.matcher as m
    original = m.MatchListener.exitSetLiteral

    def exit_set_literal(self, ctx):
        original(self, ctx)
        self._MatchListener__push(_EqualitySet(self._MatchListener__pop("IN")), "IN")

    m.MatchListener.exitSetLiteral = exit_set_literal
    return [(m.MatchListener, "exitSetLiteral", original)]


def _unicode_classes(pattern, observations, theirs, their_message, ours, our_message):
    """A MATCHES expression with a class shorthand such as \\w, and text beyond ASCII."""
    return (re.search(r"MATCHES '[^']*\\\\[wWdDsSbB]", pattern) is not None
            and any(not s.isascii() for s in _strings(observations)))


def _kawal_refuses_network(pattern, observations, theirs, their_message, ours, our_message):
    return ours == "error" and "is not an IP address or CIDR block" in our_message


# (entry in docs/patterns.md, precondition, patch or None)
MATCH_DIVERGENCES = [
    ("IP addresses and CIDR blocks", _raises(r"\bISSU(BSET|PERSET)\b",
     "Invalid IPv4 address", "Invalid CIDR subnet"), None),
    ("IP addresses and CIDR blocks", _kawal_refuses_network, None),
    ("Strings compared with timestamps", _raises(r"t'", "Invalid timestamp in JSON"), None),
    ("Leap seconds", _raises(r":60(\.\d+)?Z'", "Invalid TimestampLiteral"), None),
    ("LIKE on binary values that are not UTF-8", _raises(r"\bLIKE\b", "UnicodeDecodeError"),
     None),
    ("EXISTS", lambda p, *rest: "EXISTS" in p, _exists_handler),
    ("LIKE and line breaks", _uses_with_newlines("LIKE"), _like_dotall),
    ("MATCHES and line breaks", _uses_with_newlines("MATCHES"), _matches_dotall),
    ("NOT before an ordering of incomparable values",
     lambda p, *rest: re.search(r"\bNOT\s*[<>]", p) is not None, _negated_orderings),
    ("IN and the types of values", lambda p, *rest: re.search(r"\bIN\b", p) is not None,
     _in_as_equality),
    ("MATCHES and Unicode classes", _unicode_classes, None),
]


def explain(rules, *args):
    for name, rule in rules:
        if rule(*args):
            return name
    return None


def explain_match(matcher, pattern, observations, limit, theirs, their_message, ours,
                  our_message):
    """The divergences that explain a match disagreement, joined with ` + `, or None."""
    def by_error(verdict, message):
        for name, rule, patch in MATCH_DIVERGENCES:
            if patch is None and rule(pattern, observations, verdict, message, ours,
                                      our_message):
                return name
        return None

    found = by_error(theirs, their_message)
    if found:
        return found
    args = (pattern, observations, theirs, their_message, ours, our_message)
    patches = [(name, patch) for name, rule, patch in MATCH_DIVERGENCES
               if patch is not None and rule(*args)]
    # One patch at a time, then all of them together.
    trials = [[p] for p in patches] + ([patches] if len(patches) > 1 else [])
    for trial in trials:
        contexts = [_Patch(patch) for _, patch in trial]
        for c in contexts:
            c.__enter__()
        try:
            (verdict, message), = oasis_match(matcher, pattern, [observations], limit)
        finally:
            for c in reversed(contexts):
                c.__exit__()
        names = [name for name, _ in trial]
        if verdict != ours:
            # Changed, stix2-matcher may now stop at an error another divergence explains.
            also = by_error(verdict, message)
            if also is None:
                continue
            names.append(also)
        return " + ".join(names)
    return None


def documented_names(text):
    """The divergence names docs/patterns.md lists: bold list titles and ### headings."""
    names = set(re.findall(r"^\d+\. \*\*(.+?)\*\*", text, re.M))
    names |= {h.strip() for h in re.findall(r"^### (.+)$", text, re.M)}
    return names


# ---- Main ------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kawal", required=True)
    parser.add_argument("--patterns", type=int, default=10000)
    parser.add_argument("--observation-sets", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20210)
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds stix2-matcher may take for one match")
    parser.add_argument("--keep", help="write patterns, observations and verdicts here")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print explained disagreements too")
    args = parser.parse_args()

    with open(DOCS, encoding="utf-8") as f:
        names = documented_names(f.read())
    missing = [n for n, _ in PARSE_DIVERGENCES if n not in names]
    missing += [n for n, _, _ in MATCH_DIVERGENCES if n not in names]
    if missing:
        sys.exit("divergences not listed in docs/patterns.md: %s" % ", ".join(missing))

    from stix2patterns.validator import run_validator
    import stix2matcher.matcher as matcher
    signal.signal(signal.SIGALRM, _alarm)

    t0 = time.time()
    patterns, observation_sets = generate(args.seed, args.patterns, args.observation_sets)
    work = args.keep or tempfile.mkdtemp(prefix="kawal-differential.")
    os.makedirs(work, exist_ok=True)
    t_gen = time.time()

    # Parse verdicts.
    theirs = [oasis_parse(run_validator, p) for p in patterns]
    t_validator = time.time()
    ours = [kawal_parse(l) for l in kawal_batch(args.kawal, ["check"], patterns, work)]
    t_check = time.time()

    failures = []
    explained_counts = {}
    parse_agree = 0
    for p, (t, tm), (o, om) in zip(patterns, theirs, ours):
        if t == o:
            parse_agree += 1
            continue
        name = explain(PARSE_DIVERGENCES, p, t, tm, o, om)
        if name:
            explained_counts[("parse", name)] = explained_counts.get(("parse", name), 0) + 1
            if args.verbose:
                print("explained (%s): %r\n    stix2-patterns: %s %s\n    kawal: %s %s"
                      % (name, p, t, tm, o, om))
        else:
            failures.append("parse: %r\n    stix2-patterns: %s %s\n    kawal: %s %s"
                            % (p, t, tm, o, om))

    # Match verdicts, for the patterns both accept: each against two observation sets.
    both = [i for i, ((t, _), (o, _)) in enumerate(zip(theirs, ours))
            if t == "valid" and o == "valid"]
    k = len(observation_sets)
    pairs = {i: (i % k, (i * 7 + 3) % k) for i in both}
    their_match = {}
    for i in both:
        sets = [observation_sets[j] for j in pairs[i]]
        for j, verdict in zip(pairs[i], oasis_match(matcher, patterns[i], sets, args.timeout)):
            their_match[(i, j)] = verdict
    t_matcher = time.time()
    our_match = {}
    by_set = {}
    for i in both:
        for j in pairs[i]:
            by_set.setdefault(j, []).append(i)
    for j, members in sorted(by_set.items()):
        path = os.path.join(work, "observations-%03d.json" % j)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(observation_sets[j], f, ensure_ascii=False)
        lines = kawal_batch(args.kawal, ["match", path], [patterns[i] for i in members], work)
        for i, line in zip(members, lines):
            our_match[(i, j)] = kawal_match(line)
    t_match = time.time()

    match_counts = {}
    timeouts = 0
    for key in sorted(their_match):
        i, j = key
        (t, tm), (o, om) = their_match[key], our_match[key]
        if t == "timeout":
            timeouts += 1
            continue
        if t == o:
            match_counts[t] = match_counts.get(t, 0) + 1
            continue
        name = explain_match(matcher, patterns[i], observation_sets[j], args.timeout,
                             t, tm, o, om)
        if name:
            explained_counts[("match", name)] = explained_counts.get(("match", name), 0) + 1
            if args.verbose:
                print("explained (%s): %r on set %d\n    stix2-matcher: %s %s\n    kawal: %s %s"
                      % (name, patterns[i], j, t, tm, o, om))
        else:
            failures.append("match: %r on observations-%03d.json\n    stix2-matcher: %s %s\n"
                            "    kawal: %s %s" % (patterns[i], j, t, tm, o, om))

    if args.keep:
        with open(os.path.join(work, "verdicts.jsonl"), "w", encoding="utf-8") as f:
            for i, p in enumerate(patterns):
                record = {"pattern": p, "stix2_patterns": theirs[i], "kawal": ours[i]}
                for j in pairs.get(i, ()):
                    record["set %d" % j] = {"stix2_matcher": their_match[(i, j)],
                                            "kawal": our_match[(i, j)]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            for j, s in enumerate(observation_sets):
                with open(os.path.join(work, "observations-%03d.json" % j), "w",
                          encoding="utf-8") as g:
                    json.dump(s, g, ensure_ascii=False, indent=1)

    # Guard against a generator that stopped exercising anything.
    compared = len(their_match) - timeouts
    if len(patterns) >= 1000 and match_counts.get("match", 0) < compared // 20:
        failures.append("only %d of %d comparisons match: the generated observations no longer "
                        "meet the patterns" % (match_counts.get("match", 0), compared))
    if timeouts > compared // 100:
        failures.append("stix2-matcher timed out on %d comparisons" % timeouts)

    for failure in failures:
        print("UNEXPLAINED " + failure)
    valid_theirs = sum(1 for t, _ in theirs if t == "valid")
    valid_ours = sum(1 for o, _ in ours if o == "valid")
    print("patterns: %d generated (seed %d), %d observation sets"
          % (len(patterns), args.seed, len(observation_sets)))
    print("parse: stix2-patterns accepts %d, kawal %d; %d agree" % (valid_theirs, valid_ours, parse_agree))
    print("match: %d comparisons of %d patterns both accept; agree: %s; %d stix2-matcher time-outs"
          % (compared, len(both),
             ", ".join("%d %s" % (n, v) for v, n in sorted(match_counts.items())), timeouts))
    for (what, name), n in sorted(explained_counts.items()):
        print("  explained %s disagreements, %s: %d" % (what, name, n))
    print("time: generate %.1fs, stix2-patterns %.1fs, kawal check %.1fs, stix2-matcher %.1fs, "
          "kawal match %.1fs" % (t_gen - t0, t_validator - t_gen, t_check - t_validator,
                                 t_matcher - t_check, t_match - t_matcher))
    passed = parse_agree + sum(match_counts.values()) + sum(explained_counts.values())
    print("pattern differential: %d passed, %d failed" % (passed, len(failures)))
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
