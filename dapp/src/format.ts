// Human units for the page: token amounts in their decimals, pUSD and USD in WAD (1e18), health in WAD. Every
// amount is cut (rounded toward zero) to the places shown, never rounded up, so a shown balance is never more
// than the wallet holds; the exact integer goes in the element's title and data-raw (ui.ts).
import { maxUint256 } from "viem";

export const WAD_DECIMALS = 18;
export const PUSD = "pUSD";

/** `value` (an integer in units of 10^-decimals) as a decimal with thousands separators: every digit when
 * `places` is undefined (trailing zeros dropped), else exactly `places` digits after the point, cut toward zero. */
export function formatUnits(value: bigint, decimals: number, places?: number): string {
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const scale = 10n ** BigInt(decimals);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = (abs % scale).toString().padStart(decimals, "0");
  fraction = places === undefined ? fraction.replace(/0+$/, "") : fraction.slice(0, places).padEnd(places, "0");
  return sign + whole + (fraction ? "." + fraction : "");
}

/** A token amount (token decimals), every digit: "0.5 WBTC". */
export function formatToken(amount: bigint, decimals: number, symbol: string): string {
  return `${formatUnits(amount, decimals)} ${symbol}`;
}

/** A pUSD amount (WAD), two places: "31,000.00 pUSD". */
export function formatPusd(wad: bigint): string {
  return `${formatUnits(wad, WAD_DECIMALS, 2)} ${PUSD}`;
}

/** A USD value or price (WAD USD), two places: "$2,000.00". */
export function formatUsd(wad: bigint): string {
  return wad < 0n ? `-$${formatUnits(-wad, WAD_DECIMALS, 2)}` : `$${formatUnits(wad, WAD_DECIMALS, 2)}`;
}

/** A health factor (WAD), four places; the lens's 2^256 - 1 (a vault without debt) is "no debt". */
export function formatHealth(wad: bigint): string {
  return wad === maxUint256 ? "no debt" : formatUnits(wad, WAD_DECIMALS, 4);
}

/** Two amounts of the same unit (10^-decimals) with the fewest places, at least `minPlaces`, that tell them apart
 * (all `decimals` places when they are equal): a refusal's "31,000.000000000000000001 above 31,000.00…" must not
 * read as two equal numbers. */
export function formatPair(a: bigint, b: bigint, decimals: number, minPlaces = 2): [string, string] {
  for (let places = Math.min(minPlaces, decimals); places < decimals; places++) {
    const [x, y] = [formatUnits(a, decimals, places), formatUnits(b, decimals, places)];
    if (x !== y) return [x, y];
  }
  return [formatUnits(a, decimals, decimals), formatUnits(b, decimals, decimals)];
}

/** A timestamp (seconds since 1970) as UTC: "2026-05-01 12:00:00 UTC". */
export function formatTime(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** An address cut to its first 6 and last 4 characters, for sentences; the page shows full addresses elsewhere. */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** What the user typed as an amount: a keyword of `keywords` ("max", "all") as it is, else a positive decimal
 * with at most `decimals` places as an exact integer in units of 10^-decimals (no rounding). Throws a sentence
 * for anything else. */
export function parseAmount(text: string, decimals: number): bigint;
export function parseAmount<K extends string>(text: string, decimals: number, keywords: readonly K[]): bigint | K;
export function parseAmount(text: string, decimals: number, keywords: readonly string[] = []): bigint | string {
  const t = text.trim();
  const keyword = keywords.find((k) => k === t.toLowerCase());
  if (keyword) return keyword;
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!t || !m || (m[1] === "" && !m[2])) {
    const also = keywords.length ? ` (or ${keywords.map((k) => `"${k}"`).join(", ")})` : "";
    throw new Error(`"${t}" is not an amount${also}: write digits with a dot for decimals, e.g. 1500.25.`);
  }
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) throw new Error(`"${t}" has more than ${decimals} decimal places.`);
  const value = BigInt((m[1] || "0") + fraction.padEnd(decimals, "0"));
  if (value === 0n) throw new Error("The amount must be more than zero.");
  return value;
}

/** `value` (units of 10^-decimals) as a plain decimal with every digit and no separators, as an input field
 * takes it back: the exact amount the "max" buttons fill in. */
export function plainUnits(value: bigint, decimals: number): string {
  return formatUnits(value, decimals).replaceAll(",", "");
}
