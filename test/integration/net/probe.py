#!/usr/bin/env python3
"""A network client for the net integration tests, run inside jails (and in the lab, as control).

    probe.py tcp HOST PORT            connect, send a line, read the answer
    probe.py udp HOST PORT            send a datagram, wait for the echo
    probe.py http URL                 urllib GET (honours HTTP_PROXY/http_proxy/NO_PROXY...)
    probe.py connect-proxy URL        CONNECT through $HTTPS_PROXY (or $HTTP_PROXY), then a plain
                                      HTTP GET through the tunnel (the lab's port 443 is plain HTTP)
    probe.py dns NAME                 getaddrinfo: the addresses NAME resolves to
    probe.py batch JSON               JSON = [[op, args...], ...]: run them (8 at a time), print
                                      {"ok": true, "results": [...]} in the same order
    probe.py serve-http PORT [ADDR]   HTTP server answering `hello from jail PORT`; prints ready
    probe.py serve-udp PORT [ADDR]    UDP echo answering `hello from jail PORT ...`; prints ready

Prints one JSON line: {"ok": true, "body": ..., "ms": N} or {"ok": false, "errno": "ENETUNREACH",
"error": "...", "ms": N}. Every attempt has a 3 s timeout (errno ETIMEDOUT when it passes) and
`ms` is its elapsed time, so a test can tell 'refused at once' from 'hung until the timeout'.
Only the standard library: the jail sees the host's python3 and nothing else.
"""
import errno
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 3.0


def errno_name(e: BaseException) -> str:
    if isinstance(e, socket.gaierror):
        for name in dir(socket):
            if name.startswith('EAI_') and getattr(socket, name) == e.errno:
                return name
        return f'EAI_{e.errno}'
    if isinstance(e, (socket.timeout, TimeoutError)):
        return 'ETIMEDOUT'
    if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException):
        return errno_name(e.reason)
    n = getattr(e, 'errno', None)
    if isinstance(n, int):
        return errno.errorcode.get(n, str(n))
    return type(e).__name__


def resolve(host: str, port: int, kind: int):
    """The first address getaddrinfo gives (a literal stays itself, with its own family)."""
    return socket.getaddrinfo(host, port, type=kind)[0]


def op_tcp(host: str, port: str) -> dict:
    family, kind, proto, _, addr = resolve(host, int(port), socket.SOCK_STREAM)
    with socket.socket(family, kind, proto) as s:
        s.settimeout(TIMEOUT)
        s.connect(addr)
        s.sendall(b'probe\r\n\r\n')
        data = b''
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return {'ok': True, 'addr': addr[0], 'body': data.decode('utf8', 'replace').strip()}


def op_udp(host: str, port: str) -> dict:
    family, kind, proto, _, addr = resolve(host, int(port), socket.SOCK_DGRAM)
    with socket.socket(family, kind, proto) as s:
        s.connect(addr)
        # UDP may lose a datagram (a busy machine): send up to three times within the timeout.
        tries = 3
        s.settimeout(TIMEOUT / tries)
        for attempt in range(tries):
            s.send(b'ping')
            try:
                data = s.recv(4096)
                break
            except socket.timeout:
                if attempt == tries - 1:
                    raise
    return {'ok': True, 'addr': addr[0], 'body': data.decode('utf8', 'replace').strip()}


def op_http(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
            return {'ok': True, 'status': r.status, 'body': r.read(65536).decode('utf8', 'replace').strip()}
    except urllib.error.HTTPError as e:
        # A proxy's refusal (403...) is an answer, not a network error: keep its status and body.
        return {'ok': False, 'status': e.code, 'errno': 'HTTP', 'error': str(e), 'body': e.read(4096).decode('utf8', 'replace').strip()}


def op_connect_proxy(url: str) -> dict:
    proxy = next((os.environ[v] for v in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy') if os.environ.get(v)), None)
    if proxy is None:
        return {'ok': False, 'errno': 'NOPROXY', 'error': 'no HTTPS_PROXY/HTTP_PROXY in the environment'}
    p = urllib.parse.urlsplit(proxy if '://' in proxy else 'http://' + proxy)
    t = urllib.parse.urlsplit(url)
    port = t.port or (443 if t.scheme == 'https' else 80)
    target = f'[{t.hostname}]:{port}' if ':' in (t.hostname or '') else f'{t.hostname}:{port}'
    with socket.create_connection((p.hostname, p.port or 80), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        s.sendall(f'CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n'.encode())
        head = b''
        while b'\r\n\r\n' not in head and len(head) < 16384:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        status_line = head.split(b'\r\n', 1)[0].decode('latin1')
        parts = status_line.split(' ')
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 200:
            return {'ok': False, 'status': status, 'errno': 'HTTP', 'error': f'proxy answered {status_line!r}'}
        rest = head.split(b'\r\n\r\n', 1)[1]
        s.sendall(f'GET {t.path or "/"} HTTP/1.0\r\nHost: {target}\r\n\r\n'.encode())
        data = rest
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    body = data.split(b'\r\n\r\n', 1)[-1]
    return {'ok': True, 'status': 200, 'body': body.decode('utf8', 'replace').strip()}


def op_dns(name: str) -> dict:
    addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)})
    return {'ok': True, 'addrs': addrs}


def serve_http(port: str, addr: str = '0.0.0.0') -> None:
    import http.server

    body = f'hello from jail {port}\n'.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer((addr, int(port)), Handler)
    print(json.dumps({'ok': True, 'ready': True}), flush=True)
    server.serve_forever()


def serve_udp(port: str, addr: str = '0.0.0.0') -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    print(json.dumps({'ok': True, 'ready': True}), flush=True)
    while True:
        data, peer = s.recvfrom(4096)
        s.sendto(f'hello from jail {port} '.encode() + data[:512], peer)


OPS = {'tcp': op_tcp, 'udp': op_udp, 'http': op_http, 'connect-proxy': op_connect_proxy, 'dns': op_dns}


def attempt(argv: list) -> dict:
    start = time.monotonic()
    try:
        fn = OPS.get(argv[0])
        if fn is None:
            raise ValueError(f'unknown op {argv[0]!r}')
        out = fn(*[str(a) for a in argv[1:]])
    except (OSError, urllib.error.URLError, ValueError, TypeError) as e:
        out = {'ok': False, 'errno': errno_name(e), 'error': str(e)}
    out['op'] = [str(a) for a in argv]
    out['ms'] = round((time.monotonic() - start) * 1000)
    return out


def main() -> None:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if args[0] == 'serve-http':
        serve_http(*args[1:])
    elif args[0] == 'serve-udp':
        serve_udp(*args[1:])
    elif args[0] == 'batch':
        # In parallel, so a batch of attempts that all hang takes one timeout, not one each.
        from concurrent.futures import ThreadPoolExecutor
        ops = json.loads(args[1])
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(ops)))) as pool:
            results = list(pool.map(attempt, ops))
        print(json.dumps({'ok': True, 'results': results}), flush=True)
    else:
        print(json.dumps(attempt(args)), flush=True)


main()
