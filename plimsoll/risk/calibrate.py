"""Calibration of the cascade simulator against the chain: the demo's replay (same vaults, same rounds, same
configuration) simulated off-chain, and its outcome compared with what the contracts did (docs/risk.md).

The demo writes its inputs into its workdir (``plimsoll.demo.run.write_replay_inputs``): ``vaults.json``,
``rounds.json``, ``config.yaml`` (the configuration as deployed, sized for the market), and its outcome,
``report.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np

from ..sdk.config import load_config
from .cascade import Book, Outcome, Rules, simulate
from .paths import rounds_to_steps

#: The issue's tolerances: total repaid within 1 %, the liquidation count within 5 %.
REPAID_TOLERANCE = 0.01
COUNT_TOLERANCE = 0.05


class CalibrationInputError(ValueError):
    """A demo workdir lacks a file the calibration needs, or holds one it cannot read."""


def _read(workdir: Path, name: str):
    path = workdir / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CalibrationInputError(f"{path}: {e} (run `plimsoll demo --workdir {workdir}` first)") from e


def replay_inputs(workdir: Path) -> tuple[Book, Rules, np.ndarray, np.ndarray]:
    """The demo's replay as simulator inputs.

    Returns:
        (book, rules, times, prices): times (m,) seconds, every distinct round time and, when margin calls are
        offered, one last step after every possible grace window with the last prices (the demo's closing heartbeat
        round); prices (m, k) USD, each collateral's last round carried forward.

    Raises:
        CalibrationInputError: a file is missing or unreadable.
    """
    try:
        cfg = load_config(workdir / "config.yaml")
    except (OSError, ValueError) as e:
        raise CalibrationInputError(f"{workdir / 'config.yaml'}: {e}") from e
    symbols = [c.symbol for c in cfg.collaterals]
    decimals = np.array([10.0**c.decimals for c in cfg.collaterals])
    vaults = _read(workdir, "vaults.json")
    rounds = _read(workdir, "rounds.json")
    book = Book(
        ids=np.array([v["id"] for v in vaults]),
        amounts=np.array([[int(v["collateral"].get(s, 0)) for s in symbols] for v in vaults], dtype=float) / decimals,
        debt=np.array([int(v["debt"]) / 1e18 for v in vaults]),
        portfolio=np.array([bool(v["portfolio"]) for v in vaults]),
        responsive=np.array([bool(v["responsive"]) for v in vaults]),
    )
    rules = Rules.from_config(cfg)
    times, prices = rounds_to_steps({s: [(t, float(Decimal(p))) for t, p in rounds[s]] for s in symbols}, symbols)
    if rules.grace_period.max() > 0:  # the demo lets every open grace window run out, then repeats the last prices
        times = np.append(times, times[-1] + int(rules.grace_period.max()) + 2)
        prices = np.vstack([prices, prices[-1]])
    return book, rules, times, prices


def compare(book: Book, outcome: Outcome, report: dict) -> dict:
    """The simulated outcome beside the chain's (a demo report) and whether they agree.

    Agreement: the same liquidated vaults, the same insolvent vaults, total repaid within 1 %, the liquidation
    count within 5 %, and debt written off within 1 % (or both zero).
    """
    sim_liquidated = sorted(int(i) for i in book.ids[outcome.liquidated[0]])
    sim_insolvent = sorted(int(i) for i in book.ids[outcome.insolvent[0]])
    chain_liquidated = sorted(report["liquidated_vaults"])
    chain_repaid = float(Decimal(report["repaid"]))
    chain_written_off = float(Decimal(report.get("written_off", "0")))
    sim_repaid, sim_written_off = float(outcome.repaid[0]), float(outcome.bad_debt[0])

    def rel(a: float, b: float) -> float:
        return abs(a - b) / b if b else (0.0 if a == 0 else float("inf"))

    checks = {
        "same_liquidated_vaults": sim_liquidated == chain_liquidated,
        "same_insolvent_vaults": sim_insolvent == sorted(report["insolvent_vaults"]),
        "repaid_within_1pct": rel(sim_repaid, chain_repaid) <= REPAID_TOLERANCE,
        "liquidations_within_5pct": rel(float(outcome.liquidations[0]), float(report["liquidations"]))
        <= COUNT_TOLERANCE,
        "written_off_within_1pct": rel(sim_written_off, chain_written_off) <= REPAID_TOLERANCE,
    }
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "chain": {
            "liquidated": len(chain_liquidated),
            "liquidations": report["liquidations"],
            "repaid": round(chain_repaid, 2),
            "written_off": round(chain_written_off, 2),
            "insolvent": len(report["insolvent_vaults"]),
            "margin_calls": report["margin_calls"]["calls"],
            "cures": report["margin_calls"]["cures"],
        },
        "simulated": {
            "liquidated": len(sim_liquidated),
            "liquidations": int(outcome.liquidations[0]),
            "repaid": round(sim_repaid, 2),
            "written_off": round(sim_written_off, 2),
            "insolvent": len(sim_insolvent),
            "margin_calls": int(outcome.calls[0]),
            "cures": int(outcome.cures[0]),
        },
        "only_on_chain": sorted(set(chain_liquidated) - set(sim_liquidated)),
        "only_simulated": sorted(set(sim_liquidated) - set(chain_liquidated)),
        "repaid_difference": round(rel(sim_repaid, chain_repaid), 6),
        "liquidations_difference": round(rel(float(outcome.liquidations[0]), float(report["liquidations"])), 6),
    }


def calibrate(workdir: Path) -> dict:
    """Simulate the demo run in ``workdir`` and compare it with its report (``compare``).

    Raises:
        CalibrationInputError: the workdir lacks the demo's inputs or report.
    """
    book, rules, times, prices = replay_inputs(workdir)
    report = _read(workdir, "report.json")
    if "liquidated_vaults" not in report:
        raise CalibrationInputError(f"{workdir / 'report.json'} predates the calibration: run the demo again")
    # The demo's owners answer a call after the next price round (plimsoll.demo.run.Demo._answer_margin_calls),
    # and not after the closing heartbeat round: a call made at the last round goes unanswered.
    answering = np.ones(len(times), dtype=bool)
    if rules.grace_period.max() > 0:
        answering[-1] = False
    # An owner whose answer reverted on-chain (the demo reports it, with its error) did not answer.
    failed = report.get("margin_calls", {}).get("answers_failed", [])
    if not isinstance(failed, list):
        raise CalibrationInputError(f"{workdir / 'report.json'} counts failed answers without naming their vaults: "
                                    "run the demo again")
    failed = {a["vault"] for a in failed}
    book = replace(book, responsive=book.responsive & ~np.isin(book.ids, sorted(failed)))
    return compare(book, simulate(book, rules, times, prices, answer_lag=1, answering=answering), report)
