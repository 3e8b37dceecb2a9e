import { describe, expect, it } from "vitest";
import type { TrackingConfig } from "../../../src/core/index.ts";
import { CachedConfigSource } from "../../../src/relay/config-source.ts";

const config = (version: number) =>
  ({ tenant_id: "mymx", scenario_id: "vlog_feed", version }) as TrackingConfig;

describe("the relay's config cache", () => {
  it("answers from memory once a config is known, refreshing behind it, and keeps it while the store is down", async () => {
    let version = 1;
    let down = false;
    let loads = 0;
    let release: () => void = () => {};
    const errors: unknown[] = [];
    const source = new CachedConfigSource(
      async () => {
        loads++;
        if (down) {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          throw new Error("server selection timed out");
        }
        return config(version);
      },
      20,
      (e) => errors.push(e),
    );
    expect((await source.get("mymx", "vlog_feed"))?.version).toBe(1);
    version = 2;
    down = true;
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Expired, and the store hangs: answered at once with the last known config, by one refresh.
    const answers = await Promise.all([source.get("mymx", "vlog_feed"), source.get("mymx", "vlog_feed")]);
    expect(answers.map((c) => c?.version)).toEqual([1, 1]);
    expect(loads).toBe(2);
    release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(errors).toHaveLength(1);
    down = false;
    await new Promise((resolve) => setTimeout(resolve, 30));
    await source.get("mymx", "vlog_feed"); // triggers the refresh
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await source.get("mymx", "vlog_feed"))?.version).toBe(2);
  });
});
