import { describe, expect, it } from "vitest";
import type { TrackingConfig } from "../../../src/core/index.ts";
import { CachedConfigSource } from "../../../src/relay/config-source.ts";

const config = (version: number) =>
  ({ tenant_id: "mymx", scenario_id: "vlog_feed", version }) as TrackingConfig;

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("the relay's config cache", () => {
  it("answers from memory once a config is known, refreshing behind it, and keeps it while the store is down", async () => {
    let version = 1;
    let down = false;
    let loads = 0;
    let release: () => void = () => {};
    const errors: unknown[] = [];
    let now = 0; // a clock the test moves

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
      () => now,
    );
    expect((await source.get("mymx", "vlog_feed"))?.version).toBe(1);
    version = 2;
    down = true;
    now += 30;
    // Expired, and the store hangs: answered at once with the last known config, by one refresh.
    const answers = await Promise.all([source.get("mymx", "vlog_feed"), source.get("mymx", "vlog_feed")]);
    expect(answers.map((c) => c?.version)).toEqual([1, 1]);
    expect(loads).toBe(2);
    release();
    await settle();
    expect(errors).toHaveLength(1);
    down = false;
    // Still fresh: the failed refresh kept the config for another TTL, so nothing is loaded.
    now += 10;
    await source.get("mymx", "vlog_feed");
    await settle();
    expect(loads).toBe(2);
    now += 30;
    await source.get("mymx", "vlog_feed"); // expired: triggers the refresh
    await settle();
    expect((await source.get("mymx", "vlog_feed"))?.version).toBe(2);
  });
});
