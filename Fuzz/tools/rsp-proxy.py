#!/usr/bin/env python3
"""A logging TCP proxy for the GDB remote protocol: gdb connects to LISTEN, the proxy connects to TARGET and
passes bytes both ways unchanged, appending gdb's bytes to OUT.gdb and the stub's to OUT.stub.

    rsp-proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT OUT

It serves one connection and exits when either side closes. Prints "proxy listening" once it accepts.
"""
import selectors
import socket
import sys


def main() -> None:
    listen_port = int(sys.argv[1])
    host, port = sys.argv[2].rsplit(":", 1)
    out = sys.argv[3]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(1)
    print("proxy listening", flush=True)
    gdb, _ = server.accept()
    server.close()
    stub = socket.create_connection((host, int(port)))
    for s in (gdb, stub):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    logs = {gdb: open(out + ".gdb", "ab"), stub: open(out + ".stub", "ab")}
    peer = {gdb: stub, stub: gdb}
    selector = selectors.DefaultSelector()
    for s in (gdb, stub):
        selector.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            source = key.fileobj
            try:
                data = source.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                for log in logs.values():
                    log.close()
                return
            logs[source].write(data)
            logs[source].flush()
            try:
                peer[source].sendall(data)
            except ConnectionError:
                return


if __name__ == "__main__":
    main()
