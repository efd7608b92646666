"""The reference dApp (dapp/) as a person uses it: Debian's Chromium (tests/browser.py) opens the built page, served
from a thread, with an injected EIP-1193 wallet whose requests go to the test's Anvil as the dev account. The test
connects, opens a vault, deposits, borrows the exact maximum, is refused one pUSD more in words, repays and
withdraws; after each step the card must show what the PositionLens returns at the block the page read, to the wei
(data-raw) and in the page's words (text). A stale feed shows as a status, the wallet's refusal (code 4001) and a
wrong chain as sentences, a missing manifest as a file picker. Full-page screenshots of the main states go to
.build/dapp-screenshots/ (no console error, nothing wider than the window).

The browser tests are marked integration (they start Chromium and the bundler); the type check is not."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import BLOCK_SECONDS, open_vault, set_price
from eth_abi import decode
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from plimsoll.sdk.errors import error_table
from plimsoll.sdk.math import WAD

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / ".build" / "dapp-screenshots"
MAX_UINT = 2**256 - 1
WALLET_NAME = "Anvil dev wallet"


def _npm(script: str) -> None:
    done = subprocess.run(["npm", "run", "--silent", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dapp_type_checks():
    """dapp/src under the repository's tsc, strict (dapp/tsconfig.json), with the ABI modules it imports."""
    _npm("dapp:check")


# ------------------------------------------------------------------ the page's words, mirrored from dapp/src/format.ts


def units(value: int, decimals: int, places: int | None = None) -> str:
    """format.ts formatUnits: thousands separators; every digit (trailing zeros dropped) or `places`, cut."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**decimals)
    digits = str(fraction).rjust(decimals, "0") if decimals else ""
    digits = digits.rstrip("0") if places is None else digits[:places].ljust(places, "0")
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "")


def fmt_pusd(wad: int) -> str:
    return f"{units(wad, 18, 2)} pUSD"


def fmt_usd(wad: int) -> str:
    return f"${units(wad, 18, 2)}"


def pair(a: int, b: int, decimals: int = 18, min_places: int = 2) -> tuple[str, str]:
    """format.ts formatPair: the fewest places (at least `min_places`) that tell two amounts apart."""
    for places in range(min(min_places, decimals), decimals):
        x, y = units(a, decimals, places), units(b, decimals, places)
        if x != y:
            return x, y
    return units(a, decimals, decimals), units(b, decimals, decimals)


def utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def expected_card(p, symbols: dict[str, str]) -> dict:
    """What the card of Position `p` must show: field → [exact integer, text], and per collateral token the same."""
    health = "no debt" if p.healthFactor == MAX_UINT else units(p.healthFactor, 18, 4)
    if p.status == 1 and p.debt:
        health = f"at least {health}"
    summary = {
        "debt": [p.debt, fmt_pusd(p.debt)], "collateralValue": [p.collateralValue, fmt_usd(p.collateralValue)],
        "borrowPower": [p.borrowPower, fmt_usd(p.borrowPower)], "maintenance": [p.maintenance, fmt_usd(p.maintenance)],
        "healthFactor": [p.healthFactor, health], "maxBorrow": [p.maxBorrow, fmt_pusd(p.maxBorrow)],
        "inMarginCall": [p.inMarginCall, "none"],
    }
    rows = {}
    for c in p.collateral:
        sym = symbols[c.token]
        liq = ("unknown (unpriced)" if not c.priced else "none" if c.liquidationPrice == 0
               else "unsafe at any price" if c.liquidationPrice == MAX_UINT else fmt_usd(c.liquidationPrice))
        rows[c.token] = {
            "amount": [c.amount, f"{units(c.amount, c.decimals)} {sym}"],
            "price": [c.price, fmt_usd(c.price) if c.priced else "unavailable"],
            "value": [c.value, fmt_usd(c.value) if c.priced else "$0 (unpriced)"],
            "maxWithdraw": [c.maxWithdraw, f"{units(c.maxWithdraw, c.decimals)} {sym}"],
            "liquidationPrice": [c.liquidationPrice, liq],
        }
    as_text = lambda d: {k: [str(v[0]).lower() if isinstance(v[0], bool) else str(v[0]), v[1]] for k, v in d.items()}
    return {"status": p.status, "summary": as_text(summary), "rows": {t: as_text(r) for t, r in rows.items()}}


# ------------------------------------------------------------------------------------------------ the browser side

#: The injected wallet: EIP-1193 `request` forwarded to Anvil (its dev accounts are unlocked, so eth_sendTransaction
#: signs there), eth_requestAccounts answered with the chosen account, announced by EIP-6963 too. The test steers it
#: through window.__wallet: `reject` holds methods it refuses with code 4001, `emit` fires an EIP-1193 event.
PROVIDER = """
(() => {
  const RPC = %(rpc)s;
  const listeners = {};
  let id = 0, connected = false;
  const wallet = window.__wallet = {
    account: %(account)s, reject: new Set(), sent: [],
    emit(event, value) { (listeners[event] || []).forEach((fn) => fn(value)); },
  };
  async function rpc(method, params) {
    const response = await fetch(RPC, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }) });
    const body = await response.json();
    const { error } = body;
    if (error) throw Object.assign(new Error(error.message), { code: error.code, data: error.data });
    return body.result;
  }
  const provider = {
    async request({ method, params }) {
      if (wallet.reject.has(method)) throw Object.assign(new Error("User rejected the request."), { code: 4001 });
      if (method === "eth_requestAccounts") { connected = true; return [wallet.account]; }
      if (method === "eth_accounts") return connected ? [wallet.account] : [];
      if (method === "eth_sendTransaction") wallet.sent.push(params[0]);
      return rpc(method, params);
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  };
  window.ethereum = provider;
  const info = { uuid: "0b1c2d3e-0000-4000-8000-000000000001", name: %(name)s, rdns: "org.plimsoll.test",
                 icon: "data:image/svg+xml,%%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'/%%3E" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
                                                              { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""

#: A card as the DOM shows it, in the shape of expected_card.
READ_CARD = """(id) => {
  const card = document.querySelector(`article[data-vault="${id}"]`);
  const pairs = (root, sel) => Object.fromEntries([...root.querySelectorAll(sel)].map(
    (e) => [e.dataset.field, [e.dataset.raw, e.innerText]]));
  return {
    block: document.querySelector('[data-field="block"]').dataset.raw,
    status: Number(card.querySelector('[data-field="status"]').dataset.raw),
    summary: pairs(card, "dl [data-field]"),
    rows: Object.fromEntries([...card.querySelectorAll("tr[data-token]")].map(
      (r) => [r.dataset.token, pairs(r, "[data-field]")])),
  };
}"""

#: What a screenshot shows that can be checked through the DOM.
LAYOUT = """() => ({
  overflows: document.documentElement.scrollWidth > window.innerWidth,
  notice: document.getElementById("notice").hidden ? null : document.getElementById("notice").innerText,
  cards: [...document.querySelectorAll("article[data-vault]")].map((a) => a.dataset.vault),
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, deployment):
    """The page built by its npm script, copied with this deployment's manifest.json, served from a thread on a
    free port of 127.0.0.1; yields its URL."""
    _npm("dapp:build")
    root = tmp_path_factory.mktemp("dapp") / "site"
    shutil.copytree(ROOT / ".build" / "dapp", root)
    (root / "manifest.json").write_text(json.dumps(deployment.to_json()))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the test output is not a web server log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from browser import CHROMIUM_ARGS, chromium_path
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """One page with the injected wallet of `account`, and what a person does on it."""

    def __init__(self, browser, url: str, rpc: str, account: str, lens, symbols: dict[str, str]):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.add_init_script(PROVIDER % {"rpc": json.dumps(rpc), "account": json.dumps(account),
                                              "name": json.dumps(WALLET_NAME)})
        self.page.goto(url, wait_until="load")
        self.lens, self.symbols = lens, symbols

    def card_matches(self, vault: int):
        """The card shows exactly the lens's position at the block the page read (that block's number is on the
        page); returns the position."""
        shown = self.page.evaluate(READ_CARD, vault)
        (p,) = self.lens.positions([vault], block_id=int(shown["block"]))
        want = expected_card(p, self.symbols)
        assert shown["status"] == want["status"]
        assert shown["summary"] == want["summary"]
        assert shown["rows"] == want["rows"]
        return p

    def act(self, form, button: str):
        """Press `button` of `form` and wait until the page is idle with its sentence shown; returns the sentence
        and whether it is an error."""
        form.get_by_role("button", name=button, exact=True).click()
        self.page.wait_for_function("""() => !document.body.hasAttribute("data-busy")
                                          && !document.getElementById("notice").hidden""")
        notice = self.page.locator("#notice")
        return notice.inner_text(), "error" in (notice.get_attribute("class") or "")

    def fill_max(self, form, button: str = "Max") -> str:
        """Press the form's Max button and return the amount it fills in."""
        field = form.locator('input[name="amount"]')
        field.fill("")
        form.get_by_role("button", name=button, exact=True).click()
        self.page.wait_for_function("(e) => e.value !== ''", arg=field.element_handle())
        return field.input_value()

    def vault_form(self, vault: int, action: str):
        return self.page.locator(f'article[data-vault="{vault}"] form[data-action="{action}"]')

    def shot(self, name: str) -> dict:
        """A full-page PNG in .build/dapp-screenshots, and what it shows (LAYOUT)."""
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        seen = self.page.evaluate(LAYOUT)
        assert not seen["overflows"], f"{name}: wider than the window"
        assert not self.errors, self.errors
        return seen


def refusal_at_pending(chain, contract, fn: str, args: list, sender: str) -> tuple[str, dict]:
    """The custom error `contract.fn(*args)` from `sender` raises on the pending block (as the page simulated it),
    decoded with the exported ABIs: (name, {argument: value})."""
    w3 = chain.provider.web3
    data = getattr(contract, fn).encode_input(*args).to_0x_hex()
    try:
        w3.eth.call({"from": sender, "to": contract.address, "data": data}, "pending")
    except Exception as e:  # the revert, whatever web3 class carries it
        raw = HexBytes(e.data if isinstance(getattr(e, "data", None), str) else e.args[-1])
    else:
        raise AssertionError(f"{fn} did not revert")
    name, types, names = error_table()[bytes(raw[:4])]
    values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, decode(types, bytes(raw[4:])))]
    return name, dict(zip(names, values))


def symbols_of(deployment) -> dict[str, str]:
    return {c.token: s for s, c in deployment.collaterals.items()}


@pytest.mark.integration
def test_a_person_runs_a_vault_in_the_browser(browser, site, deployment, chain, accounts, engine, nft,
                                              position_lens, pusd, weth, wbtc):
    me = accounts[5]
    weth.mint(me, 100 * WAD, sender=me)  # the dev account's wallet: 100 WETH, 2 WBTC, no pUSD
    wbtc.mint(me, 2 * 10**8, sender=me)
    s = Session(browser, site, chain.provider.uri, me.address, position_lens, symbols_of(deployment))
    page = s.page

    # connect: the wallet announced itself by EIP-6963; no vault yet
    page.get_by_role("button", name=f"Connect {WALLET_NAME}").click()
    page.wait_for_selector('[data-field="no-vaults"]')
    assert page.locator('[data-field="account"]').inner_text() == me.address
    assert page.locator('[data-field="balance-WETH"]').inner_text() == "100 WETH"
    assert page.locator('[data-field="balance-WBTC"]').inner_text() == "2 WBTC"
    assert page.locator('[data-field="balance-pUSD"]').inner_text() == "0.00 pUSD"
    seen = s.shot("01-connected-no-vault")
    assert seen["cards"] == [] and seen["notice"] is None

    # the mock faucet
    faucet = page.locator('form[data-action="faucet"]')
    faucet.locator("select").select_option(label="WETH")
    faucet.locator('input[name="amount"]').fill("5")
    said, error = s.act(faucet, "Mint from faucet")
    assert not error and said.startswith("Minted 5 WETH. Confirmed in block")
    assert page.locator('[data-field="balance-WETH"]').inner_text() == "105 WETH" and weth.balanceOf(me) == 105 * WAD

    # open a vault with 10 WETH: an exact approval first, then the open
    opener = page.locator('form[data-action="open"]')
    opener.locator("select").select_option(label="WETH")
    opener.locator('input[name="amount"]').fill("10")
    said, error = s.act(opener, "Open vault")
    vault = engine.vaultCount()
    assert not error and said.startswith(f"Opened vault {vault}.")
    assert nft.ownerOf(vault) == me.address and weth.allowance(me, engine) == 0  # the approval was exact
    assert page.locator("#txs li[data-state=confirmed]").count() == 3  # mint, approve, open
    s.card_matches(vault)

    # deposit 0.5 WBTC
    deposit = s.vault_form(vault, "deposit")
    deposit.locator("select").select_option(label="WBTC")
    deposit.locator('input[name="amount"]').fill("0.5")
    said, error = s.act(deposit, "Deposit")
    assert not error and engine.collateralBalance(vault, wbtc) == 5 * 10**7
    p = s.card_matches(vault)
    assert p.healthFactor == MAX_UINT and p.collateralValue > 0
    assert page.locator(f'article[data-vault="{vault}"] [data-field="healthFactor"]').inner_text() == "no debt"

    # borrow the exact maximum for the next block (the one the transaction lands in, BLOCK_SECONDS later)
    borrow = s.vault_form(vault, "borrow")
    expected_max = position_lens.positionAt(vault, chain.blocks.head.timestamp + BLOCK_SECONDS).maxBorrow
    filled = s.fill_max(borrow)
    assert filled == units(expected_max, 18).replace(",", "")
    said, error = s.act(borrow, "Borrow")
    assert not error, said
    assert pusd.balanceOf(me) == expected_max  # exactly that amount was borrowed and accepted
    p = s.card_matches(vault)
    assert p.debt > 0 and p.maxBorrow == 0
    seen = s.shot("02-vault-with-debt")
    assert seen["cards"] == [str(vault)]

    # one pUSD more: refused in the simulation, in words, and nothing is sent
    nonce = me.nonce
    borrow = s.vault_form(vault, "borrow")
    borrow.locator('input[name="amount"]').fill("1")
    said, error = s.act(borrow, "Borrow")
    name, a = refusal_at_pending(chain, engine, "borrow", [vault, WAD, me.address], me.address)
    assert name == "InsufficientMargin" and a["vaultId"] == vault
    debt, power = pair(a["debt"], a["borrowPower"])
    assert error and said == (f"Vault {vault} cannot take this: its debt would be {debt} pUSD, above its borrowing "
                              f"power of {power} pUSD.")
    assert me.nonce == nonce
    assert page.locator("#txs li").first.get_attribute("data-state") == "refused"
    seen = s.shot("03-decoded-error")
    assert seen["notice"] == said

    # repay all with only the pUSD borrowed: the fee accrued since needs more (ERC20InsufficientBalance, in pUSD)
    repay = s.vault_form(vault, "repay")
    repay.get_by_role("button", name="All", exact=True).click()
    assert repay.locator('input[name="amount"]').input_value() == "all"
    said, error = s.act(repay, "Repay")
    name, a = refusal_at_pending(chain, engine, "repay", [vault, MAX_UINT], me.address)
    assert name == "ERC20InsufficientBalance"
    held, needed = pair(a["balance"], a["needed"])
    assert error and said == f"Your account holds {held} pUSD, less than the {needed} pUSD needed."
    assert me.nonce == nonce

    # repay 10,000 pUSD
    repay = s.vault_form(vault, "repay")
    repay.locator('input[name="amount"]').fill("10000")
    said, error = s.act(repay, "Repay")
    assert not error, said
    assert pusd.balanceOf(me) == expected_max - 10_000 * WAD
    s.card_matches(vault)

    # withdraw the exact maximum of WETH for the next block
    withdraw = s.vault_form(vault, "withdraw")
    withdraw.locator("select").select_option(label="WETH")
    ahead = position_lens.positionAt(vault, chain.blocks.head.timestamp + BLOCK_SECONDS)
    max_weth = next(c.maxWithdraw for c in ahead.collateral if c.token == weth.address)
    assert 0 < max_weth < 10 * WAD
    assert s.fill_max(withdraw) == units(max_weth, 18).replace(",", "")
    said, error = s.act(withdraw, "Withdraw")
    assert not error, said
    assert weth.balanceOf(me) == 95 * WAD + max_weth
    assert engine.collateralBalance(vault, weth) == 10 * WAD - max_weth
    p = s.card_matches(vault)
    assert p.maxBorrow < 10**16  # at the margin again: less than a cent left to borrow
    assert page.locator(f'article[data-vault="{vault}"] [data-field="maxBorrow"]').inner_text() == "0.00 pUSD"
    assert page.locator('[data-field="balance-WETH"]').inner_text() == f"{units(95 * WAD + max_weth, 18)} WETH"
    seen = s.shot("04-after-repay-withdraw")
    assert seen["notice"].startswith(f"Withdrew from vault {vault}.") and seen["cards"] == [str(vault)]

    # "max" typed: the engine withdraws all the margin allows when the transaction runs; at the margin that is
    # nothing, refused by name before anything is sent
    withdraw = s.vault_form(vault, "withdraw")
    withdraw.locator("select").select_option(label="WBTC")
    withdraw.locator('input[name="amount"]').fill("max")
    said, error = s.act(withdraw, "Withdraw")
    name, a = refusal_at_pending(chain, engine, "withdraw", [vault, wbtc.address, MAX_UINT, me.address], me.address)
    assert name == "NothingToWithdraw" and a["vaultId"] == vault
    assert error and said == f"Vault {vault} can let no WBTC go: it holds none, or its debt needs all of it."
    assert me.nonce == nonce + 2  # the repay and the withdrawal above, nothing since

    # a phone's width: the collateral table scrolls inside its card, the page itself does not
    page.set_viewport_size({"width": 390, "height": 844})
    s.shot("07-narrow-window")
    page.close()


@pytest.mark.integration
def test_a_failed_feed_and_a_refusing_wallet_are_said_in_words(browser, site, deployment, chain, accounts, admin,
                                                              engine, position_lens, weth, wbtc, weth_feed, tmp_path):
    me = accounts[6]
    for token, amount in ((weth, 10 * WAD), (wbtc, 5 * 10**7)):
        token.mint(me, amount, sender=me)
        token.approve(engine, amount, sender=me)
    vault = open_vault(engine, me, weth, 10 * WAD)  # 10 WETH and 0.5 WBTC, 10,000 pUSD of debt (tests/test_lens.py)
    engine.deposit(vault, wbtc, 5 * 10**7, sender=me)
    engine.borrow(vault, 10_000 * WAD, me, sender=me)
    # no manifest at the URL given: the page asks for the file, and takes it
    s = Session(browser, site + "?manifest=nowhere.json", chain.provider.uri, me.address, position_lens,
                symbols_of(deployment))
    page = s.page
    page.wait_for_selector("#manifest-file")
    assert page.locator("#manifest").inner_text().startswith("No deployment manifest at nowhere.json (HTTP 404).")
    book = tmp_path / "test.json"
    book.write_text(json.dumps(deployment.to_json()))
    page.set_input_files("#manifest-file", str(book))
    page.wait_for_selector(f'button:has-text("Connect {WALLET_NAME}")')
    assert page.locator("#manifest").is_hidden()
    assert [e for e in s.errors if "404" not in e] == [] and len(s.errors) == 1  # Chromium logs the failed fetch
    s.errors.clear()

    # the wallet refuses the connection, then accepts it
    page.evaluate("window.__wallet.reject.add('eth_requestAccounts')")
    page.get_by_role("button", name=f"Connect {WALLET_NAME}").click()
    page.wait_for_selector("#notice.error")
    assert page.locator("#notice").inner_text() == "You rejected the request in your wallet."
    page.evaluate("window.__wallet.reject.delete('eth_requestAccounts')")
    page.get_by_role("button", name=f"Connect {WALLET_NAME}").click()
    page.wait_for_selector(f'article[data-vault="{vault}"]')
    assert s.card_matches(vault).status == 0
    assert page.locator('[data-field="status"]').inner_text() == "Every collateral is priced."

    # two hours on, WETH reports and WBTC does not (past its 4,500 s max age): Unpriced, and the card says so
    chain.pending_timestamp = chain.blocks.head.timestamp + 2 * 3600
    set_price(weth_feed, admin, 2_000)
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_function(f"""() => document.querySelector('article[data-vault="{vault}"] [data-field="status"]')
                                        ?.dataset.raw === "1" """)
    p = s.card_matches(vault)
    assert p.status == 1 and [c.priced for c in p.collateral] == [True, False]
    assert page.locator('[data-field="status"]').inner_text() == (
        "The WBTC price feed is failing: WBTC counts as $0 here, so the health factor, borrowing power and maxima "
        "shown are floors. Deposits and repayments work; borrowing and withdrawing may be refused until the feed "
        "reports again.")
    s.shot("05-stale-feed")

    # a borrow that needs WBTC's value: the engine names the stale feed, and the page says it in words
    borrow = s.vault_form(vault, "borrow")
    borrow.locator('input[name="amount"]').fill("6000")
    said, error = s.act(borrow, "Borrow")
    name, a = refusal_at_pending(chain, engine, "borrow", [vault, 6_000 * WAD, me.address], me.address)
    assert name == "StalePrice" and a["feed"] == deployment.collaterals["WBTC"].feed
    assert error and said == (f"The price from the WBTC feed is stale: it last reported at {utc(a['updatedAt'])}, "
                              f"{a['nowTimestamp'] - a['updatedAt']:,} s before this block, and the oracle accepts at "
                              f"most {a['maxAge']:,} s.")

    # the wallet refuses to sign a repayment: a sentence, and nothing is sent
    nonce = me.nonce
    page.evaluate("window.__wallet.reject.add('eth_sendTransaction')")
    repay = s.vault_form(vault, "repay")
    repay.locator('input[name="amount"]').fill("100")
    said, error = s.act(repay, "Repay")
    assert error and said == "You rejected the request in your wallet."
    assert me.nonce == nonce and page.evaluate("window.__wallet.sent.length") == 0
    assert page.locator("#txs li").first.get_attribute("data-state") == "refused"
    seen = s.shot("06-wallet-rejection")
    assert seen["notice"] == said

    # the wallet moves to another chain (chainChanged): the page says so and shows no vault, then comes back
    page.evaluate("window.__wallet.emit('chainChanged', '0x1')")
    page.wait_for_selector("#vaults", state="hidden")
    assert page.locator("#notice").inner_text() == (
        f'Your wallet is on chain 1; this deployment ("test") is on chain {chain.chain_id}. Switch networks in your '
        "wallet.")
    page.evaluate(f"window.__wallet.emit('chainChanged', '{hex(chain.chain_id)}')")
    page.wait_for_selector(f'article[data-vault="{vault}"]')
    assert page.locator("#notice").is_hidden()

    # the wallet switches to an account without vaults (accountsChanged), then disconnects the page
    other = accounts[7].address
    page.evaluate(f"window.__wallet.account = '{other}'; window.__wallet.emit('accountsChanged', ['{other}'])")
    page.wait_for_selector('[data-field="no-vaults"]')
    assert page.locator('[data-field="account"]').inner_text() == other
    page.evaluate("window.__wallet.emit('accountsChanged', [])")
    page.wait_for_selector(f'button:has-text("Connect {WALLET_NAME}")')
    assert page.locator("#notice").inner_text() == "The wallet disconnected this page."
    assert not s.errors, s.errors
    page.close()
