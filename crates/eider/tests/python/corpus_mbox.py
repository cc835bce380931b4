"""Writes small corpus messages as an mbox (imaptest's message source) or as one file per message.

Usage: corpus_mbox.py CORPUS_DIR mbox OUT_FILE
       corpus_mbox.py CORPUS_DIR files OUT_DIR COUNT

Only messages that a client can key on are used: under 20 KB, no NUL byte, exactly one well-formed
Message-ID, unique across the selection (imaptest tracks messages by Message-ID). `files` writes
COUNT messages, cycling through the selection; each copy gets its own Message-ID so every message
is distinct. Prints how many messages were written.
"""
import email
import os
import re
import sys


def selection(root):
    found = []
    for dirpath, _, names in os.walk(root):
        if "LICENSES" in dirpath:
            continue
        for name in names:
            if name in ("MANIFEST.tsv", "dovecot-fetch.jsonl"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read()
            if b"\0" in data or len(data) > 20000:
                continue
            found.append((len(data), path, data))
    seen = set()
    out = []
    for _, _, data in sorted(found):
        ids = email.message_from_bytes(data).get_all("Message-ID") or []
        if len(ids) != 1:
            continue
        mid = re.sub(r"\([^)]*\)|\s", "", str(ids[0]))
        if not re.fullmatch(r"<[^<>@]+@[^<>@]+>", mid) or mid in seen:
            continue
        seen.add(mid)
        out.append(data.replace(b"\r\n", b"\n"))
    return out


def main():
    root, mode, target = sys.argv[1:4]
    messages = selection(root)
    if mode == "mbox":
        with open(target, "wb") as out:
            for data in messages:
                lines = [b">" + l if l.startswith(b"From ") else l for l in data.split(b"\n")]
                out.write(b"From test@example.com  Thu Jan  1 00:00:00 2026\n")
                out.write(b"\n".join(lines).rstrip(b"\n") + b"\n\n")
        print(len(messages))
        return
    count = int(sys.argv[4])
    os.makedirs(target, exist_ok=True)
    for i in range(count):
        data = messages[i % len(messages)]
        # A fresh Message-ID in front; the original one is renamed so the header stays single.
        data = re.sub(rb"(?im)^message-id:", b"X-Original-Message-ID:", data, count=1)
        data = b"Message-ID: <corpus-%d@clients.eider.test>\n" % i + data
        with open(os.path.join(target, "%04d.eml" % i), "wb") as f:
            f.write(data.replace(b"\n", b"\r\n"))
    print(count)


if __name__ == "__main__":
    main()
