"""Small helpers for tests/api_auth.rs, written independently of the server's code.

  totp SEED [STEPS]   RFC 6238 code (SHA-1, 6 digits, 30 s) for now + STEPS time steps
  b64decode TEXT      standard base64 to UTF-8 text
"""
import base64
import hashlib
import hmac
import struct
import sys
import time


def totp(seed, steps=0):
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    counter = struct.pack(">Q", int(time.time()) // 30 + steps)
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1000000)


if __name__ == "__main__":
    if sys.argv[1] == "totp":
        print(totp(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
    elif sys.argv[1] == "b64decode":
        sys.stdout.write(base64.b64decode(sys.argv[2]).decode("utf-8"))
    else:
        sys.exit("unknown command")
