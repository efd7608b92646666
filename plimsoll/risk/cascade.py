"""Liquidation-cascade simulation: Plimsoll's own rules applied to a vault population along price paths, step by step,
vectorized over vaults and scenarios with numpy (docs/risk.md).

The rules are the contracts', in floating point (the exact-integer mirror is plimsoll.sdk.math):

- health: maintenance / debt, maintenance Σ value·LT (standard margin) or the worst maintenance scenario Σ
  value·(1 + shock) (portfolio margin); the debt grows by the stability fee, and by the premium inside a margin
  call's grace window;
- margin calls: a vault below 1 whose collaterals all offer calls and that is at or above the hard floor is called
  (the shortest grace, the highest floor and premium among its collaterals). An owner who answers repays to the
  initial margin plus 1 % and 1 pUSD, and cures, as the demo's owners do. A called vault is liquidated once the
  deadline has passed or below the floor;
- liquidation (LiquidationEngine._plan): a bonus growing from the floor just under HF 1 to the collateral's full
  bonus at max_bonus_health; a partial repay r* = (T·D − M) / (T − LB·LT) restoring the target health, the whole
  debt below full_liquidation_health, when LB·LT ≥ T or when the rest would be dust; every collateral seized in the
  same fraction; when the collateral cannot pay the bonus, all of it is seized, the whole debt repaid while it
  covers the debt, and otherwise value / LB repaid and the rest written off as bad debt; partial liquidations scaled
  to the per-collateral volume caps (a token bucket refilling the whole cap per window; full liquidations are never
  held back but count);
- the keeper is perfect: every vault that may be liquidated at a step is, at that step's prices, in vault order.

Shapes: S scenarios, n vaults, k collaterals, m steps. Money in USD/pUSD floats, amounts in whole tokens, time in
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..sdk.config import DeployConfig

WAD = 10**18
RAY = 10**27


@dataclass(frozen=True)
class Book:
    """A vault population.

    Attributes:
        ids: (n,) vault ids (liquidation order under volume caps).
        amounts: (n, k) whole tokens per collateral.
        debt: (n,) pUSD.
        portfolio: (n,) True for portfolio-margin vaults.
        responsive: (n,) True for owners who answer a margin call.
    """

    ids: np.ndarray
    amounts: np.ndarray
    debt: np.ndarray
    portfolio: np.ndarray
    responsive: np.ndarray


@dataclass(frozen=True)
class Rules:
    """The protocol's parameters as floats, per collateral in the book's column order.

    Attributes:
        ltv, liquidation_threshold, liquidation_bonus: (k,) fractions.
        initial_grid, maintenance_grid: (s, k) shocks, fractions; empty when portfolio margin is off.
        target_health, full_liquidation_health, protocol_share, bonus_floor, max_bonus_health: fractions.
        dust: pUSD.
        grace_period: (k,) seconds, 0 where calls are not offered; hard_floor: (k,) health; premium_rate: (k,)
            continuous rate per second (ln of the RAY factor).
        stability_rate: continuous rate per second.
        liquidation_cap: (k,) USD of seized value per window, 0 for none; cap_window: seconds.
    """

    ltv: np.ndarray
    liquidation_threshold: np.ndarray
    liquidation_bonus: np.ndarray
    initial_grid: np.ndarray
    maintenance_grid: np.ndarray
    target_health: float
    full_liquidation_health: float
    protocol_share: float
    bonus_floor: float
    max_bonus_health: float
    dust: float
    grace_period: np.ndarray
    hard_floor: np.ndarray
    premium_rate: np.ndarray
    stability_rate: float
    liquidation_cap: np.ndarray
    cap_window: float

    @classmethod
    def from_config(cls, cfg: DeployConfig, symbols: list[str] | None = None) -> Rules:
        """The rules of a deployment configuration, columns in ``symbols`` order (default: its listing order)."""
        symbols = symbols or [c.symbol for c in cfg.collaterals]
        cols = [cfg.collateral(s) for s in symbols]
        listed = [c.symbol for c in cfg.collaterals]
        order = [listed.index(s) for s in symbols]

        def grid(rows):
            return np.array([[row[j] / WAD for j in order] for row in rows]).reshape(-1, len(symbols))

        def per(f):
            return np.array([f(c) for c in cols], dtype=float)

        return cls(
            ltv=per(lambda c: c.ltv / WAD),
            liquidation_threshold=per(lambda c: c.liquidation_threshold / WAD),
            liquidation_bonus=per(lambda c: c.liquidation_bonus / WAD),
            initial_grid=grid(cfg.initial_grid),
            maintenance_grid=grid(cfg.maintenance_grid),
            target_health=cfg.target_health / WAD,
            full_liquidation_health=cfg.full_liquidation_health / WAD,
            protocol_share=cfg.protocol_share / WAD,
            bonus_floor=cfg.bonus_floor / WAD,
            max_bonus_health=cfg.max_bonus_health / WAD,
            dust=cfg.dust / WAD,
            grace_period=per(lambda c: c.grace_period),
            hard_floor=per(lambda c: c.hard_floor / WAD),
            premium_rate=per(lambda c: np.log(c.premium / RAY) if c.premium else 0.0),
            stability_rate=float(np.log(cfg.stability_fee / RAY)),
            liquidation_cap=per(lambda c: c.liquidation_cap / WAD),
            cap_window=float(cfg.cap_window),
        )


@dataclass
class Outcome:
    """What the rules did, per scenario (arrays of shape (S,) unless said otherwise).

    Attributes:
        liquidated: (S, n) the vault was liquidated at least once.
        wiped_out: (S, n) the vault lost all its collateral.
        insolvent: (S, n) debt of the vault was written off (its collateral could not cover it).
        liquidations: number of liquidations.
        repaid: debt repaid by liquidators, pUSD.
        seized: collateral value seized, USD.
        protocol_fee: the protocol's share of the bonus, USD.
        bad_debt: debt written off, pUSD.
        calls, cures: margin calls made and answered.
        series: per step (S, m): ``liquidations``, ``repaid``, ``bad_debt`` (cumulative), ``unsafe`` (vaults below
            maintenance before the step's actions).
        debt, amounts: (S, n) and (S, n, k), the vaults after the last step.
    """

    liquidated: np.ndarray
    wiped_out: np.ndarray
    insolvent: np.ndarray
    liquidations: np.ndarray
    repaid: np.ndarray
    seized: np.ndarray
    protocol_fee: np.ndarray
    bad_debt: np.ndarray
    calls: np.ndarray
    cures: np.ndarray
    series: dict[str, np.ndarray] = field(default_factory=dict)
    debt: np.ndarray | None = None
    amounts: np.ndarray | None = None

    @property
    def borrower_penalty(self) -> np.ndarray:
        """Collateral value seized above the debt it repaid, USD: what liquidation cost the borrowers."""
        return self.seized - self.repaid


def _weighted(values: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Σ value·factor over collaterals; values (k, len) with one contiguous row per collateral (faster than a matrix
    product over a trailing axis of 2)."""
    out = values[0] * factors[0]
    for c in range(1, len(factors)):
        out += values[c] * factors[c]
    return out


def _worst(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """min over the grid's scenarios of Σ value·(1 + shock); values (k, len), grid (s, k)."""
    worst = None
    for row in 1 + grid:
        scenario = _weighted(values, row)
        worst = scenario if worst is None else np.minimum(worst, scenario, out=worst)
    return worst


def health_factors(book: Book, rules: Rules, prices: np.ndarray) -> np.ndarray:
    """(n,) each vault's health factor at ``prices`` (k,) USD: maintenance / debt, the worst maintenance scenario for
    portfolio vaults; inf without debt."""
    values = book.amounts.T * prices[:, None]
    maintenance = _weighted(values, rules.liquidation_threshold)
    if rules.maintenance_grid.size and book.portfolio.any():
        maintenance[book.portfolio] = _worst(values[:, book.portfolio], rules.maintenance_grid)
    with np.errstate(divide="ignore"):
        return np.where(book.debt > 0, maintenance / np.where(book.debt > 0, book.debt, 1.0), np.inf)


def _effective_bonus(bonus: np.ndarray, hf: np.ndarray, rules: Rules) -> np.ndarray:
    """LiquidationEngine.effectiveBonus: the floor just under HF 1, rising linearly to the full bonus at
    max_bonus_health."""
    floor, top = rules.bonus_floor, rules.max_bonus_health
    rising = floor + (bonus - floor) * (1 - hf) / (1 - top)
    eff = np.where(hf >= 1, floor, rising)
    return np.where((bonus <= floor) | (hf <= top), bonus, eff)


def simulate(book: Book, rules: Rules, times: np.ndarray, prices: np.ndarray, call_delay: float = 1.0,
             answer_lag: int = 0, answering: np.ndarray | None = None) -> Outcome:
    """Run the rules along price paths.

    Each step values every vault (one array operation over scenarios × vaults), then works only on the vaults
    below maintenance, gathered into compact arrays.

    Args:
        book: the vaults at the first step (debt at that time).
        rules: the protocol's parameters.
        times: (m,) seconds, increasing.
        prices: (m, k) or (S, m, k) USD per whole token.
        call_delay: seconds between a vault falling below 1 and the keeper's call (the grace counts from the call).
        answer_lag: steps between a call and its owner's answer (0: at once, at the call's prices; 1: at the next
            step's prices, before the keeper acts on them, as the demo's owners answer).
        answering: (m,) bool, the steps at which owners answer (default: every step). A call whose answer would
            fall on another step stays unanswered.

    Returns:
        The Outcome.
    """
    prices = np.asarray(prices, dtype=float)
    if prices.ndim == 2:
        prices = prices[None]
    n_s, m, k = prices.shape
    n = book.debt.shape[0]
    size = n_s * n  # state arrays are flat: entry s·n + i is vault i in scenario s
    amounts = np.array(np.broadcast_to(book.amounts.T[:, None, :], (k, n_s, n)), dtype=float).reshape(k, size)
    debt = np.tile(np.asarray(book.debt, dtype=float), n_s)
    held = book.amounts > 0
    offered = held.any(axis=1) & np.all(~held | (rules.grace_period > 0), axis=1)
    grace = np.where(held, rules.grace_period, np.inf).min(axis=1)
    floor_terms = np.where(held, rules.hard_floor, 0.0).max(axis=1)
    premium_terms = np.where(held, rules.premium_rate, 0.0).max(axis=1)
    deadline = np.full(size, np.inf)  # inf: not called
    called_step = np.full(size, -1)
    call_floor = np.zeros(size)
    call_premium = np.zeros(size)
    charged = np.zeros(size)
    capped = rules.liquidation_cap > 0
    used = np.zeros((n_s, k))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(book.ids, kind="stable")] = np.arange(n)
    # Portfolio vaults in every scenario: only they need the scenario grid.
    in_portfolio = (np.arange(n_s)[:, None] * n + np.flatnonzero(book.portfolio)[None, :]).ravel()
    if rules.maintenance_grid.size == 0:
        in_portfolio = in_portfolio[:0]
    responsive = np.tile(book.responsive, n_s)

    out = Outcome(
        liquidated=np.zeros(size, dtype=bool),
        wiped_out=np.zeros(size, dtype=bool),
        insolvent=np.zeros(size, dtype=bool),
        liquidations=np.zeros(n_s, dtype=int),
        repaid=np.zeros(n_s),
        seized=np.zeros(n_s),
        protocol_fee=np.zeros(n_s),
        bad_debt=np.zeros(n_s),
        calls=np.zeros(n_s, dtype=int),
        cures=np.zeros(n_s, dtype=int),
    )
    series = {name: np.zeros((n_s, m)) for name in ("liquidations", "repaid", "bad_debt", "unsafe")}

    def per_scenario(flat: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(flat // n, weights=weights, minlength=n_s)

    def margins(values: np.ndarray, factors: np.ndarray, grid: np.ndarray, at: np.ndarray | None) -> np.ndarray:
        """Margins of the entries ``at`` (all when None) from their values (k, len)."""
        standard = _weighted(values, factors)
        ports = in_portfolio if at is None else at[book.portfolio[at % n]] if grid.size else at[:0]
        if ports.size:
            pos = ports if at is None else np.searchsorted(at, ports)
            standard[pos] = _worst(values[:, pos], grid)
        return standard

    for j in range(m):
        t = float(times[j])
        if j:
            dt = t - float(times[j - 1])
            debt *= np.exp(rules.stability_rate * dt)
            if capped.any():
                used = np.maximum(0.0, used - rules.liquidation_cap * dt / rules.cap_window)
        c = np.flatnonzero(deadline < np.inf)  # vaults in a call: premium inside the grace window
        if c.size:
            end = np.minimum(t, deadline[c])
            elapsed = np.maximum(0.0, end - charged[c])
            debt[c] *= np.exp(call_premium[c] * elapsed)
            charged[c] = np.maximum(charged[c], end)

        values = (amounts.reshape(k, n_s, n) * prices[:, j, :].T[:, :, None]).reshape(k, size)
        if answer_lag and j >= answer_lag and (answering is None or answering[j]):  # calls of answer_lag steps ago
            a = np.flatnonzero((called_step == j - answer_lag) & (deadline < np.inf) & responsive)
            if a.size:
                _answer(debt, a, margins(values[:, a], rules.ltv, rules.initial_grid, a))
                deadline[a] = np.inf
                out.cures += per_scenario(a).astype(int)
        maintenance = margins(values, rules.liquidation_threshold, rules.maintenance_grid, None)
        u = np.flatnonzero((debt > 0) & (maintenance < debt))
        series["unsafe"][:, j] = per_scenario(u)
        if u.size == 0:
            series["repaid"][:, j], series["bad_debt"][:, j] = out.repaid, out.bad_debt
            continue
        uv = u % n
        d, mt = debt[u], maintenance[u]
        hf = mt / d
        called = deadline[u] < np.inf

        new_call = ~called & offered[uv] & (hf >= floor_terms[uv])
        answer = new_call & responsive[u] & (answer_lag == 0) & (answering is None or bool(answering[j]))
        if answer.any():
            a = u[answer]
            _answer(debt, a, margins(values[:, a], rules.ltv, rules.initial_grid, a))
        waiting = new_call & ~answer
        w, wv = u[waiting], uv[waiting]
        deadline[w] = t + call_delay + grace[wv]
        call_floor[w] = floor_terms[wv]
        call_premium[w] = premium_terms[wv]
        charged[w] = t + call_delay
        called_step[w] = j
        out.calls += per_scenario(u[new_call]).astype(int)
        out.cures += per_scenario(u[answer]).astype(int)

        due = called & ((t >= deadline[u]) | (hf < call_floor[u]))
        liq = due | (~called & ~new_call)
        if not liq.any():
            series["repaid"][:, j], series["bad_debt"][:, j] = out.repaid, out.bad_debt
            continue
        f, d, mt, hf = u[liq], d[liq], mt[liq], hf[liq]
        if capped.any():  # the keeper's order matters under volume caps: by scenario, then vault id
            order = np.lexsort((rank[f % n], f // n))
            f, d, mt, hf = f[order], d[order], mt[order], hf[order]
        vals = values[:, f]  # (k, u)
        v = vals.sum(axis=0)
        priced = v > 0
        safe_v = np.where(priced, v, 1.0)
        bonus_value = v * _effective_bonus(rules.liquidation_bonus @ vals / safe_v, hf, rules)
        lb_lt = np.where(priced, bonus_value * mt / (safe_v * safe_v), np.inf)
        target = rules.target_health
        partial = (hf >= rules.full_liquidation_health) & (lb_lt < target)
        r = np.where(partial, (target * d - mt) / np.where(partial, target - lb_lt, 1.0), d)
        full = ~partial | (r >= d) | (d - r < rules.dust)
        r = np.where(full, d, r)
        partial = ~full
        if capped.any():
            r = _fit_caps(r, partial, f // n, vals, v, bonus_value, rules, used)
            keep = (r > 0) | ~partial
            f, d, r, v, bonus_value, vals = f[keep], d[keep], r[keep], v[keep], bonus_value[keep], vals[:, keep]
            priced = v > 0
            safe_v = np.where(priced, v, 1.0)
        seize = r * bonus_value / safe_v
        over = seize >= v
        seize = np.where(over, v, seize)
        r = np.where(over, np.where(v >= d, d, np.minimum(r, v * safe_v / np.where(priced, bonus_value, 1.0))), r)
        r = np.where(priced, r, 0.0)
        underwater = over & (v < d)
        written_off = np.where(underwater, d - r, 0.0)
        fraction = np.where(over, 1.0, seize / safe_v)
        if capped.any():
            seized_by = vals * fraction
            used = np.minimum(rules.liquidation_cap,
                              used + np.stack([per_scenario(f, seized_by[c]) for c in range(k)], axis=1))
        amounts[:, f] *= 1 - fraction
        debt[f] = np.where(underwater, 0.0, d - r)
        deadline[f] = np.inf

        out.liquidated[f] = True
        out.wiped_out[f[over]] = True
        out.insolvent[f[written_off > 0]] = True
        count = per_scenario(f).astype(int)
        out.liquidations += count
        out.repaid += per_scenario(f, r)
        out.seized += per_scenario(f, seize)
        out.protocol_fee += per_scenario(f, (seize - r) * rules.protocol_share)
        out.bad_debt += per_scenario(f, written_off)
        series["liquidations"][:, j] = count
        series["repaid"][:, j], series["bad_debt"][:, j] = out.repaid, out.bad_debt
    out.series = series
    out.debt = debt.reshape(n_s, n)
    out.amounts = np.moveaxis(amounts.reshape(k, n_s, n), 0, -1)
    for name in ("liquidated", "wiped_out", "insolvent"):
        setattr(out, name, getattr(out, name).reshape(n_s, n))
    return out


def _answer(debt: np.ndarray, at: np.ndarray, initial: np.ndarray) -> None:
    """Owners answer their calls: each vault ``at`` repays what brings it back to its ``initial`` margin, plus 1 % of
    that and 1 pUSD, and cures (in place on ``debt``)."""
    d = debt[at]
    need = d - initial
    debt[at] = np.maximum(0.0, d - np.where(need > 0, need * 1.01 + 1, 0.0))


def _fit_caps(r, partial, scenario, values, v, bonus_value, rules, used) -> np.ndarray:
    """Partial repays scaled to each capped collateral's room, vault by vault in the given order
    (LiquidationEngine._capped): r' = r · min over capped collaterals of room / seized, 0 when that falls below dust.
    Full liquidations are never held back but use room too. Seized value per collateral: value_i · r · LB / V.

    Args:
        r, partial, scenario, v, bonus_value: (u,) per liquidation, sorted by scenario then vault id.
        values: (k, u).
        used: (S, k) volume already counted against each cap.
    """
    r = r.copy()
    capped = rules.liquidation_cap > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_repaid = np.where(v[:, None] > 0, values.T * (bonus_value / (v * v))[:, None], 0.0)  # seized per pUSD
    left = None
    for x in range(r.size):
        if x == 0 or scenario[x] != scenario[x - 1]:
            left = rules.liquidation_cap - used[scenario[x]]
        seized = per_repaid[x] * r[x]
        over = capped & (seized > left)
        if partial[x] and over.any():
            fitted = r[x] * float(np.min(left[over] / seized[over]))
            r[x] = 0.0 if fitted < rules.dust else fitted
            seized = per_repaid[x] * r[x]
        left = np.where(capped, np.maximum(0.0, left - seized), left)
    return r
