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
 * made through another relay within `ttlMs`. When the database does not answer, the last known config
 * keeps being used, so ingestion does not depend on MongoDB being up.
 */
export class CachedConfigSource implements ConfigSource {
  readonly #cache = new Map<string, { config: TrackingConfig | undefined; until: number }>();
  readonly #load: (tenantId: string, scenarioId: string) => Promise<TrackingConfig | undefined>;
  readonly #ttlMs: number;
  readonly #onError: (error: unknown) => void;

  constructor(
    load: (tenantId: string, scenarioId: string) => Promise<TrackingConfig | undefined>,
    ttlMs: number,
    onError: (error: unknown) => void,
  ) {
    this.#load = load;
    this.#ttlMs = ttlMs;
    this.#onError = onError;
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    const id = `${tenantId}/${scenarioId}`;
    const cached = this.#cache.get(id);
    if (cached !== undefined && cached.until > Date.now()) return cached.config;
    try {
      const config = await this.#load(tenantId, scenarioId);
      if (this.#cache.size > 50_000) this.#cache.clear();
      this.#cache.set(id, { config, until: Date.now() + this.#ttlMs });
      return config;
    } catch (error) {
      this.#onError(error);
      return cached?.config;
    }
  }

  invalidate(tenantId: string, scenarioId: string): void {
    this.#cache.delete(`${tenantId}/${scenarioId}`);
  }
}
