"""Requests on their way to the engine: counted from admission to their first engine call."""

import asyncio

import pytest

from locvlm.serving.arrivals import Arrivals


def test_a_request_leaves_the_count_when_it_arrives_or_ends():
    arrivals = Arrivals()
    with arrivals.admitted():
        with arrivals.admitted():
            assert arrivals.count == 2
            assert arrivals.arrived() == 1  # the inner one arrived; the outer is on its way
            assert arrivals.arrived() == 1  # a second engine call: counted once
        assert arrivals.count == 1
        with arrivals.admitted():
            pass  # refused before it asked the engine
        assert arrivals.count == 1
    assert arrivals.count == 0
    assert arrivals.arrived() == 0  # outside any request (a script, a test): nothing


def test_a_request_that_fails_leaves_the_count():
    arrivals = Arrivals()
    with pytest.raises(ValueError, match="bad image"), arrivals.admitted():
        raise ValueError("bad image")
    assert arrivals.count == 0


@pytest.mark.anyio
async def test_concurrent_requests_each_arrive_once_from_their_own_tasks():
    arrivals = Arrivals()
    release = asyncio.Event()
    seen: list[int] = []

    async def request(i: int) -> None:
        with arrivals.admitted():
            await release.wait()
            # The engine call runs in a task of its own, as the API's watched handler does.
            seen.append(await asyncio.create_task(_ask(arrivals, i)))

    tasks = [asyncio.create_task(request(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert arrivals.count == 3
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(seen) == [0, 1, 2]  # each saw the others that had not arrived yet
    assert arrivals.count == 0


async def _ask(arrivals: Arrivals, i: int) -> int:
    await asyncio.sleep(0.01 * i)
    return arrivals.arrived()
