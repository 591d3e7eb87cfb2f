"""The fake X API server (tests/fake_x) holding a file of items for the next stream client.

Run: python -m bench.fake_x_feed --file ITEMS.jsonl
It prints its base URL on one line, serves until stdin closes, then prints how many items
it streamed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench.ingest import BEARER


async def serve(lines: list[str]) -> None:
    """Start the fake, queue every item, and wait for stdin to close."""
    from tests.fake_x.server import FakeXServer

    fake = FakeXServer(bearer_token=BEARER)
    url = await fake.start()
    for line in lines:
        if line.strip():
            fake.push(json.loads(line))
    sys.stdout.write(url + "\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    sys.stdout.write(json.dumps({"items_sent": fake.items_sent}) + "\n")
    sys.stdout.flush()
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, required=True)
    file: Path = parser.parse_args().file
    asyncio.run(serve(file.read_text(encoding="utf-8").splitlines()))


if __name__ == "__main__":
    main()
