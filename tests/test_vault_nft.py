"""The vault NFT a wallet shows: VaultNFT.tokenURI is on-chain JSON whose figures are the engine's (exact strings,
rounded down as the renderer says), with an SVG card that Debian's Chromium draws. Ownership follows the token, and the
token's enumeration lists an owner's vaults."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import ape

from browser import view
from conftest import open_vault

WAD = 10**18
ROOT = Path(__file__).resolve().parents[1]


def _decode(uri: str, prefix: str) -> bytes:
    assert uri.startswith(prefix), uri[:60]
    return base64.b64decode(uri[len(prefix):])


def test_token_uri_is_the_vault_as_the_engine_values_it(funded, engine, nft, weth, wbtc, alice, chain, tmp_path):
    vault = open_vault(engine, alice, weth, 10 * WAD)
    engine.deposit(vault, wbtc, 5 * 10**7, sender=alice)
    engine.borrow(vault, 12_345 * WAD, alice, sender=alice)
    chain.mine()  # the rate moves on: the card shows the debt as of the block it is read in

    doc = json.loads(_decode(nft.tokenURI(vault), "data:application/json;base64,"))
    v = engine.valuation(vault)
    debt, health = engine.debt(vault), engine.healthFactor(vault)
    assert (v.debt, v.maintenance * WAD // v.debt) == (debt, health)
    assert doc["name"] == f"Plimsoll Vault #{vault}"
    assert "approving it hands over the collateral" in doc["description"]
    cents = lambda wad: f"{wad // WAD}.{wad % WAD * 100 // WAD:02d}"  # rounded down, as the renderer does
    assert doc["attributes"] == [
        {"trait_type": "Debt (pUSD)", "value": cents(debt)},
        {"trait_type": "Health factor", "value": cents(health)},
        {"trait_type": "Margin", "value": "standard margin"},
        {"trait_type": "WETH", "value": "10.0000"},
        {"trait_type": "WBTC", "value": "0.5000"},
    ]
    svg = _decode(doc["image"], "data:image/svg+xml;base64,").decode()
    for text in (f"Plimsoll Vault #{vault}", "10.0000 WETH", "$20000.00", "0.5000 WBTC", f"Debt {cents(debt)} pUSD",
                 f"Health factor {cents(health)}"):
        assert f">{text}</text>" in svg, text

    # as a wallet shows it: the image drawn by a real browser
    page = tmp_path / "nft.html"
    page.write_text(f'<!doctype html><title>vault</title><img alt="vault" src="{doc["image"]}">')
    shot = ROOT / ".build" / "vault-nft.png"
    shot.parent.mkdir(exist_ok=True)
    seen = view(page, shot, width=400)
    assert seen.images == {"vault": 360} and not seen.console_errors and not seen.overflows


def test_a_vault_without_debt_says_so(funded, engine, nft, weth, alice):
    vault = open_vault(engine, alice, weth, WAD)
    doc = json.loads(_decode(nft.tokenURI(vault), "data:application/json;base64,"))
    assert doc["attributes"][:2] == [{"trait_type": "Debt (pUSD)", "value": "0.00"},
                                     {"trait_type": "Health factor", "value": "no debt"}]
    with ape.reverts(nft.ERC721NonexistentToken, tokenId=vault + 1):
        nft.tokenURI(vault + 1)
