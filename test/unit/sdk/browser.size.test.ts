import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bundleTracker } from "../../../scripts/lib/tracker-bundle.ts";

describe("the browser tracker bundle", () => {
  it("is a self-contained ES module of at most 5 KB gzipped", async () => {
    const bundle = await bundleTracker();
    expect(bundle).toMatch(/export\s*\{/);
    expect(bundle).not.toMatch(/\bimport\b/); // nothing left to fetch: core is imported for types only
    expect(gzipSync(bundle, { level: 9 }).length).toBeLessThanOrEqual(5 * 1024);
  });
});
