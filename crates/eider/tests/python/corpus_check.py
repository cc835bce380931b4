#!/usr/bin/env python3
"""Delivers and appends every corpus message to Eider and compares what comes back.

usage: corpus_check.py --corpus DIR --eider-imap PORT --eider-lmtp PORT [--dovecot-imap PORT]
                       --user U --password P --address A [--limit N]

Independent client: Python's imaplib and smtplib.LMTP only. For each `*.eml` in MANIFEST.tsv:

* APPEND the file's raw bytes (line endings as they are) to Eider's `Appended` mailbox, and the
  same message normalized with Eider's rule (bare LF and lone CR become CRLF) to Dovecot's INBOX;
  deliver it over LMTP to Eider's INBOX.
* Eider's BODY[] must be the normalized file, byte for byte, and RFC822.SIZE its length.
* Every section (BODY[n], BODY[n.MIME], BODY[n.HEADER]/[n.TEXT] of message/rfc822 parts, the top
  level HEADER/TEXT/HEADER.FIELDS) taken from both servers' BODYSTRUCTURE must be byte-identical
  between Eider and Dovecot. Without Dovecot: each BODY[n] must lie inside BODY[] and have the
  size that BODYSTRUCTURE announces.
* The LMTP copy must be `Return-Path: <sender>` CRLF `Delivered-To: rcpt` CRLF + the message, and
  all its sections, ENVELOPE, BODY and BODYSTRUCTURE must equal those of the appended copy.
* ENVELOPE, BODY and BODYSTRUCTURE are compared with Dovecot's (live, or the recorded
  dovecot-fetch.jsonl): exact matches are counted and mismatches listed.

Prints one JSON report on stdout; the Rust test (tests/corpus.rs) makes the assertions.
"""

import argparse
import imaplib
import json
import os
import re
import smtplib
import sys
import time

imaplib._MAXLINE = 200_000_000

SENDER = "corpus-sender@example.net"
HEADER_FIELDS = "HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE)"



def normalize(raw):
    """Eider's rule: bare LF and lone CR become CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def normalize_lf_only(raw):
    """Dovecot's rule: bare LF becomes CRLF, a lone CR stays a data byte."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def corpus_files(corpus):
    files = []
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            name = line.split("\t", 1)[0]
            if name.endswith(".eml") and os.path.isfile(os.path.join(corpus, name)):
                files.append(name)
    return files


# ---- IMAP value parsing ------------------------------------------------------------------------


class Parser:
    def __init__(self, data):
        self.s = data
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] == 0x20:
            self.i += 1

    def value(self):
        """Returns (kind, value): ("nil", None), ("str", bytes), ("atom", bytes), ("list", [...])."""
        self.ws()
        s = self.s
        c = s[self.i : self.i + 1]
        if c == b"(":
            self.i += 1
            items = []
            while True:
                self.ws()
                if s[self.i : self.i + 1] == b")":
                    self.i += 1
                    return ("list", items)
                items.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while self.i < len(s) and s[self.i : self.i + 1] != b'"':
                if s[self.i : self.i + 1] == b"\\":
                    self.i += 1
                out += s[self.i : self.i + 1]
                self.i += 1
            self.i += 1
            return ("str", bytes(out))
        if c == b"{" or s[self.i : self.i + 2] == b"~{":
            close = s.index(b"}", self.i)
            n = int(s[s.index(b"{", self.i) + 1 : close])
            start = close + 3  # "}\r\n"
            self.i = start + n
            return ("str", s[start : start + n])
        start = self.i
        while self.i < len(s) and s[self.i : self.i + 1] not in (b" ", b")", b"("):
            if s[self.i : self.i + 1] == b"[":
                self.i = s.index(b"]", self.i)
            self.i += 1
        atom = s[start : self.i]
        if atom.upper() == b"NIL":
            return ("nil", None)
        return ("atom", atom)

    def raw_value(self):
        self.ws()
        start = self.i
        v = self.value()
        return v, self.s[start : self.i]


def parse_fetch(msg):
    """`N (NAME VALUE ...)` -> {NAME: (parsed, raw bytes)}; section names upper-cased."""
    p = Parser(msg)
    p.i = msg.index(b"(") + 1
    items = {}
    while True:
        p.ws()
        if p.i >= len(msg) or msg[p.i : p.i + 1] == b")":
            return items
        start = p.i
        while msg[p.i : p.i + 1] not in (b" ", b"["):
            p.i += 1
        if msg[p.i : p.i + 1] == b"[":
            p.i = msg.index(b"]", p.i) + 1
            if msg[p.i : p.i + 1] == b"<":
                p.i = msg.index(b">", p.i) + 1
        name = msg[start : p.i].decode("latin-1").upper()
        items[name] = p.raw_value()


def fetch_messages(data):
    """Reassembles imaplib's FETCH pieces (literals split out) into one byte string per message."""
    msgs = []
    cont = False
    for el in data:
        if isinstance(el, tuple):
            head, lit = el
            if not (cont and head[:1] in (b" ", b")")):
                msgs.append(bytearray())
            msgs[-1] += head + b"\r\n" + lit
            cont = True
        elif el is None:
            continue
        else:
            if not (cont and el[:1] in (b" ", b")")):
                msgs.append(bytearray())
            msgs[-1] += el
            cont = False  # a plain line ends the response
    return [bytes(m) for m in msgs]


class Imap:
    def __init__(self, port, user, password):
        self.c = imaplib.IMAP4("127.0.0.1", port)
        self.c.login(user, password)

    def command(self, *args):
        typ, data = self.c._simple_command(*args)
        return typ, data

    def append(self, mailbox, message):
        """APPEND with the literal exactly as given (imaplib.append would rewrite line endings)."""
        self.c.literal = message
        try:
            typ, data = self.c._simple_command("APPEND", mailbox)
        except imaplib.IMAP4.error as e:
            return ("BAD", str(e))
        return (typ, (data[-1] or b"").decode("latin-1"))

    def select(self, mailbox):
        typ, data = self.c.select(mailbox, readonly=True)
        assert typ == "OK", (mailbox, data)

    def fetch(self, uids, items):
        self.c.untagged_responses.pop("FETCH", None)
        typ, data = self.c._simple_command("UID", "FETCH", uids, "(UID %s)" % items)
        assert typ == "OK", (uids, items, data)
        typ, data = self.c._untagged_response(typ, data, "FETCH")
        out = {}
        for m in fetch_messages(data):
            it = parse_fetch(m)
            if "UID" in it:
                uid = int(it["UID"][0][1])
                out.setdefault(uid, {}).update(it)
        return out

    def uids(self):
        typ, data = self.c._simple_command("UID", "SEARCH", "ALL")
        typ, data = self.c._untagged_response(typ, data, "SEARCH")
        return [int(x) for x in b" ".join(d for d in data if d).split()]


# ---- structure walking -------------------------------------------------------------------------


def is_multipart(body):
    return body[0] == "list" and body[1] and body[1][0][0] == "list"


def lower(v):
    return (v[1] or b"").lower() if v[0] in ("str", "atom") else b""


def leading_children(body):
    out = []
    for x in body[1]:
        if x[0] != "list":
            break
        out.append(x)
    return out


def all_sections(bodystructure):
    out = ["", "HEADER", "TEXT", HEADER_FIELDS]
    if bodystructure is None or bodystructure[0] != "list":
        return out
    if is_multipart(bodystructure):
        for i, child in enumerate(leading_children(bodystructure), 1):
            part_sections_strict(child, [i], out)
    else:
        part_sections_strict(bodystructure, [1], out)
    return out


def part_sections_strict(body, num, out):
    name = ".".join(map(str, num))
    out.append(name)
    out.append(name + ".MIME")
    if body[0] != "list":
        return
    if is_multipart(body):
        for i, child in enumerate(leading_children(body), 1):
            part_sections_strict(child, num + [i], out)
        return
    items = body[1]
    if len(items) > 8 and lower(items[0]) == b"message" and lower(items[1]) == b"rfc822":
        out.append(name + ".HEADER")
        out.append(name + ".TEXT")
        out.append(name + "." + HEADER_FIELDS)
        inner = items[8]
        if inner[0] == "list":
            if is_multipart(inner):
                for i, child in enumerate(leading_children(inner), 1):
                    part_sections_strict(child, num + [i], out)
            else:
                part_sections_strict(inner, num + [1], out)


def leaf_sizes(body, num, out):
    """{section: announced body size} for every non-multipart part."""
    if body[0] != "list":
        return
    if is_multipart(body):
        for i, child in enumerate(leading_children(body), 1):
            leaf_sizes(child, num + [i], out)
        return
    items = body[1]
    if len(items) > 6 and items[6][0] == "atom" and items[6][1].isdigit():
        out[".".join(map(str, num))] = int(items[6][1])
    if len(items) > 8 and lower(items[0]) == b"message" and lower(items[1]) == b"rfc822":
        inner = items[8]
        if inner[0] == "list" and is_multipart(inner):
            for i, child in enumerate(leading_children(inner), 1):
                leaf_sizes(child, num + [i], out)
        else:
            leaf_sizes(inner, num + [1], out)


def section_key(section):
    return "BODY[%s]" % section


def fetch_sections(imap, uid, sections):
    """{section: bytes or None} in batches of 400 sections (one FETCH line stays under 16 KB)."""
    got = {}
    for i in range(0, len(sections), 400):
        batch = sections[i : i + 400]
        items = " ".join("BODY.PEEK[%s]" % s for s in batch)
        res = imap.fetch(str(uid), items).get(uid, {})
        for s in batch:
            v = res.get(section_key(s).upper())
            got[s] = None if v is None else v[0][1]
    return got


# ---- the run -----------------------------------------------------------------------------------


def lmtp_deliver(port, files, corpus, rcpt):
    """One LMTP connection, one transaction per file. Returns {file: (code, text)}."""
    out = {}
    lmtp = smtplib.LMTP("127.0.0.1", port, timeout=60)
    code, _ = lmtp.ehlo()
    assert code == 250, code
    for name in files:
        with open(os.path.join(corpus, name), "rb") as f:
            raw = f.read()
        code, text = lmtp.mail(SENDER, ["BODY=8BITMIME"])
        assert code == 250, (name, code, text)
        code, text = lmtp.rcpt(rcpt)
        assert code == 250, (name, code, text)
        # SMTP carries CRLF lines, as an MTA would send them; data() dot-stuffs and ends the
        # message with CRLF if it does not end with one.
        code, text = lmtp.data(normalize(raw))
        out[name] = (code, text.decode("utf-8", "replace"))
        if code != 250:
            lmtp.rset()
    lmtp.quit()
    return out


def lmtp_expected(raw, rcpt):
    body = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    prefix = ("Return-Path: <%s>\r\nDelivered-To: %s\r\n" % (SENDER, rcpt)).encode()
    return prefix, body


def whole_header_sections(bodystructure):
    """Sections that contain the top-level header, and so LMTP's trace lines."""
    out = {"", "HEADER"}
    if not is_multipart(bodystructure):
        out.add("1.MIME")
    return out


def check_message(name, raw, args, report, eider, dove, appended, lmtp_uid, dove_uid, reference,
                  e_meta, l_meta):
    fail = report["byte_failures"].append
    expected = normalize(raw)
    has_nul = b"\0" in raw
    if has_nul:
        report["nul_files"].append(name)
        # RFC 3501 forbids NUL in a literal; like Dovecot, Eider sends it as 0x80.
        expected = expected.replace(b"\0", b"\x80")
    prefix, lbody = lmtp_expected(raw, args.address)
    lbody = lbody.replace(b"\0", b"\x80")

    # The copy to compare with Dovecot: the appended one, else the LMTP one (NUL messages,
    # which IMAP APPEND cannot carry).
    if name in appended:
        mailbox, uid, meta, trace, want = "Appended", appended[name], e_meta, b"", expected
    elif name in lmtp_uid and lbody == expected:
        mailbox, uid, meta, trace, want = "INBOX", lmtp_uid[name], l_meta, prefix, prefix + expected
    else:
        return
    meta = meta[uid]
    size = int(meta["RFC822.SIZE"][0][1])
    if size != len(want):
        fail("%s: RFC822.SIZE %d, expected %d" % (name, size, len(want)))
    bs = meta["BODYSTRUCTURE"][0]
    sections = all_sections(bs)
    ref = reference.get(name)
    if dove and name in dove_uid and ref and "BODYSTRUCTURE" in ref:
        for s in all_sections(ref["BODYSTRUCTURE"][0]):
            if s not in sections:
                sections.append(s)
    eider.select(mailbox)
    mine = fetch_sections(eider, uid, sections)
    report["checks"]["body"] += 1
    if mine[""] != want:
        fail("%s: BODY[] differs from the normalized file (%s vs %d bytes)"
             % (name, None if mine[""] is None else len(mine[""]), len(want)))
    whole = whole_header_sections(bs)
    if dove and name in dove_uid:
        theirs = fetch_sections(dove, dove_uid[name], sections)
        for s in sections:
            a, b = mine[s], theirs[s]
            if trace and s in whole and a is not None and a.startswith(trace):
                a = a[len(trace):]
            if s.endswith(HEADER_FIELDS):
                # Compared, but not required to be identical: Dovecot's HEADER.FIELDS of a header
                # that a boundary cuts short differs (docs/DOVECOT-DIFFERENCES.md).
                report["checks"]["header_fields"] += 1
                if a != b:
                    report["header_fields_differ"].append("%s %s" % (name, s))
                continue
            report["checks"]["sections"] += 1
            if a != b and meta["BODYSTRUCTURE"][1] != (ref or {}).get("BODYSTRUCTURE", (0, 0))[1]:
                # the structures differ (a documented difference), so the parts do too
                report["sections_differ_with_structure"].append("%s %s" % (name, s))
            elif a != b:
                fail("%s: BODY[%s] differs from Dovecot (%s vs %s bytes)" % (
                    name, s, None if a is None else len(a), None if b is None else len(b)))
    else:
        sizes = {}
        # a single-part message is its own part 1
        leaf_sizes(bs, [] if is_multipart(bs) else [1], sizes)
        for s, n in sizes.items():
            report["checks"]["sections"] += 1
            got = mine.get(s)
            if got is None or len(got) != n or got not in want:
                fail("%s: BODY[%s] is %s bytes, BODYSTRUCTURE says %d" % (
                    name, s, None if got is None else len(got), n))

    # The LMTP copy of an appended message: two trace lines, then the message; the same
    # structure and sections.
    if name in lmtp_uid and not trace:
        luid = lmtp_uid[name]
        eider.select("INBOX")
        lm = fetch_sections(eider, luid, sections)
        lmeta = l_meta[luid]
        if lm[""] != prefix + lbody:
            fail("%s: LMTP BODY[] is not the trace lines + message" % name)
        if int(lmeta["RFC822.SIZE"][0][1]) != len(prefix + lbody):
            fail("%s: LMTP RFC822.SIZE %s" % (name, lmeta["RFC822.SIZE"][0][1]))
        if lbody == expected:
            for item in ("ENVELOPE", "BODY", "BODYSTRUCTURE"):
                if lmeta[item][1] != meta[item][1]:
                    fail("%s: LMTP copy's %s differs from the appended copy's" % (name, item))
            for s in sections:
                report["checks"]["lmtp_sections"] += 1
                want_s = mine[s]
                if s in whole and want_s is not None:
                    want_s = prefix + want_s
                if lm[s] != want_s:
                    fail("%s: LMTP BODY[%s] differs from the appended copy's" % (name, s))
        else:
            report["checks"]["lmtp_unterminated"] = report["checks"].get("lmtp_unterminated", 0) + 1

    # ENVELOPE / BODY / BODYSTRUCTURE against Dovecot.
    if ref:
        report["compared"] += 1
        for item, key in (("ENVELOPE", "envelope"), ("BODY", "body"),
                          ("BODYSTRUCTURE", "bodystructure")):
            if item in ref and ref[item][1] == meta[item][1]:
                report["matches"][key] += 1
            else:
                report["mismatches"][key].append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--eider-imap", type=int, required=True)
    ap.add_argument("--eider-lmtp", type=int, required=True)
    ap.add_argument("--dovecot-imap", type=int)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    t0 = time.time()
    files = corpus_files(args.corpus)
    if args.limit:
        files = files[: args.limit]
    raws = {}
    for name in files:
        with open(os.path.join(args.corpus, name), "rb") as f:
            raws[name] = f.read()

    report = {
        "files": len(files),
        "dovecot": "live" if args.dovecot_imap else "jsonl",
        "append": {},
        "dovecot_append": {},
        "lmtp": {},
        "byte_failures": [],
        "checks": {"body": 0, "sections": 0, "lmtp_sections": 0, "header_fields": 0},
        "header_fields_differ": [],
        "sections_differ_with_structure": [],
        "compared": 0,
        "matches": {"envelope": 0, "body": 0, "bodystructure": 0},
        "mismatches": {"envelope": [], "body": [], "bodystructure": []},
        "dovecot_lone_cr_sizes": {},
        "nul_files": [],
    }
    eider = Imap(args.eider_imap, args.user, args.password)
    typ, data = eider.command("CREATE", "Appended")
    assert typ == "OK", data

    # APPEND the raw file bytes to Eider.
    appended = {}
    for name in files:
        typ, text = eider.append("Appended", raws[name])
        report["append"][name] = typ
        if typ == "OK":
            m = re.search(r"APPENDUID \d+ (\d+)", text)
            assert m, text
            appended[name] = int(m.group(1))

    # The same messages, with Eider's line-ending rule applied, to Dovecot; the lone-CR files also
    # as they are, to record Dovecot's own sizes for them.
    dove = None
    dove_uid = {}
    if args.dovecot_imap:
        dove = Imap(args.dovecot_imap, args.user, args.password)
        dove.command("CREATE", "Raw")
        for name in files:
            typ, text = dove.append("INBOX", normalize(raws[name]))
            report["dovecot_append"][name] = typ
            if typ == "OK":
                dove_uid[name] = int(re.search(r"APPENDUID \d+ (\d+)", text).group(1))
            if re.search(rb"\r(?!\n)", raws[name]):
                typ, text = dove.append("Raw", raws[name])
                uid = int(re.search(r"APPENDUID \d+ (\d+)", text).group(1))
                dove.select("Raw")
                size = dove.fetch(str(uid), "RFC822.SIZE")[uid]["RFC822.SIZE"][0][1]
                report["dovecot_lone_cr_sizes"][name] = {
                    "dovecot": int(size),
                    "lf_only": len(normalize_lf_only(raws[name])),
                    "eider_rule": len(normalize(raws[name])),
                }
        dove.select("INBOX")

    report["append_seconds"] = round(time.time() - t0, 1)
    # LMTP delivery of every file to Eider's INBOX.
    t_lmtp = time.time()
    delivered = lmtp_deliver(args.eider_lmtp, files, args.corpus, args.address)
    report["lmtp"] = {k: v[0] for k, v in delivered.items()}
    report["lmtp_seconds"] = round(time.time() - t_lmtp, 1)
    eider.select("INBOX")
    inbox_uids = eider.uids()
    lmtp_ok = [n for n in files if delivered[n][0] == 250]
    assert len(inbox_uids) == len(lmtp_ok), (len(inbox_uids), len(lmtp_ok))
    lmtp_uid = dict(zip(lmtp_ok, inbox_uids))

    # Reference ENVELOPE/BODY/BODYSTRUCTURE.
    reference = {}
    if dove:
        got = dove.fetch("1:*", "RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE")
        for name, uid in dove_uid.items():
            reference[name] = got[uid]
    else:
        with open(os.path.join(args.corpus, "dovecot-fetch.jsonl"), encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                resp = rec["response"].encode("latin-1")  # wire bytes as Latin-1 code points
                reference[rec["file"]] = parse_fetch(resp[resp.index(b"FETCH") + 6 :])

    meta_items = "RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE"
    eider.select("Appended")
    e_meta = eider.fetch("1:*", meta_items)
    eider.select("INBOX")
    l_meta = eider.fetch("1:*", meta_items)

    # Per message: bytes and sections.
    report["phase_seconds"] = {"setup": round(time.time() - t0, 1)}
    slow = []
    for name in files:
        t1 = time.time()
        check_message(name, raws[name], args, report, eider, dove, appended, lmtp_uid,
                      dove_uid, reference, e_meta, l_meta)
        slow.append((round(time.time() - t1, 2), name))
    report["slowest"] = sorted(slow, reverse=True)[:5]

    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
