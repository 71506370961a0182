#!/usr/bin/env python3
"""Compares this crate's verdicts with the OASIS `stix2-patterns` validator's.

    pip install antlr4-python3-runtime==4.13.2
    cargo build -p kawal-pattern --example verdicts
    python3 scripts/differential.py /path/to/cti-pattern-validator [--fuzz N] [--seed S]

Without --fuzz it checks the claims the test data makes about the validator:
  tests/data/valid.txt      the validator accepts every pattern,
  tests/data/spec_examples.txt  likewise,
  tests/data/invalid.txt    the validator rejects every pattern (or crashes on it),
  tests/data/validator.txt  the validator gives the recorded verdict,
  tests/data/divergent.txt  the validator gives the recorded verdict (ours is the other one).
The Rust tests check this crate's side of the same files.

With --fuzz N it mutates N patterns drawn from those files (deleting, duplicating and swapping
tokens and characters, changing case, inserting grammar fragments), runs both parsers and
prints each disagreement that no divergence rule explains. --write-corpus FILE writes the
mutants on which both agree, with the validator's verdicts, to FILE as `VERDICT<TAB>pattern`
lines: tests/data/mutants.txt is such a file, kept as a regression corpus.
"""

import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")


def lines(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line


def validator_verdict(run_validator, pattern):
    try:
        errors = run_validator(pattern, "2.1")
    except Exception as e:
        return "FAIL", "crash: %s" % type(e).__name__
    return ("FAIL", errors[0]) if errors else ("PASS", "")


def our_verdicts(patterns):
    exe = os.environ.get("VERDICTS") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "..", "target")),
        "debug", "examples", "verdicts")
    out = subprocess.run([exe], input="\n".join(patterns) + "\n", capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(out) == len(patterns), (len(out), len(patterns))
    return [("PASS" if o.startswith("OK ") else "FAIL", o[3:] if o.startswith("OK ") else o[4:])
            for o in out]


def check_claims(run_validator):
    failures = 0
    claims = []
    claims += [(p, "PASS", "valid.txt") for p in lines("valid.txt")]
    claims += [(p, "PASS", "spec_examples.txt") for p in lines("spec_examples.txt")]
    claims += [(l.split("\t")[0], "FAIL", "invalid.txt") for l in lines("invalid.txt")]
    for l in lines("validator.txt"):
        verdict, p = l.split("\t")[:2]
        claims.append((p, verdict, "validator.txt"))
    for l in lines("divergent.txt"):
        verdict, p = l.split("\t")[:2]
        claims.append((p, verdict, "divergent.txt"))
    for p, claimed, source in claims:
        got, message = validator_verdict(run_validator, p)
        if got != claimed:
            failures += 1
            print("%s claims %s but the validator says %s (%s): %s" % (source, claimed, got, message, p))
    print("%d claims checked, %d wrong" % (len(claims), failures))
    return failures


# Divergences that docs/patterns.md lists, recognised in fuzz output so only new ones show.
def explained(pattern, theirs, ours, our_message, their_message):
    if theirs == "FAIL" and their_message.startswith("crash"):
        return True  # the validator crashes on negative list indexes
    if theirs == "PASS" and ours == "FAIL":
        known = ("has no day", "START must be earlier", "takes a positive",
                 "literal out of range", "nested too deeply", "is not a valid MD6 hash",
                 "hash compared with", "not supported in MATCHES", "ambiguous in MATCHES",
                 "in regular expression", "invalid regular expression",
                 "quantifier directly after", "are not PCRE", "recursion in PCRE")
        return any(k in our_message for k in known)
    if theirs == "FAIL" and ours == "PASS":
        if "missing square brackets" in their_message:
            return True  # a comment before the first bracket
        if "is not a valid" in their_message and " IN (" in pattern:
            return True  # hash values inside IN sets
        if "is not a valid" in their_message and re.search(r"\b(LIKE|MATCHES)\b", pattern):
            return True
    return False


TOKEN = re.compile(r"t'[^']*'|h'[^']*'|b'[^']*'|'(?:[^'\\]|\\.)*'|[A-Za-z_][A-Za-z0-9_-]*|"
                   r"[+-]?\d*\.\d+|[+-]?\d+|<=|>=|!=|<>|==|\s+|.")
FRAGMENTS = ["[", "]", "(", ")", "'", ":", ".", "AND", "OR", "NOT", "FOLLOWEDBY", "WITHIN 5 SECONDS",
             "REPEATS 2 TIMES", "START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z'",
             "[*]", "[0]", "[-1]", "= 1", "= 'x'", "EXISTS", "IN ()", "IN (1, 'a')", "= true",
             "= h'0a'", "= b'AA=='", "-", "+", ".5", "1.", "//c\n", "/*c*/", "\\", "\\'", "x:y",
             "t'2016-01-01T00:00:60Z'", "'hashes'", "LAST", "0", "00", "1e5", "\u00a0", "\u200b"]


def mutate(rng, pattern):
    tokens = TOKEN.findall(pattern)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if not tokens:
            tokens = [""]
        i = rng.randrange(len(tokens))
        action = rng.randrange(8)
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
        elif action == 6 and tokens[i]:
            k = rng.randrange(len(tokens[i]))
            tokens[i] = tokens[i][:k] + tokens[i][k + 1:]
        else:
            tokens.insert(i, " ")
    return "".join(tokens)


def fuzz(run_validator, n, seed, corpus):
    rng = random.Random(seed)
    seeds = list(lines("valid.txt"))
    seeds += [l.split("\t")[1] for l in lines("validator.txt")]
    mutants = []
    while len(mutants) < n:
        m = mutate(rng, rng.choice(seeds))
        if "\n" not in m and "\t" not in m and "\r" not in m:
            mutants.append(m)
    ours = our_verdicts(mutants)
    new = 0
    records = []
    for m, (ov, omsg) in zip(mutants, ours):
        tv, tmsg = validator_verdict(run_validator, m)
        if tv == ov:
            records.append((m, tv, tmsg))
        elif not explained(m, tv, ov, omsg, tmsg):
            new += 1
            print("validator %s, ours %s: %s\n    validator: %s\n    ours: %s" % (tv, ov, m, tmsg, omsg))
    print("%d mutants, %d unexplained disagreements" % (n, new))
    if corpus:
        with open(corpus, "w", encoding="utf-8") as out:
            out.write("# Generated by scripts/differential.py --fuzz %d --seed %d --write-corpus:\n" % (n, seed))
            out.write("# mutated patterns on which this parser and stix2-patterns agree, with the\n")
            out.write("# validator's verdict.\n")
            for m, tv in sorted(set((m, tv) for m, tv, _ in records)):
                out.write("%s\t%s\n" % (tv, m))
    return new


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    sys.path.insert(0, args[0])
    from stix2patterns.validator import run_validator
    n = int(args[args.index("--fuzz") + 1]) if "--fuzz" in args else 0
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    corpus = args[args.index("--write-corpus") + 1] if "--write-corpus" in args else None
    failures = fuzz(run_validator, n, seed, corpus) if n else check_claims(run_validator)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
