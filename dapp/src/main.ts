// The reference dApp: load the deployment manifest, connect a wallet, show the account's vaults, and send what
// the forms ask for, one transaction at a time. Wiring only: reads and writes are in chain.ts, the listing of
// vaults in vaults.ts, words in format.ts and errors.ts, the DOM in ui.ts.
import type { EIP1193Provider, TransactionReceipt } from "viem";

import { actions, approvalFor, nextBlockPosition, openedVault, readSnapshot, send, type Write } from "./chain.js";
import { describeError } from "./errors.js";
import { formatToken, parseAmount, plainUnits, WAD_DECIMALS } from "./format.js";
import {
  collateralOf, fetchManifest, readManifestFile, type Address, type Collateral, type Manifest,
} from "./manifest.js";
import * as ui from "./ui.js";
import { clientsFor, connect, onWalletChange, watchWallets, type Clients, type Wallet } from "./wallet.js";

interface Session {
  provider: EIP1193Provider;
  account: Address;
  chainId: number;
  clients: Clients;
  unsubscribe: () => void;
}

let book: Manifest;
let session: Session | undefined;

/** The manifest's URL: `?manifest=URL`, else manifest.json beside the page. */
function manifestUrl(): string {
  return new URLSearchParams(location.search).get("manifest") ?? "manifest.json";
}

async function loadManifest(): Promise<Manifest> {
  try {
    return await fetchManifest(manifestUrl());
  } catch (e) {
    // no manifest served: let the user pick the file (deployments/NAME.json)
    return new Promise((resolve) => ui.askForManifest(e instanceof Error ? e.message : String(e), (file) => {
      readManifestFile(file).then(resolve,
                                  (err) => ui.notice("error", err instanceof Error ? err.message : String(err)));
    }));
  }
}

const context = (unit?: Write["unit"]) => ({ book, account: session?.account, unit });

async function connectTo(wallet: Wallet): Promise<void> {
  ui.clearNotice();
  try {
    const { account, chainId } = await connect(wallet.provider);
    session?.unsubscribe();
    const unsubscribe = onWalletChange(wallet.provider, {
      accounts: (accounts) => { void switchAccount(accounts[0]); },
      chain: (id) => { void switchChain(id); },
    });
    const clients = clientsFor(wallet.provider, account, book);
    session = { provider: wallet.provider, account, chainId, clients, unsubscribe };
    await refresh();
  } catch (e) {
    ui.notice("error", describeError(e, context()));
  }
}

/** accountsChanged: another account, or none (the user disconnected the page in the wallet). */
async function switchAccount(account: Address | undefined): Promise<void> {
  if (!session) return;
  if (!account) {
    session.unsubscribe();
    session = undefined;
    ui.hideAccountViews();
    ui.renderAccount(undefined, undefined, refresh);
    ui.notice("info", "The wallet disconnected this page.");
    return;
  }
  session = { ...session, account, clients: clientsFor(session.provider, account, book) };
  ui.clearNotice();
  await refresh();
}

/** chainChanged: the page only works on the manifest's chain. */
async function switchChain(chainId: number): Promise<void> {
  if (!session) return;
  session = { ...session, chainId };
  ui.clearNotice();
  await refresh();
}

/** Re-reads everything at the latest block and redraws it. */
async function refresh(): Promise<void> {
  if (!session) return;
  const s = session;
  ui.renderAccount(s.account, s.chainId, () => { void refresh(); });
  if (s.chainId !== book.chain_id) {
    ui.hideAccountViews();
    ui.notice("error", `Your wallet is on chain ${s.chainId}; this deployment ("${book.network}") is on chain ` +
                       `${book.chain_id}. Switch networks in your wallet.`);
    return;
  }
  try {
    const snap = await readSnapshot(s.clients, book);
    if (session !== s) return; // the account changed while reading
    ui.renderBalances(snap, book, handlers);
    ui.renderOpen(book, handlers);
    ui.renderVaults(snap, book, handlers);
  } catch (e) {
    ui.notice("error", describeError(e, context()));
  }
}

let busy = false;

/** Sends `plan`'s writes in order, one at a time, each with its line in the transaction list; stops at the first
 * refusal and shows it in words. `plan` may throw a sentence (bad input, short balance): then nothing is sent.
 * Then redraws the page and, when every write was confirmed, says `done(receipts)` and the last block. */
async function run(plan: () => Promise<Write[]> | Write[], done?: (receipts: TransactionReceipt[]) => string) {
  if (!session || busy) return;
  const s = session;
  busy = true;
  ui.setBusy(true);
  ui.clearNotice();
  let failed = false;
  const receipts: TransactionReceipt[] = [];
  try {
    for (const w of await plan()) {
      const line = ui.activity(w.label);
      try {
        receipts.push(await send(s.clients, w, line.update));
      } catch (e) {
        const why = describeError(e, context(w.unit));
        line.fail(why);
        ui.notice("error", why);
        failed = true;
        break;
      }
    }
  } catch (e) {
    ui.notice("error", describeError(e, context()));
    failed = true;
  } finally {
    // still busy while the cards are redrawn: a form filled in now would be replaced under the user's hands
    await refresh();
    if (!failed && receipts.length) {
      const last = receipts[receipts.length - 1];
      ui.notice("ok", (done ? done(receipts) : "Done.") + ` Confirmed in block ${last.blockNumber}.`);
    }
    busy = false;
    ui.setBusy(false);
  }
}

function collateral(token: string): Collateral {
  const c = collateralOf(book, token);
  if (!c) throw new Error(`${token} is not a collateral of this deployment.`);
  return c;
}

const me = (): Address => session!.account;

const handlers: ui.Handlers = {
  faucet: (f) => {
    let minted = "";
    return run(() => {
      const c = collateral(f.token);
      const amount = parseAmount(f.amount, c.decimals);
      minted = formatToken(amount, c.decimals, c.symbol);
      return [actions.faucet(c, amount, me())];
    }, () => `Minted ${minted}.`);
  },
  open: (f) => run(async () => {
    const c = collateral(f.token);
    const amount = parseAmount(f.amount, c.decimals);
    return [...await approvalFor(session!.clients, book, c, amount), actions.open(book, c, amount)];
  }, (receipts) => `Opened vault ${openedVault(book, receipts[receipts.length - 1])}.`),
  deposit: (id, f) => run(async () => {
    const c = collateral(f.token);
    const amount = parseAmount(f.amount, c.decimals);
    return [...await approvalFor(session!.clients, book, c, amount), actions.deposit(book, id, c, amount)];
  }, () => `Deposited into vault ${id}.`),
  withdraw: (id, f) => run(() => {
    const c = collateral(f.token);
    return [actions.withdraw(book, id, c, parseAmount(f.amount, c.decimals, ["max"] as const), me())];
  }, () => `Withdrew from vault ${id}.`),
  borrow: (id, f) => run(() => [actions.borrow(book, id, parseAmount(f.amount, WAD_DECIMALS), me())],
                         () => `Borrowed from vault ${id}.`),
  repay: (id, f) => run(() => [actions.repay(book, id, parseAmount(f.amount, WAD_DECIMALS, ["all"] as const))],
                        () => `Repaid to vault ${id}.`),
  max: async (id, action, f) => {
    try {
      const p = await nextBlockPosition(session!.clients, book, id);
      if (action === "borrow") return plainUnits(p.maxBorrow, WAD_DECIMALS);
      const c = p.collateral.find((x) => x.token.toLowerCase() === f.token.toLowerCase());
      return plainUnits(c?.maxWithdraw ?? 0n, c?.decimals ?? WAD_DECIMALS);
    } catch (e) {
      ui.notice("error", describeError(e, context()));
      return "";
    }
  },
};

async function main(): Promise<void> {
  book = await loadManifest();
  ui.manifestLoaded();
  ui.showDeployment(book);
  watchWallets((wallets) => ui.renderWallets(wallets, (w) => { void connectTo(w); }));
}

void main();
