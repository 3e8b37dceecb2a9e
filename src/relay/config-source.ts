import type { TrackingConfig } from "../core/index.ts";

/** Where the relay finds the tracking config of a (tenant, scenario). */
export interface ConfigSource {
  get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined>;
}

/** Configs held in memory: for tests and until configs are stored in MongoDB. */
export class InMemoryConfigSource implements ConfigSource {
  readonly #configs = new Map<string, TrackingConfig>();

  put(config: TrackingConfig): void {
    this.#configs.set(`${config.tenant_id}/${config.scenario_id}`, config);
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    return this.#configs.get(`${tenantId}/${scenarioId}`);
  }
}

/**
 * Configs read from the repository through a short-lived cache: a hot (tenant, scenario) costs no
 * query per event, a change made through this relay's admin API is seen at once (invalidate), and one
 * made through another relay within about `ttlMs`. Only the first lookup of a config waits for the
 * database; after that an expired entry is answered from memory while one refresh runs behind it, so
 * ingestion never waits for MongoDB, and keeps the last known config while MongoDB is down.
 */
export class CachedConfigSource implements ConfigSource {
  readonly #cache = new Map<string, { config: TrackingConfig | undefined; until: number }>();
  readonly #refreshing = new Map<string, Promise<TrackingConfig | undefined>>();
  readonly #load: (tenantId: string, scenarioId: string) => Promise<TrackingConfig | undefined>;
  readonly #ttlMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => number;

  constructor(
    load: (tenantId: string, scenarioId: string) => Promise<TrackingConfig | undefined>,
    ttlMs: number,
    onError: (error: unknown) => void,
    now: () => number = Date.now,
  ) {
    this.#load = load;
    this.#ttlMs = ttlMs;
    this.#onError = onError;
    this.#now = now;
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    const id = `${tenantId}/${scenarioId}`;
    const cached = this.#cache.get(id);
    if (cached === undefined) return this.#refresh(id, tenantId, scenarioId);
    if (cached.until <= this.#now()) void this.#refresh(id, tenantId, scenarioId);
    return cached.config;
  }

  /** One load per config at a time; a failure keeps the cached config for another `ttlMs`. */
  #refresh(id: string, tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    let refresh = this.#refreshing.get(id);
    if (refresh === undefined) {
      refresh = this.#load(tenantId, scenarioId)
        .then(
          (config) => {
            if (this.#cache.size > 50_000) this.#cache.clear();
            this.#cache.set(id, { config, until: this.#now() + this.#ttlMs });
            return config;
          },
          (error: unknown) => {
            this.#onError(error);
            const stale = this.#cache.get(id);
            if (stale !== undefined) stale.until = this.#now() + this.#ttlMs;
            return stale?.config;
          },
        )
        .finally(() => this.#refreshing.delete(id));
      this.#refreshing.set(id, refresh);
    }
    return refresh;
  }

  invalidate(tenantId: string, scenarioId: string): void {
    this.#cache.delete(`${tenantId}/${scenarioId}`);
  }
}
