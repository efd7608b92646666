"""Monte Carlo over generated price paths: the distribution of bad debt and borrower losses under Plimsoll's rules
(docs/risk.md, "Monte Carlo").

Paths are block-bootstrapped from the joint hourly history: blocks of consecutive hours, each drawn at a random
start, keep the assets' co-movement, their volatility clusters within a block and their fat tails (Künsch 1989).
Each path starts at the book's prices. The paths are split into chunks, and each chunk runs through the cascade
simulator (one vectorized run per chunk). The chunks run on Dask: a local cluster by default, or the scheduler
given. Everything follows from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cascade import Book, Rules, simulate


def hourly_log_returns(closes: pd.DataFrame) -> np.ndarray:
    """(T, k) log returns between consecutive hours where every asset has both closes (gaps dropped)."""
    r = np.log(closes / closes.shift(1))
    return r.dropna().to_numpy()


def bootstrap_paths(returns: np.ndarray, n_paths: int, hours: int, block: int = 24, seed: int = 7) -> np.ndarray:
    """Price multipliers along ``n_paths`` paths of ``hours`` hours: (n_paths, hours + 1, k), the first step 1.

    Args:
        returns: (T, k) hourly log returns (``hourly_log_returns``).
        block: hours per bootstrap block.
        seed: the generator's seed (numpy's default PCG64).
    """
    if len(returns) <= block:
        raise ValueError("the history is shorter than one block")
    rng = np.random.default_rng(seed)
    blocks = -(-hours // block)
    starts = rng.integers(0, len(returns) - block, size=(n_paths, blocks))
    offsets = starts[:, :, None] + np.arange(block)[None, None, :]
    drawn = returns[offsets.reshape(n_paths, -1)[:, :hours]]  # (n_paths, hours, k)
    cum = np.concatenate([np.zeros((n_paths, 1, returns.shape[1])), np.cumsum(drawn, axis=1)], axis=1)
    return np.exp(cum)


def _chunk(book: Book, rules: Rules, times: np.ndarray, prices: np.ndarray) -> dict[str, np.ndarray]:
    out = simulate(book, rules, times, prices)
    return {"bad_debt": out.bad_debt, "penalty": out.borrower_penalty, "repaid": out.repaid,
            "liquidated": out.liquidated.sum(axis=1), "insolvent": out.insolvent.sum(axis=1)}


@dataclass(frozen=True)
class MonteCarlo:
    """Per-path outcomes (arrays of shape (n_paths,)): bad_debt and penalty (borrower penalty) in pUSD/USD, repaid,
    vaults liquidated and insolvent; worst_fall: each path's lowest price relative to its start, per collateral
    (n_paths, k)."""

    bad_debt: np.ndarray
    penalty: np.ndarray
    repaid: np.ndarray
    liquidated: np.ndarray
    insolvent: np.ndarray
    worst_fall: np.ndarray

    def summary(self) -> dict:
        """Mean, p50, p95, p99 and max of bad debt and borrower penalty, and the share of paths with bad debt."""
        def stats(x: np.ndarray) -> dict:
            return {"mean": round(float(x.mean()), 2), "p50": round(float(np.quantile(x, 0.5)), 2),
                    "p95": round(float(np.quantile(x, 0.95)), 2), "p99": round(float(np.quantile(x, 0.99)), 2),
                    "max": round(float(x.max()), 2)}

        return {"paths": int(self.bad_debt.size), "bad_debt": stats(self.bad_debt), "borrower_penalty": stats(self.penalty),
                "paths_with_bad_debt": round(float((self.bad_debt > 0).mean()), 4),
                "vaults_liquidated_mean": round(float(self.liquidated.mean()), 2)}


def run(book: Book, rules: Rules, start_prices: np.ndarray, multipliers: np.ndarray, step_seconds: float = 3600.0,
        chunk: int = 16, client=None, progress=None) -> MonteCarlo:
    """Run every path through the cascade simulator, ``chunk`` paths per task.

    Args:
        book, rules: the vaults and the protocol's parameters.
        start_prices: (k,) USD; multipliers: (n_paths, m, k) from ``bootstrap_paths``.
        step_seconds: seconds between steps. One closing step after every grace window is added to each path.
        chunk: paths per task.
        client: a dask.distributed Client, or None to run here, one chunk after another.
        progress: called with (chunks done, chunks) as results arrive.

    Returns:
        The per-path outcomes, in path order (independent of the cluster's scheduling).
    """
    n_paths, m, _ = multipliers.shape
    closing = float(rules.grace_period.max()) + 2
    times = np.append(step_seconds * np.arange(m), step_seconds * (m - 1) + closing)
    prices = start_prices[None, None, :] * np.concatenate([multipliers, multipliers[:, -1:]], axis=1)
    bounds = [(a, min(a + chunk, n_paths)) for a in range(0, n_paths, chunk)]
    if client is None:
        parts = []
        for i, (a, b) in enumerate(bounds):
            parts.append(_chunk(book, rules, times, prices[a:b]))
            if progress:
                progress(i + 1, len(bounds))
    else:
        from distributed import as_completed

        book_f, rules_f, times_f = client.scatter([book, rules, times], broadcast=True)
        futures = [client.submit(_chunk, book_f, rules_f, times_f, prices[a:b], pure=False) for a, b in bounds]
        index = {f.key: i for i, f in enumerate(futures)}
        parts = [None] * len(futures)
        for done, f in enumerate(as_completed(futures), start=1):
            parts[index[f.key]] = f.result()
            if progress:
                progress(done, len(bounds))
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return MonteCarlo(joined["bad_debt"], joined["penalty"], joined["repaid"], joined["liquidated"],
                      joined["insolvent"], multipliers.min(axis=1))
