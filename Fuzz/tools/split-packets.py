#!/usr/bin/env python3
"""Splits a recorded RSP byte stream (what rsp-proxy.py wrote) into corpus files, one per distinct packet.

    split-packets.py STREAM CORPUS_DIR [PREFIX]

Each `$…#cs` frame becomes a file named PREFIX-<sha1 of its bytes>, holding the frame exactly as it travelled
(so the same packet seen twice is one file). Acks are dropped; a Ctrl-C (0x03) becomes a file of its own.
The whole stream is also kept as PREFIX-session, the input that reaches the deepest session states.
"""
import hashlib
import os
import sys


def frames(stream: bytes):
    i = 0
    while i < len(stream):
        byte = stream[i]
        if byte == 0x24:  # $
            end = stream.find(b"#", i + 1)
            if end < 0 or end + 3 > len(stream):
                return
            yield stream[i : end + 3]
            i = end + 3
        elif byte == 0x03:
            yield stream[i : i + 1]
            i += 1
        else:
            i += 1


def main() -> None:
    stream = open(sys.argv[1], "rb").read()
    out = sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "gdb"
    os.makedirs(out, exist_ok=True)
    new = 0
    for frame in frames(stream):
        path = os.path.join(out, prefix + "-" + hashlib.sha1(frame).hexdigest()[:16])
        if not os.path.exists(path):
            open(path, "wb").write(frame)
            new += 1
    open(os.path.join(out, prefix + "-session"), "wb").write(stream)
    print(f"{new} new packets, {len(stream)} bytes of session from {sys.argv[1]}")


if __name__ == "__main__":
    main()
