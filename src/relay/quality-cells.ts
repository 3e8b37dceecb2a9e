import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { addCounts, emptyCounts, type IssueCell, type QualitySource } from "../core/index.ts";
import type { Cell } from "./quality-tally.ts";
import { mayHaveBeenApplied } from "./store/mongo.ts";
import type { QualityRepository } from "./store/quality.ts";

type IssueEntry = IssueCell & { tenantId: string };

/**
 * The quality counts not yet stored, merged by cell (tenant × hour × source × scenario × producer) and
 * by field tally, and their flushes to the hourly aggregates in MongoDB that the quality API reads.
 */
export class PendingQuality {
  readonly #store: Pick<QualityRepository, "add"> | undefined;
  readonly #log: Logger;
  readonly #maxCells: number;
  #cells = new Map<string, Cell>();
  #issues = new Map<string, IssueEntry>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** Cells and field tallies of the flush under way, taken from the maps and not yet written. */
  #sending = 0;
  readonly #flushFailures: Counter;
  readonly #unconfirmed: Counter;

  constructor(deps: {
    registry: Registry;
    store: Pick<QualityRepository, "add"> | undefined;
    log: Logger;
    /** The most cells (and field tallies) one flush writes: a flush holds the store only so long. */
    maxCellsPerFlush: number;
  }) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#maxCells = deps.maxCellsPerFlush;
    const registers = [deps.registry];
    const pending = this;
    new Gauge({
      name: "quality_pending_cells",
      help: "Quality cells and field tallies counted but not yet stored (they wait for a flush, merged)",
      registers,
      collect() {
        this.set(pending.size);
      },
    });
    this.#flushFailures = new Counter({
      name: "quality_flush_failures_total",
      help: "Flushes of quality counts the store did not take (the counts are kept for the next flush)",
      registers,
    });
    this.#unconfirmed = new Counter({
      name: "quality_events_unconfirmed_total",
      help:
        "Events counted in a flush that failed after it was sent: the store may or may not have added them, " +
        "and they are not sent again (that could count them twice)",
      registers,
    });
  }

  /** The cell of (tenant, hour, source, scenario, producer), made empty the first time. */
  cell(
    tenantId: string,
    hour: number,
    source: QualitySource,
    scenario: string,
    producer: string,
    validated: boolean,
  ): Cell {
    const key = [tenantId, hour, source, scenario, validated ? 1 : 0, producer].join("|");
    let cell = this.#cells.get(key);
    if (cell === undefined) {
      cell = { tenantId, hour, source, scenario, producer, validated, counts: emptyCounts() };
      this.#cells.set(key, cell);
    }
    return cell;
  }

  /** Adds a field tally to its hour's; its example is made only if the tally is new there. */
  addIssue(issue: Omit<IssueEntry, "example">, example: () => IssueCell["example"]): void {
    const { tenantId, hour, source, severity, code, path, count } = issue;
    const key = [tenantId, hour, source, severity, code, path].join("|");
    const seen = this.#issues.get(key);
    if (seen !== undefined) seen.count += count;
    else this.#issues.set(key, { ...issue, example: example() });
  }

  /**
   * Adds up to `maxCells` counted cells (and as many field tallies) to the stored aggregates; the rest
   * stay in memory, where later counts of the same cell add to them, for the next flush. Counts and
   * field tallies are written apart. A part that surely did not reach the store is kept for the next
   * flush; one that may have (its answer was lost) is not sent again, since re-adding a part already
   * written would count it twice: its events are counted in `quality_events_unconfirmed_total`. One
   * flush runs at a time: a flush that finds one under way returns.
   */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) return;
    this.#flushing = this.#flushSome().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  async #flushSome(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    const cells = takeSome(this.#cells, this.#maxCells);
    const issues = takeSome(this.#issues, this.#maxCells);
    this.#sending = cells.size + issues.size;
    /** Whether the failed part is to be kept for the next flush. */
    const failed = (error: unknown, events: number): boolean => {
      this.#flushFailures.inc();
      if (mayHaveBeenApplied(error)) {
        this.#unconfirmed.inc(events);
        this.#log.warn({ err: error, events }, "quality counts sent, but the store did not confirm them");
        return false;
      }
      this.#log.warn({ err: error }, "quality counts could not be stored; kept for the next flush");
      return true;
    };
    if (cells.size > 0) {
      await store.add([...cells.values()], []).catch((error: unknown) => {
        let events = 0;
        for (const cell of cells.values()) events += cell.counts.received;
        if (!failed(error, events)) return;
        for (const [key, cell] of cells) {
          const now = this.#cells.get(key);
          if (now === undefined) this.#cells.set(key, cell);
          else addCounts(now.counts, cell.counts);
        }
      });
      this.#sending -= cells.size;
    }
    if (issues.size > 0) {
      await store.add([], [...issues.values()]).catch((error: unknown) => {
        if (!failed(error, 0)) return;
        for (const [key, issue] of issues) {
          const now = this.#issues.get(key);
          if (now === undefined) this.#issues.set(key, issue);
          else now.count += issue.count;
        }
      });
      this.#sending -= issues.size;
    }
  }

  /** Flushes every `intervalMs` until {@link close}. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** Stops flushing on a timer and writes what is left (all of it, a part at a time). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    for (let pending = this.size; pending > 0; ) {
      await this.flush();
      // A flush that stored nothing (the store is down) would be tried forever: what is left is lost.
      if (this.size >= pending) break;
      pending = this.size;
    }
  }

  /** Cells and field tallies counted and not yet stored (those of a flush under way too). */
  get size(): number {
    return this.#cells.size + this.#issues.size + this.#sending;
  }
}

/** Removes and returns the first `max` entries of `map`. */
const takeSome = <T>(map: Map<string, T>, max: number): Map<string, T> => {
  const taken = new Map<string, T>();
  for (const [key, value] of map) {
    if (taken.size >= max) break;
    taken.set(key, value);
  }
  for (const key of taken.keys()) map.delete(key);
  return taken;
};
