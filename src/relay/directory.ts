import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { ApiError, type TrackingConfig } from "../core/index.ts";
import { hashKey, type KeyStore, type Principal } from "./auth.ts";
import type { ConfigSource } from "./config-source.ts";
import { DirectoryFeed } from "./directory-feed.ts";
import { TenantMemory } from "./directory-memory.ts";
import type { DirectorySource } from "./directory-source.ts";
import { withDeadline } from "./store/mongo.ts";

export interface DirectorySettings {
  /** How often the change feed is read: a change made through another relay is seen within about this. */
  pollMs: number;
  /** How long an ingest call may wait for one lookup of something not in memory (only before the first load). */
  lookupDeadlineMs: number;
  now?: () => number;
}

/** The misses remembered before the first load, per kind (unknown keys, unknown tenants). */
const MAX_REMEMBERED_MISSES = 10_000;

/** Adds `value` to a set of misses, which forgets them all when full rather than grow without bound. */
const remember = (misses: Set<string>, value: string) => {
  if (misses.size >= MAX_REMEMBERED_MISSES) misses.clear();
  misses.add(value);
};

/**
 * Every tenant's document in memory: the ingest path answers key and config questions from here and
 * never waits on the store. Loaded at start, then kept current from the store's change feed
 * (`changes since N`, read every `pollMs`; directory-feed.ts), so a change made through any relay, a
 * revocation included, takes effect here within about `pollMs` plus one read of the tenant. A change
 * made through this relay is applied at once (`refresh`).
 *
 * Until the first load has succeeded (the store was slow or down when the relay started), what is not
 * in memory is looked up once, with a deadline, and the answer, "none" included, is remembered. After
 * it, memory is the whole truth: an unknown key or tenant is unknown without asking the store. While the
 * store does not answer, the last known documents keep serving; the directory's age says how old they are.
 */
export class TenantDirectory implements ConfigSource, KeyStore {
  readonly #source: DirectorySource;
  readonly #settings: Required<DirectorySettings>;
  readonly #log: Logger;
  readonly #memory = new TenantMemory();
  readonly #feed: DirectoryFeed;
  /** Before the first load: keys and tenants looked up and found unknown. */
  readonly #unknownKeys = new Set<string>();
  readonly #unknownTenants = new Set<string>();
  readonly #lookups = new Map<string, Promise<void>>();
  readonly #metrics: { storeErrors: Counter<"operation">; lookups: Counter<"result"> };

  constructor(source: DirectorySource, settings: DirectorySettings, log: Logger, registry?: Registry) {
    this.#source = source;
    this.#settings = { now: Date.now, ...settings };
    this.#log = log;
    const registers = registry === undefined ? [] : [registry];
    const directory = this;
    new Gauge({
      name: "relay_directory_age_seconds",
      help: "Time since the tenant directory last read the change feed (how stale keys and configs may be)",
      registers,
      collect() {
        const age = directory.ageSeconds();
        this.set(Number.isFinite(age) ? age : -1);
      },
    });
    new Gauge({
      name: "relay_directory_tenants",
      help: "Tenants whose document the relay holds in memory",
      registers,
      collect() {
        this.set(directory.#memory.tenants);
      },
    });
    this.#metrics = {
      storeErrors: new Counter({
        name: "relay_directory_store_errors_total",
        help: "Reads of the tenant directory from the store that failed or missed their deadline, by operation",
        labelNames: ["operation"] as const,
        registers,
      }),
      lookups: new Counter({
        name: "relay_directory_lookups_total",
        help: "Keys and tenants looked up in the store because they were not in memory (before the first load), by result",
        labelNames: ["result"] as const,
        registers,
      }),
    };
    this.#feed = new DirectoryFeed({
      source,
      memory: this.#memory,
      settings: this.#settings,
      log,
      storeErrors: this.#metrics.storeErrors,
      // From the first load on, memory is the whole truth: the misses remembered until then are not needed.
      onLoaded: () => {
        this.#unknownKeys.clear();
        this.#unknownTenants.clear();
      },
    });
  }

  /** True once every tenant's document has been loaded: from then on memory answers everything. */
  get loaded(): boolean {
    return this.#feed.loaded;
  }

  /** Seconds since the directory was last in step with the store (Infinity before the first load). */
  ageSeconds(): number {
    return this.#feed.ageSeconds();
  }

  /** How long the last read of the change feed took. */
  get storeLatencyMs(): number | undefined {
    return this.#feed.storeLatencyMs;
  }

  /** Loads every tenant (retrying in the background while the store does not answer) and follows the feed. */
  start(): void {
    this.#feed.start();
  }

  close(): void {
    this.#feed.close();
  }

  /** Brings the directory in step with the store once ({@link DirectoryFeed.sync}). */
  sync(): Promise<void> {
    return this.#feed.sync();
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    if (this.#memory.holds(tenantId) || this.loaded || this.#unknownTenants.has(tenantId))
      return this.#memory.config(tenantId, scenarioId);
    // Not loaded yet: one lookup of the tenant; a store that does not answer leaves the event to be
    // checked without a config, as it would be for a tenant that has none (the failure is counted).
    await this.#lookup(`tenant:${tenantId}`, async () => {
      this.#memory.apply(await this.#source.tenant(tenantId));
      if (!this.#memory.holds(tenantId)) remember(this.#unknownTenants, tenantId);
    }).catch(() => undefined);
    return this.#memory.config(tenantId, scenarioId);
  }

  async principalFor(key: string): Promise<Principal | undefined> {
    const hash = hashKey(key);
    const known = this.#memory.principal(hash);
    if (known !== undefined || this.loaded || this.#unknownKeys.has(hash)) return known;
    // Not loaded yet: one lookup of the key; if the store cannot say, neither can we (retryable).
    await this.#lookup(`key:${hash}`, async () => {
      const found = await this.#source.key(hash);
      if (found === undefined || found.revoked_at !== null) remember(this.#unknownKeys, hash);
      else if (found.tenant_id === null) this.#memory.holdServiceKey(found);
      else this.#memory.apply(await this.#source.tenant(found.tenant_id));
    }).catch((error: unknown) => {
      const unavailable = new ApiError(
        "store_unavailable",
        "keys cannot be checked right now (the store does not answer); retry",
        [],
        1,
      );
      unavailable.cause = error;
      throw unavailable;
    });
    return this.#memory.principal(hash);
  }

  /**
   * Reads a tenant's document (or, with `null`, the service keys) now: after a change made through this
   * relay, so that its own writes take effect at once. A failure leaves it to the change feed.
   */
  async refresh(tenantId: string | null): Promise<void> {
    try {
      if (tenantId === null) this.#memory.applyServiceKeys(await this.#source.serviceKeys());
      else this.#memory.apply(await this.#source.tenant(tenantId));
    } catch (error) {
      this.#metrics.storeErrors.inc({ operation: "refresh" });
      this.#log.warn(
        { err: error, tenantId },
        "a changed tenant could not be read; the change feed brings it",
      );
    }
  }

  /** One lookup per name at a time, bounded by the lookup deadline. */
  #lookup(name: string, read: () => Promise<void>): Promise<void> {
    let lookup = this.#lookups.get(name);
    if (lookup === undefined) {
      lookup = withDeadline(read(), this.#settings.lookupDeadlineMs, name)
        .then(
          () => void this.#metrics.lookups.inc({ result: "answered" }),
          (error: unknown) => {
            this.#metrics.lookups.inc({ result: "failed" });
            throw error;
          },
        )
        .finally(() => this.#lookups.delete(name));
      this.#lookups.set(name, lookup);
    }
    return lookup;
  }
}
