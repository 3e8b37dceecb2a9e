import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { ApiError, type TenantDocument, type TenantKey, type TrackingConfig } from "../core/index.ts";
import { hashKey, type KeyStore, type Principal } from "./auth.ts";
import type { ConfigSource } from "./config-source.ts";
import type { Change } from "./store/changes.ts";
import { withDeadline } from "./store/mongo.ts";

/** What the directory reads from the store; every call has the store's own deadline. */
export interface DirectorySource {
  /** The number of the latest change, read before a full load so that no later change is missed. */
  latestChange(): Promise<number>;
  /** Changes after `seq`, oldest first, a page at a time; the log has no holes (each number is its insert). */
  changesSince(seq: number): Promise<Change[]>;
  /** Every tenant's document (active configs and keys), for the load at start. */
  all(): Promise<TenantDocument[]>;
  /** One tenant's document, after a change or for a tenant not yet in memory. */
  tenant(tenantId: string): Promise<TenantDocument>;
  /** The service keys (keys of no tenant). */
  serviceKeys(): Promise<TenantKey[]>;
  /** One key by the SHA-256 of its text, revoked or not. */
  key(hash: string): Promise<TenantKey | undefined>;
}

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

const principalOf = (key: TenantKey): Principal =>
  key.kind === "service"
    ? { kind: "internal", keyId: key.hash }
    : {
        kind: "tenant",
        tenantId: key.tenant_id as string,
        publishable: key.kind === "publishable",
        keyId: key.hash,
      };

/**
 * Every tenant's document in memory: the ingest path answers key and config questions from here and
 * never waits on the store. Loaded at start, then kept current from the store's change feed
 * (`changes since N`, read every `pollMs`), so a change made through any relay, a revocation included,
 * takes effect here within about `pollMs` plus one read of the tenant. A change made through this relay
 * is applied at once (`refresh`).
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
  /** Per tenant with an active config or key: its active configs by scenario, and the hashes of its keys. */
  readonly #tenants = new Map<string, { configs: Map<string, TrackingConfig>; keys: string[] }>();
  /** Active keys by hash: tenants' keys and service keys. */
  readonly #keys = new Map<string, Principal>();
  #serviceKeys: string[] = [];
  /** Before the first load: keys and tenants looked up and found unknown. */
  readonly #unknownKeys = new Set<string>();
  readonly #unknownTenants = new Set<string>();
  readonly #lookups = new Map<string, Promise<void>>();
  #loaded = false;
  #seq = 0;
  #syncedAt: number | undefined;
  #storeLatencyMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
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
        this.set(directory.#tenants.size);
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
  }

  /** True once every tenant's document has been loaded: from then on memory answers everything. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Seconds since the directory was last in step with the store (Infinity before the first load). */
  ageSeconds(): number {
    return this.#syncedAt === undefined
      ? Number.POSITIVE_INFINITY
      : (this.#settings.now() - this.#syncedAt) / 1000;
  }

  /** How long the last read of the change feed took. */
  get storeLatencyMs(): number | undefined {
    return this.#storeLatencyMs;
  }

  /** Loads every tenant (retrying in the background while the store does not answer) and follows the feed. */
  start(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    const tenant = this.#tenants.get(tenantId);
    if (tenant !== undefined || this.#loaded || this.#unknownTenants.has(tenantId))
      return tenant?.configs.get(scenarioId);
    // Not loaded yet: one lookup of the tenant; a store that does not answer leaves the event to be
    // checked without a config, as it would be for a tenant that has none (the failure is counted).
    await this.#lookup(`tenant:${tenantId}`, async () => {
      this.#apply(await this.#source.tenant(tenantId));
      if (!this.#tenants.has(tenantId)) remember(this.#unknownTenants, tenantId);
    }).catch(() => undefined);
    return this.#tenants.get(tenantId)?.configs.get(scenarioId);
  }

  async principalFor(key: string): Promise<Principal | undefined> {
    const hash = hashKey(key);
    const known = this.#keys.get(hash);
    if (known !== undefined || this.#loaded || this.#unknownKeys.has(hash)) return known;
    // Not loaded yet: one lookup of the key; if the store cannot say, neither can we (retryable).
    await this.#lookup(`key:${hash}`, async () => {
      const found = await this.#source.key(hash);
      if (found === undefined || found.revoked_at !== null) remember(this.#unknownKeys, hash);
      else if (found.tenant_id === null) this.#keys.set(hash, principalOf(found));
      else this.#apply(await this.#source.tenant(found.tenant_id));
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
    return this.#keys.get(hash);
  }

  /**
   * Reads a tenant's document (or, with `null`, the service keys) now: after a change made through this
   * relay, so that its own writes take effect at once. A failure leaves it to the change feed.
   */
  async refresh(tenantId: string | null): Promise<void> {
    try {
      if (tenantId === null) this.#applyServiceKeys(await this.#source.serviceKeys());
      else this.#apply(await this.#source.tenant(tenantId));
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

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await this.sync();
      this.#schedule(this.#settings.pollMs);
    }, delayMs);
    this.#timer.unref();
  }

  /**
   * Brings the directory in step with the store once: the full load until it has succeeded, then one
   * read of the change feed. The timer of `start` runs it one at a time; a failure is counted and logged.
   */
  async sync(): Promise<void> {
    try {
      if (this.#loaded) await this.#follow();
      else await this.#load();
    } catch (error) {
      this.#metrics.storeErrors.inc({ operation: this.#loaded ? "follow" : "load" });
      this.#log.warn(
        { err: error, ageSeconds: this.ageSeconds() },
        "the tenant directory could not read the store; serving what it holds",
      );
    }
  }

  async #load(): Promise<void> {
    const started = this.#settings.now();
    const seq = await this.#source.latestChange();
    const [documents, serviceKeys] = await Promise.all([this.#source.all(), this.#source.serviceKeys()]);
    for (const document of documents) this.#apply(document);
    this.#applyServiceKeys(serviceKeys);
    this.#seq = seq;
    this.#loaded = true;
    this.#unknownKeys.clear();
    this.#unknownTenants.clear();
    this.#syncedAt = started;
    this.#log.info(
      { tenants: this.#tenants.size, keys: this.#keys.size, ms: this.#settings.now() - started },
      "tenant directory loaded",
    );
  }

  async #follow(): Promise<void> {
    const started = this.#settings.now();
    for (let changes = await this.#source.changesSince(this.#seq); changes.length > 0; ) {
      for (const tenantId of new Set(changes.map((change) => change.tenant_id))) {
        if (tenantId === null) this.#applyServiceKeys(await this.#source.serviceKeys());
        else this.#apply(await this.#source.tenant(tenantId));
      }
      this.#seq = (changes.at(-1) as Change).seq;
      changes = await this.#source.changesSince(this.#seq);
    }
    this.#storeLatencyMs = this.#settings.now() - started;
    this.#syncedAt = started;
  }

  /**
   * Replaces what is held of a tenant with its document. A tenant with no active config or key is not
   * held: memory grows with real tenants, not with every id a caller names.
   */
  #apply(document: TenantDocument): void {
    const held = this.#tenants.get(document.tenant_id);
    for (const hash of held?.keys ?? []) this.#keys.delete(hash);
    const keys: string[] = [];
    for (const key of document.keys) {
      if (key.revoked_at !== null) continue;
      this.#keys.set(key.hash, principalOf(key));
      keys.push(key.hash);
    }
    const configs = new Map(document.configs.filter((c) => c.is_active).map((c) => [c.scenario_id, c]));
    if (configs.size === 0 && keys.length === 0) this.#tenants.delete(document.tenant_id);
    else this.#tenants.set(document.tenant_id, { configs, keys });
  }

  #applyServiceKeys(keys: readonly TenantKey[]): void {
    for (const hash of this.#serviceKeys) this.#keys.delete(hash);
    this.#serviceKeys = [];
    for (const key of keys) {
      if (key.revoked_at !== null) continue;
      this.#keys.set(key.hash, principalOf(key));
      this.#serviceKeys.push(key.hash);
    }
  }
}
