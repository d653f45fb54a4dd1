"""The engine's output writer and input reader, on real descriptors."""

from __future__ import annotations

import asyncio
import os
import tempfile

import pytest

from ssmctl.engines.native.localio import FdWriter, read_chunks


def test_drain_waits_for_every_write_in_order() -> None:
    # Many small writes with drains in between: drain() must never return while
    # something written before it is still queued.
    with tempfile.TemporaryFile() as file:

        async def run() -> None:
            writer = FdWriter(file.fileno(), limit=4096)
            for n in range(3000):
                await writer.write(f"{n}\n".encode())
                if n % 7 == 0:
                    await writer.drain()
                    assert os.fstat(file.fileno()).st_size == sum(
                        len(f"{k}\n") for k in range(n + 1)
                    )
            await writer.drain()
            writer.close()

        asyncio.run(run())
        file.seek(0)
        assert file.read() == "".join(f"{n}\n" for n in range(3000)).encode()


def test_a_reader_that_left_makes_writes_fail() -> None:
    reader, writer_fd = os.pipe()
    os.close(reader)

    async def run() -> None:
        writer = FdWriter(writer_fd)
        await writer.write(b"nobody reads this")
        await writer.drain()
        with pytest.raises(BrokenPipeError):
            await writer.write(b"more")
        writer.close()

    try:
        asyncio.run(run())
    finally:
        os.close(writer_fd)


def test_read_chunks_from_a_pipe_and_a_regular_file() -> None:
    reader, writer = os.pipe()
    os.write(writer, b"x" * 3000)
    os.close(writer)

    async def collect(fd: int) -> list[bytes]:
        return [chunk async for chunk in read_chunks(fd, 1024)]

    try:
        chunks = asyncio.run(collect(reader))
    finally:
        os.close(reader)
    assert b"".join(chunks) == b"x" * 3000 and max(map(len, chunks)) <= 1024
    with tempfile.TemporaryFile() as file:  # not pollable: read directly
        file.write(b"from a file")
        file.flush()
        file.seek(0)
        assert asyncio.run(collect(file.fileno())) == [b"from a file"]
