"""docs/integrating.md's web3.py flow, run as written against a fresh deployment: only the shipped files
(interfaces/abi and the manifest), and a borrow of half the maximum that the PositionLens names."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_web3_flow_runs(deployment, engine, nft, chain, tmp_path):
    page = (ROOT / "docs" / "integrating.md").read_text()
    (code,) = re.findall(r"## A full flow with web3.py.*?```python\n(.*?)```", page, re.S)
    manifest = deployment.save(tmp_path / "local.json")
    code = code.replace("http://127.0.0.1:8545", chain.provider.uri).replace('"deployments/local.json"',
                                                                               repr(str(manifest)))
    here = os.getcwd()
    os.chdir(ROOT)  # the page's paths are relative to the repository
    try:
        scope: dict = {}
        exec(compile(code, "docs/integrating.md", "exec"), scope)
    finally:
        os.chdir(here)
    vault, card = scope["vault"], scope["card"]
    assert card[1] == scope["me"] and card[13] > 0  # the owner, and a positive maxBorrow
    assert engine.debt(vault) >= card[13] // 2 and nft.ownerOf(vault) == scope["me"]
