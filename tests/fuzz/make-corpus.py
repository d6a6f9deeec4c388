#!/usr/bin/env python3
"""Writes the seed corpora and dictionaries of the libFuzzer targets into a build directory.

    make-corpus.py --fixtures tests/fixtures --dicts tests/fuzz --out build-fuzz/tests/fuzz

Seeds come from the protocol fixtures (tests/fixtures/<version>/{requests,responses,invalid,
valid-frames}, see tests/fixtures/README.md), from edge cases written below, and from the
regression inputs kept in tests/fuzz/regressions/<target>/. Output:

    <out>/corpus/<target>/<name>   one seed a file (regenerated on every run)
    <out>/dict/<target>.dict       tests/fuzz/<kind>.dict + tokens taken from the fixtures
"""

import argparse
import base64
import hashlib
import json
import pathlib
import shutil
import sys

VERSIONS = ("ocpp1.6", "ocpp2.0.1")
# Seeds above this size would only be cut to -max_len by libFuzzer.
MAX_SEED_BYTES = 64 * 1024

TARGETS = ("fuzz_frame", "fuzz_json", "fuzz_validator", "fuzz_station_path", "fuzz_basic_auth",
           "fuzz_websocket_utf8")
DICT_KIND = {
    "fuzz_frame": "json",
    "fuzz_json": "json",
    "fuzz_validator": "json",
    "fuzz_station_path": "path",
    "fuzz_basic_auth": "basic_auth",
    "fuzz_websocket_utf8": "json",
}


def nest(depth, inner="1"):
    """`depth` arrays around `inner`: nest(2) == '[[1]]'."""
    return "[" * depth + inner + "]" * depth


def frame_edge_cases():
    """Frames (UTF-8 text or raw bytes) at the limits of the codec."""
    call = '[2,"id-1","Heartbeat",%s]'
    cases = {
        # Nesting: the frame array is level 1, the payload level 2; 32 levels are accepted.
        "depth-32": call % ('{"a":' + nest(30) + "}"),
        "depth-33": call % ('{"a":' + nest(31) + "}"),
        "depth-5000-objects": '[2,"d","DataTransfer",' + '{"a":' * 5000 + "1" + "}" * 5000 + "]",
        "depth-unclosed": "[" * 2000,
        # Lengths.
        "id-36": '[2,"%s","Heartbeat",{}]' % ("x" * 36),
        "id-37": '[2,"%s","Heartbeat",{}]' % ("x" * 37),
        "id-36-multibyte": '[2,"%s","Heartbeat",{}]' % ("é" * 18),
        "id-37-bytes-multibyte": '[2,"%s","Heartbeat",{}]' % ("é" * 18 + "x"),
        "id-empty": '[2,"","Heartbeat",{}]',
        "id-number": '[2,42,"Heartbeat",{}]',
        "action-long": '[2,"a","%s",{}]' % ("A" * 1000),
        "action-empty": '[2,"a","",{}]',
        "long-string": call % ('{"s":"%s"}' % ("a" * 10000)),
        "long-error-description": '[4,"e","GenericError","%s",{}]' % ("d" * 254 + "é" + "d" * 50),
        "error-description-boundary": '[4,"e","GenericError","%s",{}]' % ("d" * 253 + "😀"),
        "callerror-4": '[4,"e","NotImplemented","no details"]',
        "callerror-details-array": '[4,"e","NotImplemented","",[]]',
        "callerror-code-number": '[4,"e",1,"",{}]',
        "callresult": '[3,"r",{"status":"Accepted"}]',
        "callresult-array": '[3,"r",[]]',
        "type-5": '[5,"x",{}]',
        "type-float": '[2.0,"x","Heartbeat",{}]',
        "type-negative": '[-2,"x","Heartbeat",{}]',
        "type-huge": '[18446744073709551616,"x","Heartbeat",{}]',
        "arity-5": '[2,"x","Heartbeat",{},{}]',
        "empty-array": "[]",
        "not-array": '{"2":"x"}',
        "payload-array": '[2,"x","Heartbeat",[]]',
        "payload-null": '[2,"x","Heartbeat",null]',
        # Strings: escapes, surrogates, UTF-8.
        "surrogate-pair": call % '{"s":"\\ud83d\\ude00"}',
        "lone-high-surrogate": call % '{"s":"\\ud83d"}',
        "lone-low-surrogate": call % '{"s":"\\ude00"}',
        "high-then-ascii-escape": call % '{"s":"\\ud83d\\u0041"}',
        "high-then-high": call % '{"s":"\\ud83d\\ud83d"}',
        "surrogate-in-key": call % '{"\\udfff":1}',
        "escaped-nul": call % '{"s":"a\\u0000b"}',
        "all-escapes": call % '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uFFFF"}',
        "bad-escape": call % '{"s":"\\x41"}',
        "short-unicode-escape": call % '{"s":"\\u12"}',
        "raw-utf8": call % '{"s":"Ünïcödé 😀 中文"}',
        "prefix-only-id": '[2,"abc","Heartbeat",{]',
        "prefix-spaces": '  [ 2 , "abc" , "Heartbeat" , {',
        "prefix-big-type": '[9999999,"abc"',
        "prefix-id-37": '[2,"%s"' % ("y" * 37),
        "duplicate-keys": call % '{"a":1,"a":"two"}',
        "whitespace": ' \t\r\n[ 2 ,\n"x" ,\t"Heartbeat" ,\r{ } ]\n ',
        "literals": call % '{"t":true,"f":false,"n":null}',
        "literal-typos": call % '{"t":tru,"f":False,"n":nul}',
        # Numbers.
        "number-1e400": call % '{"n":1e400}',
        "number-minus-1e400": call % '{"n":-1e400}',
        "number-1e-400": call % '{"n":1e-400}',
        "number-max-double": call % '{"n":1.7976931348623157e308}',
        "number-above-max-double": call % '{"n":1.7976931348623159e308}',
        "number-min-subnormal": call % '{"n":5e-324}',
        "number-int64-max": call % '{"n":9223372036854775807}',
        "number-int64-max-plus-1": call % '{"n":9223372036854775808}',
        "number-uint64-max": call % '{"n":18446744073709551615}',
        "number-uint64-max-plus-1": call % '{"n":18446744073709551616}',
        "number-int64-min": call % '{"n":-9223372036854775808}',
        "number-int64-min-minus-1": call % '{"n":-9223372036854775809}',
        "number-forms": call % '{"a":-0,"b":-0.0,"c":0e0,"d":1.0,"e":1E+2,"f":0.1,"g":8.3}',
        "number-long-mantissa": call % ('{"n":%s}' % ("1" * 400)),
        "number-long-fraction": call % ('{"n":0.%s1}' % ("0" * 400)),
        "number-bad-forms": call % '{"n":01}',
        "number-dot": call % '{"n":1.}',
        "number-exp-empty": call % '{"n":1e}',
        "number-plus": call % '{"n":+1}',
        "number-hex": call % '{"n":0x10}',
    }
    raw = {
        "empty": b"",
        "bom": b"\xef\xbb\xbf" + b'[2,"x","Heartbeat",{}]',
        "raw-nul-in-string": b'[2,"x","Heartbeat",{"s":"a\x00b"}]',
        "raw-nul-after": b'[2,"x","Heartbeat",{}]\x00',
        "overlong-slash": b'[2,"x","Heartbeat",{"s":"\xc0\xaf"}]',
        "encoded-surrogate": b'[2,"x","Heartbeat",{"s":"\xed\xa0\x80"}]',
        "above-u10ffff": b'[2,"x","Heartbeat",{"s":"\xf4\x90\x80\x80"}]',
        "truncated-utf8": b'[2,"x","Heartbeat",{"s":"\xe2\x82"}]',
        "latin1": b'[2,"x","Heartbeat",{"s":"caf\xe9"}]',
        "utf8-at-end": b'[2,"x","Heartbeat",{"s":"\xf0\x9f\x98',
    }
    out = {name: text.encode("utf-8") for name, text in cases.items()}
    out.update(raw)
    return out


def json_edge_cases():
    """Bare JSON texts for the reader's differential target."""
    texts = [
        "0", "-0", "-0.0", "1.5e3", "[]", "{}", '""', "true", "null", " 1 ", "1 2", "[1,]",
        '{"a":1,}', '{"a" 1}', '{"a":1 "b":2}', "[-]", "[--1]", "[1e+]", "[.5]", "[5.]",
        "[1E400]", "[1e-400]", "[-1e-400]", "[123456789012345678901234567890]",
        "[-123456789012345678901234567890]", '["\\u0000"]', '["\\uD834\\uDD1E"]',
        nest(32), nest(33), '{"a":' * 40 + "1" + "}" * 40,
    ]
    return {"json-%02d" % i: t.encode() for i, t in enumerate(texts)}


def path_edge_cases():
    cases = [
        "/ocpp/CS-1", "/ocpp/CS1?token=x", "/ocpp/CS%2F1", "/ocpp/CS%2f1", "/ocpp/CS%001",
        "/ocpp/CS%00", "/ocpp/CS%252F", "/ocpp/CS%25", "/ocpp/%", "/ocpp/CS%4", "/ocpp/CS%zz",
        "/ocpp/CS%3A1", "/ocpp/CS:1", "/ocpp/" + "a" * 48, "/ocpp/" + "a" * 49,
        "/ocpp/" + "%41" * 48, "/ocpp/" + "%41" * 49, "/ocpp/" + "%41" * 47 + "a",
        "/ocpp/", "/ocpp", "/ocpp?x", "/ocpp/?x", "/ocppX/CS", "/OCPP/CS", "//ocpp/CS",
        "/ocpp//CS", "/ocpp/a/b", "/ocpp/CS/", "/ocpp/CS#frag", "/ocpp/../CS", "/ocpp/.",
        "/ocpp/CS%20", "/ocpp/CS+1", "/ocpp/*-_=+|@.", "/ocpp/%C3%A9", "/ocpp/é",
        "/ocpp/%2e%2e", "/ocpp/CS?", "/ocpp/CS??", "ocpp/CS", "", "/", "/ocpp/%%41",
        "/ocpp/%4%31",
    ]
    return {"path-%02d" % i: c.encode("utf-8") for i, c in enumerate(cases)}


def basic_auth_edge_cases():
    def b64(s):
        return base64.b64encode(s).decode()

    cases = [
        "Basic " + b64(b"CS-1:secret"),
        "basic " + b64(b"CS-1:secret"),
        "BASIC " + b64(b"user:pa:ss"),
        "Basic " + b64(b"user"),  # no colon
        "Basic " + b64(b":"),
        "Basic " + b64(b"user:"),
        "Basic " + b64(b":password"),
        "Basic " + b64(b"u\x00ser:p\xffw"),
        "Basic " + b64(b"a" * 48 + b":" + b"p" * 40),
        "Basic ****",
        "Basic YQ=",
        "Basic YQ===",
        "Basic Y=Q=",
        "Basic =",
        "Basic ====",
        "Basic QR==",  # non-canonical: low bits set
        "Basic QUJD",
        "Basic QUJD\n",
        "Basic dXNlcjpwYXNz=",
        "Basic  dXNlcjpwYXNz",
        "Basic\tdXNlcjpwYXNz",
        "Basic",
        "Basic ",
        "Bearer abc",
        "Basic " + "A" * 1018,  # 1024 characters: the limit
        "Basic " + "A" * 1019,
        "Basic -_-_",  # base64url is not standard base64
        "",
    ]
    out = {"auth-%02d" % i: c.encode("latin-1") for i, c in enumerate(cases)}
    for i, text in enumerate(["", "QQ==", "QUI=", "QUJD", "Q===", "QQ=A", "////", "++++"]):
        out["base64-%02d" % i] = text.encode()
    return out


def action_names(fixtures, version):
    """Every action of `version`: requests (station-initiated) and responses (central)."""
    root = fixtures / version
    names = {p.stem for d in ("requests", "responses") for p in (root / d).glob("*.json")}
    return sorted(names)


def fixture_seeds(fixtures):
    """(frame seeds, validator payload seeds, json tokens) from the fixture tree."""
    frames, payloads, tokens = {}, {}, set()

    def harvest(value):
        if isinstance(value, dict):
            for k, v in value.items():
                tokens.add(k)
                harvest(v)
        elif isinstance(value, list):
            for v in value:
                harvest(v)
        elif isinstance(value, str) and len(value) <= 40:
            tokens.add(value)

    for bit, version in enumerate(VERSIONS):
        root = fixtures / version
        actions = action_names(fixtures, version)
        tokens.update(actions)
        for d in ("invalid", "valid-frames"):
            for p in sorted((root / d).glob("*.frame")):
                data = p.read_bytes()
                if len(data) <= MAX_SEED_BYTES:
                    frames["%s-%s-%s" % (version, d, p.stem)] = data
        for d, kind in (("requests", 2), ("responses", 3)):
            for p in sorted((root / d).glob("*.json")):
                payload = json.loads(p.read_text(encoding="utf-8"))
                harvest(payload)
                text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                if kind == 2:
                    frame = '[2,"%s-%s","%s",%s]' % (version, p.stem, p.stem, text)
                else:
                    frame = '[3,"%s-%s",%s]' % (version, p.stem, text)
                frames["%s-%s-%s" % (version, d, p.stem)] = frame.encode("utf-8")
                selector = (actions.index(p.stem) << 1) | bit
                payloads["%s-%s-%s" % (version, d, p.stem)] = bytes([selector]) + text.encode()
        expected = {"ocpp1.6": 39, "ocpp2.0.1": 64}[version]
        if len(actions) != expected:
            print("make-corpus: warning: %d actions in the %s fixtures, the catalog has %d: "
                  "validator selectors may point at other actions" % (len(actions), version,
                                                                      expected), file=sys.stderr)
    return frames, payloads, tokens


def dict_entry(token):
    data = token.encode("utf-8") if isinstance(token, str) else token
    body = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else "\\x%02X" % b
                   for b in data)
    return '"%s"' % body


def write_corpus(directory, seeds):
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    seen = set()
    for name, data in sorted(seeds.items()):
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        (directory / name).write_bytes(data)
    return len(seen)


def utf8_edge_cases():
    """Texts for fuzz_websocket_utf8 (its input: a cut count, the cuts, then the text):
    sequences of every length, the forms RFC 3629 forbids, and cuts inside a sequence."""
    run = b"x" * 13  # an ASCII run across a word and a tail
    texts = {
        "two-byte": run + "\u00e9".encode() + run,
        "three-byte": run + "\u20ac".encode() + run,
        "four-byte": run + "\U0001f50c".encode() + run,
        "last-code-point": run + b"\xf4\x8f\xbf\xbf",
        "overlong-nul": run + b"\xc0\x80",
        "overlong-three": run + b"\xe0\x80\xaf",
        "surrogate": run + b"\xed\xa0\x80" + run,
        "past-last": run + b"\xf4\x90\x80\x80",
        "lone-continuation": run + b"\x80" + run,
        "truncated": run + b"\xe2\x82",
        "cut-by-ascii": b"\xc3" + run,
        "ff": b"\xff",
    }
    out = {}
    for name, text in texts.items():
        out["utf8-" + name] = b"\x00" + text
        # Two cuts: one inside the text's first non-ASCII sequence, one at its middle.
        first = next((i for i, b in enumerate(text) if b >= 0x80), 0)
        inside = min(len(text), first + 1)
        at = min(255, -(-inside * 255 // max(1, len(text))))  # rounded up: the fuzzer rounds down
        out["utf8-cut-" + name] = bytes([2, at, 128]) + text
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=pathlib.Path, required=True)
    parser.add_argument("--dicts", type=pathlib.Path, required=True,
                        help="directory of the hand-written <kind>.dict files")
    parser.add_argument("--regressions", type=pathlib.Path,
                        help="directory of <target>/ inputs that once crashed")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()

    frames, payloads, tokens = fixture_seeds(args.fixtures)
    frames.update({"edge-" + k: v for k, v in frame_edge_cases().items()})
    corpora = {
        "fuzz_frame": dict(frames),
        "fuzz_json": dict(frames, **json_edge_cases()),
        "fuzz_validator": dict(frames, **payloads),
        "fuzz_station_path": path_edge_cases(),
        "fuzz_basic_auth": basic_auth_edge_cases(),
        "fuzz_websocket_utf8": dict({"frame-" + k: b"\x00" + v for k, v in frames.items()},
                                    **utf8_edge_cases()),
    }
    # Validator payload seeds for the edge cases too, for one action of each version.
    for name, data in frame_edge_cases().items():
        corpora["fuzz_validator"]["payload-" + name] = b"\x00" + data
    if args.regressions and args.regressions.is_dir():
        for target in TARGETS:
            for p in sorted((args.regressions / target).glob("*")):
                if p.is_file() and not p.name.startswith("."):
                    corpora[target]["regression-" + p.name] = p.read_bytes()

    counts = []
    for target in TARGETS:
        n = write_corpus(args.out / "corpus" / target, corpora[target])
        counts.append("%s %d" % (target, n))

    (args.out / "dict").mkdir(parents=True, exist_ok=True)
    for target in TARGETS:
        kind = DICT_KIND[target]
        lines = [(args.dicts / (kind + ".dict")).read_text(encoding="utf-8").rstrip("\n")]
        if kind == "json":
            lines.append("# taken from tests/fixtures by make-corpus.py")
            lines += [dict_entry('"%s"' % t) for t in sorted(tokens)
                      if '"' not in t and "\\" not in t]
        (args.out / "dict" / (target + ".dict")).write_text("\n".join(lines) + "\n",
                                                            encoding="utf-8")
    print("make-corpus: seeds: " + ", ".join(counts))


if __name__ == "__main__":
    main()
