import type { TrackingConfig } from "../core/index.ts";

/** Where the relay finds the tracking config of a (tenant, scenario). */
export interface ConfigSource {
  get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined>;
}

/** Configs held in memory, for tests of the code above the directory. */
export class InMemoryConfigSource implements ConfigSource {
  readonly #configs = new Map<string, TrackingConfig>();

  put(config: TrackingConfig): void {
    this.#configs.set(`${config.tenant_id}/${config.scenario_id}`, config);
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    return this.#configs.get(`${tenantId}/${scenarioId}`);
  }
}
