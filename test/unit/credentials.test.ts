import { describe, expect, it } from "vitest";
import { authorizeEvents, bearerToken, claimedTenantId, isAuthorizedEvent } from "../../src/core/index.ts";

describe("credentials", () => {
  it.each([
    ["Bearer sk_abc", "sk_abc"],
    ["bearer  sk_abc ", "sk_abc"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [null, undefined],
  ])("reads the bearer token of %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    [{ tenant_id: "mymx" }, "mymx"],
    [{ tenant_id: 7 }, undefined],
    [[{ tenant_id: "mymx" }], undefined],
    [null, undefined],
    ["mymx", undefined],
  ])("reads the tenant %j claims", (input, tenant) => {
    expect(claimedTenantId(input)).toBe(tenant);
  });

  it("authorizes a request's events before anything is charged: whom each may be charged to", () => {
    const events = [
      { tenant_id: "mymx" },
      { tenant_id: "mymx" },
      { tenant_id: "acme" }, // not the key's: charged to the caller alone
      { tenant_id: "Not A Tenant!" }, // not the key's either
      { no: "tenant" }, // names nobody: fails validation, costs the caller
    ];
    expect(authorizeEvents(events, "mymx")).toEqual({ byTenant: new Map([["mymx", 2]]), forbidden: 2 });
    // A service key may write any tenant; an invalid tenant id is charged to no tenant.
    expect(authorizeEvents(events, null)).toEqual({
      byTenant: new Map([
        ["mymx", 2],
        ["acme", 1],
      ]),
      forbidden: 0,
    });
    expect(events.map((e) => isAuthorizedEvent(e, "mymx"))).toEqual([true, true, false, false, true]);
  });
});
