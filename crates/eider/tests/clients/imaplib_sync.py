#!/usr/bin/env python3
"""A small offline IMAP client on Python's imaplib, as a script author would write one: it keeps a
local copy of every mailbox (flags and message bytes, in a folder) and resynchronises it with
QRESYNC (RFC 7162): VANISHED (EARLIER) for messages gone, changed flags since the last
HIGHESTMODSEQ, new messages above the last known UID.

usage: imaplib_sync.py PORT USER PASS CACHE_DIR initial   download everything
       imaplib_sync.py PORT USER PASS CACHE_DIR change    make the client-side changes (see
                                                          state.py) through its own session, then
                                                          resync
Both print the cache as state.py's JSON state.
"""
import hashlib
import imaplib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import state  # noqa: E402

port, user, password, cache_dir, phase = sys.argv[1:6]
index_path = os.path.join(cache_dir, "index.json")


def ok(result):
    return state.ok(result)


def load():
    if os.path.exists(index_path):
        with open(index_path) as f:
            return json.load(f)
    return {}


def save(index):
    with open(index_path, "w") as f:
        json.dump(index, f)


def store_body(body):
    name = hashlib.sha256(body).hexdigest()
    with open(os.path.join(cache_dir, name), "wb") as f:
        f.write(body)
    return name


def uid_set(uids):
    return ",".join(str(u) for u in sorted(uids))


def expand(seq):
    out = []
    for part in seq.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.extend(range(min(a, b), max(a, b) + 1))
        elif part:
            out.append(int(part))
    return out


def download_new(m, box, uidnext):
    """Messages from the last sync's UIDNEXT on that are not in the cache yet (the client's own
    MOVE put some there already, from COPYUID)."""
    typ, data = m.uid("SEARCH", None, "UID %d:*" % uidnext)
    assert typ == "OK", data
    new = [u for u in map(int, data[0].split()) if u >= uidnext and str(u) not in box["messages"]]
    if not new:
        return
    typ, data = m.uid("FETCH", uid_set(new), "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    for uid, entry in state.parse_fetch(data).items():
        if uid in new and "body" in entry:
            box["messages"][str(uid)] = [entry["flags"], store_body(entry["body"])]
    missing = [u for u in new if str(u) not in box["messages"]]
    assert not missing, f"FETCH did not return {missing}"


def resync(m, index):
    for name in state.mailboxes(m):
        box = index.get(name)
        if box is None:
            typ, data = m._simple_command("SELECT", state.quote(name), "(CONDSTORE)")
            assert typ == "OK", data
            m.state = "SELECTED"
            box = {"uidvalidity": 0, "modseq": 0, "uidnext": 1, "messages": {}}
        else:
            known = uid_set(int(u) for u in box["messages"]) or "1"
            qresync = "(QRESYNC (%d %d %s))" % (box["uidvalidity"], box["modseq"], known)
            m.untagged_responses.clear()
            typ, data = m._simple_command("SELECT", state.quote(name), qresync)
            assert typ == "OK", data
            m.state = "SELECTED"
        uidvalidity = int(next(re.search(rb"UIDVALIDITY (\d+)", r).group(1)
                               for r in m.untagged_responses["OK"] if b"UIDVALIDITY" in r))
        modseq = int(next(re.search(rb"HIGHESTMODSEQ (\d+)", r).group(1)
                          for r in m.untagged_responses["OK"] if b"HIGHESTMODSEQ" in r))
        uidnext = int(next(re.search(rb"UIDNEXT (\d+)", r).group(1)
                           for r in m.untagged_responses["OK"] if b"UIDNEXT" in r))
        if box["uidvalidity"] not in (0, uidvalidity):
            box = {"uidvalidity": 0, "modseq": 0, "uidnext": 1, "messages": {}}
        if box["uidvalidity"]:
            for vanished in m.untagged_responses.get("VANISHED", []):
                match = re.fullmatch(rb"\(EARLIER\) ([\d,:]+)", vanished)
                assert match, vanished
                for uid in expand(match.group(1).decode()):
                    box["messages"].pop(str(uid), None)
            for uid, entry in state.parse_fetch(m.untagged_responses.get("FETCH", [])).items():
                if str(uid) in box["messages"] and "flags" in entry:
                    box["messages"][str(uid)][0] = entry["flags"]
        # imaplib keeps untagged responses until someone takes them; these are handled now.
        m.untagged_responses.pop("FETCH", None)
        m.untagged_responses.pop("VANISHED", None)
        download_new(m, box, box["uidnext"])
        box["uidvalidity"], box["modseq"], box["uidnext"] = uidvalidity, modseq, uidnext
        index[name] = box
    for gone in set(index) - set(state.mailboxes(m)):
        del index[gone]


def client_changes(m, index):
    """The client-side change set: made in the cache first, then sent to the server."""
    inbox = index["INBOX"]["messages"]
    archive = index["Archive"]["messages"]
    uids = sorted(int(u) for u in inbox)
    pick = lambda r: [u for i, u in enumerate(uids) if i % 10 == r]
    ok(m.select("INBOX"))
    ok(m.uid("STORE", uid_set(pick(5)), "+FLAGS.SILENT", "(\\Flagged)"))
    for uid in pick(5):
        inbox[str(uid)][0] = sorted(set(inbox[str(uid)][0]) | {"\\Flagged"})
    for uid in pick(6):
        flags = set(inbox[str(uid)][0]) ^ {"\\Seen"}
        op = "+FLAGS.SILENT" if "\\Seen" in flags else "-FLAGS.SILENT"
        ok(m.uid("STORE", str(uid), op, "(\\Seen)"))
        inbox[str(uid)][0] = sorted(flags)
    typ, data = m.uid("MOVE", uid_set(pick(7)), "Archive")
    assert typ == "OK", data
    copyuid = [r for r in m.untagged_responses.get("OK", []) if b"COPYUID" in r]
    match = re.search(rb"COPYUID \d+ ([\d,:]+) ([\d,:]+)", copyuid[-1])
    for old, new in zip(expand(match.group(1).decode()), expand(match.group(2).decode())):
        archive[str(new)] = inbox.pop(str(old))
    ok(m.uid("STORE", uid_set(pick(8)), "+FLAGS.SILENT", "(\\Deleted)"))
    ok(m.uid("EXPUNGE", uid_set(pick(8))))
    for uid in pick(8):
        del inbox[str(uid)]
    ok(m.unselect())


def main():
    os.makedirs(cache_dir, exist_ok=True)
    m = state.connect(port, user, password)
    ok(m.enable("QRESYNC"))
    index = load()
    if phase == "change":
        client_changes(m, index)
    resync(m, index)
    m.logout()
    save(index)
    out = {}
    for name, box in index.items():
        messages = {}
        for uid, (flags, body_file) in box["messages"].items():
            with open(os.path.join(cache_dir, body_file), "rb") as f:
                messages[uid] = [sorted(flags), state.digest(f.read())]
        out[name] = dict(sorted(messages.items(), key=lambda kv: int(kv[0])))
    print(json.dumps(out, sort_keys=True))


main()
