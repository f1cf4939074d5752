"""A TCP proxy between one service instance and the broker or the database, which a scenario
cuts and heals: the network partition of one machine, without touching the others.

A cut is a partition, not a reset: no byte crosses in either direction and new connections hang
before they reach the server, while both ends keep their sockets and wait, as they would for
packets that are lost. Healing lets everything through again, as when the route comes back
before TCP gives up.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK_BYTES = 65536


class TcpProxy:
    def __init__(self, listen_port: int, target_host: str, target_port: int):
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._open.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._open.wait()
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(self._pipe(client_reader, server_writer),
                                 self._pipe(server_reader, client_writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            client_writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK_BYTES):
                # Bytes read during a cut are held until it heals, as a lost packet is resent.
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
