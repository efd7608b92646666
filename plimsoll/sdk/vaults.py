"""One account's vaults through ape: open, deposit, withdraw, borrow, repay, read and list, as ``plimsoll vault``
runs them. ``max`` borrows the PositionLens's exact maximum for the next block and withdraws with the engine's own
maximum (``withdraw`` of the maximum uint); amounts are parsed exactly (``parse_amount``). Every transaction is simulated first: one that would revert is not sent, and raises ``Reverted``
with the custom error decoded from the exported ABIs (errors of called contracts included).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .contracts import Manifest

MAX_UINT256 = 2**256 - 1


class AmountError(ValueError):
    """An amount on the command line is not a number the token can hold."""


def parse_amount(text: str, decimals: int, keywords: tuple[str, ...] = ()) -> int | str:
    """``text`` in whole tokens (``"1.5"``) as token units (``decimals`` places), exactly; or one of ``keywords``
    (``"max"``, ``"all"``) as it is.

    Raises:
        AmountError: not a number, negative or zero, or more decimal places than the token has.
    """
    if text in keywords:
        return text
    try:
        value = Decimal(text)
    except InvalidOperation as e:
        words = " or ".join(repr(k) for k in keywords)
        raise AmountError(f"{text!r} is not an amount{' (nor ' + words + ')' if words else ''}") from e
    if not value.is_finite() or value <= 0:
        raise AmountError(f"{text!r}: the amount must be positive")
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise AmountError(f"{text!r} has more than {decimals} decimal places")
    return int(units)


class Reverted(Exception):
    """A transaction that its simulation showed would revert; it was not sent. The message is the decoded error:
    ``borrow: InsufficientMargin(vaultId=3, debt=…, limit=…)``."""


@dataclass(frozen=True)
class Sent:
    """A confirmed transaction: what it did, its hash and the gas it used."""

    action: str
    tx: str
    gas_used: int


class Vaults:
    """The vaults of ``account`` on the deployment in ``manifest``, on ape's connected network.

    Args:
        manifest: the deployment.
        account: the ape account that signs (a keystore alias or a test account).
        project: the ape project with the compiled contracts.
    """

    def __init__(self, manifest: Manifest, account: Any, project: Any):
        self.manifest, self.account = manifest, account
        c = manifest.contracts
        self.engine = project.VaultEngine.at(c["VaultEngine"])
        self.lens = project.PositionLens.at(c["PositionLens"])
        self.tokens = {s: project.MockERC20.at(col.token) for s, col in manifest.collaterals.items()}
        self.sent: list[Sent] = []

    def token(self, symbol: str) -> Any:
        """The collateral token of ``symbol``.

        Raises:
            KeyError: no such collateral in the deployment (the message lists those there are).
        """
        if symbol not in self.tokens:
            raise KeyError(f"no collateral {symbol!r} in this deployment (there are: {', '.join(self.tokens)})")
        return self.tokens[symbol]

    def decimals(self, symbol: str) -> int:
        """Token decimals of ``symbol``'s collateral."""
        self.token(symbol)
        return self.manifest.collaterals[symbol].decimals

    def _send(self, action: str, fn: Any, *args: Any) -> Any:
        from ape import chain
        from web3.exceptions import ContractLogicError

        from .errors import describe

        try:  # simulated first: a revert is decoded from every exported ABI and nothing is sent
            chain.provider.web3.eth.call({"from": self.account.address, "to": fn.contract.address,
                                          "data": fn.encode_input(*args).to_0x_hex()})
        except ContractLogicError as e:
            raise Reverted(f"{action}: {describe(e)}") from e
        receipt = fn(*args, sender=self.account)
        self.sent.append(Sent(action, receipt.txn_hash, receipt.gas_used))
        return receipt

    def _approve(self, symbol: str, amount: int) -> None:
        """Approve the engine for ``amount`` if its allowance is short, after checking the balance (so that a
        deposit the account cannot pay leaves no approval behind).

        Raises:
            AmountError: the account holds less than ``amount``.
        """
        token = self.token(symbol)
        held = token.balanceOf(self.account)
        if held < amount:
            raise AmountError(f"the account holds {held} {symbol} units, less than {amount}")
        if token.allowance(self.account, self.engine) < amount:
            self._send(f"approve {symbol}", token.approve, self.engine, amount)

    def position_next_block(self, vault_id: int) -> Any:
        """The PositionLens card of a vault at the pending block's timestamp: the exact maxima for the next block."""
        from ape import chain

        pending = chain.provider.web3.eth.get_block("pending")["timestamp"]
        return self.lens.positionAt(vault_id, pending)

    def faucet(self, symbol: str, amount: int) -> None:
        """Mint ``amount`` (token units) of a mock collateral to the account (local networks).

        Raises:
            KeyError: ``symbol`` is not a mock collateral of this deployment.
        """
        if not self.manifest.collaterals.get(symbol) or not self.manifest.collaterals[symbol].mock:
            raise KeyError(f"{symbol!r} is not a mock collateral here: only local deployments have a faucet")
        self._send(f"faucet {symbol}", self.tokens[symbol].mint, self.account.address, amount)

    def open(self, symbol: str, amount: int) -> int:
        """Approve (if needed) and open a vault with ``amount`` (token units) of ``symbol``; returns its id."""
        self._approve(symbol, amount)
        receipt = self._send("open", self.engine.open, self.token(symbol), amount)
        return next(log.vaultId for log in receipt.decode_logs(self.engine.VaultOpened))

    def deposit(self, vault_id: int, symbol: str, amount: int) -> None:
        """Approve (if needed) and deposit ``amount`` (token units) of ``symbol``."""
        self._approve(symbol, amount)
        self._send("deposit", self.engine.deposit, vault_id, self.token(symbol), amount)

    def withdraw(self, vault_id: int, symbol: str, amount: int | str, to: str | None = None) -> int:
        """Withdraw ``amount`` (token units) of ``symbol``, or ``"max"``: all the margin allows in the block it runs
        in, computed there by the engine (so a second passing cannot make it fail). Returns the amount sent.

        Raises:
            Reverted: the engine refuses it (``NothingToWithdraw`` for ``max`` when nothing may leave).
        """
        token = self.token(symbol)
        receipt = self._send("withdraw", self.engine.withdraw, vault_id, token,
                             MAX_UINT256 if amount == "max" else amount, to or self.account.address)
        return next(log.amount for log in receipt.decode_logs(self.engine.Withdraw))

    def borrow(self, vault_id: int, amount: int | str, to: str | None = None) -> int:
        """Borrow ``amount`` pUSD (WAD), or ``"max"``: the exact maximum in the next block. Returns the amount."""
        if amount == "max":
            amount = self.position_next_block(vault_id).maxBorrow
        self._send("borrow", self.engine.borrow, vault_id, amount, to or self.account.address)
        return amount

    def repay(self, vault_id: int, amount: int | str) -> None:
        """Repay ``amount`` pUSD (WAD), or ``"all"``: the whole debt (the engine's repay of the maximum uint)."""
        self._send("repay", self.engine.repay, vault_id, MAX_UINT256 if amount == "all" else amount)

    def owned(self, owner: str, page: int = 100) -> list[Any]:
        """The PositionLens cards of every vault ``owner`` holds now, in the VaultNFT's enumeration order, read
        ``page`` at a time (``positionsOfPage``): anyone can send an account empty vaults, and one call for thousands
        would pass the node's gas cap. Each page is read at the latest block (ape 0.8.51 decodes this struct array
        wrongly when a call on a node given by URI pins ``block_id``), so a transfer between two pages can move a
        vault across them."""
        cards: list[Any] = []
        while True:
            found = list(self.lens.positionsOfPage(owner, len(cards), page))
            cards += found
            if len(found) < page:  # a short page is the last
                return cards
