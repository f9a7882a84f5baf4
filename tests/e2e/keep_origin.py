#!/usr/bin/env python3
"""keep_origin.py MODE - an HTTP/1.1 origin that keeps its connections, for the tests of the
target conns the proxy and the route keep between requests. Listens on 127.0.0.1:0, prints
"listening on 127.0.0.1:PORT". Every answer's body says which connection (numbered from 1 in
accept order) and which request on it it is: "conn N req M".

  keep       answer every request, keep the connection
  race       the second request on a connection is met with a close, no answer (a target's
             idle close that crossed the request)
  idleclose  close each connection 300 ms after its first answer
"""
import socket
import sys
import threading
import time

mode = sys.argv[1]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
lock = threading.Lock()
count = [0]


def serve(c, me):
    req, data = 0, b""
    while True:
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                c.close()
                return
            data += d
        head, data = data.split(b"\r\n\r\n", 1)
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
        if mode == "idleclose":
            time.sleep(0.3)
            c.close()
            return


while True:
    c, _ = srv.accept()
    with lock:
        count[0] += 1
        me = count[0]
    threading.Thread(target=serve, args=(c, me), daemon=True).start()
