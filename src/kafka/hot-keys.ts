/**
 * Finds hot keys: one user sending more than `perSecond` events to one topic. Kafka puts all of a key's
 * records on one partition, so a flooding user (a bot, a runaway client) makes that partition — and the
 * tenant's consumers of it — the bottleneck. The excess is written without the key, spread over the
 * topic's partitions and marked (header `hot_key`): the one place where per-user order is traded for
 * availability. A token bucket per (topic, key), a second's worth of burst, the least recently used
 * dropped beyond `maxKeys` (a dropped bucket comes back full: it only ever errs towards keeping order).
 */
export class HotKeys {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perSecond: number;
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(perSecond: number, now: () => number = Date.now, maxKeys = 100_000) {
    this.#perSecond = perSecond;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Whether this record of `key` in `topic` is over the key's rate (0 = no limit). */
  over(topic: string, key: string): boolean {
    if (this.#perSecond <= 0 || key === "") return false;
    const id = `${topic}\u0000${key}`;
    const now = this.#now();
    const bucket = this.#buckets.get(id) ?? { tokens: this.#perSecond, at: now };
    this.#buckets.delete(id);
    bucket.tokens = Math.min(this.#perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    bucket.at = now;
    const hot = bucket.tokens < 1;
    if (!hot) bucket.tokens -= 1;
    this.#buckets.set(id, bucket);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
    return hot;
  }
}
