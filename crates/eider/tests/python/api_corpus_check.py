#!/usr/bin/env python3
"""Delivers every corpus message over LMTP and checks what the HTTP API makes of it.

usage: api_corpus_check.py --corpus DIR --lmtp PORT --api PORT --token T --user ID
                           --mailbox ID --address A [--limit N]

The independent decoder is Python's `email` package (policy.default). For each `*.eml` in
MANIFEST.tsv, delivered to the user's INBOX (UIDs count up from 1 in delivery order):

* text: the decoded text/plain body Python picks (`get_body(('plain',))`, when its charset decodes
  strictly) must appear in the API's `text` (whitespace collapsed);
* html: when Python finds a text/html body, the API's `html` array is not empty, holds no
  `<script`, `javascript:` URL or `on...=` handler, and its visible text contains the visible text
  of Python's decoded HTML (script/style content dropped, whitespace collapsed);
* attachments: every leaf part Python marks `Content-Disposition: attachment` (message/* aside) is
  among the API's attachments with the same decoded bytes and content type; every API attachment
  downloads with status 200, its `contentType` as Content-Type and exactly `size` bytes.

Prints one JSON report on stdout; the Rust test (tests/api_mail.rs) makes the assertions.
"""

import argparse
import email
import email.policy
import html.parser
import json
import os
import re
import smtplib
import urllib.request
import urllib.error

SENDER = "corpus-sender@example.net"


def normalize(raw):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def squash(text):
    return " ".join(text.split())


def corpus_files(corpus):
    files = []
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            name = line.split("\t", 1)[0]
            if name.endswith(".eml") and os.path.isfile(os.path.join(corpus, name)):
                files.append(name)
    return files


class VisibleText(html.parser.HTMLParser):
    """The text a browser would show: tags dropped, script/style content dropped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def visible(markup):
    p = VisibleText()
    try:
        p.feed(markup)
        p.close()
    except Exception:  # noqa: BLE001 - a page html.parser cannot read is not compared
        return None
    # Separate words across tags the way whitespace collapsing would.
    return squash(" ".join(p.out))


def strict_text(part):
    """The decoded text of a text/* part, or None when its charset does not decode strictly."""
    payload = part.get_payload(decode=True)
    if payload is None:
        return None
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None


class Api:
    def __init__(self, port, token):
        self.base = "http://127.0.0.1:%d" % port
        self.token = token

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"X-Access-Token": self.token})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)


def check(name, raw, msg, api, base, uid, report):
    fail = lambda what: report["failures"].append({"file": name, "uid": uid, "what": what})  # noqa: E731
    status, view = api.json("%s/%d" % (base, uid))
    if status != 200:
        fail("GET message: %d %s" % (status, view))
        return
    try:
        plain = msg.get_body(preferencelist=("plain",))
        htmlpart = msg.get_body(preferencelist=("html",))
    except Exception:  # noqa: BLE001 - Python cannot walk this structure; nothing to compare
        report["python_unreadable"] += 1
        return

    if plain is not None and plain.get_content_disposition() != "attachment":
        text = strict_text(plain)
        if text is None:
            report["text_undecidable"] += 1
        elif squash(text):
            report["text_checked"] += 1
            if squash(text) not in squash(view.get("text", "")):
                fail("text: %r not in %r" % (squash(text)[:120], squash(view.get("text", ""))[:200]))

    if htmlpart is not None and htmlpart.get_content_disposition() != "attachment":
        markup = strict_text(htmlpart)
        got = view.get("html") or []
        joined = "\n".join(got)
        lower = joined.lower()
        if markup is None:
            report["html_undecidable"] += 1
        else:
            want = visible(markup)
            if want is None:
                report["html_undecidable"] += 1
            elif want:
                report["html_checked"] += 1
                if not got:
                    fail("html: empty, expected %r" % want[:120])
                elif want not in (visible(joined) or ""):
                    fail("html: %r not in %r" % (want[:120], (visible(joined) or "")[:200]))
        if "<script" in lower or "javascript:" in lower or re.search(r"<[^>]*\son\w+\s*=", lower):
            fail("html: active content survived sanitizing")

    atts = view.get("attachments") or []
    downloaded = []
    for a in atts:
        status, ctype, body = api.get("%s/%d/attachments/%s" % (base, uid, a["id"]))
        report["attachments_downloaded"] += 1
        if status != 200:
            fail("attachment %s: status %d" % (a["id"], status))
            continue
        if ctype.split(";")[0].strip().lower() != a["contentType"]:
            fail("attachment %s: Content-Type %r, listed %r" % (a["id"], ctype, a["contentType"]))
        if len(body) != a["size"]:
            fail("attachment %s: %d bytes, listed size %d" % (a["id"], len(body), a["size"]))
        downloaded.append((a["contentType"], body))
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() != "attachment":
            continue
        if part.get_content_maintype() == "message":
            continue
        data = part.get_payload(decode=True)
        if data is None:
            continue
        report["attachments_checked"] += 1
        ctype = part.get_content_type()
        if (ctype, data) in downloaded:
            continue
        same_bytes = [c for c, b in downloaded if b == data]
        if same_bytes:
            fail("attachment %r: content type %r, Python says %r"
                 % (part.get_filename(), same_bytes[0], ctype))
        else:
            fail("attachment %r (%s, %d bytes) missing or decoded differently"
                 % (part.get_filename(), ctype, len(data)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--lmtp", type=int, required=True)
    ap.add_argument("--api", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--mailbox", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    files = corpus_files(args.corpus)
    if args.limit:
        files = files[: args.limit]
    api = Api(args.api, args.token)
    base = "/users/%s/mailboxes/%s/messages" % (args.user, args.mailbox)
    report = {
        "files": len(files), "delivered": 0, "refused": [], "failures": [],
        "python_unreadable": 0, "text_checked": 0, "text_undecidable": 0,
        "html_checked": 0, "html_undecidable": 0,
        "attachments_checked": 0, "attachments_downloaded": 0,
    }
    lmtp = smtplib.LMTP("127.0.0.1", args.lmtp, timeout=60)
    lmtp.ehlo()
    uid = 0
    for name in files:
        with open(os.path.join(args.corpus, name), "rb") as f:
            raw = normalize(f.read())
        code, text = lmtp.mail(SENDER, ["BODY=8BITMIME"])
        assert code == 250, (name, code, text)
        code, text = lmtp.rcpt(args.address)
        assert code == 250, (name, code, text)
        code, text = lmtp.data(raw)
        if code != 250:
            report["refused"].append({"file": name, "reply": "%d %s" % (code, text.decode("utf-8", "replace"))})
            lmtp.rset()
            continue
        uid += 1
        report["delivered"] += 1
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            check(name, raw, msg, api, base, uid, report)
        except Exception as e:  # noqa: BLE001 - one message's trouble is reported, not fatal
            report["failures"].append({"file": name, "uid": uid, "what": "checker: %r" % e})
    lmtp.quit()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
