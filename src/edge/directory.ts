import { ApiError, NONCE_HEADER, SIGNATURE_HEADER, signCall, TIMESTAMP_HEADER } from "../core/index.ts";
import { webCallCrypto } from "./digest.ts";
import type { Directory, EdgeKey, TenantRecords } from "./ports.ts";

/** The part of a key-value store (Workers KV, Deno KV) the edge needs. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
}

/** Where configs and keys come from on a miss: the relay's edge feed. */
export interface RelayFeed {
  tenant(tenantId: string): Promise<TenantRecords | undefined>;
  key(hash: string): Promise<EdgeKey | undefined>;
}

interface Entry {
  value: string;
  until: number;
}

/**
 * Configs and keys at the edge, in three layers: an in-isolate memory cache (bounded in entries and
 * bytes; isolates have 128 MB), KV, and on a miss the relay's feed, whose answer is stored in KV. A
 * short memory TTL bounds how long a change pushed to KV takes to reach a warm isolate. Misses are
 * cached too (as "null"), so an unknown tenant or key does not reach the relay on every request.
 */
export class CachedDirectory implements Directory {
  readonly #memory = new Map<string, Entry>();
  #bytes = 0;
  readonly #kv: KeyValueStore;
  readonly #feed: RelayFeed;
  readonly #options: {
    memoryTtlMs: number;
    maxEntries: number;
    maxBytes: number;
    kvTtlSeconds: number;
    now: () => number;
  };

  constructor(
    kv: KeyValueStore,
    feed: RelayFeed,
    options: {
      memoryTtlMs?: number;
      maxEntries?: number;
      maxBytes?: number;
      kvTtlSeconds?: number;
      now?: () => number;
    } = {},
  ) {
    this.#kv = kv;
    this.#feed = feed;
    this.#options = {
      memoryTtlMs: options.memoryTtlMs ?? 5_000,
      maxEntries: options.maxEntries ?? 5_000,
      maxBytes: options.maxBytes ?? 16 * 1024 * 1024,
      kvTtlSeconds: options.kvTtlSeconds ?? 3_600,
      now: options.now ?? Date.now,
    };
  }

  tenant(tenantId: string): Promise<TenantRecords | undefined> {
    return this.#lookup(`tenant:${tenantId}`, () => this.#feed.tenant(tenantId));
  }

  key(hash: string): Promise<EdgeKey | undefined> {
    return this.#lookup(`key:${hash}`, () => this.#feed.key(hash));
  }

  /** Stores what the relay pushed: KV now, and this isolate's memory (others follow within the memory TTL). */
  async store(records: TenantRecords & { tenant_id: string }): Promise<void> {
    const writes: [string, string][] = [
      [`tenant:${records.tenant_id}`, JSON.stringify({ configs: records.configs, keys: records.keys })],
    ];
    for (const key of records.keys) writes.push([`key:${key.hash}`, JSON.stringify(key)]);
    await Promise.all(
      writes.map(([name, value]) => this.#kv.put(name, value, { expirationTtl: this.#options.kvTtlSeconds })),
    );
    for (const [name] of writes) this.forget(name);
  }

  /** True the first time a push signature is seen within the replay window. */
  async firstUse(signature: string): Promise<boolean> {
    const name = `push:${signature}`;
    if ((await this.#kv.get(name)) !== null) return false;
    await this.#kv.put(name, "1", { expirationTtl: 300 });
    return true;
  }

  /** Drops an entry from memory, e.g. when the relay pushed a change for it into KV. */
  forget(name: string): void {
    const entry = this.#memory.get(name);
    if (entry !== undefined) this.#bytes -= entry.value.length;
    this.#memory.delete(name);
  }

  async #lookup<T>(name: string, pull: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = this.#options.now();
    const cached = this.#memory.get(name);
    if (cached !== undefined && cached.until > now) return parse<T>(cached.value);
    let value = await this.#kv.get(name);
    if (value === null) {
      let pulled: T | undefined;
      try {
        pulled = await pull();
      } catch (error) {
        // The feed is the relay: unreachable, refusing or answering nonsense, the answer is "retry".
        console.warn("the relay's feed could not be read", error);
        throw new ApiError("store_unavailable", "the edge cannot check keys and configs right now; retry");
      }
      value = JSON.stringify(pulled ?? null);
      await this.#kv.put(name, value, { expirationTtl: this.#options.kvTtlSeconds });
    }
    this.#remember(name, value, now);
    return parse<T>(value);
  }

  #remember(name: string, value: string, now: number): void {
    this.forget(name);
    if (value.length > this.#options.maxBytes / 4) return;
    while (
      this.#memory.size >= this.#options.maxEntries ||
      this.#bytes + value.length > this.#options.maxBytes
    ) {
      const oldest = this.#memory.keys().next().value;
      if (oldest === undefined) break;
      this.forget(oldest);
    }
    this.#memory.set(name, { value, until: now + this.#options.memoryTtlMs });
    this.#bytes += value.length;
  }
}

const parse = <T>(value: string): T | undefined => (JSON.parse(value) as T | null) ?? undefined;

/**
 * The relay's edge feed over fetch. Each read is signed (src/core/edge-signing.ts) over the path and
 * query as the relay will see them, so the relay must be reached without a proxy rewriting the path.
 */
export const relayFeed = (
  relayUrl: string,
  secrets: readonly string[],
  fetcher: typeof fetch = fetch,
): RelayFeed => {
  const get = async <T>(path: string): Promise<T | undefined> => {
    const url = new URL(`${relayUrl}${path}`);
    const signed = await signCall(webCallCrypto, secrets, "feed", `${url.pathname}${url.search}`);
    const response = await fetcher(url, {
      headers: {
        [TIMESTAMP_HEADER]: String(signed.timestamp),
        [NONCE_HEADER]: signed.nonce,
        [SIGNATURE_HEADER]: signed.signature,
      },
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`the relay feed answered ${response.status} for ${path}`);
    return (await response.json()) as T;
  };
  return {
    tenant: async (tenantId) => {
      const doc = await get<TenantRecords>(`/api/v1/edge/tenants/${encodeURIComponent(tenantId)}`);
      return doc !== undefined && (doc.configs.length > 0 || doc.keys.length > 0) ? doc : undefined;
    },
    key: (hash) => get<EdgeKey>(`/api/v1/edge/keys/${encodeURIComponent(hash)}`),
  };
};
