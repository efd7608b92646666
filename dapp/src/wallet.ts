// The wallet: any EIP-1193 provider. Wallets announce themselves by EIP-6963 (several may be installed); an older
// one only sets window.ethereum. The page reads the chain through the same provider it signs with, so it needs no
// RPC URL of its own and always sees the chain the wallet is on.
import {
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  type EIP1193Provider,
  type PublicClient,
  type WalletClient,
  type Account,
  type Chain,
  type Transport,
} from "viem";

import type { Address, Manifest } from "./manifest.js";

/** A wallet the page can connect to: its EIP-6963 name and icon (a generic name for window.ethereum). */
export interface Wallet {
  uuid: string;
  name: string;
  icon?: string;
  provider: EIP1193Provider;
}

interface AnnounceEvent extends Event {
  detail: { info: { uuid: string; name: string; icon: string; rdns: string }; provider: EIP1193Provider };
}

/** Calls `onChange` with every wallet found so far, now and whenever another announces itself (EIP-6963).
 * window.ethereum is listed as "Browser wallet" unless an announced wallet is that same provider. */
export function watchWallets(onChange: (wallets: Wallet[]) => void): void {
  const announced = new Map<string, Wallet>();
  const list = (): Wallet[] => {
    const all = [...announced.values()];
    const injected = (window as { ethereum?: EIP1193Provider }).ethereum;
    if (injected && !all.some((w) => w.provider === injected)) {
      all.push({ uuid: "window.ethereum", name: "Browser wallet", provider: injected });
    }
    return all;
  };
  window.addEventListener("eip6963:announceProvider", (e) => {
    const { info, provider } = (e as AnnounceEvent).detail;
    announced.set(info.uuid, { uuid: info.uuid, name: info.name, icon: info.icon, provider });
    onChange(list());
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  onChange(list());
}

/** Asks the wallet for its account (eth_requestAccounts: the wallet may prompt) and its chain id. Throws what
 * the wallet throws; a refusal is EIP-1193 code 4001 (errors.ts words it). */
export async function connect(provider: EIP1193Provider): Promise<{ account: Address; chainId: number }> {
  const accounts = await provider.request({ method: "eth_requestAccounts" });
  if (!accounts.length) throw new Error("The wallet gave no account.");
  const chainId = Number(await provider.request({ method: "eth_chainId" }));
  return { account: getAddress(accounts[0]), chainId };
}

/** Subscribes to the wallet's account and chain changes (EIP-1193 events); returns the unsubscribe function.
 * `accounts` is empty when the user disconnects the page in the wallet; `chainId` is a number. */
export function onWalletChange(provider: EIP1193Provider, handlers: {
  accounts: (accounts: Address[]) => void;
  chain: (chainId: number) => void;
}): () => void {
  const accounts = (a: string[]) => handlers.accounts(a.map((x) => getAddress(x)));
  const chain = (id: string) => handlers.chain(Number(id));
  provider.on("accountsChanged", accounts);
  provider.on("chainChanged", chain);
  return () => {
    provider.removeListener("accountsChanged", accounts);
    provider.removeListener("chainChanged", chain);
  };
}

/** The reading and the signing client for `account` on the manifest's chain, both over the wallet's provider. */
export interface Clients {
  public: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
  account: Address;
}

/** Builds the clients; a receipt is polled every 250 ms (viem's default of 4 s is meant for public RPCs). */
export function clientsFor(provider: EIP1193Provider, account: Address, book: Manifest): Clients {
  const chain = defineChain({
    id: book.chain_id,
    name: book.network,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [] } },
  });
  const transport = custom(provider);
  return {
    public: createPublicClient({ chain, transport, pollingInterval: 250 }),
    wallet: createWalletClient({ account, chain, transport }),
    account,
  };
}
