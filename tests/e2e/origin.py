#!/usr/bin/env python3
"""origin.py MODE - a scriptable HTTP origin for the e2e tests. Listens on 127.0.0.1:0, prints
"listening on 127.0.0.1:PORT", then per connection:

  silent     reads the request head, never answers
  close      answers without framing and closes
  trunc      announces 100000 bytes, sends 10, closes
  bad        answers with both Content-Length and Transfer-Encoding
  bighead    GET /h/LINES/LEN: answers 200 "ok" with LINES header fields "X-L<i>: " and
             LEN bytes of value each, then closes (answer heads of any size)
  noaccept   never accepts: its accept queue is kept full, so a connect to it hangs (a dial
             whose target has not accepted yet)

and, for the target conns the proxy and the route keep between requests, an HTTP/1.1 origin
whose answers say which connection (numbered from 1 in accept order) and which request on it
they are ("conn N req M"):

  keep       answer every request, keep the connection
  race       the second request on a connection is met with a close, no answer (a target's
             idle close that crossed the request)

and, for what a forwarder must change on the way:

  echo       answer every request with the request as received (head and body bytes,
             a chunked body with its chunk lines and trailers), keep the connection
  trailers   answer every request with a chunked body "hello" whose trailer section holds
             fields a trailer may carry and fields it may not, keep the connection
"""
import socket
import sys
import threading
import time

mode = sys.argv[1]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
if mode == "noaccept":
    # Linux queues backlog + 1 connections; one of our own fills it, later SYNs are dropped
    srv.listen(0)
    filler = socket.create_connection(srv.getsockname())
    print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
    while True:
        time.sleep(3600)
srv.listen(64)
print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
lock = threading.Lock()
count = [0]
held = []


def read_head(c, data):
    """(head, rest) once data holds a whole head, reading more from c; None at EOF."""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            return None
        data += d
    return tuple(data.split(b"\r\n\r\n", 1))


def serve_once(c):
    got = read_head(c, b"")
    if got is None:
        return
    if mode == "silent":
        held.append(c)
        return
    if mode == "close":
        c.sendall(b"HTTP/1.1 200 OK\r\nX-Origin: close\r\n\r\n" + b"x" * 70000 + b"END")
    elif mode == "trunc":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
    elif mode == "bad":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    elif mode == "bighead":
        _, _, lines, vlen = got[0].split(b" ", 2)[1].split(b"/")
        c.sendall(b"HTTP/1.1 200 OK\r\n" +
                  b"".join(b"X-L%d: %s\r\n" % (i, b"v" * int(vlen)) for i in range(int(lines))) +
                  b"Content-Length: 2\r\n\r\nok")
    c.close()


def read_chunked(c, data):
    """(raw chunked body with trailers, rest) read from data and c; None at EOF."""
    raw = b""
    while True:
        while b"\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return None
            data += d
        line, data = data.split(b"\r\n", 1)
        raw += line + b"\r\n"
        size = int(line.split(b";", 1)[0], 16)
        if size == 0:
            break
        while len(data) < size + 2:
            d = c.recv(65536)
            if not d:
                return None
            data += d
        raw += data[:size + 2]
        data = data[size + 2:]
    while True:  # trailer lines up to the empty one
        while b"\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return None
            data += d
        line, data = data.split(b"\r\n", 1)
        raw += line + b"\r\n"
        if line == b"":
            return raw, data


TRAILERS = (b"X-Checksum: abc\r\nContent-Length: 999\r\nHost: evil.example\r\n"
            b"Transfer-Encoding: chunked\r\nSet-Cookie: s=1\r\nX-Other: ok\r\n"
            b"WWW-Authenticate: Basic\r\nLocation: /evil\r\n")


def serve_echo(c, trailers):
    data = b""
    while True:
        got = read_head(c, data)
        if got is None:
            c.close()
            return
        head, data = got
        body = b""
        lines = [l.lower() for l in head.split(b"\r\n")[1:]]
        if b"transfer-encoding: chunked" in lines:
            got = read_chunked(c, data)
            if got is None:
                c.close()
                return
            body, data = got
        for l in lines:
            if l.startswith(b"content-length:"):
                n = int(l.split(b":", 1)[1])
                while len(data) < n:
                    data += c.recv(65536)
                body, data = data[:n], data[n:]
        if trailers:
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"Trailer: X-Checksum, X-Other\r\n\r\n5\r\nhello\r\n0\r\n" +
                      TRAILERS + b"\r\n")
        else:
            echo = head + b"\r\n\r\n" + body
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(echo) + echo)


def serve(c, me):
    if mode in ("silent", "close", "trunc", "bad", "bighead"):
        return serve_once(c)
    if mode in ("echo", "trailers"):
        return serve_echo(c, mode == "trailers")
    req, data = 0, b""
    while True:
        got = read_head(c, data)
        if got is None:
            c.close()
            return
        head, data = got
        for line in head.split(b"\r\n")[1:]:  # a body: read and drop it
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":", 1)[1])
                while len(data) < n:
                    data += c.recv(65536)
                data = data[n:]
        req += 1
        if mode == "race" and req == 2:
            c.close()
            return
        body = b"conn %d req %d\n" % (me, req)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


while True:
    c, _ = srv.accept()
    with lock:
        count[0] += 1
        me = count[0]
    threading.Thread(target=serve, args=(c, me), daemon=True).start()
