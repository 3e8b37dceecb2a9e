import { type Collection, MongoServerError } from "mongodb";
import type * as z from "zod";
import {
  ApiError,
  issuesOfZod,
  type ScenarioType,
  TrackingConfig,
  type TrackingConfigDefinition,
  type TrackingConfigUpdate,
} from "../../core/index.ts";
import type { ChangeLog } from "./changes.ts";
import { BULK_DEADLINE_MS, type Store } from "./mongo.ts";

type Stored = TrackingConfig;

const DUPLICATE_KEY = 11000;
/** A version claimed this long ago without being applied belongs to a writer that stopped. */
const STALE_CLAIM_MS = 30_000;
const NO_ID = { projection: { _id: 0 } } as const;

const invalid = (issues: z.core.$ZodIssue[]): ApiError =>
  new ApiError(
    "invalid_request",
    "the tracking config is invalid",
    issuesOfZod(issues, "the tracking config"),
  );

/**
 * Tracking configs in MongoDB. No transactions or change streams (FerretDB v1 has
 * neither): the unique (tenant_id, scenario_id) index refuses a second create, and every change is a
 * compare-and-set on `version`, so two concurrent updates cannot overwrite each other. Each version is
 * also kept in a history collection, so an event can be checked against the version it was sent under,
 * and numbered in a change log the edge polls.
 */
export class ConfigRepository {
  readonly #store: Store;
  readonly #configs: () => Collection<Stored>;
  readonly #history: () => Collection<Stored>;
  readonly #changes: ChangeLog;

  constructor(store: Store, changes: ChangeLog) {
    this.#store = store;
    this.#configs = () => store.db().collection("tracking_configs");
    this.#history = () => store.db().collection("tracking_config_versions");
    this.#changes = changes;
  }

  async ensureIndexes(): Promise<void> {
    return this.#store.call(async () => {
      await this.#configs().createIndex(
        { tenant_id: 1, scenario_id: 1 },
        { unique: true, name: "tenant_scenario" },
      );
      await this.#history().createIndex(
        { tenant_id: 1, scenario_id: 1, version: 1 },
        { unique: true, name: "tenant_scenario_version" },
      );
    });
  }

  async create(definition: TrackingConfigDefinition, now: number): Promise<TrackingConfig> {
    return this.#store.call(async () => {
      const config = TrackingConfig.parse({
        ...definition,
        is_active: true,
        version: 1,
        created_at: now,
        updated_at: now,
      });
      try {
        await this.#configs().insertOne({ ...config });
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) {
          throw new ApiError(
            "conflict",
            `a tracking config for ${config.tenant_id}/${config.scenario_id} exists already`,
            [
              {
                path: "scenario_id",
                message: "scenario_id is taken for this tenant; update it with PUT instead",
              },
            ],
          );
        }
        throw error;
      }
      await this.#history().insertOne({ ...config });
      await this.#logged(config);
      return config;
    });
  }

  async get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> {
    return this.#store.call(async () => {
      return (
        (await this.#configs().findOne({ tenant_id: tenantId, scenario_id: scenarioId }, NO_ID)) ?? undefined
      );
    });
  }

  async getVersion(
    tenantId: string,
    scenarioId: string,
    version: number,
  ): Promise<TrackingConfig | undefined> {
    return this.#store.call(async () => {
      return (
        (await this.#history().findOne({ tenant_id: tenantId, scenario_id: scenarioId, version }, NO_ID)) ??
        undefined
      );
    });
  }

  async list(filter: {
    tenant_id?: string;
    scenario_type?: ScenarioType;
    include_inactive?: boolean;
  }): Promise<TrackingConfig[]> {
    return this.#store.call(async () => {
      const query: Record<string, unknown> = {};
      if (filter.tenant_id !== undefined) query.tenant_id = filter.tenant_id;
      if (filter.scenario_type !== undefined) query.scenario_type = filter.scenario_type;
      if (!filter.include_inactive) query.is_active = true;
      return this.#configs().find(query, NO_ID).sort({ tenant_id: 1, scenario_id: 1 }).limit(1000).toArray();
    });
  }

  /** Every tenant's active configs (the relay's directory loads them all at start). */
  async allActive(): Promise<TrackingConfig[]> {
    return this.#store.call(
      async () => this.#configs().find({ is_active: true }, NO_ID).batchSize(5000).toArray(),
      BULK_DEADLINE_MS,
    );
  }

  /** Applies a partial update to the version it was based on; 409 when someone changed it meanwhile. */
  async update(
    tenantId: string,
    scenarioId: string,
    patch: TrackingConfigUpdate,
    now: number,
  ): Promise<TrackingConfig> {
    return this.#store.call(async () => {
      const current = await this.#current(tenantId, scenarioId);
      const { version: basedOn, ...changes } = patch;
      if (basedOn !== undefined && basedOn !== current.version) throw this.#conflict(current.version);
      const next = TrackingConfig.safeParse({
        ...current,
        ...changes,
        version: current.version + 1,
        updated_at: now,
      });
      if (!next.success) throw invalid(next.error.issues);
      return this.#replace(current, next.data);
    });
  }

  /** Soft delete: `is_active=false`, kept for old events and the history. */
  async deactivate(tenantId: string, scenarioId: string, now: number): Promise<TrackingConfig> {
    return this.#store.call(async () => {
      const current = await this.#current(tenantId, scenarioId);
      return this.#replace(current, {
        ...current,
        is_active: false,
        version: current.version + 1,
        updated_at: now,
      });
    });
  }

  /**
   * Moves a config from `current` to `next` (version + 1). The version is first claimed in the history
   * collection, whose unique (tenant_id, scenario_id, version) index admits exactly one writer on any
   * MongoDB-wire server; a filtered replaceOne alone is not an atomic compare-and-set on FerretDB v1
   * (two concurrent ones both matched in our tests).
   */
  async #replace(current: TrackingConfig, next: TrackingConfig): Promise<TrackingConfig> {
    try {
      await this.#history().insertOne({ ...next });
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY)
        throw this.#conflict(current.version);
      throw error;
    }
    const filter = {
      tenant_id: current.tenant_id,
      scenario_id: current.scenario_id,
      version: current.version,
    };
    const result = await this.#configs().replaceOne(filter, { ...next });
    if (
      result.matchedCount !== 1 &&
      (await this.get(next.tenant_id, next.scenario_id))?.version !== next.version
    ) {
      throw this.#conflict(current.version);
    }
    await this.#logged(next);
    return next;
  }

  /**
   * The current config, rolled forward when a writer claimed the next version but stopped before
   * replacing the document (a crash between the two steps); otherwise that version would stay blocked.
   */
  async #current(tenantId: string, scenarioId: string): Promise<TrackingConfig> {
    const current = await this.get(tenantId, scenarioId);
    if (current === undefined)
      throw new ApiError("not_found", `no tracking config ${tenantId}/${scenarioId}`);
    const claimed = await this.getVersion(tenantId, scenarioId, current.version + 1);
    if (claimed === undefined || Date.now() - claimed.updated_at < STALE_CLAIM_MS) return current;
    await this.#configs().replaceOne(
      { tenant_id: tenantId, scenario_id: scenarioId, version: current.version },
      { ...claimed },
    );
    await this.#logged(claimed);
    return claimed;
  }

  #conflict(version: number): ApiError {
    return new ApiError(
      "version_conflict",
      `the config changed meanwhile (now version ${version}); read it and apply your change again`,
      [{ path: "version", message: "version is not the current version" }],
    );
  }

  /** Logs the change for the edge. */
  async #logged(config: TrackingConfig): Promise<void> {
    await this.#changes.record({
      tenant_id: config.tenant_id,
      kind: "config",
      scenario_id: config.scenario_id,
      version: config.version,
      at: config.updated_at,
    });
  }
}
