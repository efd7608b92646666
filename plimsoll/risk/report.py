"""``plimsoll risk report``: one self-contained HTML page from what the other risk commands wrote (docs/risk.md).

It reads an output folder: params.json and backtest-*.csv (`risk params`), stress.json (`risk stress`),
montecarlo.json (`risk montecarlo`), compare.json (`risk compare`). It draws with matplotlib (PNG, embedded) and
writes report.html. A section whose input is missing says which command makes it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .estimates import ewma_volatility, rolling_correlation
from .history import daily_log_returns, hourly_closes
from .policies import family_summary


def _figure_html(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _cell(value) -> str:
    """Amounts of 1,000 and more with thousands separators and cents; everything else as written."""
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1000:
        return f"{value:,}"
    return str(value)


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c, '')))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _missing(what: str, command: str) -> str:
    return f'<p class="missing">No {html.escape(what)} in this folder: run <code>{html.escape(command)}</code>.</p>'


def health_section(folder: Path) -> str:
    """The health distribution of the vaults the stress test read."""
    path = folder / "stress.json"
    if not path.exists():
        return _missing("stress test", "plimsoll risk stress --rpc URL --network NAME")
    import matplotlib.pyplot as plt

    stress = json.loads(path.read_text())
    hf = np.array([h for h in stress.get("health_factors", []) if np.isfinite(h)])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.hist(np.clip(hf, 0, 3), bins=60, color="#3b6ea5")
    ax.axvline(1.0, color="#c0392b", linestyle="--", label="HF 1: liquidatable")
    ax.set_xlabel("health factor (clipped at 3)")
    ax.set_ylabel("vaults")
    ax.legend()
    below = int((hf < 1).sum())
    return (f"<h2>Health of today's vaults</h2><p>Block {stress['block']}: {hf.size:,} vaults with debt, "
            f"{stress['debt']:,.0f} pUSD; {below:,} below HF 1.</p>" + _figure_html(fig, "health distribution"))


def cascade_section(folder: Path) -> str:
    """Liquidations, repaid debt and bad debt over the steps of the stress test's worst scenario."""
    path = folder / "stress.json"
    if not path.exists():
        return ""  # health_section already says which command makes it
    import matplotlib.pyplot as plt

    stress = json.loads(path.read_text())
    rows = stress["scenarios"]
    worst = int(np.argmax([r["repaid"] + r["bad_debt"] for r in rows]))
    seconds = np.array(stress["times"], dtype=float)
    unit, scale = next((u, k) for u, k, span in (("hours", 3600, 7200), ("minutes", 60, 120), ("seconds", 1, 0))
                       if seconds[-1] >= span)  # the unit that reads best for the cascade's length
    t = seconds / scale
    series = {k: np.array(v)[worst] for k, v in stress["series"].items()}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.2))
    width = 0.6 * np.diff(t).min() if t.size > 1 else 0.5  # bars never wider than the gap between steps
    a1.bar(t, series["liquidations"], width=width, color="#3b6ea5", label="liquidations")
    a1.plot(t, series["unsafe"], color="#c0392b", marker="o", label="vaults below HF 1")
    a1.set_xlabel(unit)
    a1.legend()
    a2.plot(t, series["repaid"] / 1e6, marker="o", label="debt repaid, M")
    a2.plot(t, series["bad_debt"] / 1e6, marker="o", color="#c0392b", label="bad debt, M")
    a2.set_xlabel(unit)
    a2.legend()
    columns = [c for c in rows[0] if c != "margin_calls"]
    return ("<h2>Cascade under the worst scenario</h2>"
            f"<p>Scenario {worst + 1} of {len(rows)}: {html.escape(json.dumps({k: v for k, v in rows[worst].items() if k.startswith('shock_')}))}.</p>"
            + _figure_html(fig, "cascade over time") + _table(rows, columns))


def history_section(files: dict[str, Path]) -> str:
    """Daily EWMA volatility of each collateral and their 30-day correlation over the history."""
    import matplotlib.pyplot as plt

    closes = hourly_closes(files)
    daily = pd.DataFrame({s: daily_log_returns(closes[s]) for s in closes.columns}).dropna()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    for s in daily.columns:
        a1.plot(ewma_volatility(daily[s]) * np.sqrt(365), label=f"{s} (annualized)")
    a1.set_ylabel("EWMA volatility")
    a1.legend()
    a2.plot(rolling_correlation(daily, 30), color="#555")
    a2.set_ylabel("30-day correlation")
    return "<h2>Volatility and correlation, 2017–2021</h2>" + _figure_html(fig, "volatility and correlation")


def params_section(folder: Path) -> str:
    path = folder / "params.json"
    if not path.exists():
        return _missing("parameter recommendation", "plimsoll risk params")
    report = json.loads(path.read_text())
    rows = []
    for sym, c in report["collaterals"].items():
        bt = report["backtest"][sym]
        rows.append({"collateral": sym, **{f"target {k}": v for k, v in c["target"].items()},
                     "today LT": c["today"]["liquidation_threshold"],
                     "steward proposal (LTV/LT/LB)": "/".join(c["proposal"].values()),
                     "shock shift": c["shock_shift"], "reverts": c["reverts"] or "no",
                     "drawdowns tightened before": f"{bt['tightened_before']} of {len(bt['episodes'])}",
                     "breaches static → steward": f"{bt['breaches_static']} → {bt['breaches_dynamic']}"})
    return "<h2>Recommended parameters</h2>" + _table(rows, list(rows[0]))


def montecarlo_section(folder: Path) -> str:
    path = folder / "montecarlo.json"
    if not path.exists():
        return _missing("Monte Carlo", "plimsoll risk montecarlo")
    mc = json.loads(path.read_text())
    rows = [{"": k.replace("_", " "), **mc[k]} for k in ("bad_debt", "borrower_penalty")]
    page = (f"<h2>Monte Carlo</h2><p>{mc['paths']:,} paths of {mc['hours']} h, {mc['vaults']:,} vaults; "
            f"{mc['paths_with_bad_debt']:.2%} of paths with bad debt; {mc['seconds']} s on "
            f"{html.escape(mc['scheduler'])}.</p>")
    per_path = folder / "montecarlo.csv"
    if per_path.exists():
        import matplotlib.pyplot as plt

        paths = pd.read_csv(per_path)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.2))
        a1.hist(paths["borrower_penalty"] / 1e3, bins=50, color="#3b6ea5")
        a1.set_xlabel("borrower penalty per path, k USD")
        a1.set_ylabel("paths")
        a2.hist(paths["bad_debt"] / 1e3, bins=50, color="#c0392b")
        a2.set_xlabel("bad debt per path, k USD")
        a2.set_yscale("log")
        page += _figure_html(fig, "Monte Carlo distribution")
    return page + _table(rows, ["", "mean", "p50", "p95", "p99", "max"])


def compare_section(folder: Path) -> str:
    """The comparison table and a chart of the borrower penalty per path and policy."""
    path = folder / "compare.json"
    if not path.exists():
        return _missing("policy comparison", "plimsoll risk compare")
    import matplotlib.pyplot as plt

    report = json.loads(path.read_text())
    paths = [p for p in report if not p.startswith("generated-")]  # more crashes of the model: summarised below
    policies = list(report[paths[0]]["policies"])
    fig, ax = plt.subplots(figsize=(10, 3.5))
    width = 0.8 / len(policies)
    for i, policy in enumerate(policies):
        ax.bar(np.arange(len(paths)) + i * width, [report[p]["policies"][policy]["borrower_penalty"] / 1e6
                                                   for p in paths], width, label=policy)
    ax.set_xticks(np.arange(len(paths)) + 0.4 - width / 2, paths)
    ax.set_ylabel("borrower penalty, M USD")
    ax.legend(ncol=len(policies), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    rows = [r for p in paths for r in report[p]["policies"].values()]
    page = ("<h2>Plimsoll against the reference protocols</h2>" + _figure_html(fig, "borrower penalty by policy")
            + _table(rows, list(rows[0])))
    family = family_summary(report)
    if family["paths"] > 1:
        page += (f"<p>Over {family['paths']} generated crashes (the demo's and {family['paths'] - 1} more seeds of "
                 "its model), the policy with the lowest borrower penalty at zero bad debt:</p>"
                 + _table([{"policy": p, **f} for p, f in family["policies"].items()],
                          ["policy", "lowest", "bad_debt_paths", "mean_penalty_per_repaid"]))
    return page


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}.missing{color:#a05a00}img{max-width:100%}"""


def write_report(folder: Path, files: dict[str, Path] | None) -> Path:
    """Write ``folder``/report.html from the outputs found there, and the history plots when ``files`` (symbol →
    hourly CSV) is given. Returns the path."""
    sections = [params_section(folder)]
    if files:
        sections.append(history_section(files))
    sections += [health_section(folder), cascade_section(folder), montecarlo_section(folder), compare_section(folder)]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Plimsoll risk report</title>"
            f"<style>{STYLE}</style></head><body><h1>Plimsoll risk report</h1>{''.join(sections)}</body></html>")
    out = folder / "report.html"
    out.write_text(page)
    return out
