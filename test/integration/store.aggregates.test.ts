// The store's two shared counters against the real MongoDB-wire server: the change log's numbers when
// many writers log at once, and the quality aggregates when one flush updates hundreds of documents.
import { afterAll, describe, expect, inject, it } from "vitest";
import { emptyCounts, hourOf } from "../../src/core/index.ts";
import { ChangeLog } from "../../src/relay/store/changes.ts";
import { MongoConnection } from "../../src/relay/store/mongo.ts";
import { QualityRepository } from "../../src/relay/store/quality.ts";
import { uniqueName } from "../support/random.ts";

const store = new MongoConnection({
  uri: inject("mongodbUri"),
  database: uniqueName("store"),
  poolSize: 10,
  deadlineMs: 10_000,
  socketTimeoutMs: 60_000,
});
afterAll(async () => {
  await store.db().dropDatabase();
  await store.close();
});

describe("the change log", () => {
  it("gives 40 changes logged at once 40 numbers, and a follower reads every one, in order", async () => {
    const log = new ChangeLog(store);
    const tenants = Array.from({ length: 40 }, (_, i) => `tenant_${i}`);
    await Promise.all(
      tenants.map((tenant_id) =>
        log.record({ tenant_id, kind: "keys", scenario_id: null, version: null, at: Date.now() }),
      ),
    );
    const changes = await log.since(0);
    expect(changes.map((change) => change.seq)).toEqual(tenants.map((_, i) => i + 1));
    expect(new Set(changes.map((change) => change.tenant_id))).toEqual(new Set(tenants));
    expect(await log.latest()).toBe(40);
    expect(await log.since(40)).toEqual([]);
    expect((await log.since(10, 5)).map((change) => change.seq)).toEqual([11, 12, 13, 14, 15]);
  });
});

describe("the quality aggregates", () => {
  it("adds a flush that updates 300 stored documents at once to each of them", async () => {
    const repository = new QualityRepository(store);
    const hour = hourOf(Date.now());
    const cells = Array.from({ length: 300 }, (_, i) => {
      const counts = emptyCounts();
      counts.received = 3;
      counts.accepted = 2;
      counts.refused = 1;
      counts.reasons = { invalid_event: 1 };
      return {
        tenantId: `tenant_${i}`,
        hour,
        source: "relay" as const,
        // Scenario ids are the client's: a dot or a dollar must not become a path or an operator.
        scenario: i % 2 === 0 ? "vlog.feed" : "$feed~1",
        producer: "",
        validated: true,
        counts,
      };
    });
    await repository.add(cells, []);
    // The second flush updates every document the first one made.
    await repository.add(cells, []);
    for (const i of [0, 1, 299]) {
      const { cells: stored } = await repository.read(`tenant_${i}`, hour - 3_600_000, hour);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        scenario: i % 2 === 0 ? "vlog.feed" : "$feed~1",
        source: "relay",
        validated: true,
        counts: { received: 6, accepted: 4, refused: 2, reasons: { invalid_event: 2 } },
      });
    }
  });
});
