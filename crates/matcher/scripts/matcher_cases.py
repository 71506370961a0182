#!/usr/bin/env python3
"""Regenerates tests/data/stix2_matcher/*.json from the test suite of the OASIS `stix2-matcher`
(repository cti-pattern-matcher, modules stix2matcher/test/v21/test_*.py).

    python3 -m venv /tmp/matcher-cases
    /tmp/matcher-cases/bin/pip install stix2-matcher==3.0.0 stix2-patterns==2.1.2 pytest
    /tmp/matcher-cases/bin/python scripts/matcher_cases.py [--check]

The released package ships its test modules, so they are imported from the installed package
and run by pytest in this process. Every call a test makes to `match` is recorded with the
pattern and a copy of the observations it was given, and the call is run for real: the
verdict written is stix2-matcher's own answer, not the test's intent (a case whose test
failed is kept, and says so). Tests that call no `match` (the interval helpers of
test_temporal_qualifiers) are left out. Calls a test makes without a STIX version (2.0, the
library's default) are recorded with their STIX 2.0 verdict when the pattern is also a STIX 2.1
pattern (the two grammars differ only in START/STOP literals), as a pattern error otherwise:
stix2-matcher reads the deprecated embedded `objects` form only as STIX 2.0, and Kawal reads
it too.

Each data file is one JSON object:

    {"source": ..., "observations": {KEY: <what the test passed to match>, ...},
     "cases": [{"name", "pattern", "observations": KEY,
                "stix2_matcher": "match" | "no match" | "pattern error" | "matcher error" | "crash",
                "message"?: the exception's text,
                "expect": "match" | "no match" | "pattern error" | "observation error",
                "divergence"?: a heading of docs/patterns.md "Divergences from stix2-matcher",
                "note"?: why the expected verdict is what it is}, ...]}

`expect` is Kawal's verdict. It is stix2-matcher's unless EXPECTED below says otherwise: a
case where stix2-matcher raises MatcherException must be listed there, either with the
refusal Kawal gives too (no divergence) or with Kawal's verdict and the divergence that
explains it. --check regenerates into memory and fails if the files differ or if an entry of
EXPECTED matches no case.
"""

import argparse
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "stix2_matcher")
PACKAGE_VERSION = "3.0.0"

# Kawal's verdicts where they are not stix2-matcher's, keyed by (test function, pattern).
# The third member names the divergence (a heading in docs/patterns.md) or is None when both
# refuse the case, only differently.
TS = "1996-07-11T09:17:10Z"
STRING_TS = "Strings compared with timestamps"
REFUSED = "Patterns Kawal's parser refuses"
EXPECTED = {
    # stix2-matcher reads a JSON string compared with a t'' literal as a timestamp and raises
    # when it is not one; Kawal compares it as any value of another type.
    ("test_basic_ops_string_err", "[test:string = t'1965-07-19T22:41:38Z']"): ("no match", STRING_TS),
    ("test_basic_ops_string_err", "[test:string != t'1965-07-19T22:41:38Z']"): ("match", STRING_TS),
    ("test_basic_ops_string_err", "[test:string > t'1965-07-19T22:41:38Z']"): ("no match", STRING_TS),
    **{("test_ts_json_error", "[event:bad_ts[%d] = t'%s']" % (i, TS)): ("no match", STRING_TS)
       for i in range(6)},
    # stix2-matcher reads patterns with the grammar alone; Kawal's parser also refuses what the
    # validator refuses (a qualifier repeated on one expression) and START not before STOP.
    **{("test_complex_match", "[person:age < 20] REPEATS 2 TIMES REPEATS 2 TIMES"): ("pattern error", REFUSED),
       ("test_complex_nomatch", "[person:age < 20] REPEATS 2 TIMES REPEATS 3 TIMES"): ("pattern error", REFUSED),
       ("test_combinatorial_explosion_match", "[person:age < 20] REPEATS 5 TIMES REPEATS 2 TIMES"): ("pattern error", REFUSED),
       ("test_combinatorial_explosion_match", "[person:age < 20] REPEATS 2 TIMES REPEATS 5 TIMES"): ("pattern error", REFUSED)},
    ("test_temp_qual_nomatch", "[person:name = 'bob'] START t'1994-11-29T13:37:58Z' STOP t'1994-11-29T13:37:58Z'"): ("pattern error", REFUSED),
    ("test_temp_qual_nomatch", "[person:name = 'bob'] START t'1994-11-29T13:37:59Z' STOP t'1994-11-29T13:37:58Z'"): ("pattern error", REFUSED),
    # Sets of mixed types (STIX 2.1 §9.5: "of homogeneous data type"): stix2-matcher raises
    # while matching, Kawal refuses them when preparing the pattern.
    ("test_basic_ops_set_err", "[test:string IN (1, true)]"): ("pattern error", None),
    ("test_basic_ops_set_err", "[test:string IN (1, 2.2, true)]"): ("pattern error", None),
    ("test_basic_ops_set_err", "[test:string IN (1.1, 2.2, true)]"): ("pattern error", None),
    # A zero window: stix2-matcher raises while matching, Kawal's parser refuses it (see
    # "Divergences from stix2-patterns", 3).
    ("test_temp_qual_error_match", "[person:name = 'alice'] WITHIN 0 SECONDS"): ("pattern error", None),
}


class Recorder:
    """A pytest plugin that wraps each test module's `match` while its tests run."""

    def __init__(self, matcher):
        self.matcher = matcher
        self.calls = []  # (nodeid, function, pattern, observations, stix_version, verdict, message)
        self.outcomes = {}

    def verdict(self, pattern, observations, stix_version):
        from stix2patterns.pattern import ParseException
        try:
            # A STIX 2.0 call is kept only for a pattern that is also STIX 2.1.
            self.matcher.Pattern(pattern, "2.1")
            result = self.matcher.match(pattern, copy.deepcopy(observations),
                                        stix_version=stix_version)
        except ParseException as e:
            return "pattern error", str(e)
        except self.matcher.MatcherException as e:
            return "matcher error", "%s: %s" % (type(e).__name__, e)
        except Exception as e:  # noqa: BLE001 - recorded, and the test itself goes on
            return "crash", "%s: %s" % (type(e).__name__, e)
        return ("match" if result else "no match"), None

    def wrap(self, item):
        original = item.module.match
        recorder = self

        def recording(pattern, observed_data_sdos, verbose=False, stix_version="2.0"):
            snapshot = copy.deepcopy(observed_data_sdos)
            verdict, message = recorder.verdict(pattern, snapshot, stix_version)
            recorder.calls.append((item.nodeid, item.originalname, pattern, snapshot,
                                   stix_version, verdict, message))
            return original(pattern, observed_data_sdos, verbose, stix_version)

        item.module.match = recording
        return original

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.outcomes[report.nodeid] = report.outcome


def run_tests(matcher):
    import pytest

    recorder = Recorder(matcher)

    class Plugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            original = recorder.wrap(item)
            try:
                yield
            finally:
                item.module.match = original

        def pytest_runtest_logreport(self, report):
            recorder.pytest_runtest_logreport(report)

    tests = os.path.join(os.path.dirname(matcher.__file__), "test", "v21")
    code = pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", tests],
                       plugins=[Plugin()])
    if code not in (0, 1):
        sys.exit("pytest could not run the tests (exit %s)" % code)
    return recorder


def build(recorder):
    """The data files, as {file name: object}, and the EXPECTED entries used."""
    files = {}
    used = set()
    counters = {}
    for nodeid, function, pattern, observations, version, verdict, message in recorder.calls:
        module = nodeid.split("::")[0].rsplit("/", 1)[-1][:-len(".py")]
        data = files.setdefault(module, {
            "source": "stix2-matcher %s, stix2matcher/test/v21/%s.py" % (PACKAGE_VERSION, module),
            "observations": {},
            "cases": [],
        })
        key = None
        for k, v in data["observations"].items():
            if v == observations:
                key = k
                break
        if key is None:
            key = "o%d" % (len(data["observations"]) + 1)
            data["observations"][key] = observations
        n = counters.get((module, function), 0)
        counters[(module, function)] = n + 1
        case = {"name": "%s[%d]" % (function, n), "pattern": pattern, "observations": key,
                "stix2_matcher": verdict}
        if message is not None:
            case["message"] = message
        notes = []
        if version != "2.1":
            notes.append("the test runs it as STIX %s" % version)
        if recorder.outcomes.get(nodeid) != "passed":
            notes.append("this test fails against stix2-matcher %s" % PACKAGE_VERSION)
        entry = EXPECTED.get((function, pattern))
        if entry is not None:
            used.add((function, pattern))
            case["expect"], divergence = entry
            if divergence:
                case["divergence"] = divergence
        elif verdict == "matcher error":
            sys.exit("%s: stix2-matcher raises (%s); list Kawal's verdict in EXPECTED"
                     % (case["name"], message))
        else:
            case["expect"] = verdict
        if notes:
            case["note"] = "; ".join(notes)
        data["cases"].append(case)
    return files, used


def render(data):
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them")
    args = parser.parse_args()
    import stix2matcher.matcher as matcher
    recorder = run_tests(matcher)
    files, used = build(recorder)
    unused = set(EXPECTED) - used
    for function, pattern in sorted(unused):
        print("EXPECTED entry matches no case: %s %s" % (function, pattern), file=sys.stderr)
    stale = []
    os.makedirs(OUT, exist_ok=True)
    for module, data in sorted(files.items()):
        path = os.path.join(OUT, module + ".json")
        text = render(data)
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    cases = sum(len(d["cases"]) for d in files.values())
    divergent = sum(1 for d in files.values() for c in d["cases"] if "divergence" in c)
    print("%d cases from %d modules (%d divergent)%s" % (
        cases, len(files), divergent, ", written to " + os.path.normpath(OUT) if not args.check else ""))
    for path in stale:
        print("out of date: %s" % os.path.normpath(path), file=sys.stderr)
    sys.exit(1 if unused or stale else 0)


if __name__ == "__main__":
    main()
