#!/usr/bin/env python3
"""The test hosts of the network lab, all in one process (one to start, one pid to kill).

    lab-server.py TAG ADDR[,ADDR...] TCPPORT[,TCPPORT...] UDPPORT[,UDPPORT...]

For every address and TCP port: an HTTP/1.0 server whose body says who answered,
`hello from TAG ADDR:PORT` (TAG is `world` for the test hosts, `lab` for the lab's own services),
so a test can tell which host it really reached (e.g. the lab's loopback service reached through
a mapped gateway address). Anything that does not start with an HTTP method gets the same line
(a raw TCP probe only reads the first bytes). For every address and UDP port: an echo server that
answers `hello from TAG ADDR:PORT <what it got>`.

Prints `ready` once every socket is bound, so the lab waits for that instead of sleeping. Runs
until killed; the lab kills it by pid at teardown.
"""
import asyncio
import socket
import sys

TAG = sys.argv[1]
ADDRS = [a for a in sys.argv[2].split(',') if a]
TCP_PORTS = [int(p) for p in sys.argv[3].split(',') if p]
UDP_PORTS = [int(p) for p in sys.argv[4].split(',') if p]


def label(addr: str, port: int) -> str:
    return f'hello from {TAG} [{addr}]:{port}' if ':' in addr else f'hello from {TAG} {addr}:{port}'


def tcp_handler(addr: str, port: int):
    body = (label(addr, port) + '\n').encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # Read the request head (bounded in size and time); a raw probe may send nothing.
            head = b''
            try:
                while b'\r\n\r\n' not in head and len(head) < 16384:
                    chunk = await asyncio.wait_for(reader.read(4096), timeout=2)
                    if not chunk:
                        break
                    head += chunk
            except asyncio.TimeoutError:
                pass
            if head.split(b' ', 1)[0] in (b'GET', b'HEAD', b'POST', b'PUT'):
                writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n'
                             + f'Content-Length: {len(body)}\r\n\r\n'.encode() + body)
            else:
                writer.write(body)
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return handle


class Echo(asyncio.DatagramProtocol):
    def __init__(self, addr: str, port: int):
        self.prefix = (label(addr, port) + ' ').encode()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, peer):
        self.transport.sendto(self.prefix + data[:512], peer)


async def main() -> None:
    loop = asyncio.get_running_loop()
    for addr in ADDRS:
        family = socket.AF_INET6 if ':' in addr else socket.AF_INET
        for port in TCP_PORTS:
            await asyncio.start_server(tcp_handler(addr, port), host=addr, port=port, family=family, reuse_address=True)
        for port in UDP_PORTS:
            await loop.create_datagram_endpoint(lambda a=addr, p=port: Echo(a, p), local_addr=(addr, port), family=family)
    print('ready', flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
