import type * as z from "zod";
import { ApiError, EdgeKey, EdgeTenant, signatureHeaders, signCall, TenantDocument } from "../core/index.ts";
import { webCallCrypto } from "./digest.ts";
import type { Directory } from "./ports.ts";

/** The part of a key-value store (Workers KV, Deno KV) the edge needs. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
}

/** Where configs and keys come from on a miss: the relay's edge feed. */
export interface RelayFeed {
  tenant(tenantId: string): Promise<EdgeTenant | undefined>;
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

  tenant(tenantId: string): Promise<EdgeTenant | undefined> {
    return this.#lookup(`tenant:${tenantId}`, EdgeTenant, () => this.#feed.tenant(tenantId));
  }

  key(hash: string): Promise<EdgeKey | undefined> {
    return this.#lookup(`key:${hash}`, EdgeKey, () => this.#feed.key(hash));
  }

  /** Stores what the relay pushed: KV now, and this isolate's memory (others follow within the memory TTL). */
  async store(document: TenantDocument): Promise<void> {
    // Only what the edge's checks need is kept at the edge: no key's name or prefix.
    const tenant = EdgeTenant.parse(document);
    const writes: [string, string][] = [[`tenant:${document.tenant_id}`, JSON.stringify(tenant)]];
    for (const key of tenant.keys) writes.push([`key:${key.hash}`, JSON.stringify(key)]);
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

  /**
   * Memory, else KV, else the feed. What KV holds is parsed with the one schema before it is used: a
   * value an older edge wrote, or one damaged, is read from the feed again instead of trusted.
   */
  async #lookup<T>(
    name: string,
    schema: z.ZodType<T>,
    pull: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const now = this.#options.now();
    const cached = this.#memory.get(name);
    if (cached !== undefined && cached.until > now) return parse<T>(cached.value);
    const held = await this.#kv.get(name);
    const parsed = held === null ? undefined : schema.nullable().safeParse(jsonOf(held));
    let found: T | undefined;
    if (parsed?.success) found = parsed.data ?? undefined;
    else {
      if (held !== null)
        console.warn(`KV's ${name} is not what this edge reads; reading it from the feed again`);
      try {
        found = await pull();
      } catch (error) {
        // The feed is the relay: unreachable, refusing or answering nonsense, the answer is "retry".
        console.warn("the relay's feed could not be read", error);
        throw new ApiError("store_unavailable", "the edge cannot check keys and configs right now; retry");
      }
    }
    const value = JSON.stringify(found ?? null);
    if (!parsed?.success) await this.#kv.put(name, value, { expirationTtl: this.#options.kvTtlSeconds });
    this.#remember(name, value, now);
    return found;
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

/** KV's text as JSON, or undefined when it is not JSON (damaged): then it fails the schema like any other. */
const jsonOf = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * The relay's edge feed over fetch. Each read is signed (src/core/edge-signing.ts) over the path and
 * query as the relay will see them, so the relay must be reached without a proxy rewriting the path.
 */
export const relayFeed = (
  relayUrl: string,
  secrets: readonly string[],
  fetcher: typeof fetch = fetch,
): RelayFeed => {
  const get = async <T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> => {
    const url = new URL(`${relayUrl}${path}`);
    const signed = await signCall(webCallCrypto, secrets, "feed", `${url.pathname}${url.search}`);
    const response = await fetcher(url, {
      headers: {
        ...signatureHeaders(signed),
      },
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`the relay feed answered ${response.status} for ${path}`);
    // An answer that is not what the relay promises is the feed's failure, not a tenant without keys.
    return schema.parse(await response.json());
  };
  return {
    tenant: async (tenantId) => {
      const doc = await get(`/api/v1/edge/tenants/${encodeURIComponent(tenantId)}`, TenantDocument);
      return doc !== undefined && (doc.configs.length > 0 || doc.keys.length > 0)
        ? EdgeTenant.parse(doc)
        : undefined;
    },
    key: (hash) => get(`/api/v1/edge/keys/${encodeURIComponent(hash)}`, EdgeKey),
  };
};
