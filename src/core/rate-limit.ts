/** Events per second a key, and a tenant, may send; per-tenant overrides of the tenant default. */
export interface RateLimits {
  perKey: number;
  perTenant: number;
  tenantOverrides: Readonly<Record<string, number>>;
}

/** Parses `mymx=5000,acme=200` (the form env settings take) into per-tenant overrides. */
export const parseTenantLimits = (text: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [tenant, rate] = entry.split("=");
    const value = Number(rate);
    if (!tenant || !Number.isFinite(value) || value <= 0) {
      throw new Error(`rate limit override "${entry}" must look like tenant_id=events_per_second`);
    }
    out[tenant] = value;
  }
  return out;
};

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets, one per key and one per tenant, refilled at the limit per second and holding one
 * second's worth (the burst). A request takes all its events or none, so a batch is never half
 * accepted for being too fast. Memory is bounded: the least recently used buckets are dropped (a
 * dropped bucket comes back full, which only ever errs on the side of letting events in).
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  private readonly limits: RateLimits;
  private readonly now: () => number;
  private readonly maxBuckets: number;

  /**
   * `maxBuckets` bounds memory (a bucket is about 150 bytes). It must exceed the active tenants and keys:
   * 10,000 tenants sending in turn through a bound of 10,000 evicted each bucket before its next use, so
   * every request found a full bucket and no tenant's limit held.
   */
  constructor(limits: RateLimits, now: () => number, maxBuckets = 200_000) {
    this.limits = limits;
    this.now = now;
    this.maxBuckets = maxBuckets;
  }

  /**
   * Takes `events` tokens from the key's bucket (every event of the request, valid, invalid or not the
   * key's to write; no key bucket for `undefined`), each authorized tenant's share from that tenant's
   * bucket, and `refused.events` (the events the key was not allowed to write) from the bucket of
   * `refused.address`, or none of them. The address bucket holds the per-key rate: an address that
   * forges with many keys is held to one key's pace. Returns 0 when admitted, else the seconds after
   * which the same request would be.
   */
  take(
    keyId: string | undefined,
    events: number,
    eventsByTenant: ReadonlyMap<string, number>,
    refused?: { address: string; events: number },
  ): number {
    const wanted: [string, number, number][] =
      keyId === undefined ? [] : [[`k:${keyId}`, this.limits.perKey, events]];
    for (const [tenant, count] of eventsByTenant) {
      wanted.push([`t:${tenant}`, this.limits.tenantOverrides[tenant] ?? this.limits.perTenant, count]);
    }
    if (refused !== undefined && refused.events > 0)
      wanted.push([`a:${refused.address}`, this.limits.perKey, refused.events]);
    const now = this.now();
    let wait = 0;
    const buckets = wanted.map(([id, rate, count]) => {
      const bucket = this.#refill(id, rate, now);
      // A request bigger than the burst can never pass: it waits as if the bucket could hold it.
      if (bucket.tokens < count) wait = Math.max(wait, (count - bucket.tokens) / rate);
      return [bucket, count] as const;
    });
    if (wait > 0) return Math.max(1, Math.ceil(wait));
    for (const [bucket, count] of buckets) bucket.tokens -= count;
    return 0;
  }

  #refill(id: string, rate: number, now: number): Bucket {
    let bucket = this.#buckets.get(id);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxBuckets) {
        this.#buckets.delete(this.#buckets.keys().next().value as string);
      }
      bucket = { tokens: rate, at: now };
    } else {
      this.#buckets.delete(id); // re-inserted below: Map order is least recently used first
      bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
      bucket.at = now;
    }
    this.#buckets.set(id, bucket);
    return bucket;
  }
}
