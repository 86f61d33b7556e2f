#!/usr/bin/env python3
"""An HTTP CONNECT proxy and a SOCKS5 server (no auth; CONNECT and UDP ASSOCIATE) for the
nstun-rewrite tests, run in the lab namespace as the jail's "host side".

    nstun-proxies.py HTTP_PORT SOCKS_PORT

Both listen on 127.0.0.1 only, forward to what they are asked for (the lab's world hosts), and
print one line per request as it arrives, so the test can see the original destination the
supervisor asked for:  `CONNECT <line>`, `SOCKS5 CONNECT <addr> <port>`,
`SOCKS5 UDP <addr> <port>`. Prints `ready` once both listen. Every wait is bounded (10 s); runs
until killed (the lab kills it by pid).
"""
import asyncio
import ipaddress
import socket
import struct
import sys

HTTP_PORT = int(sys.argv[1])
SOCKS_PORT = int(sys.argv[2])
TIMEOUT = 10.0


def say(line: str) -> None:
    print(line, flush=True)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def splice(r1, w1, r2, w2):
    await asyncio.gather(pipe(r1, w2), pipe(r2, w1))
    for w in (w1, w2):
        w.close()


async def http_proxy(reader, writer):
    try:
        head = await asyncio.wait_for(reader.readuntil(b'\r\n\r\n'), TIMEOUT)
        line = head.split(b'\r\n')[0].decode()
        say(line)
        method, target, _ = line.split(' ')
        host, _, port = target.rpartition(':')
        host = host.strip('[]')
        r2, w2 = await asyncio.wait_for(asyncio.open_connection(host, int(port)), TIMEOUT)
        writer.write(b'HTTP/1.1 200 Connection established\r\n\r\n')
        await writer.drain()
        await splice(reader, writer, r2, w2)
    except Exception as e:  # noqa: BLE001 - a test helper: report and close
        say(f'HTTP error {e!r}')
        writer.close()


async def read_addr(reader, atyp):
    if atyp == 1:
        addr = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
    elif atyp == 4:
        addr = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    else:
        n = (await reader.readexactly(1))[0]
        addr = (await reader.readexactly(n)).decode()
    port = struct.unpack('!H', await reader.readexactly(2))[0]
    return addr, port


def pack_addr(addr, port):
    ip = ipaddress.ip_address(addr)
    return (b'\x01' if ip.version == 4 else b'\x04') + ip.packed + struct.pack('!H', port)


class Relay(asyncio.DatagramProtocol):
    """A SOCKS5 UDP relay: client datagrams (with header) go out; answers come back wrapped."""

    def __init__(self):
        self.client = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if addr[0] == '127.0.0.1' and self.client in (None, addr):
            self.client = addr
            if len(data) < 4 or data[2] != 0:
                return
            atyp = data[3]
            if atyp == 1:
                dst = socket.inet_ntop(socket.AF_INET, data[4:8]); rest = data[8:]
            elif atyp == 4:
                dst = socket.inet_ntop(socket.AF_INET6, data[4:20]); rest = data[20:]
            else:
                return
            port = struct.unpack('!H', rest[:2])[0]
            say(f'SOCKS5 UDP {dst} {port}')
            out = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
            out.settimeout(3)
            try:
                out.sendto(rest[2:], (dst, port))
                answer, src = out.recvfrom(65536)
                self.transport.sendto(b'\x00\x00\x00' + pack_addr(src[0], src[1]) + answer, self.client)
            except OSError as e:
                say(f'SOCKS5 UDP error {e!r}')
            finally:
                out.close()


async def socks(reader, writer):
    try:
        ver, n = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
        methods = await reader.readexactly(n)
        if ver != 5 or 0 not in methods:
            writer.write(b'\x05\xff')
            writer.close()
            return
        writer.write(b'\x05\x00')
        ver, cmd, _, atyp = await asyncio.wait_for(reader.readexactly(4), TIMEOUT)
        addr, port = await read_addr(reader, atyp)
        if cmd == 1:
            say(f'SOCKS5 CONNECT {addr} {port}')
            r2, w2 = await asyncio.wait_for(asyncio.open_connection(addr, port), TIMEOUT)
            local = w2.get_extra_info('sockname')
            writer.write(b'\x05\x00\x00' + pack_addr(local[0], local[1]))
            await writer.drain()
            await splice(reader, writer, r2, w2)
        elif cmd == 3:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(Relay, local_addr=('127.0.0.1', 0))
            bound = transport.get_extra_info('sockname')
            writer.write(b'\x05\x00\x00' + pack_addr(bound[0], bound[1]))
            await writer.drain()
            await reader.read()  # the association lasts as long as this connection
            transport.close()
            writer.close()
        else:
            writer.write(b'\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00')
            writer.close()
    except Exception as e:  # noqa: BLE001
        say(f'SOCKS5 error {e!r}')
        writer.close()


async def main():
    await asyncio.start_server(http_proxy, '127.0.0.1', HTTP_PORT)
    await asyncio.start_server(socks, '127.0.0.1', SOCKS_PORT)
    say('ready')
    await asyncio.Event().wait()


asyncio.run(main())
