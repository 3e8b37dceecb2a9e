import type { Logger } from "pino";
import type { Counter } from "prom-client";
import type { TenantMemory } from "./directory-memory.ts";
import type { DirectorySource } from "./directory-source.ts";
import type { Change } from "./store/changes.ts";

/**
 * Keeps the tenant directory's memory in step with the store: every tenant's document loaded once
 * (retried until it succeeds), then the store's change feed (`changes since N`) read every `pollMs`,
 * each changed tenant's document read again.
 */
export class DirectoryFeed {
  readonly #source: DirectorySource;
  readonly #memory: TenantMemory;
  readonly #settings: { pollMs: number; now: () => number };
  readonly #log: Logger;
  readonly #storeErrors: Counter<"operation">;
  /** Called once the first load has succeeded. */
  readonly #onLoaded: () => void;
  #loaded = false;
  #seq = 0;
  #syncedAt: number | undefined;
  #storeLatencyMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: {
    source: DirectorySource;
    memory: TenantMemory;
    settings: { pollMs: number; now: () => number };
    log: Logger;
    storeErrors: Counter<"operation">;
    onLoaded: () => void;
  }) {
    this.#source = deps.source;
    this.#memory = deps.memory;
    this.#settings = deps.settings;
    this.#log = deps.log;
    this.#storeErrors = deps.storeErrors;
    this.#onLoaded = deps.onLoaded;
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
      this.#storeErrors.inc({ operation: this.#loaded ? "follow" : "load" });
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
    for (const document of documents) this.#memory.apply(document);
    this.#memory.applyServiceKeys(serviceKeys);
    this.#seq = seq;
    this.#loaded = true;
    this.#onLoaded();
    this.#syncedAt = started;
    this.#log.info(
      { tenants: this.#memory.tenants, keys: this.#memory.keys, ms: this.#settings.now() - started },
      "tenant directory loaded",
    );
  }

  async #follow(): Promise<void> {
    const started = this.#settings.now();
    for (let changes = await this.#source.changesSince(this.#seq); changes.length > 0; ) {
      for (const tenantId of new Set(changes.map((change) => change.tenant_id))) {
        if (tenantId === null) this.#memory.applyServiceKeys(await this.#source.serviceKeys());
        else this.#memory.apply(await this.#source.tenant(tenantId));
      }
      this.#seq = (changes.at(-1) as Change).seq;
      changes = await this.#source.changesSince(this.#seq);
    }
    this.#storeLatencyMs = this.#settings.now() - started;
    this.#syncedAt = started;
  }
}
