import type { AnyBulkWriteOperation, Collection, Document } from "mongodb";
import {
  ANSWER_BOUNDS_MS,
  emptyCounts,
  type IssueCell,
  type QualityCell,
  type QualityCounts,
  type QualitySource,
} from "../../core/index.ts";
import { BULK_DEADLINE_MS, type Store } from "./mongo.ts";

/**
 * The most upserts sent in one update command. FerretDB v1 keeps each statement's cursor (and the SQLite
 * connection under it) open until the whole command ends, with 100 connections in its pool: a command
 * that updates more than about 100 existing documents waits for a connection forever (seen: a 1,000-cell
 * flush hung with the server idle). Real MongoDB needs no such limit; smaller commands cost it little.
 */
const UPSERTS_PER_COMMAND = 50;

/** How long hourly aggregates are kept: the longest window and a day to spare. */
export const QUALITY_RETENTION_MS = 8 * 24 * 3_600_000;

/** One cell's counts, as stored (absent counts are 0). */
interface StoredCounts {
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

/** A tenant's counts of one hour: every (source, scenario, producer) cell, under {@link cellKey}. */
interface HourDoc {
  _id: string;
  tenant_id: string;
  hour: number;
  cells?: Record<string, StoredCounts>;
}

/** A tenant's field problems of one hour, under {@link issueKey}. */
interface FieldsDoc {
  _id: string;
  tenant_id: string;
  hour: number;
  issues?: Record<
    string,
    {
      count: number;
      /**
       * An example event as JSON text: its keys are the client's, and one like `$where` or `a.b` would make
       * some MongoDB-wire servers refuse the whole write (and every later flush with it).
       */
      example?: { event_id: string | null; event_json: string };
    }
  >;
}

/**
 * A name part safe as a field name: the client's scenario ids and field paths may hold `.` or `$`, which
 * MongoDB reads as a path or an operator; `~` separates the parts.
 */
const encodePart = (part: string) =>
  encodeURIComponent(part).replace(/[.~]/g, (c) => (c === "." ? "%2E" : "%7E"));
const decodeParts = (key: string) => key.split("~").map(decodeURIComponent);

const cellKey = ({ source, validated, scenario, producer }: Omit<QualityCell, "hour" | "counts">) =>
  [source, validated ? "1" : "0", encodePart(scenario), encodePart(producer)].join("~");
const issueKey = ({ source, severity, code, path }: Omit<IssueCell, "hour" | "count" | "example">) =>
  [source, severity, encodePart(code), encodePart(path)].join("~");
const hourId = (tenantId: string, hour: number) => `${tenantId}|${hour}`;

/** Groups `items` by tenant and hour: one document, and one upsert, each. */
const byTenantHour = <T extends { tenantId: string; hour: number }>(items: readonly T[]) => {
  const groups = new Map<string, { tenantId: string; hour: number; items: T[] }>();
  for (const item of items) {
    const id = hourId(item.tenantId, item.hour);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, { tenantId: item.tenantId, hour: item.hour, items: [item] });
    else group.items.push(item);
  }
  return groups;
};

/**
 * A tenant's data-quality aggregates in MongoDB: one document per tenant and hour holding every cell's
 * counts, and one holding its field problems. Relays add their counts with `$inc` upserts, so a fleet
 * shares one set of figures and a restart loses at most the counts not yet flushed. Every write and read
 * goes by `_id`, the one lookup every MongoDB-wire server answers from an index (FerretDB answers any
 * other filter by reading the whole collection: a report would read every tenant's hours).
 */
export class QualityRepository {
  readonly #store: Store;
  readonly #hours: () => Collection<HourDoc>;
  readonly #fields: () => Collection<FieldsDoc>;

  constructor(store: Store) {
    this.#store = store;
    this.#hours = () => store.db().collection("quality_tenant_hours");
    this.#fields = () => store.db().collection("quality_tenant_fields");
  }

  async ensureIndexes(): Promise<void> {
    return this.#store.call(async () => {
      await this.#hours().createIndex({ hour: 1 }, { name: "hour" });
      await this.#fields().createIndex({ hour: 1 }, { name: "hour" });
    });
  }

  /** Adds counts (and field tallies) to the stored ones: one upsert per tenant and hour. */
  async add(
    cells: readonly (QualityCell & { tenantId: string })[],
    issues: readonly (IssueCell & { tenantId: string })[],
  ): Promise<void> {
    const cellUpserts = [...byTenantHour(cells).values()].map(({ tenantId, hour, items }) => {
      const inc: Record<string, number> = {};
      for (const cell of items) {
        const { counts } = cell;
        const at = `cells.${cellKey(cell)}`;
        // received always, so that no $inc is empty (MongoDB refuses that).
        inc[`${at}.received`] = counts.received;
        for (const key of ["accepted", "warned", "refused", "failed", "spooled"] as const) {
          if (counts[key] > 0) inc[`${at}.${key}`] = counts[key];
        }
        for (const [code, n] of Object.entries(counts.reasons)) inc[`${at}.reasons.${code}`] = n;
        counts.answers.forEach((n, i) => {
          if (n > 0) inc[`${at}.answers.b${i}`] = n;
        });
      }
      return {
        updateOne: {
          filter: { _id: hourId(tenantId, hour) },
          update: { $setOnInsert: { tenant_id: tenantId, hour }, $inc: inc },
          upsert: true,
        },
      };
    });
    const issueUpserts = [...byTenantHour(issues).values()].map(({ tenantId, hour, items }) => {
      const inc: Record<string, number> = {};
      const set: Record<string, unknown> = {};
      for (const issue of items) {
        const at = `issues.${issueKey(issue)}`;
        inc[`${at}.count`] = issue.count;
        set[`${at}.example`] = {
          event_id: issue.example.event_id,
          event_json: JSON.stringify(issue.example.event) ?? "null",
        };
      }
      return {
        updateOne: {
          filter: { _id: hourId(tenantId, hour) },
          update: { $setOnInsert: { tenant_id: tenantId, hour }, $inc: inc, $set: set },
          upsert: true,
        },
      };
    });
    return this.#store.call(async () => {
      await bulkUpsert(this.#hours(), cellUpserts);
      await bulkUpsert(this.#fields(), issueUpserts);
    }, BULK_DEADLINE_MS);
  }

  /** A tenant's cells and field tallies of the hours from `fromHour` to `toHour`. */
  async read(
    tenantId: string,
    fromHour: number,
    toHour: number,
  ): Promise<{ cells: QualityCell[]; issues: IssueCell[] }> {
    const ids: string[] = [];
    for (let hour = fromHour; hour <= toHour; hour += 3_600_000) ids.push(hourId(tenantId, hour));
    return this.#store.call(async () => {
      // One lookup by `_id` per hour (FerretDB reads the whole collection for `$in`), a few at a time.
      const hours: HourDoc[] = [];
      const fields: FieldsDoc[] = [];
      for (let i = 0; i < ids.length; i += READS_AT_ONCE) {
        await Promise.all(
          ids.slice(i, i + READS_AT_ONCE).flatMap((_id) => [
            this.#hours()
              .findOne({ _id })
              .then((doc) => doc && hours.push(doc)),
            this.#fields()
              .findOne({ _id })
              .then((doc) => doc && fields.push(doc)),
          ]),
        );
      }
      return {
        cells: hours.flatMap((doc) =>
          Object.entries(doc.cells ?? {}).map(([key, stored]) => {
            const [source, validated, scenario, producer] = decodeParts(key);
            return {
              hour: doc.hour,
              source: source as QualitySource,
              scenario: scenario ?? "",
              producer: producer ?? "",
              validated: validated === "1",
              counts: countsOf(stored),
            };
          }),
        ),
        issues: fields.flatMap((doc) =>
          Object.entries(doc.issues ?? {}).map(([key, { count, example }]) => {
            const [source, severity, code, path] = decodeParts(key);
            return {
              hour: doc.hour,
              source: source as QualitySource,
              path: path ?? "",
              code: code ?? "",
              severity: severity as IssueCell["severity"],
              count,
              example: {
                event_id: example?.event_id ?? null,
                event: JSON.parse(example?.event_json ?? "null"),
              },
            };
          }),
        ),
      };
    }, REPORT_DEADLINE_MS);
  }

  /** Removes aggregates older than {@link QUALITY_RETENTION_MS}. */
  async prune(now: number): Promise<void> {
    return this.#store.call(async () => {
      const old = { hour: { $lt: now - QUALITY_RETENTION_MS } };
      await Promise.all([this.#hours().deleteMany(old), this.#fields().deleteMany(old)]);
    });
  }
}

/**
 * The deadline of a report's read: a week is 338 lookups (241 ms on a quiet machine, over the 800 ms of
 * one call when the machine is busy). Reports are not on the ingest path; a second or so is fine there.
 */
const REPORT_DEADLINE_MS = 5_000;

/** Hours read at once: the 169 of a week's report, with both documents each, in a few round trips. */
const READS_AT_ONCE = 8;

/** Sends `upserts` in commands of at most {@link UPSERTS_PER_COMMAND}, one after the other. */
const bulkUpsert = async <T extends Document>(
  collection: Collection<T>,
  upserts: AnyBulkWriteOperation<T>[],
) => {
  for (let i = 0; i < upserts.length; i += UPSERTS_PER_COMMAND)
    await collection.bulkWrite(upserts.slice(i, i + UPSERTS_PER_COMMAND), { ordered: false });
};

const countsOf = (doc: StoredCounts): QualityCounts => {
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
