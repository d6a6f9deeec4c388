#!/usr/bin/env python3
"""A TCP relay that holds every chunk for a fixed time each way: a distant peer on loopback.

    delay-proxy.py --listen 127.0.0.1:PORT --to 127.0.0.1:PORT --delay-ms D

Each connection accepted on --listen is relayed to --to; bytes in either direction are written
onward D ms after they were read, in order, so a request and its answer take 2 D ms more than
direct (the round trip of a broker in another zone or region). The kernel on the benchmark
machine has no netem; this stands in for it. Only loopback addresses are accepted. Prints
"listening" on stderr once bound; exits on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import ipaddress
import signal
import sys


def endpoint(text):
    host, _, port = text.rpartition(':')
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise argparse.ArgumentTypeError(f'{text}: only loopback addresses')
        number = int(port)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f'{text}: not ADDRESS:PORT ({err})') from err
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f'{text}: port out of range')
    return host, number


def delay(text):
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f'{text}: not a number of milliseconds') from err
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f'{text}: between 0 and 10000 ms')
    return value / 1000


async def relay(reader, writer, hold):
    """Copies reader to writer, each chunk `hold` seconds after it was read; then half-closes."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def write_out():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    out = asyncio.create_task(write_out())
    try:
        while True:
            data = await reader.read(1 << 16)
            queue.put_nowait((loop.time() + hold, data))
            if not data:
                break
        await out
    except (ConnectionError, OSError):
        out.cancel()
        raise


async def serve(args):
    hold = args.delay_ms

    async def on_connection(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*args.to)
        except OSError as err:
            print(f'delay-proxy: cannot reach {args.to[0]}:{args.to[1]}: {err}', file=sys.stderr)
            client_writer.close()
            return
        try:
            await asyncio.gather(relay(client_reader, upstream_writer, hold),
                                 relay(upstream_reader, client_writer, hold))
        except (ConnectionError, OSError):
            pass
        finally:
            upstream_writer.close()
            client_writer.close()

    try:
        server = await asyncio.start_server(on_connection, *args.listen)
    except OSError as err:
        print(f'delay-proxy: cannot listen on {args.listen[0]}:{args.listen[1]}: {err}', file=sys.stderr)
        sys.exit(1)
    print(f'delay-proxy: listening on {args.listen[0]}:{args.listen[1]}, '
          f'{hold * 1000:g} ms each way to {args.to[0]}:{args.to[1]}', file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--listen', type=endpoint, required=True, help='ADDRESS:PORT to accept on')
    parser.add_argument('--to', type=endpoint, required=True, help='ADDRESS:PORT to relay to')
    parser.add_argument('--delay-ms', type=delay, required=True, help='hold each way, ms')
    asyncio.run(serve(parser.parse_args()))


if __name__ == '__main__':
    main()
