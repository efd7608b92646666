"""The keeper's WebSocket connection to the node: web3's, without the two costs that grow with requests in flight.

* web3 7's persistent providers wait for an answer by polling their response cache in a loop that yields with
  ``asyncio.sleep(0)`` (web3.py issue 3305): every request in flight spins the event loop until the node answers.
  A keeper with dozens of simulations in flight then burns a core, and on a machine it shares with its node that
  core is the node's: measured at 2,000 vaults, the crash block's simulations took twice as long.
  ``WaitingWebSocketProvider`` wakes its waiters when the listener caches an answer instead.
* web3's ``validation`` middleware asks the node for its chain id before every ``eth_call``, ``eth_estimateGas``
  and ``eth_createAccessList``: one more round trip per simulation. ``async_web3`` leaves it out; the keeper checks
  the chain id once at start and signs every transaction for it itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from web3 import AsyncWeb3, WebSocketProvider
from web3._utils.caching import generate_cache_key
from web3.exceptions import TimeExhausted

#: web3 middleware that a client signing its own transactions does not need: per-request chain-id checks, ENS
#: names, node-side gas pricing and gas estimates for eth_sendTransaction.
UNNEEDED_MIDDLEWARE = ("validation", "ens_name_to_address", "gas_price_strategy", "gas_estimate")


class WaitingWebSocketProvider(WebSocketProvider):
    """``web3.WebSocketProvider`` whose requests wait for their answer (an ``asyncio.Event`` set by the listener
    each time it caches one) rather than poll for it. Same arguments, same behaviour otherwise: a request still
    times out after ``request_timeout`` seconds (web3's ``TimeExhausted``), and a failed listener's exception is
    raised in the waiting request."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._answered: asyncio.Event | None = None  # replaced at every answer: its waiters look again
        cache_raw_response = self._request_processor.cache_raw_response

        async def cache_and_wake(raw_response: Any, subscription: bool = False) -> None:
            await cache_raw_response(raw_response, subscription=subscription)
            if not subscription:
                self._wake()

        self._request_processor.cache_raw_response = cache_and_wake

    def _wake(self) -> None:
        if self._answered is not None:
            self._answered.set()
            self._answered = None

    def _message_listener_callback(self, message_listener_task: "asyncio.Task[None]") -> None:
        super()._message_listener_callback(message_listener_task)
        self._wake()  # a listener that ended must not leave requests waiting for answers that will not come

    async def _get_response_for_request_id(self, request_id: Any, timeout: float | None = None) -> Any:
        key = generate_cache_key(request_id)
        processor = self._request_processor

        async def answer() -> Any:
            while True:
                self._handle_listener_task_exceptions()
                if key in processor._request_response_cache:
                    return await processor.pop_raw_response(cache_key=key)
                if self._answered is None:
                    self._answered = asyncio.Event()
                await self._answered.wait()

        try:
            return await asyncio.wait_for(answer(), self.request_timeout if timeout is None else timeout)
        except asyncio.TimeoutError:
            raise TimeExhausted(f"no answer to request {request_id} within {self.request_timeout} s") from None


def async_web3(provider: WebSocketProvider) -> AsyncWeb3:
    """An ``AsyncWeb3`` on ``provider`` without ``UNNEEDED_MIDDLEWARE``: its calls and simulations are one round
    trip each (the caller checks the chain id itself)."""
    w3 = AsyncWeb3(provider)
    for name in UNNEEDED_MIDDLEWARE:
        w3.middleware_onion.remove(name)
    return w3
