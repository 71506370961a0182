#!/usr/bin/env python3
"""Independent verifier for a Kawal transparency log.

Everything here is written from the public specifications, not from the server's code:

* C2SP signed-note (note format, Ed25519 signature type 0x01, key IDs, verifier keys),
* C2SP tlog-checkpoint (origin, tree size, root hash),
* C2SP tlog-tiles (tile and entry-bundle paths, partial tiles, uint16 length-prefixed entries),
* RFC 9162 section 2.1 (leaf and node hashes, MTH, inclusion and consistency verification),
* the leaf format documented in crates/core/src/log.rs (``kawal-leaf/v1``).

Dependencies: the Python standard library and ``cryptography`` (Ed25519 only).

Usage:
  log_verify.py --self-test
  log_verify.py URL [--key VERIFIER_KEY] [--samples N] [--seed S]
                    [--previous-checkpoint FILE] [--save-checkpoint FILE]
                    [--object JSON_FILE:LEAF_INDEX ...] [--deleted JSON_FILE ...]
                    [--collection ID]
                    [--tamper-check] [-v]

Without --key the verifier key is taken from the server (trust on first use); with it, the
served key must be that one. The checkpoint is verified first; all later checks are against
its tree size and root hash. Each check prints PASS or FAIL; the last line is
"verifier: N passed, N failed". Exit status: 0 when every check passed, 1 when one failed,
2 for bad arguments.
"""

import argparse
import base64
import binascii
import gzip
import hashlib
import json
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HASH_SIZE = 32
TILE_WIDTH = 256
SIG_TYPE_ED25519 = 0x01
LEAF_FORMAT = "kawal-leaf/v1"
# The tlog-tiles <prefix> of the log, relative to the server's URL.
LOG_PREFIX = "log/"
OBJECT_LEAF_FIELDS = [
    "kind",
    "collection",
    "id",
    "version",
    "date_added",
    "producer",
    "tlp",
    "sha256",
]
AUDIT_LEAF_FIELDS = ["kind", "at", "actor", "action", "target", "outcome"]
TLP_ORDER = ["clear", "green", "amber", "amber+strict", "red"]
# TLP 2.0 marking definitions (OASIS TLP 2.0 extension) and the STIX 2.1 TLP 1.0 ones.
TLP_MARKINGS = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}


class VerifyError(Exception):
    """A check failed: the message says what was expected and what was found."""


class FetchError(VerifyError):
    """The server did not answer a request as the API promises."""


# ---- RFC 9162 section 2.1 ----------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(entry):
    """RFC 9162 2.1.1: the hash of a leaf is SHA-256(0x00 || leaf)."""
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    """RFC 9162 2.1.1: an interior node is SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n):
    """The k of RFC 9162 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(hashes, start=0, end=None):
    """MTH over leaf hashes[start:end] (RFC 9162 2.1.1). The empty tree hashes to SHA-256("")."""
    if end is None:
        end = len(hashes)
    n = end - start
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[start]
    k = largest_power_of_two_below(n)
    return node_hash(mth(hashes, start, start + k), mth(hashes, start + k, end))


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 2.1.3.2: verifies that `leaf` (a leaf hash) is at `leaf_index` in the tree of
    `tree_size` leaves whose root is `root`. Raises VerifyError otherwise."""
    if leaf_index >= tree_size:
        raise VerifyError(f"leaf index {leaf_index} is not below tree size {tree_size}")
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise VerifyError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("inclusion proof is shorter than the path to the root")
    if r != root:
        raise VerifyError(
            f"inclusion proof for leaf {leaf_index} leads to root {b64(r)}, not {b64(root)}"
        )


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2: verifies that the tree of size `first` with root `first_hash` is a
    prefix of the tree of size `second` with root `second_hash`. Raises VerifyError otherwise.

    The section's algorithm covers 0 < first < second; the other cases follow from 2.1.4.1:
    a tree is consistent with itself by an empty proof, and the empty tree with any tree."""
    if first > second:
        raise VerifyError(f"old size {first} is larger than new size {second}")
    if first == second:
        if proof:
            raise VerifyError("a consistency proof between equal sizes must be empty")
        if first_hash != second_hash:
            raise VerifyError("equal tree sizes with different root hashes")
        return
    if first == 0:
        if proof:
            raise VerifyError("a consistency proof from the empty tree must be empty")
        return
    # 1. An empty path fails.
    if not proof:
        raise VerifyError("empty consistency proof")
    path = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3.
    fn, sn = first - 1, second - 1
    # 4. Right-shift while LSB(fn) is set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            raise VerifyError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise VerifyError("consistency proof is shorter than the path to the root")
    if fr != first_hash:
        raise VerifyError(f"consistency proof yields old root {b64(fr)}, not {b64(first_hash)}")
    if sr != second_hash:
        raise VerifyError(f"consistency proof yields new root {b64(sr)}, not {b64(second_hash)}")


# Reference values that are not this project's: the RFC 6962 test-vector leaves and the roots of
# their first 0..8 leaves, and the signed-note example of golang.org/x/mod/sumdb/note.
KNOWN_LEAF_HASHES = [
    leaf_hash(bytes.fromhex(x))
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
KNOWN_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
KNOWN_NOTE_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
KNOWN_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def rfc_path(m, hashes, start, end):
    """PATH(m, D[start:end]) as RFC 9162 2.1.3.1 defines it, bottom to top."""
    n = end - start
    if n <= 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return rfc_path(m, hashes, start, start + k) + [mth(hashes, start + k, end)]
    return rfc_path(m - k, hashes, start + k, end) + [mth(hashes, start, start + k)]


def rfc_subproof(m, hashes, start, end, whole):
    """SUBPROOF(m, D[start:end], b) as RFC 9162 2.1.4.1 defines it."""
    n = end - start
    if m == n:
        return [] if whole else [mth(hashes, start, end)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return rfc_subproof(m, hashes, start, start + k, whole) + [mth(hashes, start + k, end)]
    return rfc_subproof(m - k, hashes, start + k, end, False) + [mth(hashes, start, start + k)]


def self_test(max_size=40):
    """The verification algorithms against proofs built from the RFC's own definitions, for
    every tree size up to `max_size`; every proof must verify and every one-bit change fail."""
    for size, want in enumerate(KNOWN_ROOTS):
        got = mth(KNOWN_LEAF_HASHES, 0, size).hex()
        if got != want:
            raise VerifyError(f"MTH of the first {size} reference leaves is {got}, not {want}")
    key = VerifierKey(KNOWN_NOTE_KEY)
    if verify_note(KNOWN_NOTE, key) != KNOWN_NOTE.split("\n\n")[0] + "\n":
        raise VerifyError("the reference note's text was not recovered")
    hashes = [leaf_hash(f"leaf {i}".encode()) for i in range(max_size)]
    checked = 0
    for size in range(1, max_size + 1):
        root = mth(hashes, 0, size)
        for index in range(size):
            proof = rfc_path(index, hashes, 0, size)
            verify_inclusion(index, size, hashes[index], proof, root)
            for k in range(len(proof)):
                bad = list(proof)
                bad[k] = flip(bad[k])
                try:
                    verify_inclusion(index, size, hashes[index], bad, root)
                except VerifyError:
                    continue
                raise VerifyError(f"a bad inclusion proof verified (index {index}, size {size})")
            checked += 1
        for old in range(1, size):
            proof = rfc_subproof(old, hashes, 0, size, True)
            old_root = mth(hashes, 0, old)
            verify_consistency(old, size, old_root, root, proof)
            for k in range(len(proof)):
                bad = list(proof)
                bad[k] = flip(bad[k])
                try:
                    verify_consistency(old, size, old_root, root, bad)
                except VerifyError:
                    continue
                raise VerifyError(f"a bad consistency proof verified ({old}->{size})")
            checked += 1
    return checked


# ---- C2SP signed-note and tlog-checkpoint --------------------------------------------------


def b64(data):
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text, what):
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise VerifyError(f"{what}: `{text}` is not standard base64: {e}") from None


def key_id(name, sig_type, public_key):
    """signed-note: key ID = SHA-256(key name || 0x0A || type || public key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)[:4]


def valid_key_name(name):
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


class VerifierKey:
    """A signed-note Ed25519 verifier key, `name+hex(key ID)+base64(0x01 || public key)`."""

    def __init__(self, text):
        text = text.strip()
        # The name has no plus; the base64 key may have some.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise VerifyError(f"verifier key `{text}` is not NAME+KEYID+KEY")
        name, hex_id, key_b64 = parts
        if not valid_key_name(name):
            raise VerifyError(f"verifier key name `{name}` is empty or has a space or a plus")
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise VerifyError(f"verifier key id `{hex_id}` is not 8 lower-case hex digits")
        key = b64decode_strict(key_b64, "verifier key")
        if len(key) != 33 or key[0] != SIG_TYPE_ED25519:
            raise VerifyError(
                f"verifier key is {len(key)} bytes of type {key[:1].hex() or 'none'}; "
                "expected 33 bytes, type 01 (Ed25519) then the 32-byte public key"
            )
        self.name = name
        self.public_key = key[1:]
        self.id = bytes.fromhex(hex_id)
        computed = key_id(name, SIG_TYPE_ED25519, self.public_key)
        if computed != self.id:
            raise VerifyError(
                f"verifier key id {hex_id} is not SHA-256(name || 0x0A || 0x01 || key)[:4] = "
                f"{computed.hex()}"
            )
        self.ed25519 = Ed25519PublicKey.from_public_bytes(self.public_key)
        self.text = text


def split_note(note):
    """signed-note: returns (text, [(name, signature bytes)]). The text ends with its newline;
    the signatures follow the last empty line."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as e:
            raise VerifyError(f"note is not UTF-8: {e}") from None
    for c in note:
        if ord(c) < 0x20 and c != "\n":
            raise VerifyError(f"note holds control character U+{ord(c):04X}")
    if not note.endswith("\n"):
        raise VerifyError("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerifyError("note has no blank line before its signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    signatures = []
    for line in sig_block.split("\n")[:-1]:
        if not line.startswith("\u2014 "):
            raise VerifyError(f"signature line `{line}` does not start with an em dash and a space")
        fields = line[2:].split(" ")
        if len(fields) != 2 or not valid_key_name(fields[0]):
            raise VerifyError(f"signature line `{line}` is not `\u2014 NAME SIGNATURE`")
        raw = b64decode_strict(fields[1], "signature")
        if len(raw) < 5:
            raise VerifyError(f"signature `{fields[1]}` is shorter than a key ID and a signature")
        signatures.append((fields[0], raw))
    if not signatures:
        raise VerifyError("note has no signature line")
    return text, signatures


def verify_note(note, key):
    """Returns the note text once a signature by `key` verifies. Signatures by other keys
    (another name or another key ID) are ignored, as signed-note requires; a signature by
    `key` that does not verify rejects the note."""
    text, signatures = split_note(note)
    verified = 0
    for name, raw in signatures:
        if name != key.name or raw[:4] != key.id:
            continue
        try:
            key.ed25519.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise VerifyError(f"the Ed25519 signature by {key.name} does not verify") from None
        verified += 1
    if not verified:
        raise VerifyError(f"no signature by {key.name} (key ID {key.id.hex()}) on the note")
    return text


class Checkpoint:
    def __init__(self, origin, size, root, extensions, note):
        self.origin, self.size, self.root, self.extensions, self.note = (
            origin,
            size,
            root,
            extensions,
            note,
        )


def parse_checkpoint(text, note=""):
    """tlog-checkpoint: origin, decimal tree size without leading zeroes, base64 root hash,
    then optional non-empty extension lines."""
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise VerifyError(f"checkpoint text has {len(lines)} lines; at least 3 are required")
    origin, size_text, root_text, extensions = lines[0], lines[1], lines[2], lines[3:]
    if not origin:
        raise VerifyError("checkpoint origin is empty")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise VerifyError(f"checkpoint size `{size_text}` is not a decimal without leading zeroes")
    root = b64decode_strict(root_text, "checkpoint root")
    if len(root) != HASH_SIZE:
        raise VerifyError(f"checkpoint root is {len(root)} bytes, not {HASH_SIZE}")
    if any(not line for line in extensions):
        raise VerifyError("checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_text), root, extensions, note)


def verify_checkpoint(note, key):
    return parse_checkpoint(verify_note(note, key), note)


# ---- C2SP tlog-tiles paths and entry bundles ----------------------------------------------


def tile_index_path(n):
    """tlog-tiles: <N> as zero-padded 3-digit elements, all but the last prefixed with `x`."""
    elements = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        elements.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(elements))


def tile_path(level, n, width=TILE_WIDTH):
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{tile_index_path(n)}{suffix}"


def bundle_path(n, width=TILE_WIDTH):
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/entries/{tile_index_path(n)}{suffix}"


def tiles_for(size, level):
    """The tiles of `level` that a tree of `size` leaves has: (index, width) pairs, the full
    ones then the partial one, if any."""
    hashes_at_level = size // TILE_WIDTH**level
    tiles = [(n, TILE_WIDTH) for n in range(hashes_at_level // TILE_WIDTH)]
    if hashes_at_level % TILE_WIDTH:
        tiles.append((hashes_at_level // TILE_WIDTH, hashes_at_level % TILE_WIDTH))
    return tiles


def parse_bundle(data, what):
    """Entry bundles are big-endian uint16 length-prefixed entries."""
    entries, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise VerifyError(f"{what}: a length prefix is cut off at byte {i}")
        length = int.from_bytes(data[i : i + 2], "big")
        i += 2
        if i + length > len(data):
            raise VerifyError(f"{what}: an entry of {length} bytes is cut off at byte {i}")
        entries.append(data[i : i + length])
        i += length
    return entries


def split_tile(data, width, what):
    if len(data) != width * HASH_SIZE:
        raise VerifyError(
            f"{what}: {len(data)} bytes, expected {width} hashes = {width * HASH_SIZE}"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# ---- Kawal leaves -------------------------------------------------------------------------


def parse_leaf(entry):
    """A leaf is UTF-8, `key value` lines in a fixed order, each ending in a newline."""
    try:
        text = entry.decode("utf-8")
    except UnicodeDecodeError as e:
        raise VerifyError(f"leaf is not UTF-8: {e}") from None
    if not text.endswith("\n"):
        raise VerifyError("leaf does not end with a newline")
    lines = text[:-1].split("\n")
    if lines[0] != LEAF_FORMAT:
        raise VerifyError(f"leaf starts with `{lines[0]}`, not `{LEAF_FORMAT}`")
    fields, keys = {}, []
    for line in lines[1:]:
        key, sep, value = line.partition(" ")
        if not sep:
            raise VerifyError(f"leaf line `{line}` is not `key value`")
        keys.append(key)
        fields[key] = value
    kind = fields.get("kind")
    expected = {
        "object": OBJECT_LEAF_FIELDS,
        "deletion": OBJECT_LEAF_FIELDS,
        "audit": AUDIT_LEAF_FIELDS,
    }
    if kind not in expected:
        raise VerifyError(f"leaf kind `{kind}` is not object, deletion or audit")
    if keys != expected[kind]:
        raise VerifyError(f"{kind} leaf has fields {keys}, expected {expected[kind]}")
    if kind != "audit" and not re.fullmatch(r"[0-9a-f]{64}", fields["sha256"]):
        raise VerifyError(f"leaf sha256 `{fields['sha256']}` is not 64 lower-case hex digits")
    return fields


def normalise_timestamp(value):
    """STIX timestamps as the leaf writes them, with six fractional digits; None when the
    value has more precision than that (no comparison is then made)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z", value)
    if not m:
        return None
    return f"{m.group(1)}.{(m.group(2) or '').ljust(6, '0')}Z"


def governing_tlp(obj):
    """The most restrictive TLP marking among the object's marking references, or None."""
    levels = [TLP_MARKINGS[m] for m in obj.get("object_marking_refs", []) if m in TLP_MARKINGS]
    return max(levels, key=TLP_ORDER.index) if levels else None


def check_object_leaf(raw, entry, kind="object", collection=None):
    """Checks that a leaf commits to an object given as its exact bytes: the leaf's sha256 is
    SHA-256(bytes), and its id, version and TLP agree with the object's (and its collection
    with `collection`, when given)."""
    fields = parse_leaf(entry)
    digest = hashlib.sha256(raw).hexdigest()
    if fields["kind"] != kind:
        raise VerifyError(f"leaf is of kind `{fields['kind']}`, not `{kind}`")
    if fields["sha256"] != digest:
        raise VerifyError(
            f"leaf holds sha256 {fields['sha256']}, the object's bytes hash to {digest}"
        )
    try:
        obj = json.loads(raw)
    except ValueError as e:
        raise VerifyError(f"object bytes are not JSON: {e}") from None
    if fields["id"] != obj.get("id"):
        raise VerifyError(f"leaf is for `{fields['id']}`, the object is `{obj.get('id')}`")
    version = normalise_timestamp(obj.get("modified", "")) if "modified" in obj else None
    if version is not None and fields["version"] != version:
        raise VerifyError(f"leaf version {fields['version']}, the object's modified is {version}")
    tlp = governing_tlp(obj)
    if tlp is not None and fields["tlp"] != tlp:
        raise VerifyError(f"leaf says tlp {fields['tlp']}, the object is marked {tlp}")
    if collection is not None and fields["collection"] != collection:
        raise VerifyError(f"leaf is in collection {fields['collection']}, not {collection}")
    return fields


# ---- HTTP ---------------------------------------------------------------------------------


class Client:
    def __init__(self, base, timeout=10.0, verbose=False):
        self.base = base.rstrip("/") + "/"
        self.timeout = timeout
        self.verbose = verbose
        host = urllib.parse.urlsplit(self.base).hostname or ""
        handlers = []
        if host in ("localhost", "::1") or host.startswith("127."):
            handlers.append(urllib.request.ProxyHandler({}))  # never through a proxy
        self.opener = urllib.request.build_opener(*handlers)
        self.requests = 0
        self.content_types = {}  # path -> Content-Type of its last answer

    def get(self, path, accept=None):
        url = urllib.parse.urljoin(self.base, path.lstrip("/"))
        headers = {"Accept-Encoding": "gzip, identity"}
        if accept:
            headers["Accept"] = accept
        request = urllib.request.Request(url, headers=headers)
        self.requests += 1
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read()
                encoding = response.headers.get("Content-Encoding", "identity").lower()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            raise FetchError(f"GET {url}: HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise FetchError(f"GET {url}: {e}") from None
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding not in ("identity", ""):
            raise FetchError(f"GET {url}: unexpected Content-Encoding {encoding}")
        if self.verbose:
            print(f"      GET {url} -> {len(body)} bytes", flush=True)
        self.content_types[path] = content_type
        return body, content_type

    def text(self, path):
        body, _ = self.get(path)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FetchError(f"GET {path}: not UTF-8: {e}") from None

    def json(self, path):
        body, _ = self.get(path, accept="application/json")
        try:
            return json.loads(body)
        except ValueError as e:
            raise FetchError(f"GET {path}: not JSON: {e}") from None

    def inclusion_proof(self, index, size):
        doc = self.json(f"api/log/proof/inclusion?index={index}&size={size}")
        if doc.get("index") != index or doc.get("size") != size:
            raise FetchError(
                f"inclusion proof answers for index {doc.get('index')}, size {doc.get('size')}"
            )
        return decode_proof(doc, "inclusion")

    def consistency_proof(self, old, new):
        doc = self.json(f"api/log/proof/consistency?old={old}&new={new}")
        if doc.get("old") != old or doc.get("new") != new:
            raise FetchError(
                f"consistency proof answers for old {doc.get('old')}, new {doc.get('new')}"
            )
        return decode_proof(doc, "consistency")


def decode_proof(doc, what):
    proof = doc.get("proof")
    if not isinstance(proof, list):
        raise FetchError(f"{what} proof: `proof` is not a list")
    hashes = [b64decode_strict(p, f"{what} proof") if isinstance(p, str) else b"" for p in proof]
    if any(len(h) != HASH_SIZE for h in hashes):
        raise FetchError(f"{what} proof: an element is not a {HASH_SIZE}-byte hash")
    return hashes


# ---- the run ------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def run(self, name, check, *args):
        """Runs check(*args); a VerifyError fails it. Returns the check's value, or None."""
        try:
            value = check(*args)
        except VerifyError as e:
            self.fail(name, str(e))
            return None
        self.ok(name)
        return value

    def ok(self, name):
        self.passed += 1
        print(f"PASS  {name}", flush=True)

    def fail(self, name, detail):
        self.failed.append(name)
        print(f"FAIL  {name}\n      {detail}", flush=True)

    def finish(self):
        print(f"verifier: {self.passed} passed, {len(self.failed)} failed", flush=True)
        return 1 if self.failed else 0


class Abort(Exception):
    """A check that later checks depend on has failed."""


class Log:
    """What has been fetched and recomputed for one checkpoint."""

    def __init__(self, key, checkpoint):
        self.key = key
        self.checkpoint = checkpoint
        self.entries = []
        self.hashes = []


def sample_indexes(size, count, seed, extra=()):
    """Edges (first, last, tile boundaries), `extra`, and `count` seeded random indexes, all
    below `size`."""
    wanted = {0, 1, size // 2, size - 2, size - 1, 255, 256, 257, 511, 512}
    wanted.update(extra)
    rng = random.Random(seed)
    picks = set()
    while len(picks) < min(count, size):
        picks.add(rng.randrange(size))
    return sorted(i for i in wanted | picks if 0 <= i < size)


def old_sizes(size, previous=()):
    wanted = {1, 2, 3, 255, 256, 257, size // 2, size - 1}
    wanted.update(previous)
    return sorted(s for s in wanted if 0 < s < size)


def fetch_entries(client, size):
    """All entries of the tree of `size` leaves, through entry bundles."""
    entries = []
    for n, width in tiles_for(size, 0):
        path = bundle_path(n, width)
        try:
            data, _ = client.get(LOG_PREFIX + path)
        except FetchError:
            if width == TILE_WIDTH:
                raise
            # tlog-tiles lets a log drop a partial bundle once the full one exists.
            data, _ = client.get(LOG_PREFIX + bundle_path(n))
        bundle = parse_bundle(data, path)
        if len(bundle) < width:
            raise VerifyError(f"{path}: {len(bundle)} entries, expected {width}")
        if width == TILE_WIDTH and len(bundle) != width:
            raise VerifyError(f"{path}: a full bundle with {len(bundle)} entries")
        entries.extend(bundle[:width])
    return entries


def check_tiles(client, log):
    """Every tile the checkpoint's tree has, at every level, against the recomputed hashes."""
    size = log.checkpoint.size
    level_hashes = log.hashes
    level = 0
    checked = 0
    while size // TILE_WIDTH**level:
        next_level = []
        for n, width in tiles_for(size, level):
            path = tile_path(level, n, width)
            try:
                data, _ = client.get(LOG_PREFIX + path)
                got = split_tile(data, width, path)
            except FetchError:
                if width == TILE_WIDTH:
                    raise
                data, _ = client.get(LOG_PREFIX + tile_path(level, n))
                got = split_tile(data, TILE_WIDTH, tile_path(level, n))[:width]
            want = level_hashes[n * TILE_WIDTH : n * TILE_WIDTH + width]
            if len(want) != len(got):
                raise VerifyError(f"{path}: {len(got)} hashes, {len(want)} recomputed")
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                if g != w:
                    first = (n * TILE_WIDTH + i) * TILE_WIDTH**level
                    what = f"leaf {first}" if level == 0 else f"leaves from {first}"
                    raise VerifyError(f"{path}: hash {i} ({what}) is {b64(g)}, recomputed {b64(w)}")
            if width == TILE_WIDTH:
                next_level.append(mth(got))
            checked += 1
        level_hashes = next_level
        level += 1
    return checked


def check_object(raw, index, log, client, collection=None):
    if index >= log.checkpoint.size:
        raise VerifyError(f"leaf {index} is not in the checkpoint of size {log.checkpoint.size}")
    entry = log.entries[index]
    fields = check_object_leaf(raw, entry, collection=collection)
    proof = client.inclusion_proof(index, log.checkpoint.size)
    verify_inclusion(index, log.checkpoint.size, leaf_hash(entry), proof, log.checkpoint.root)
    return fields


def find_deletion(raw, log, collection=None):
    """The deletion leaf that commits to these bytes; its id, version and TLP must agree."""
    digest = hashlib.sha256(raw).hexdigest()
    for index, entry in enumerate(log.entries):
        fields = parse_leaf(entry)
        if fields["kind"] == "deletion" and fields["sha256"] == digest:
            check_object_leaf(raw, entry, kind="deletion", collection=collection)
            return index
    raise VerifyError(f"no deletion leaf holds sha256 {digest}")


def expect_rejection(report, name, check, *args):
    """A negative check: passes when `check` raises VerifyError."""
    try:
        check(*args)
    except VerifyError as e:
        report.ok(f"{name} is rejected ({e})")
        return
    report.fail(name, "the tampered input was accepted")


def flip(data, byte=0, bit=0):
    b = bytearray(data)
    b[byte] ^= 1 << bit
    return bytes(b)


def tamper_checks(report, log, client, objects, seed):
    """Alters fetched data in memory and expects every alteration to be caught."""
    cp, size, root = log.checkpoint, log.checkpoint.size, log.checkpoint.root
    if size < 2:
        report.fail("negative checks", f"need a log of at least 2 leaves, this one has {size}")
        return
    rng = random.Random(seed + 1)
    index = rng.randrange(size)
    proof = client.inclusion_proof(index, size)
    lh = leaf_hash(log.entries[index])
    verify_inclusion(index, size, lh, proof, root)  # the untampered one holds

    if proof:
        k = rng.randrange(len(proof))
        bad = list(proof)
        bad[k] = flip(bad[k], rng.randrange(HASH_SIZE), rng.randrange(8))
        expect_rejection(
            report,
            f"tamper: inclusion proof of leaf {index}, one bit of hash {k}",
            verify_inclusion,
            index,
            size,
            lh,
            bad,
            root,
        )
        expect_rejection(
            report,
            f"tamper: inclusion proof of leaf {index} without its last hash",
            verify_inclusion,
            index,
            size,
            lh,
            proof[:-1],
            root,
        )
        expect_rejection(
            report,
            f"tamper: inclusion proof of leaf {index} with hashes swapped",
            verify_inclusion,
            index,
            size,
            lh,
            proof[::-1] if len(proof) > 1 else [flip(proof[0])],
            root,
        )
    expect_rejection(
        report,
        f"tamper: inclusion proof of leaf {index} with an extra hash",
        verify_inclusion,
        index,
        size,
        lh,
        proof + [sha256(b"extra")],
        root,
    )
    other = (index + 1) % size
    expect_rejection(
        report,
        f"tamper: leaf {index}'s proof presented for leaf {other}",
        verify_inclusion,
        other,
        size,
        lh,
        proof,
        root,
    )

    entry = log.entries[index]
    altered = entry.replace(b"kind ", b"kind  ", 1) if b"kind " in entry else entry + b"x"
    expect_rejection(
        report,
        f"tamper: leaf {index}'s bytes altered, its proof checked",
        verify_inclusion,
        index,
        size,
        leaf_hash(altered),
        proof,
        root,
    )

    def root_of(entries):
        got = mth([leaf_hash(e) for e in entries])
        if got != root:
            raise VerifyError(f"recomputed root {b64(got)} is not the checkpoint's {b64(root)}")

    bad_entries = list(log.entries)
    bad_entries[index] = altered
    expect_rejection(
        report, f"tamper: leaf {index}'s bytes altered, the root recomputed", root_of, bad_entries
    )
    if size > 1:
        swapped = list(log.entries)
        swapped[0], swapped[-1] = swapped[-1], swapped[0]
        expect_rejection(
            report, "tamper: first and last leaves swapped, the root recomputed", root_of, swapped
        )
    expect_rejection(
        report, "tamper: one leaf dropped, the root recomputed", root_of, log.entries[:-1]
    )

    # Consistency.
    old = max(1, size // 2) if size > 1 else 0
    if 0 < old < size:
        old_root = mth(log.hashes, 0, old)
        cproof = client.consistency_proof(old, size)
        verify_consistency(old, size, old_root, root, cproof)
        k = rng.randrange(len(cproof))
        bad = list(cproof)
        bad[k] = flip(bad[k], rng.randrange(HASH_SIZE), rng.randrange(8))
        expect_rejection(
            report,
            f"tamper: consistency proof {old}->{size}, one bit of hash {k}",
            verify_consistency,
            old,
            size,
            old_root,
            root,
            bad,
        )
        expect_rejection(
            report,
            f"tamper: consistency proof {old}->{size} without its last hash",
            verify_consistency,
            old,
            size,
            old_root,
            root,
            cproof[:-1],
        )
        expect_rejection(
            report,
            f"tamper: consistency proof {old}->{size} against another old root",
            verify_consistency,
            old,
            size,
            flip(old_root),
            root,
            cproof,
        )
        expect_rejection(
            report,
            f"tamper: consistency proof {old}->{size} against another new root",
            verify_consistency,
            old,
            size,
            old_root,
            flip(root),
            cproof,
        )

    # The checkpoint.
    note = cp.note
    lines = note.split("\n")
    bigger = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    expect_rejection(report, "tamper: checkpoint size changed", verify_checkpoint, bigger, log.key)
    other_root = note.replace(lines[2], b64(flip(root)), 1)
    expect_rejection(
        report, "tamper: checkpoint root changed", verify_checkpoint, other_root, log.key
    )
    sig_line = next(line for line in lines if line.startswith("\u2014 " + log.key.name + " "))
    raw = base64.b64decode(sig_line.rsplit(" ", 1)[1])
    bad_sig = sig_line.rsplit(" ", 1)[0] + " " + b64(raw[:4] + flip(raw[4:], rng.randrange(64)))
    expect_rejection(
        report,
        "tamper: checkpoint signature altered",
        verify_checkpoint,
        note.replace(sig_line, bad_sig),
        log.key,
    )
    bad_id = sig_line.rsplit(" ", 1)[0] + " " + b64(flip(raw[:4]) + raw[4:])
    expect_rejection(
        report,
        "tamper: checkpoint signed under another key ID only",
        verify_checkpoint,
        note.replace(sig_line, bad_id),
        log.key,
    )
    # Another key under the same name: its key ID differs, so the log's signature is not its.
    other_public = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    stranger = VerifierKey(
        f"{log.key.name}+{key_id(log.key.name, SIG_TYPE_ED25519, other_public).hex()}"
        f"+{b64(bytes([SIG_TYPE_ED25519]) + other_public)}"
    )
    expect_rejection(
        report,
        "tamper: checkpoint checked with another key of the same name",
        verify_checkpoint,
        note,
        stranger,
    )
    # A note re-signed by another key but labelled with the log's name and key ID.
    text, _ = split_note(note)
    forged_text = text.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    forged_sig = log.key.id + Ed25519PrivateKey.generate().sign(forged_text.encode("utf-8"))
    forged = f"{forged_text}\n\u2014 {log.key.name} {b64(forged_sig)}\n"
    expect_rejection(
        report,
        "tamper: checkpoint re-signed by another key under the log's name and key ID",
        verify_checkpoint,
        forged,
        log.key,
    )

    # Tiles.
    def tile_matches(hashes):
        if hashes != log.hashes[: len(hashes)]:
            raise VerifyError("level-0 tile differs from the recomputed leaf hashes")

    tile_copy = list(log.hashes[:TILE_WIDTH])
    t = rng.randrange(len(tile_copy))
    tile_copy[t] = flip(tile_copy[t])
    expect_rejection(report, f"tamper: level-0 tile hash {t} altered", tile_matches, tile_copy)

    # Objects.
    for path, raw_obj, obj_index in objects[:1]:
        changed = raw_obj.replace(b'"', b"'", 1) if raw_obj.count(b'"') else raw_obj + b" "
        expect_rejection(
            report,
            f"tamper: {path} with one byte changed, against leaf {obj_index}",
            check_object_leaf,
            changed,
            log.entries[obj_index],
        )
        # The nearest other object leaf: a leaf that commits to other bytes.
        others = sorted(
            (
                i
                for i in range(size)
                if i != obj_index
                and log.entries[i].startswith(f"{LEAF_FORMAT}\nkind object\n".encode())
            ),
            key=lambda i: abs(i - obj_index),
        )
        if others:
            expect_rejection(
                report,
                f"tamper: {path} checked against leaf {others[0]}",
                check_object_leaf,
                raw_obj,
                log.entries[others[0]],
            )


def same_root(got, want):
    if got != want:
        raise VerifyError(f"recomputed {b64(got)}, signed {b64(want)}")
    return True


def verify(args):
    client = Client(args.url, timeout=args.timeout, verbose=args.verbose)
    report = Report()
    t0 = time.monotonic()

    def must(name, check, *a):
        value = report.run(name, check, *a)
        if value is None:
            raise Abort(name)
        return value

    try:
        # The key.
        served = must("fetch the verifier key", lambda: client.text(".well-known/kawal/log-key"))
        key = must("parse the verifier key and recompute its key ID", VerifierKey, served)
        print(f"      key {key.name} id {key.id.hex()}")
        if args.key:
            pinned = must("parse the pinned verifier key", VerifierKey, args.key)

            def same_key():
                if (pinned.name, pinned.id, pinned.public_key) != (
                    key.name,
                    key.id,
                    key.public_key,
                ):
                    raise VerifyError(f"served key {key.text}, pinned {pinned.text}")
                return True

            must("the served verifier key is the pinned one", same_key)
            key = pinned

        # The checkpoint.
        note = must("fetch the checkpoint", lambda: client.text(LOG_PREFIX + "checkpoint"))
        cp = must(
            "checkpoint note: Ed25519 signature verifies, origin/size/root parse",
            verify_checkpoint,
            note,
            key,
        )
        print(f"      origin {cp.origin} size {cp.size} root {b64(cp.root)}")
        if cp.origin != key.name:
            print(f"      note: the key name `{key.name}` differs from the origin `{cp.origin}`")
        if args.save_checkpoint:
            with open(args.save_checkpoint, "w", encoding="utf-8") as f:
                f.write(note)
        log = Log(key, cp)

        # All entries, every leaf hash, the root.
        log.entries = must(
            f"fetch all {cp.size} entries in {len(tiles_for(cp.size, 0))} entry bundles",
            fetch_entries,
            client,
            cp.size,
        )

        def parse_all():
            kinds = {}
            for i, entry in enumerate(log.entries):
                try:
                    kind = parse_leaf(entry)["kind"]
                except VerifyError as e:
                    raise VerifyError(f"leaf {i}: {e}") from None
                kinds[kind] = kinds.get(kind, 0) + 1
            return kinds

        kinds = report.run(f"every leaf is a well-formed {LEAF_FORMAT} leaf", parse_all)
        if kinds:
            print("      " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        log.hashes = [leaf_hash(e) for e in log.entries]

        # Tiles at every level; before the root, so that a bad leaf is pinned down first.
        count = report.run(
            "every tile (level 0 = leaf hashes, higher levels = MTH of full tiles) matches",
            check_tiles,
            client,
            log,
        )
        if count is not None:
            print(f"      {count} tiles")

        def root_matches():
            got = mth(log.hashes)
            if got != cp.root:
                raise VerifyError(
                    f"MTH of the {cp.size} leaves is {b64(got)}, the checkpoint says {b64(cp.root)}"
                )
            return True

        must("RFC 9162 MTH of all leaves equals the checkpoint root", root_matches)

        def content_types():
            """tlog-tiles: the checkpoint is text/plain; charset=utf-8, tiles and entry
            bundles are application/octet-stream."""
            for path, got in client.content_types.items():
                if not path.startswith(LOG_PREFIX):
                    continue
                want = (
                    "text/plain; charset=utf-8"
                    if path == LOG_PREFIX + "checkpoint"
                    else "application/octet-stream"
                )
                if got.replace(" ", "").lower() != want.replace(" ", ""):
                    raise VerifyError(f"{path} is served as `{got}`, not `{want}`")
            return True

        report.run(
            "checkpoint, tiles and entry bundles are served with the tlog-tiles content types",
            content_types,
        )

        # Inclusion proofs.
        extra = [index for _, _, index in args.objects]
        for index in sample_indexes(cp.size, args.samples, args.seed, extra):
            report.run(
                f"inclusion proof of leaf {index} in size {cp.size}",
                lambda i=index: verify_inclusion(
                    i, cp.size, log.hashes[i], client.inclusion_proof(i, cp.size), cp.root
                ),
            )

        # Consistency proofs from older sizes, whose roots are recomputed here.
        previous_sizes = []
        if args.previous_checkpoint:
            path, old_note = args.previous_checkpoint
            old = report.run(
                f"previous checkpoint {path} verifies", verify_checkpoint, old_note, key
            )
            if old is not None:
                print(f"      previous size {old.size} root {b64(old.root)}")
                previous_sizes.append(old.size)
                if old.origin != cp.origin:
                    report.fail(
                        "previous checkpoint has the same origin", f"{old.origin} vs {cp.origin}"
                    )
                report.run(
                    f"consistency proof {old.size}->{cp.size} from the previous signed checkpoint",
                    lambda: verify_consistency(
                        old.size,
                        cp.size,
                        old.root,
                        cp.root,
                        client.consistency_proof(old.size, cp.size),
                    ),
                )
                if old.size <= cp.size:
                    report.run(
                        f"previous checkpoint root equals the MTH of the first {old.size} leaves",
                        same_root,
                        mth(log.hashes, 0, old.size),
                        old.root,
                    )
        for old_size in old_sizes(cp.size, previous_sizes):
            report.run(
                f"consistency proof {old_size}->{cp.size} (old root recomputed)",
                lambda s=old_size: verify_consistency(
                    s, cp.size, mth(log.hashes, 0, s), cp.root, client.consistency_proof(s, cp.size)
                ),
            )

        # Objects held by the caller.
        for path, raw, index in args.objects:
            fields = report.run(
                f"object {path} is committed to by leaf {index}, which is in the checkpoint",
                check_object,
                raw,
                index,
                log,
                client,
                args.collection,
            )
            if fields:
                print(f"      {fields['id']} version {fields['version']} tlp {fields['tlp']}")
        for path, raw in args.deleted:
            found = report.run(
                f"deleted object {path} has a deletion leaf",
                find_deletion,
                raw,
                log,
                args.collection,
            )
            if found is not None:
                report.run(
                    f"inclusion proof of deletion leaf {found}",
                    lambda i=found: verify_inclusion(
                        i, cp.size, log.hashes[i], client.inclusion_proof(i, cp.size), cp.root
                    ),
                )

        if args.tamper_check:
            print("== negative checks: tampered data must be rejected", flush=True)
            try:
                tamper_checks(report, log, client, args.objects, args.seed)
            except VerifyError as e:
                report.fail("negative checks could run", str(e))
    except Abort:
        print("      stopping: later checks depend on this one", flush=True)
    print(f"      {client.requests} requests in {time.monotonic() - t0:.2f} s", flush=True)
    return report.finish()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def object_arg(value):
    path, sep, index = value.rpartition(":")
    if not sep or not index.isdigit():
        raise argparse.ArgumentTypeError(f"`{value}` is not JSON_FILE:LEAF_INDEX")
    return path, int(index)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="the server's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the algorithms offline against reference values, then stop",
    )
    parser.add_argument("--key", help="the log's verifier key, NAME+KEYID+KEY, to pin")
    parser.add_argument(
        "--samples", type=int, default=24, help="random inclusion proofs (default 24)"
    )
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument(
        "--previous-checkpoint",
        metavar="FILE",
        help="an earlier checkpoint note to prove consistency from",
    )
    parser.add_argument(
        "--save-checkpoint", metavar="FILE", help="write the verified checkpoint note here"
    )
    parser.add_argument(
        "--object",
        dest="objects",
        action="append",
        default=[],
        type=object_arg,
        metavar="JSON_FILE:LEAF",
        help="an object's exact bytes and its leaf index",
    )
    parser.add_argument(
        "--collection",
        metavar="ID",
        help="the collection the --object and --deleted objects were posted to",
    )
    parser.add_argument(
        "--deleted",
        action="append",
        default=[],
        metavar="JSON_FILE",
        help="a deleted object's exact bytes; a deletion leaf must commit to them",
    )
    parser.add_argument(
        "--tamper-check",
        action="store_true",
        help="also alter fetched data in memory and expect rejections",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.self_test:
        report = Report()
        count = report.run(
            "RFC 6962/9162 reference roots, the signed-note reference note, and generated proofs",
            self_test,
        )
        if count is not None:
            print(f"      {count} generated proofs verified, every one-bit change rejected")
        return report.finish()
    if not args.url:
        parser.error("give the server's URL")
    # Every file named is read before the server is asked anything.
    try:
        args.objects = [(path, read_bytes(path), index) for path, index in args.objects]
        args.deleted = [(path, read_bytes(path)) for path in args.deleted]
        if args.previous_checkpoint:
            path = args.previous_checkpoint
            args.previous_checkpoint = (path, read_bytes(path).decode("utf-8", "replace"))
    except OSError as e:
        parser.error(f"cannot read {e.filename}: {e.strerror}")
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
