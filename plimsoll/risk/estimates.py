"""Volatility, correlation and tail-loss estimates from price history (docs/risk.md).

Pure functions over pandas/numpy series: no chain, no files. Every forecast at day t uses returns up to day t − 1
only, so the same functions serve the backtest (``predictive.py``) without look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: RiskMetrics' decay for daily returns (J.P. Morgan/Reuters, RiskMetrics Technical Document, 4th ed. 1996, §5.3).
RISKMETRICS_LAMBDA = 0.94


def tail_loss(returns: np.ndarray | pd.Series, confidence: float) -> tuple[float, float]:
    """Historical value at risk and expected shortfall of the losses (−returns).

    Args:
        returns: simple or log returns, fractions; NaN is dropped.
        confidence: e.g. 0.99.

    Returns:
        (VaR, ES) as positive fractions of value: VaR the ``confidence`` quantile of the loss, ES the mean loss at
        or beyond it (Acerbi and Tasche, "On the coherence of expected shortfall", 2002).

    Raises:
        ValueError: no returns, or the tail holds none of them.
    """
    losses = -np.asarray(returns, dtype=float)
    losses = losses[~np.isnan(losses)]
    if not 0 < confidence < 1:
        raise ValueError("confidence is in (0, 1)")
    if losses.size == 0:
        raise ValueError("no returns")
    var = float(np.quantile(losses, confidence))
    return var, float(losses[losses >= var].mean())


def ewma_volatility(returns: pd.Series, lam: float = RISKMETRICS_LAMBDA, burn_in: int = 30) -> pd.Series:
    """RiskMetrics exponentially weighted volatility forecast: σ²_t = λ·σ²_{t−1} + (1 − λ)·r²_{t−1}.

    Args:
        returns: daily log returns (fractions), indexed by day.
        lam: decay λ in (0, 1).
        burn_in: the first ``burn_in`` forecasts are NaN (the recursion starts from r²_0).

    Returns:
        σ_t, the forecast for each day from the returns before it (fractions per day), same index.
    """
    if not 0 < lam < 1:
        raise ValueError("lambda is in (0, 1)")
    variance = (returns**2).ewm(alpha=1 - lam, adjust=False).mean().shift(1)
    variance.iloc[:burn_in] = np.nan
    return np.sqrt(variance)


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1) with Student-t innovations, fitted by maximum likelihood (the ``arch`` package).

    σ²_t = ω + α·r²_{t−1} + β·σ²_{t−1} (Bollerslev 1986), returns in fractions per day.

    Attributes:
        omega: ω, fraction² per day.
        alpha, beta: α and β; α + β is the persistence, < 1 for a stationary variance.
        nu: Student-t degrees of freedom.
        long_run_volatility: √(ω / (1 − α − β)), fraction per day (NaN if not stationary).
    """

    omega: float
    alpha: float
    beta: float
    nu: float

    @property
    def long_run_volatility(self) -> float:
        persistence = self.alpha + self.beta
        return float(np.sqrt(self.omega / (1 - persistence))) if persistence < 1 else float("nan")


def _garch_model(returns: pd.Series):
    from arch import arch_model  # imported here: arch pulls in statsmodels (1 s)

    # arch's optimiser is scaled for returns in percent.
    return arch_model(returns * 100, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)


def fit_garch(returns: pd.Series) -> GarchFit:
    """Fit GARCH(1,1)-t to daily log returns (fractions) over the whole series."""
    res = _garch_model(returns).fit(disp="off")
    p = res.params
    return GarchFit(float(p["omega"]) / 1e4, float(p["alpha[1]"]), float(p["beta[1]"]), float(p["nu"]))


def garch_volatility(returns: pd.Series, refit_every: int = 30, min_history: int = 120) -> pd.Series:
    """Out-of-sample GARCH(1,1)-t volatility forecasts: the model is refitted every ``refit_every`` days on the
    returns up to that day only (an expanding window), and its parameters forecast the days until the next refit.

    Args:
        returns: daily log returns (fractions), indexed by day.
        refit_every: days between refits.
        min_history: days of returns before the first fit; earlier forecasts are NaN.

    Returns:
        σ_t for each day from the returns before it (fraction per day), same index.
    """
    if len(returns) <= min_history:
        raise ValueError(f"GARCH needs more than {min_history} days of returns")
    model = _garch_model(returns)
    out = pd.Series(np.nan, index=returns.index)
    for start in range(min_history, len(returns), refit_every):
        res = model.fit(last_obs=start, disp="off")
        stop = min(start + refit_every, len(returns))
        # The forecast made at row i is for row i + 1: it uses the returns up to and including row i.
        fc = res.forecast(horizon=1, start=start - 1, reindex=False).variance.iloc[: stop - start, 0]
        out.iloc[start:stop] = np.sqrt(fc.to_numpy()) / 100
    return out


def rolling_correlation(returns: pd.DataFrame, window: int = 30) -> pd.Series:
    """Correlation of the first two columns over a trailing window of ``window`` rows (NaN until it fills)."""
    a, b = returns.columns[:2]
    return returns[a].rolling(window).corr(returns[b])


def es_multiplier(standardized: np.ndarray | pd.Series, confidence: float) -> float:
    """Expected shortfall of standardized residuals r_t / σ_t: the filtered-historical-simulation multiplier
    (Barone-Adesi, Giannopoulos and Vosper 1999; Hull and White 1998). ES_t = multiplier · σ_t keeps the fat tails
    of the history and scales them to today's volatility."""
    return tail_loss(standardized, confidence)[1]
