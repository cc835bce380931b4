"""COMPRESS=DEFLATE client (RFC 4978) over a raw socket with zlib raw deflate (wbits=-15).

Usage: imap_compress.py PORT USER PASSWORD
Prints every server line (uncompressed and inflated), one per output line, with CRLF shown as
nothing; the Rust test compares the transcript exactly.
"""
import socket
import sys
import zlib

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.create_connection(("127.0.0.1", port), timeout=30)
plain = sock.makefile("rb")


def plain_line():
    return plain.readline().decode("utf-8", "replace").rstrip("\r\n")


def show(line):
    print(line)


greeting = plain_line()
show(greeting.split(" [")[0])
sock.sendall(f"a LOGIN {user} {password}\r\n".encode())
show(plain_line().split(" [")[0])
sock.sendall(b"b COMPRESS DEFLATE\r\n")
show(plain_line())

deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
inflater = zlib.decompressobj(-15)
# The server sends nothing after its OK until the client speaks, so the line reader above
# holds no compressed bytes.
pending = b""


def send(data):
    sock.sendall(deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH))


def line():
    global pending
    while b"\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed; pending=%r" % pending)
        pending += inflater.decompress(chunk)
    head, pending = pending.split(b"\r\n", 1)
    return head.decode("utf-8", "replace")


def until(tag):
    while True:
        text = line()
        show(text)
        if text.startswith(tag + " "):
            return


send(b"c NOOP\r\n")
until("c")
message = b"Subject: squeezed\r\n\r\n" + b"hello hello hello hello\r\n" * 40
send(b"d APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
text = line()
show(text.split(" [")[0])
send(b"e SELECT INBOX\r\n")
while True:
    text = line()
    if text.startswith("e "):
        show(text)
        break
send(b"f FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER])\r\n")
until("f")
send(b"g COMPRESS DEFLATE\r\n")
until("g")
# A compression bomb: 16 MiB of one byte with no line end inflates from ~16 KiB. The server
# must drop it as an over-long line without holding it, then go on serving.
for _ in range(16):
    sock.sendall(deflater.compress(b"A" * (1 << 20)))
sock.sendall(deflater.compress(b"\r\nh NOOP\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH))
until("*")
until("h")
send(b"i LOGOUT\r\n")
until("i")
print("imap_compress OK")
