import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bundleTracker, bundleTrackerScript } from "../../../scripts/lib/tracker-bundle.ts";

describe("the browser tracker bundle", () => {
  it("is a self-contained ES module of at most 5 KB gzipped", async () => {
    const bundle = await bundleTracker();
    expect(bundle).toMatch(/export\s*\{/);
    expect(bundle).not.toMatch(/\bimport\b/); // nothing left to fetch: what it needs of core (types, the error table) is bundled in
    expect(gzipSync(bundle, { level: 9 }).length).toBeLessThanOrEqual(5 * 1024);
  });

  it("ships as one script-tag file of at most 5 KB gzipped that defines window.BehaviorIngest", async () => {
    const script = await bundleTrackerScript();
    expect(gzipSync(script, { level: 9 }).length).toBeLessThanOrEqual(5 * 1024);
    // A classic script's top-level `var` becomes a property of the global object: the context here.
    const context: Record<string, unknown> = {};
    runInNewContext(script, context);
    expect(typeof (context.BehaviorIngest as { createTracker?: unknown })?.createTracker).toBe("function");
  });
});
