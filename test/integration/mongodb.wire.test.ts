import { MongoClient, MongoServerError } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueName } from "../support/random.ts";

interface ConfigDoc {
  tenant_id: string;
  scenario_id: string;
  name: string;
  version: number;
}

describe("MongoDB-wire server", () => {
  const client = new MongoClient(inject("mongodbUri"), { serverSelectionTimeoutMS: 10_000 });
  const db = client.db(uniqueName("it"));
  const configs = db.collection<ConfigDoc>("tracking_configs");

  beforeAll(async () => {
    await client.connect();
  });

  afterAll(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });

  it("creates a collection with a unique compound index, inserts, finds and updates", async () => {
    await db.createCollection("tracking_configs");
    await configs.createIndex({ tenant_id: 1, scenario_id: 1 }, { unique: true, name: "tenant_scenario" });
    const indexes = await configs.indexes();
    expect(indexes.find((i) => i.name === "tenant_scenario")).toMatchObject({ unique: true });

    await configs.insertOne({ tenant_id: "mymx", scenario_id: "vlog_feed", name: "短视频", version: 1 });
    expect(await configs.findOne({ tenant_id: "mymx", scenario_id: "vlog_feed" })).toMatchObject({
      name: "短视频",
      version: 1,
    });

    // Optimistic concurrency as the config store will use it: update only the version we read.
    const first = await configs.updateOne(
      { tenant_id: "mymx", scenario_id: "vlog_feed", version: 1 },
      { $set: { name: "Vlog" }, $inc: { version: 1 } },
    );
    const stale = await configs.updateOne(
      { tenant_id: "mymx", scenario_id: "vlog_feed", version: 1 },
      { $set: { name: "lost" }, $inc: { version: 1 } },
    );
    expect([first.modifiedCount, stale.modifiedCount]).toEqual([1, 0]);
    expect(await configs.findOne({ tenant_id: "mymx" }, { projection: { _id: 0 } })).toEqual({
      tenant_id: "mymx",
      scenario_id: "vlog_feed",
      name: "Vlog",
      version: 2,
    });
  });

  it("refuses a second document with the same (tenant_id, scenario_id)", async () => {
    const duplicate = configs.insertOne({
      tenant_id: "mymx",
      scenario_id: "vlog_feed",
      name: "again",
      version: 1,
    });
    await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
    await expect(duplicate).rejects.toMatchObject({ code: 11000 });
    expect(await configs.countDocuments({ tenant_id: "mymx" })).toBe(1);
  });
});
