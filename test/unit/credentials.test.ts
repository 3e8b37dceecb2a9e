import { describe, expect, it } from "vitest";
import { bearerToken, claimedTenantId } from "../../src/core/index.ts";

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
});
