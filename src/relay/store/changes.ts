import { type Collection, MongoServerError } from "mongodb";
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

/** A change as stored: its number is its `_id`, so numbering it and finding it take the `_id` index. */
type LoggedChange = Change & { _id: number };

/** Changes looked up at once when reading the log forward past its first new one. */
const LOOKUPS_AT_ONCE = 16;

const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;

/**
 * The change log relays and edges follow (`changes since N`): FerretDB v1 has no change streams. A change
 * takes the next number by inserting it as that `_id`; when another writer took the number first, the
 * insert fails on the unique `_id` and the next one is tried. (A counter raised with `$inc` would be
 * simpler, but FerretDB v1 applies `$inc` as a read and a write with nothing between them: two writers at
 * once read the same value and logged two changes under one number, one of them never seen.) Readers look
 * numbers up one by one from where they are: one indexed lookup per poll when nothing changed, where a
 * `seq > N` query would make FerretDB read the whole log.
 */
export class ChangeLog {
  readonly #store: Store;
  readonly #log: () => Collection<LoggedChange>;
  /** Where the log ended when last written: a hint, never past the end (it is raised only to logged numbers). */
  readonly #counters: () => Collection<{ _id: string; seq: number }>;

  constructor(store: Store) {
    this.#store = store;
    this.#log = () => store.db().collection("change_log");
    this.#counters = () => store.db().collection("counters");
  }

  async record(change: Omit<Change, "seq">): Promise<void> {
    return this.#store.call(async () => {
      for (let seq = (await this.#hint()) + 1; ; seq++) {
        try {
          await this.#log().insertOne({ _id: seq, ...change, seq });
        } catch (error) {
          if (isDuplicateKey(error)) continue;
          throw error;
        }
        await this.#counters()
          .updateOne({ _id: "changes" }, { $max: { seq } }, { upsert: true })
          // Two first changes at once both insert the hint; one of them is enough.
          .catch((error: unknown) => {
            if (!isDuplicateKey(error)) throw error;
          });
        return;
      }
    });
  }

  /** The number of the latest change (0 before the first). */
  async latest(): Promise<number> {
    return this.#store.call(async () => {
      const seq = await this.#hint();
      return (await this.#after(seq, Number.POSITIVE_INFINITY)).at(-1)?.seq ?? seq;
    });
  }

  /** Up to `limit` changes after `seq`, oldest first. */
  async since(seq: number, limit = 500): Promise<Change[]> {
    return this.#store.call(() => this.#after(seq, limit));
  }

  /**
   * The changes logged after `seq`, up to the first number not (yet) logged or `limit`: first one
   * lookup (a poll nearly always finds nothing), then {@link LOOKUPS_AT_ONCE} at a time.
   */
  async #after(seq: number, limit: number): Promise<Change[]> {
    const changes: Change[] = [];
    for (let lookups = 1; changes.length < limit; lookups = LOOKUPS_AT_ONCE) {
      const from = changes.at(-1)?.seq ?? seq;
      const found = await Promise.all(
        Array.from({ length: lookups }, (_, i) =>
          this.#log().findOne({ _id: from + 1 + i }, { projection: { _id: 0 } }),
        ),
      );
      const end = found.indexOf(null);
      changes.push(...((end === -1 ? found : found.slice(0, end)) as Change[]));
      if (end !== -1) break;
    }
    return changes.slice(0, limit);
  }

  async #hint(): Promise<number> {
    return (await this.#counters().findOne({ _id: "changes" }))?.seq ?? 0;
  }
}
