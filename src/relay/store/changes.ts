import type { Collection } from "mongodb";
import * as z from "zod";
import { TenantId } from "../../core/index.ts";
import type { Store } from "./mongo.ts";

/** A change relays and edges must pick up: a tenant's config or its keys, numbered across all tenants. */
export const Change = z.object({
  seq: z.int(),
  tenant_id: TenantId.nullable().describe("null for a service key (a key of no tenant)"),
  kind: z.enum(["config", "keys"]),
  scenario_id: z.string().nullable(),
  version: z.int().nullable(),
  at: z.int(),
});
export type Change = z.infer<typeof Change>;

/**
 * The change log the edge polls (`changes since N`). Numbers come from a counter document updated
 * with $inc, which FerretDB v1 supports (it lacks change streams).
 */
export class ChangeLog {
  readonly #store: Store;
  readonly #changes: () => Collection<Change>;
  readonly #counters: () => Collection<{ _id: string; seq: number }>;

  constructor(store: Store) {
    this.#store = store;
    this.#changes = () => store.db().collection("changes");
    this.#counters = () => store.db().collection("counters");
  }

  async ensureIndexes(): Promise<void> {
    return this.#store.call(async () => {
      await this.#changes().createIndex({ seq: 1 }, { unique: true, name: "seq" });
    });
  }

  async record(change: Omit<Change, "seq">): Promise<void> {
    return this.#store.call(async () => {
      const counter = await this.#counters().findOneAndUpdate(
        { _id: "changes" },
        { $inc: { seq: 1 } },
        { upsert: true, returnDocument: "after" },
      );
      await this.#changes().insertOne({ ...change, seq: counter?.seq ?? 0 });
    });
  }

  /** The number of the latest change (0 before the first). */
  async latest(): Promise<number> {
    return this.#store.call(async () => (await this.#counters().findOne({ _id: "changes" }))?.seq ?? 0);
  }

  async since(seq: number, limit = 500): Promise<Change[]> {
    return this.#store.call(async () => {
      return this.#changes()
        .find({ seq: { $gt: seq } }, { projection: { _id: 0 } })
        .sort({ seq: 1 })
        .limit(limit)
        .toArray();
    });
  }
}
