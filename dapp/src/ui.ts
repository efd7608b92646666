// The page's DOM: plain elements built from the snapshot, no framework. Every number shown sits in an element with
// data-field (what it is) and data-raw (the exact integer the chain returned), and that integer in its title, so
// that a person can see the exact amount and a test can compare both with the chain.
import { maxUint256 } from "viem";

import type { Progress, Snapshot } from "./chain.js";
import {
  formatHealth, formatPusd, formatTime, formatToken, formatUsd, PUSD, shortAddress,
} from "./format.js";
import { collateralOf, type Address, type Manifest } from "./manifest.js";
import type { Position } from "./vaults.js";
import type { Wallet } from "./wallet.js";

type Child = Node | string | null | undefined | false;

/** Creates an element: `attrs` become attributes (`class`, `data-*`, `aria-*`, …); false and null children are
 * skipped, strings become text (never HTML, so nothing from the chain or the manifest is parsed as markup). */
export function h(tag: string, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c) el.append(c);
  return el;
}

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el;
};

/** A value with its exact integer: `<tag data-field=… data-raw=… title=…>text</tag>`. */
function value(tag: string, field: string, raw: bigint | boolean | number, text: string): HTMLElement {
  return h(tag, { "data-field": field, "data-raw": String(raw), title: `exact: ${String(raw)}` }, text);
}

/** Shows one sentence under the header: an error (read aloud by screen readers), or news. */
export function notice(kind: "error" | "ok" | "info", text: string): void {
  const el = $("notice");
  el.className = `notice ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = text;
  el.hidden = false;
}

/** Hides the notice. */
export function clearNotice(): void {
  $("notice").hidden = true;
  $("notice").textContent = "";
}

/** Names the deployment under the title: network, chain id and engine address. */
export function showDeployment(book: Manifest): void {
  $("deployment").textContent =
    `Deployment "${book.network}" on chain ${book.chain_id}, VaultEngine ${book.contracts.VaultEngine}`;
}

/** Asks for a manifest file (when none could be fetched); calls `onFile` with the file the user picks. */
export function askForManifest(reason: string, onFile: (file: File) => void): void {
  const input = h("input", { type: "file", accept: ".json,application/json", id: "manifest-file" }) as HTMLInputElement;
  input.addEventListener("change", () => { if (input.files?.[0]) onFile(input.files[0]); });
  $("manifest").replaceChildren(
    h("p", {}, reason, " Load a deployment manifest (deployments/NAME.json): "),
    h("label", {}, "Manifest file ", input));
  $("manifest").hidden = false;
}

/** Hides the manifest picker. */
export function manifestLoaded(): void {
  $("manifest").hidden = true;
}

/** One "Connect …" button per wallet found; a sentence when there is none. */
export function renderWallets(wallets: Wallet[], onConnect: (w: Wallet) => void): void {
  const buttons = wallets.map((w) => {
    const b = h("button", { type: "button", class: "connect" },
                w.icon ? h("img", { src: w.icon, alt: "", width: "20", height: "20" }) : null, `Connect ${w.name}`);
    b.addEventListener("click", () => onConnect(w));
    return b;
  });
  $("wallets").replaceChildren(...(buttons.length ? buttons
    : [h("p", {}, "No wallet found: this page needs an EIP-1193 wallet (a browser extension, or one that announces " +
                  "itself by EIP-6963).")]));
}

/** The connected account and its chain; `onRefresh` re-reads the chain. */
export function renderAccount(account: Address | undefined, chainId: number | undefined, onRefresh: () => void): void {
  if (!account) {
    $("account").replaceChildren();
    $("wallets").hidden = false;
    return;
  }
  const refresh = h("button", { type: "button", id: "refresh" }, "Refresh");
  refresh.addEventListener("click", onRefresh);
  $("wallets").hidden = true;
  $("account").replaceChildren(
    h("span", {}, "Connected: "), h("code", { "data-field": "account" }, account),
    h("span", {}, ` on chain ${chainId} `), refresh);
}

/** Hides everything that needs a connected account on the right chain. */
export function hideAccountViews(): void {
  for (const id of ["balances", "open", "vaults"]) $(id).hidden = true;
}

/** What a handler of a form gets: the form's fields by name. */
export type Fields = Record<string, string>;

/** The page's actions, called with the fields of the form that was submitted (amounts as typed). */
export interface Handlers {
  faucet(f: Fields): void;
  open(f: Fields): void;
  deposit(vaultId: bigint, f: Fields): void;
  withdraw(vaultId: bigint, f: Fields): void;
  borrow(vaultId: bigint, f: Fields): void;
  repay(vaultId: bigint, f: Fields): void;
  /** The exact next-block maximum for a form's "Max" (withdraw: of the token chosen), as a plain decimal. */
  max(vaultId: bigint, action: "borrow" | "withdraw", f: Fields): Promise<string>;
}

function fieldsOf(form: HTMLFormElement): Fields {
  const out: Fields = {};
  new FormData(form).forEach((v, k) => { out[k] = String(v); });
  return out;
}

function tokenSelect(book: Manifest, tokens: readonly Address[], label: string): HTMLElement {
  return h("label", {}, label, h("select", { name: "token" },
    ...tokens.map((t) => h("option", { value: t }, collateralOf(book, t)?.symbol ?? t))));
}

function amountInput(label: string): HTMLElement {
  return h("label", {}, label, h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", required: "" }));
}

/** A form that calls `submit` with its fields, and has an optional button that fills the amount. */
function form(action: string, submit: (f: Fields) => void, children: Child[], submitText: string,
              fill?: { text: string; value: (f: Fields) => Promise<string> | string }): HTMLFormElement {
  const f = h("form", { "data-action": action, class: "action" }, ...children) as HTMLFormElement;
  if (fill) {
    const b = h("button", { type: "button", "data-fill": fill.text.toLowerCase() }, fill.text);
    b.addEventListener("click", async () => {
      const input = f.elements.namedItem("amount") as HTMLInputElement;
      input.value = await fill.value(fieldsOf(f));
    });
    f.append(b);
  }
  f.append(h("button", { type: "submit" }, submitText));
  f.addEventListener("submit", (e) => { e.preventDefault(); submit(fieldsOf(f)); });
  return f;
}

/** The wallet's balances (pUSD and each collateral) and, for mock collaterals, the faucet. */
export function renderBalances(snap: Snapshot, book: Manifest, handlers: Handlers): void {
  const cols = Object.values(book.collaterals);
  const items = [
    h("li", {}, value("span", "balance-pUSD", snap.pusd, formatPusd(snap.pusd))),
    ...cols.map((c) => h("li", {}, value("span", `balance-${c.symbol}`, snap.balances[c.symbol],
                                           formatToken(snap.balances[c.symbol], c.decimals, c.symbol)))),
  ];
  const mocks = cols.filter((c) => c.mock);
  $("balances").replaceChildren(
    h("h2", {}, "Wallet"), h("ul", { class: "balances" }, ...items),
    ...(mocks.length ? [form("faucet", handlers.faucet,
                             [tokenSelect(book, mocks.map((c) => c.token), "Mock token "), amountInput("Amount ")],
                             "Mint from faucet")] : []));
  $("balances").hidden = false;
}

/** The "open a vault" form. */
export function renderOpen(book: Manifest, handlers: Handlers): void {
  const tokens = Object.values(book.collaterals).map((c) => c.token);
  $("open").replaceChildren(h("h2", {}, "Open a vault"),
    form("open", handlers.open, [tokenSelect(book, tokens, "Collateral "), amountInput("Amount ")], "Open vault"));
  $("open").hidden = false;
}

/** The account's vaults as cards, read at the snapshot's block. */
export function renderVaults(snap: Snapshot, book: Manifest, handlers: Handlers): void {
  const cards = snap.vaults.map((p) => card(p, book, handlers));
  $("vaults").replaceChildren(
    h("h2", {}, "Your vaults"),
    h("p", { class: "read-at" }, "Read at block ",
      value("span", "block", snap.blockNumber, snap.blockNumber.toString()),
      `, ${formatTime(snap.timestamp)}.`),
    ...(cards.length ? cards : [h("p", { class: "empty", "data-field": "no-vaults" },
                                  "No vaults yet. Open one above with some collateral.")]));
  $("vaults").hidden = false;
}

function symbolOf(book: Manifest, token: Address): string {
  return collateralOf(book, token)?.symbol ?? shortAddress(token);
}

/** The status line: which feeds failed, and that the numbers are then floors (docs/integrating.md). */
function statusLine(p: Position, book: Manifest): HTMLElement {
  if (p.status === 0) return value("p", "status", p.status, "Every collateral is priced.");
  if (p.status === 2) return value("p", "status", p.status, `There is no vault ${p.vaultId}.`);
  const down = p.collateral.filter((c) => !c.priced).map((c) => symbolOf(book, c.token));
  const names = down.join(" and ");
  const plural = down.length > 1;
  const el = value("p", "status", p.status,
    `The ${names} price ${plural ? "feeds are" : "feed is"} failing: ${names} ${plural ? "count" : "counts"}` +
    " as $0 here, so the health factor, borrowing power and maxima shown are floors. Deposits and repayments work;" +
    " borrowing and withdrawing may be refused until the feed reports again.");
  el.classList.add("warn");
  return el;
}

function liquidationPrice(c: Position["collateral"][number]): string {
  if (!c.priced) return "unknown (unpriced)";
  if (c.liquidationPrice === 0n) return "none";
  if (c.liquidationPrice === maxUint256) return "unsafe at any price";
  return formatUsd(c.liquidationPrice);
}

function card(p: Position, book: Manifest, handlers: Handlers): HTMLElement {
  const id = p.vaultId;
  const unpriced = p.status === 1;
  const health = formatHealth(p.healthFactor);
  const marginCall = p.inMarginCall
    ? `in a margin call until ${formatTime(p.marginCallDeadline)}, premium ${formatPusd(p.pendingPremium)} pending`
    : "none";
  const dl = h("dl", { class: "summary" },
    h("dt", {}, "Debt"), value("dd", "debt", p.debt, formatPusd(p.debt)),
    h("dt", {}, "Collateral value"), value("dd", "collateralValue", p.collateralValue, formatUsd(p.collateralValue)),
    h("dt", {}, "Borrowing power"), value("dd", "borrowPower", p.borrowPower, formatUsd(p.borrowPower)),
    h("dt", {}, "Maintenance margin"), value("dd", "maintenance", p.maintenance, formatUsd(p.maintenance)),
    h("dt", {}, "Health factor"), value("dd", "healthFactor", p.healthFactor,
                                        unpriced && health !== "no debt" ? `at least ${health}` : health),
    h("dt", {}, "Max borrow"), value("dd", "maxBorrow", p.maxBorrow, formatPusd(p.maxBorrow)),
    h("dt", {}, "Margin call"), value("dd", "inMarginCall", p.inMarginCall, marginCall));
  const rows = p.collateral.map((c) => {
    const sym = symbolOf(book, c.token);
    return h("tr", { "data-token": c.token },
      h("th", { scope: "row" }, sym),
      value("td", "amount", c.amount, formatToken(c.amount, c.decimals, sym)),
      value("td", "price", c.price, c.priced ? formatUsd(c.price) : "unavailable"),
      value("td", "value", c.value, c.priced ? formatUsd(c.value) : "$0 (unpriced)"),
      value("td", "maxWithdraw", c.maxWithdraw, formatToken(c.maxWithdraw, c.decimals, sym)),
      value("td", "liquidationPrice", c.liquidationPrice, liquidationPrice(c)));
  });
  const table = h("table", { class: "collateral" },
    h("thead", {}, h("tr", {}, ...["Collateral", "Amount", "Price", "Value", "Max withdraw", "Liquidation price"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows));
  const held = p.collateral.map((c) => c.token);
  const all = Object.values(book.collaterals).map((c) => c.token);
  const forms = h("div", { class: "actions" },
    form("deposit", (f) => handlers.deposit(id, f), [tokenSelect(book, all, "Deposit "), amountInput("Amount ")],
         "Deposit"),
    held.length ? form("withdraw", (f) => handlers.withdraw(id, f),
                       [tokenSelect(book, held, "Withdraw "), amountInput("Amount ")], "Withdraw",
                       { text: "Max", value: (f) => handlers.max(id, "withdraw", f) }) : null,
    form("borrow", (f) => handlers.borrow(id, f), [amountInput(`Borrow (${PUSD}) `)], "Borrow",
         { text: "Max", value: (f) => handlers.max(id, "borrow", f) }),
    p.debt > 0n ? form("repay", (f) => handlers.repay(id, f), [amountInput(`Repay (${PUSD}) `)], "Repay",
                       { text: "All", value: () => "all" }) : null);
  return h("article", { class: "vault", "data-vault": id.toString() },
    h("h3", {}, `Vault ${id}`,
      h("span", { class: "badge" }, p.portfolioMargin ? "portfolio margin" : "standard margin")),
    statusLine(p, book), dl, h("div", { class: "scroll" }, table), forms);
}

/** Disables every form control while a transaction is under way (one at a time), and enables them again. */
export function setBusy(busy: boolean): void {
  document.body.toggleAttribute("data-busy", busy);
  for (const el of document.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(
    "main button, main input, main select")) el.disabled = busy;
}

const STATE_WORDS: Record<Progress["state"], string> = {
  checking: "checking…",
  signing: "waiting for your wallet…",
  pending: "pending",
  confirmed: "confirmed",
  reverted: "reverted",
};

/** Adds a line to the transaction list; returns its updater (a Progress) and its failure (a sentence). */
export function activity(label: string): { update: (p: Progress) => void; fail: (why: string) => void } {
  const state = h("span", { class: "state" });
  const hash = h("code", { class: "hash" });
  const li = h("li", {}, h("span", { class: "label" }, label), " ", state, " ", hash);
  $("txs").prepend(li);
  $("activity").hidden = false;
  return {
    update: (p) => {
      li.dataset.state = p.state;
      const where = "blockNumber" in p ? ` in block ${p.blockNumber}` : "";
      state.textContent = STATE_WORDS[p.state] + where;
      if ("hash" in p) hash.textContent = p.hash;
    },
    fail: (why) => {
      const sent = Boolean(hash.textContent); // a refusal in the simulation or the wallet sends nothing
      li.dataset.state = sent ? "failed" : "refused";
      state.textContent = `${sent ? "failed" : "not sent"}: ${why}`;
    },
  };
}
