import { describe, expect, it } from "vitest";
import { parseTenantLimits, RateLimiter } from "../../src/core/index.ts";

const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};
const one = (tenant: string, n: number) => new Map([[tenant, n]]);
const take = (limiter: RateLimiter, key: string, byTenant: Map<string, number>) =>
  limiter.take(
    key,
    [...byTenant.values()].reduce((a, b) => a + b, 0),
    byTenant,
  );

describe("rate limits", () => {
  it("let a key send its rate per second, refuse more with the seconds to wait, and refill", () => {
    const time = clock();
    const limiter = new RateLimiter({ perKey: 100, perTenant: 1000, tenantOverrides: {} }, time.now);
    expect(take(limiter, "k1", one("mymx", 100))).toBe(0);
    expect(take(limiter, "k1", one("mymx", 1))).toBe(1);
    expect(take(limiter, "k2", one("mymx", 100))).toBe(0); // another key has its own bucket
    time.advance(500);
    expect(take(limiter, "k1", one("mymx", 50))).toBe(0);
    expect(take(limiter, "k1", one("mymx", 1))).toBe(1);
  });

  it("share a tenant's limit between its keys, with per-tenant overrides", () => {
    const time = clock();
    const limiter = new RateLimiter(
      { perKey: 1000, perTenant: 1000, tenantOverrides: { small: 150 } },
      time.now,
    );
    expect(take(limiter, "a", one("small", 100))).toBe(0);
    expect(take(limiter, "b", one("small", 100))).toBe(1);
    expect(take(limiter, "b", one("big", 100))).toBe(0);
  });

  it("take all of a request or none of it", () => {
    const time = clock();
    const limiter = new RateLimiter({ perKey: 1000, perTenant: 100, tenantOverrides: {} }, time.now);
    const mixed = new Map([
      ["t1", 50],
      ["t2", 101],
    ]);
    expect(take(limiter, "k", mixed)).toBeGreaterThan(0);
    expect(take(limiter, "k", one("t1", 100))).toBe(0); // t1's tokens were not spent by the refused request
  });

  it("keep memory bounded by forgetting the least recently used buckets", () => {
    const time = clock();
    const limiter = new RateLimiter({ perKey: 100, perTenant: 100_000, tenantOverrides: {} }, time.now, 10);
    expect(take(limiter, "hot", one("t", 100))).toBe(0);
    for (let i = 0; i < 100; i++) take(limiter, `k${i}`, one("t", 1));
    // "hot" was evicted and comes back full: the limiter errs towards letting events in.
    expect(take(limiter, "hot", one("t", 100))).toBe(0);
  });

  it("hold each tenant to its limit with tens of thousands of tenants sending in turn", () => {
    const limiter = new RateLimiter({ perKey: 1_000_000, perTenant: 1, tenantOverrides: {} }, clock().now);
    const tenants = Array.from({ length: 50_000 }, (_, i) => `t${i}`);
    for (const tenant of tenants) expect(take(limiter, "k", one(tenant, 1))).toBe(0);
    // Each tenant's one event a second is spent: its second is refused, the first tenant's too.
    expect(take(limiter, "k", one("t0", 1))).toBe(1);
    expect(take(limiter, "k", one("t49999", 1))).toBe(1);
  });

  it("count every event of a request against the key, also those of no valid tenant", () => {
    const limiter = new RateLimiter({ perKey: 100, perTenant: 1000, tenantOverrides: {} }, clock().now);
    expect(limiter.take("k", 100, new Map())).toBe(0); // 100 events with forged tenant ids
    expect(limiter.take("k", 1, one("mymx", 1))).toBe(1);
  });

  it("charge events a key may not write to its address at one key's rate, across keys", () => {
    const limiter = new RateLimiter({ perKey: 100, perTenant: 1000, tenantOverrides: {} }, clock().now);
    const forged = (key: string, n: number) =>
      limiter.take(key, n, new Map(), { address: "203.0.113.7", events: n });
    expect(forged("k1", 60)).toBe(0);
    expect(forged("k2", 60)).toBe(1); // k2 has room; the address has 40 left
    expect(limiter.take("k2", 60, one("mymx", 60), { address: "203.0.113.7", events: 0 })).toBe(0);
    expect(limiter.take("k3", 40, new Map(), { address: "198.51.100.1", events: 40 })).toBe(0);
  });

  it("read overrides as tenant=rate and reject anything else", () => {
    expect(parseTenantLimits("mymx=50000, acme=200")).toEqual({ mymx: 50000, acme: 200 });
    expect(parseTenantLimits("")).toEqual({});
    expect(() => parseTenantLimits("mymx")).toThrow(/tenant_id=events_per_second/);
    expect(() => parseTenantLimits("mymx=-1")).toThrow();
  });
});
