#!/usr/bin/env python3
"""Run Slither over Plimsoll's contracts and fail on every High or Medium result that is not triaged.

What it does
  1. Lists every ``contracts/**/*.sol`` file except ``contracts/mocks`` (and ape's ``contracts/.cache``).
     ``slither contracts --solc-standard-json`` would only take ``contracts/*.sol`` (crytic-compile does not
     recurse), so ``contracts/periphery/VaultLens.sol`` would never be analysed.
  2. Writes, in a temporary folder outside the repository, one file that imports them all by their source
     unit names (``import "contracts/periphery/VaultLens.sol";``), and points Slither at that folder with
     ``--solc-standard-json``: one compilation, the same source names as ape, results on the real files.
     Not a repository path on purpose: given a path inside a project, crytic-compile 0.4.x looks for a
     framework (a ``foundry.toml`` makes it run ``forge`` or fail an assertion) instead of using the shim.
  3. Runs Slither from the repository root with the npm solc shim (``--solc .solcx/solc-v0.8.28``; nothing is
     downloaded), the ``import_remapping`` of ``ape-config.yaml`` (``--solc-remaps``),
     ``--filter-paths "node_modules|contracts/mocks|..."`` and ``--json``. The EVM version is solc 0.8.28's
     default, cancun, as in ape-config.yaml (the standard-JSON mode of crytic-compile takes no --evm-version).
  4. Gives every result a fingerprint that survives unrelated edits: ``<detector>:<Contract>.<element>``
     (for example ``incorrect-equality:VaultEngine._drip`` or ``uninitialized-local:VaultEngine.seize.removed``),
     with no line numbers. Statements are named by their enclosing function.
  5. Compares the High and Medium results with ``toolchain/slither-triage.json``.

Triage file
  ``{"findings": {"<fingerprint>": {"verdict": "false-positive" | "accepted", "reason": "<one sentence>"}}}``.
  Keys starting with ``_`` are free comments, at the top level and inside an entry. One entry covers every
  result with that fingerprint (for example two unchecked return values in the same function).
  ``--write-template`` prints entries for the untriaged results, to fill in and paste under ``findings``.

Exit status
  0  every High/Medium result is triaged (stale triage entries are only warned about);
  1  at least one High/Medium result is not triaged (each is listed);
  2  Slither could not run or compile, or the triage file is malformed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
IMPACTS = ("High", "Medium", "Low", "Informational", "Optimization")
VERDICTS = ("false-positive", "accepted")
DEFAULT_EXCLUDES = ("contracts/mocks", "contracts/.cache")
DEFAULT_FILTER_PATHS = r"node_modules|contracts/mocks|contracts/\.cache"
ENTRY_FILE = "PlimsollSlitherEntry.sol"  # the generated file that imports every source (it has no contracts)
TRIAGE_README = (
    "Slither triage, read by toolchain/slither_check.py (run: bash toolchain/slither.sh). "
    "Every High or Medium Slither result must match an entry under 'findings', or CI fails. "
    "Key: '<detector>:<Contract>.<function or variable>' (no line numbers; statements are named by their "
    "function), exactly as slither_check.py prints it. Value: {\"verdict\": \"false-positive\" or "
    "\"accepted\", \"reason\": \"one sentence\"}. Keys starting with '_' are comments. "
    "'python3 toolchain/slither_check.py --write-template' prints entries for the untriaged results."
)


class CheckError(Exception):
    """A problem that stops the check (exit status 2): Slither failed, or the triage file is malformed."""


# --------------------------------------------------------------------------------------------------
# Project settings
# --------------------------------------------------------------------------------------------------

def read_ape_solidity_config(root: Path) -> dict[str, Any]:
    """Read ``version`` and ``import_remapping`` (and any other scalar or list key) from the ``solidity:`` block of ape-config.yaml.

    A deliberately small reader (stdlib only, no PyYAML): top-level ``solidity:``, then indented
    ``key: value`` lines and ``- "item"`` lists. Missing keys are simply absent from the result.
    """
    path = root / "ape-config.yaml"
    if not path.is_file():
        return {}
    config: dict[str, Any] = {}
    in_solidity = False
    current_list: list[str] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():  # a top-level key
            in_solidity = line.startswith("solidity:")
            current_list = None
            continue
        if not in_solidity:
            continue
        item = re.match(r"\s*-\s*(.+)$", line)
        if item and current_list is not None:
            current_list.append(_unquote(item.group(1)))
            continue
        pair = re.match(r"\s*([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if pair:
            key, value = pair.group(1), pair.group(2).strip()
            if value:
                config[key] = _unquote(value)
                current_list = None
            else:
                current_list = config.setdefault(key, [])
    return config


def _unquote(text: str) -> str:
    """Strip one pair of YAML quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def collect_sources(root: Path, contracts_dir: str, excludes: Iterable[str]) -> list[str]:
    """Every ``.sol`` file under ``contracts_dir`` (recursively), as repo-relative POSIX paths, minus excluded folders."""
    excluded = [Path(e).as_posix().rstrip("/") + "/" for e in excludes]
    sources = []
    for path in sorted((root / contracts_dir).rglob("*.sol")):
        rel = path.relative_to(root).as_posix()
        if "node_modules" in path.relative_to(root).parts:
            continue
        if any(rel.startswith(prefix) for prefix in excluded):
            continue
        sources.append(rel)
    return sources


def entry_source(sources: list[str]) -> str:
    """A Solidity file importing every source by its source unit name (resolved by the shim from the repo root)."""
    imports = "".join(f'import "{source}";\n' for source in sources)
    return f"// SPDX-License-Identifier: UNLICENSED\n// Generated by toolchain/slither_check.py.\n{imports}"


# --------------------------------------------------------------------------------------------------
# Running Slither
# --------------------------------------------------------------------------------------------------

def run_slither(
    root: Path, slither: str, solc: str, sources: list[str], remaps: list[str], filter_paths: str, verbose: bool,
    timeout: float,
) -> tuple[dict[str, Any], list[str], float, str]:
    """Run Slither from ``root`` over ``sources``; return its JSON report, the command line, the run time and its log."""
    with tempfile.TemporaryDirectory(prefix="plimsoll-slither-") as tmp:
        entry_dir = Path(tmp) / "entry"
        entry_dir.mkdir()
        (entry_dir / ENTRY_FILE).write_text(entry_source(sources), encoding="utf-8")
        output_path = Path(tmp) / "slither.json"  # must not exist: Slither will not overwrite it
        cmd = [slither, str(entry_dir), "--solc", solc]
        if remaps:
            cmd += ["--solc-remaps", " ".join(remaps)]
        cmd += [
            "--solc-standard-json",
            "--filter-paths", f"{filter_paths}|{re.escape(ENTRY_FILE)}",
            "--json", str(output_path),
            "--fail-none",
            "--disable-color",
        ]
        if verbose:
            print(f"{entry_dir / ENTRY_FILE}:\n{entry_source(sources)}", file=sys.stderr)
            print("running: " + " ".join(cmd), file=sys.stderr)
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError as exc:
            raise CheckError(f"cannot run slither ({exc}); create the venv with toolchain/slither.sh") from exc
        except subprocess.TimeoutExpired as exc:
            raise CheckError(f"slither did not finish within {timeout:.0f} s") from exc
        seconds = time.monotonic() - start
        log = (proc.stderr or "") + (proc.stdout or "")
        if verbose:
            print(log, file=sys.stderr)
        report = None
        if output_path.is_file():
            try:
                report = json.loads(output_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                report = None
        if proc.returncode != 0 or report is None or not report.get("success", False):
            error = (report or {}).get("error")
            if not error:  # no report: Slither's own log says why
                error = "no JSON report\n--- slither output (tail) ---\n" + "\n".join(log.strip().splitlines()[-30:])
            raise CheckError(f"slither failed (exit {proc.returncode}): {error.strip()}")
        return report, cmd, seconds, log


# --------------------------------------------------------------------------------------------------
# Results and fingerprints
# --------------------------------------------------------------------------------------------------

def element_name(element: dict[str, Any]) -> str:
    """``Contract.function[.local]`` / ``Contract.variable`` for a Slither JSON element; statements (nodes) take
    their function's name. Elements outside any contract (free functions, pragmas) are prefixed with their file."""
    parts: list[str] = []
    current: dict[str, Any] | None = element
    reached_contract = False
    while current:
        kind = current.get("type")
        if kind == "contract":
            parts.append(str(current.get("name")))
            reached_contract = True
            break
        if kind != "node":  # a statement's text changes with any edit: use the function around it
            parts.append(str(current.get("name")))
        current = (current.get("type_specific_fields") or {}).get("parent")
    if not reached_contract:
        parts.append(element.get("source_mapping", {}).get("filename_relative", "?"))
    return ".".join(reversed(parts))


def fingerprint(result: dict[str, Any]) -> str:
    """``<detector>:<element name of the result's first element>``: stable under line moves and unrelated edits."""
    elements = result.get("elements") or []
    name = element_name(elements[0]) if elements else "?"
    return f"{result.get('check')}:{name}"


def location(result: dict[str, Any]) -> str:
    """``file:line`` of the result's first element."""
    elements = result.get("elements") or []
    if not elements:
        return "?"
    mapping = elements[0].get("source_mapping") or {}
    lines = mapping.get("lines") or ["?"]
    return f"{mapping.get('filename_relative', '?')}:{lines[0]}"


def detector_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The detector results of a Slither JSON report, each with ``fingerprint`` and ``location`` added."""
    results = []
    for result in (report.get("results") or {}).get("detectors") or []:
        result = dict(result)
        result["fingerprint"] = fingerprint(result)
        result["location"] = location(result)
        results.append(result)
    return results


# --------------------------------------------------------------------------------------------------
# Triage file
# --------------------------------------------------------------------------------------------------

def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object hook: a duplicated key is an error (a plain dict would silently keep the last one)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise CheckError(f"duplicate key in triage file: {key!r}")
        seen[key] = value
    return seen


def load_triage(path: Path) -> dict[str, dict[str, Any]]:
    """Read and validate the triage file; return ``{fingerprint: entry}``. A missing file means no entries."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise CheckError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("findings", {}), dict):
        raise CheckError(f"{path}: expected an object with a 'findings' object")
    unknown = [k for k in data if k != "findings" and not k.startswith("_")]
    if unknown:
        raise CheckError(f"{path}: unknown top-level keys {unknown} (comments must start with '_')")
    problems = []
    for key, entry in data.get("findings", {}).items():
        if not isinstance(entry, dict):
            problems.append(f"{key}: entry must be an object")
            continue
        if entry.get("verdict") not in VERDICTS:
            problems.append(f"{key}: verdict must be one of {', '.join(VERDICTS)} (got {entry.get('verdict')!r})")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip() or reason.strip().upper().startswith("TODO"):
            problems.append(f"{key}: reason must be a one-sentence explanation")
        extra = [k for k in entry if k not in ("verdict", "reason") and not k.startswith("_")]
        if extra:
            problems.append(f"{key}: unknown keys {extra} (comments must start with '_')")
    if problems:
        raise CheckError(f"{path}: malformed entries:\n  " + "\n  ".join(problems))
    return data.get("findings", {})


def template(untriaged: list[dict[str, Any]]) -> dict[str, Any]:
    """Triage entries to fill in for the untriaged results (one per fingerprint)."""
    entries: dict[str, Any] = {}
    for result in untriaged:
        first_line = (result.get("description") or "").strip().splitlines()[0:1]
        entries.setdefault(result["fingerprint"], {
            "verdict": "false-positive | accepted",
            "reason": "TODO: one sentence",
            "_result": f"{result.get('impact')}/{result.get('confidence')} {result['location']}: "
                       f"{first_line[0] if first_line else ''}",
        })
    return {"findings": entries}


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------

def print_summary(results: list[dict[str, Any]], fail_on: set[str], triaged_fps: set[str], out: TextIO) -> None:
    """A table of result counts by impact, with triaged/untriaged for the impacts that fail the check."""
    counts = Counter(r.get("impact") for r in results)
    covered = Counter(r.get("impact") for r in results if r["fingerprint"] in triaged_fps)
    print(f"  {'impact':<14}{'results':>8}{'triaged':>9}{'untriaged':>11}", file=out)
    for impact in IMPACTS:
        if impact in fail_on:
            print(f"  {impact:<14}{counts[impact]:>8}{covered[impact]:>9}{counts[impact] - covered[impact]:>11}",
                  file=out)
        else:
            print(f"  {impact:<14}{counts[impact]:>8}{'-':>9}{'-':>11}", file=out)


def print_result(result: dict[str, Any], out: TextIO, max_lines: int = 8) -> None:
    """One untriaged result: detector, impact, confidence, fingerprint, file:line and description."""
    print(f"  - {result['fingerprint']}", file=out)
    print(f"      detector {result.get('check')}, impact {result.get('impact')}, "
          f"confidence {result.get('confidence')}, at {result['location']}", file=out)
    lines = (result.get("description") or "").strip().splitlines()
    for line in lines[:max_lines]:
        print(f"      | {line.strip()}", file=out)
    if len(lines) > max_lines:
        print(f"      | ... ({len(lines) - max_lines} more lines)", file=out)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (defaults relative to the repository root)."""
    parser = argparse.ArgumentParser(
        description="Run Slither over contracts/ (without contracts/mocks) and fail on High/Medium results "
                    "that are not in toolchain/slither-triage.json.",
        epilog="Exit status: 0 all High/Medium results triaged, 1 untriaged results, 2 slither or triage-file error.",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
    parser.add_argument("--slither", default=os.environ.get("SLITHER_BIN"),
                        help="slither executable (env SLITHER_BIN; default: <root>/.venv-slither/bin/slither)")
    parser.add_argument("--solc", default=os.environ.get("SLITHER_SOLC"),
                        help="solc executable, the npm solc shim (env SLITHER_SOLC; default: "
                             "$SOLCX_BINARY_PATH or <root>/.solcx, then solc-v<solidity.version of ape-config.yaml>)")
    parser.add_argument("--triage", type=Path, default=None,
                        help="triage file (default: <root>/toolchain/slither-triage.json)")
    parser.add_argument("--contracts-dir", default="contracts", help="folder to analyse, recursively (default: %(default)s)")
    parser.add_argument("--exclude", action="append", default=None, metavar="DIR",
                        help=f"folder left out of the compilation, repeatable (default: {', '.join(DEFAULT_EXCLUDES)})")
    parser.add_argument("--filter-paths", default=DEFAULT_FILTER_PATHS,
                        help="Slither's --filter-paths regex: results in these files are dropped (default: %(default)s)")
    parser.add_argument("--remap", action="append", default=None, metavar="PREFIX=TARGET",
                        help="import remapping, repeatable (default: solidity.import_remapping of ape-config.yaml)")
    parser.add_argument("--fail-on", default="High,Medium",
                        help="comma-separated impacts that must be triaged (default: %(default)s)")
    parser.add_argument("--json-in", type=Path, help="read this Slither JSON report instead of running Slither")
    parser.add_argument("--json-out", type=Path, help="also save Slither's JSON report here (e.g. a CI artifact)")
    parser.add_argument("--write-template", action="store_true",
                        help="print triage entries (JSON) for the untriaged results on stdout; the report goes to "
                             "stderr; exit 0 unless Slither fails")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before Slither is stopped (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the compiler input and Slither's log")
    return parser.parse_args(argv)


def resolve_tools(args: argparse.Namespace, config: dict[str, Any]) -> tuple[str, str]:
    """Paths of the slither executable and the solc shim, checked to exist."""
    root = args.root
    slither = args.slither or str(root / ".venv-slither" / "bin" / "slither")
    if not Path(slither).is_file() and shutil.which(slither) is None:
        raise CheckError(f"slither not found at {slither}: run toolchain/slither.sh (it creates .venv-slither)")
    if Path(slither).is_file():
        slither = str(Path(slither).resolve())  # Slither runs from the root: a relative path would break
    solc = args.solc
    if not solc:
        version = config.get("version", "0.8.28")
        folder = Path(os.environ.get("SOLCX_BINARY_PATH") or root / ".solcx")
        solc = str(folder / f"solc-v{version}")
    if not (Path(solc).is_file() and os.access(solc, os.X_OK)):
        raise CheckError(f"solc shim not found or not executable at {solc}: run `make compile` first")
    return slither, str(Path(solc).resolve())


def main(argv: list[str] | None = None) -> int:
    """Run the check; return the exit status (0 ok, 1 untriaged High/Medium results, 2 error)."""
    args = parse_args(argv)
    args.root = args.root.resolve()
    out = sys.stderr if args.write_template else sys.stdout
    triage_path = args.triage or args.root / "toolchain" / "slither-triage.json"
    fail_on = {i.strip().capitalize() for i in args.fail_on.split(",") if i.strip()}
    try:
        triage = load_triage(triage_path)
        if args.json_in:
            report = json.loads(args.json_in.read_text(encoding="utf-8"))
            print(f"Slither report read from {args.json_in}", file=out)
        else:
            config = read_ape_solidity_config(args.root)
            slither, solc = resolve_tools(args, config)
            remaps = args.remap if args.remap is not None else list(config.get("import_remapping") or [])
            sources = collect_sources(args.root, args.contracts_dir, args.exclude or DEFAULT_EXCLUDES)
            if not sources:
                raise CheckError(f"no .sol files under {args.root / args.contracts_dir}")
            report, cmd, seconds, log = run_slither(
                args.root, slither, solc, sources, remaps, args.filter_paths, args.verbose, args.timeout)
            analyzed = re.search(r"analyzed \((\d+) contracts with (\d+) detectors\)", log)
            print(f"Slither over {len(sources)} files ({', '.join(sources)})", file=out)
            print(f"  command: {shlex.join(cmd)}", file=out)
            print(f"  {analyzed.group(1) + ' contracts, ' + analyzed.group(2) + ' detectors, ' if analyzed else ''}"
                  f"{seconds:.1f} s", file=out)
        if args.json_out:
            args.json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    except CheckError as exc:
        print(f"slither_check: {exc}", file=sys.stderr)
        return 2

    results = detector_results(report)
    triaged_fps = set(triage)
    print_summary(results, fail_on, triaged_fps, out)

    must = [r for r in results if r.get("impact") in fail_on]
    untriaged = [r for r in must if r["fingerprint"] not in triaged_fps]
    current_fps = {r["fingerprint"] for r in results}
    stale = sorted(fp for fp in triaged_fps if fp not in current_fps)

    if stale:
        print(f"\nWARNING: stale triage entries in {triage_path.name}, matching no current result "
              f"({len(stale)}; remove them if that code is gone):", file=out)
        for fp in stale:
            print(f"  - {fp} ({triage[fp].get('verdict')}: {triage[fp].get('reason')})", file=out)

    if args.write_template:
        print(json.dumps(template(untriaged), indent=2))
        print(f"\n{len(untriaged)} untriaged result(s); template printed on stdout.", file=out)
        return 0

    if untriaged:
        print(f"\nFAIL: {len(untriaged)} {'/'.join(i for i in IMPACTS if i in fail_on)} result(s) not in "
              f"{triage_path.relative_to(args.root) if triage_path.is_relative_to(args.root) else triage_path}:",
              file=out)
        for result in sorted(untriaged, key=lambda r: (IMPACTS.index(r.get("impact", "Low")), r["fingerprint"])):
            print_result(result, out)
        print("\nTriage each one (fix the code, or add an entry: "
              "python3 toolchain/slither_check.py --write-template).", file=out)
        return 1
    print(f"\nOK: all {len(must)} {'/'.join(i for i in IMPACTS if i in fail_on)} result(s) are triaged.", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
