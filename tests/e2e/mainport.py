#!/usr/bin/env python3
"""mainport.py MODE ... - helpers for test_mainport.sh (the main port's HTTP front end).

Servers (listen on 127.0.0.1:0, print "listening on 127.0.0.1:PORT"):
  echo            HTTP/1.1 origin, keep-alive: answers every request with its raw head,
                  the request body's length and sha256 (so the test sees exactly what the
                  route forwarded)
  quiet SECS      answers a chunked stream: "first\n", then SECS seconds of silence, then
                  "second\n" and the end (a watch that is quiet for a while)
  wsecho [CERT KEY]  a websocket echo server (python3-websockets, Debian's), every path;
                  with CERT and KEY over TLS (wss)

Clients (print one line per check, exit 1 on failure):
  wsclient URL [CA]  websocket-client (python3-websocket, Debian's): text, binary and a
                  200 KiB binary message echoed byte for byte, then a clean close; wss URLs
                  verified against CA
  pipeline HOST:PORT PATH...   one write with a GET per path, the answers read in order
  slowloris HOST:PORT SECS     drips a request head one byte every 0.3 s; prints when the
                  server closed and what it answered
  bomb HOST:PORT LINES BYTES   a head with LINES header lines and one header of BYTES bytes
"""
import asyncio
import hashlib
import os
import socket
import sys
import threading
import time


def listen():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
    return srv


def read_head(c, data):
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            return None
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest


def read_body(c, head, rest):
    """The request body (Content-Length or chunked) and what follows it."""
    lines = head.split(b"\r\n")
    hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
            for l in lines[1:] if b":" in l}
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        while len(rest) < n:
            rest += c.recv(65536)
        return rest[:n], rest[n:]
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += c.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            n = int(size_line.split(b";")[0], 16)
            while len(rest) < n + 2:
                rest += c.recv(65536)
            body += rest[:n]
            rest = rest[n + 2:]
            if n == 0:
                return body, rest
    return b"", rest


def echo_conn(c):
    rest = b""
    while True:
        got = read_head(c, rest)
        if got is None:
            return
        head, rest = got
        body, rest = read_body(c, head, rest)
        out = head + b"body %d %s\n" % (len(body), hashlib.sha256(body).hexdigest().encode())
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                  % len(out) + out)


def quiet_conn(c, secs):
    if read_head(c, b"") is None:
        return
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
    time.sleep(secs)
    c.sendall(b"7\r\nsecond\n\r\n0\r\n\r\n")
    time.sleep(1)
    c.close()


def serve(fn, *args):
    srv = listen()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=fn, args=(c,) + args, daemon=True).start()


def wsecho(cert=None, key=None):
    import ssl
    import websockets

    async def handler(ws, path=None):
        async for msg in ws:
            await ws.send(msg)

    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    async def main():
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ssl=ctx) as server:
            port = list(server.sockets)[0].getsockname()[1]
            print("listening on 127.0.0.1:%d" % port, flush=True)
            await asyncio.Future()

    asyncio.run(main())


def wsclient(url, ca=None):
    import ssl
    import websocket

    sslopt = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED} if ca else None
    ws = websocket.create_connection(url, timeout=20, sslopt=sslopt)
    big = os.urandom(200 * 1024)
    for msg in ("hello through the route", b"\x00\x01binary\xff", big):
        if isinstance(msg, str):
            ws.send(msg)
        else:
            ws.send_binary(msg)
        got = ws.recv()
        if got != msg:
            print("FAIL echo of %d bytes: got %d" % (len(msg), len(got)), flush=True)
            sys.exit(1)
        print("echo ok %s %d" % ("text" if isinstance(msg, str) else "binary", len(msg)),
              flush=True)
    ws.close()
    print("closed ok", flush=True)


def connect(hostport):
    host, port = hostport.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=20)


def read_answer(c, buf):
    """One answer (Content-Length framed) from c: (status line, body, rest)."""
    got = read_head(c, buf)
    if got is None:
        return None, b"", b""
    head, rest = got
    body, rest = read_body(c, head, rest)
    return head.split(b"\r\n", 1)[0].decode(), body, rest


def pipeline(hostport, paths):
    c = connect(hostport)
    c.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
    rest = b""
    for p in paths:
        status, body, rest = read_answer(c, rest)
        text = body.decode(errors="replace").strip().replace("\r\n", "|").replace("\n", "|")
        print("%s -> %s %s" % (p, status, text), flush=True)


def slowloris(hostport, secs):
    c = connect(hostport)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    t0 = time.time()
    got = b""
    for b in head:
        try:
            c.send(bytes([b]))
        except OSError:
            break
        c.settimeout(0.3)
        try:
            d = c.recv(65536)
            if not d:
                break
            got += d
        except socket.timeout:
            pass
        except OSError:
            break
        if time.time() - t0 > secs:
            break
    c.settimeout(5)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    print("closed after %.1f s: %s" % (time.time() - t0,
                                         got.split(b"\r\n", 1)[0].decode() or "(nothing)"),
          flush=True)


def bomb(hostport, lines, nbytes):
    c = connect(hostport)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    head += b"".join(b"X-H%d: v\r\n" % i for i in range(lines))
    if nbytes > 0:
        head += b"X-Big: " + b"b" * nbytes + b"\r\n"
    try:
        c.sendall(head + b"\r\n")
    except OSError:
        pass
    status, _, _ = read_answer(c, b"")
    print("answer: %s" % status, flush=True)


def main():
    mode = sys.argv[1]
    if mode == "echo":
        serve(echo_conn)
    elif mode == "quiet":
        serve(quiet_conn, float(sys.argv[2]))
    elif mode == "wsecho":
        wsecho(*sys.argv[2:4])
    elif mode == "wsclient":
        wsclient(*sys.argv[2:4])
    elif mode == "pipeline":
        pipeline(sys.argv[2], sys.argv[3:])
    elif mode == "slowloris":
        slowloris(sys.argv[2], float(sys.argv[3]))
    elif mode == "bomb":
        bomb(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)


main()
