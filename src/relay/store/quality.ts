import type { Collection } from "mongodb";
import {
  ANSWER_BOUNDS_MS,
  emptyCounts,
  type IssueCell,
  type QualityCell,
  type QualityCounts,
  type QualitySource,
} from "../../core/index.ts";
import { BULK_DEADLINE_MS, type Store } from "./mongo.ts";

/** How long hourly aggregates are kept: the longest window and a day to spare. */
export const QUALITY_RETENTION_MS = 8 * 24 * 3_600_000;

interface CellDoc {
  _id: string;
  tenant_id: string;
  hour: number;
  source: QualitySource;
  scenario: string;
  producer: string;
  validated: boolean;
  received?: number;
  accepted?: number;
  warned?: number;
  refused?: number;
  failed?: number;
  spooled?: number;
  /** By error code. */
  reasons?: Record<string, number>;
  /** By answer-time bucket, `b0`… (objects, not arrays: `$inc` of a path works in every MongoDB-wire server). */
  answers?: Record<string, number>;
}

interface IssueDoc extends Omit<IssueCell, "hour" | "example"> {
  _id: string;
  tenant_id: string;
  hour: number;
  /**
   * The example event as JSON text: its keys are the client's, and one like `$where` or `a.b` would make
   * some MongoDB-wire servers refuse the whole write (and every later flush with it).
   */
  example: { event_id: string | null; event_json: string };
}

/**
 * A tenant's data-quality aggregates in MongoDB: one document per (hour, source, scenario, producer)
 * and one per (hour, source, field problem). Relays add their counts with `$inc` upserts, so a fleet
 * shares one set of figures and a restart loses at most the counts not yet flushed. Each problem keeps
 * the first example event stored in its hour.
 */
export class QualityRepository {
  readonly #store: Store;
  readonly #cells: () => Collection<CellDoc>;
  readonly #issues: () => Collection<IssueDoc>;

  constructor(store: Store) {
    this.#store = store;
    this.#cells = () => store.db().collection("quality_hours");
    this.#issues = () => store.db().collection("quality_fields");
  }

  async ensureIndexes(): Promise<void> {
    return this.#store.call(async () => {
      await this.#cells().createIndex({ tenant_id: 1, hour: 1 }, { name: "tenant_hour" });
      await this.#issues().createIndex({ tenant_id: 1, hour: 1 }, { name: "tenant_hour" });
    });
  }

  /** Adds counts (and field tallies) to the stored ones. */
  async add(
    cells: readonly (QualityCell & { tenantId: string })[],
    issues: readonly (IssueCell & { tenantId: string })[],
  ): Promise<void> {
    return this.#store.call(async () => {
      if (cells.length > 0) {
        await this.#cells().bulkWrite(
          cells.map(({ tenantId, hour, source, scenario, producer, validated, counts }) => {
            // received always, so that no $inc is empty (MongoDB refuses that).
            const inc: Record<string, number> = { received: counts.received };
            for (const key of ["accepted", "warned", "refused", "failed", "spooled"] as const) {
              if (counts[key] > 0) inc[key] = counts[key];
            }
            for (const [code, n] of Object.entries(counts.reasons)) inc[`reasons.${code}`] = n;
            counts.answers.forEach((n, i) => {
              if (n > 0) inc[`answers.b${i}`] = n;
            });
            return {
              updateOne: {
                filter: {
                  _id: [tenantId, hour, source, scenario, validated ? 1 : 0, producer].join("|"),
                },
                update: {
                  $setOnInsert: { tenant_id: tenantId, hour, source, scenario, producer, validated },
                  $inc: inc,
                },
                upsert: true,
              },
            };
          }),
          { ordered: false },
        );
      }
      if (issues.length > 0) {
        await this.#issues().bulkWrite(
          issues.map(({ tenantId, hour, source, path, code, severity, count, example }) => ({
            updateOne: {
              filter: { _id: [tenantId, hour, source, severity, code, path].join("|") },
              update: {
                $setOnInsert: {
                  tenant_id: tenantId,
                  hour,
                  source,
                  path,
                  code,
                  severity,
                  example: {
                    event_id: example.event_id,
                    event_json: JSON.stringify(example.event) ?? "null",
                  },
                },
                $inc: { count },
              },
              upsert: true,
            },
          })),
          { ordered: false },
        );
      }
    }, BULK_DEADLINE_MS);
  }

  /** A tenant's cells and field tallies from `fromHour` on. */
  async read(tenantId: string, fromHour: number): Promise<{ cells: QualityCell[]; issues: IssueCell[] }> {
    return this.#store.call(async () => {
      const filter = { tenant_id: tenantId, hour: { $gte: fromHour } };
      const [cells, issues] = await Promise.all([
        this.#cells().find(filter).toArray(),
        this.#issues().find(filter).toArray(),
      ]);
      return {
        cells: cells.map((doc) => ({
          hour: doc.hour,
          source: doc.source,
          scenario: doc.scenario,
          producer: doc.producer,
          validated: doc.validated,
          counts: countsOf(doc),
        })),
        issues: issues.map(({ hour, source, path, code, severity, count, example }) => ({
          hour,
          source,
          path,
          code,
          severity,
          count,
          example: { event_id: example.event_id, event: JSON.parse(example.event_json) },
        })),
      };
    });
  }

  /** Removes aggregates older than {@link QUALITY_RETENTION_MS}. */
  async prune(now: number): Promise<void> {
    return this.#store.call(async () => {
      const old = { hour: { $lt: now - QUALITY_RETENTION_MS } };
      await Promise.all([this.#cells().deleteMany(old), this.#issues().deleteMany(old)]);
    });
  }
}

const countsOf = (doc: CellDoc): QualityCounts => {
  const counts = emptyCounts();
  counts.received = doc.received ?? 0;
  counts.accepted = doc.accepted ?? 0;
  counts.warned = doc.warned ?? 0;
  counts.refused = doc.refused ?? 0;
  counts.failed = doc.failed ?? 0;
  counts.spooled = doc.spooled ?? 0;
  counts.reasons = { ...doc.reasons };
  counts.answers = [...ANSWER_BOUNDS_MS, Number.POSITIVE_INFINITY].map((_, i) => doc.answers?.[`b${i}`] ?? 0);
  return counts;
};
