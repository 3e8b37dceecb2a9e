import { appendFile, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SinkUnavailableError } from "../../../src/kafka/records.ts";
import { fileSpoolStore, Spool, SpoolBudget } from "../../../src/kafka/spool.ts";

const record = (i: number) => ({
  topic: "user-behaviors-t",
  key: `u${i % 3}`,
  value: JSON.stringify({ i, text: "上海" }),
  eventId: `evt_${i}`,
});

describe("spool", () => {
  it("keeps appended records across a reopen, in order, and forgets a removed segment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "spool-"));
    const spool = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    await Promise.all([spool.append([record(0), record(1)]), spool.append([record(2)])]);
    await spool.append([record(3)]);
    expect(spool.events).toBe(4);
    await spool.close();

    const reopened = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    expect(reopened.events).toBe(4);
    const oldest = await reopened.oldest();
    expect(oldest?.records).toEqual([0, 1, 2, 3].map(record));
    await reopened.remove(oldest?.seq ?? -1, 4);
    expect(reopened.isEmpty).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it("skips a torn last line, which was never acknowledged", async () => {
    const dir = await mkdtemp(join(tmpdir(), "spool-"));
    const spool = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    await spool.append([record(0)]);
    await spool.close();
    const [segment] = await readdir(dir);
    await appendFile(join(dir, segment as string), '{"t":"user-behaviors-t","k":"u1","v":"{\\"i\\":');
    const reopened = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    expect((await reopened.oldest())?.records).toEqual([record(0)]);
  });

  it("refuses appends beyond its size limit instead of dropping them", async () => {
    const spool = await Spool.open(await mkdtemp(join(tmpdir(), "spool-")), new SpoolBudget(2048));
    await spool.append([record(0)]);
    const big = { ...record(1), value: "x".repeat(4096) };
    await expect(spool.append([big])).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(spool.events).toBe(1);
  });

  it("starts a new segment for appends made while the oldest is being replayed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "spool-"));
    const spool = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    await spool.append([record(0)]);
    const first = await spool.oldest();
    await spool.append([record(1)]);
    await spool.remove(first?.seq ?? -1, 1);
    expect((await spool.oldest())?.records).toEqual([record(1)]);
  });

  it("shares one budget between the spools of a process", async () => {
    const dir = await mkdtemp(join(tmpdir(), "spool-"));
    const budget = new SpoolBudget(4096);
    const a = await Spool.open(join(dir, "a"), budget);
    const b = await Spool.open(join(dir, "b"), budget);
    await a.append([{ ...record(0), value: "x".repeat(3000) }]);
    await expect(b.append([{ ...record(1), value: "x".repeat(3000) }])).rejects.toBeInstanceOf(
      SinkUnavailableError,
    );
    const oldest = await a.oldest();
    await a.remove(oldest?.seq ?? -1, 1);
    await b.append([{ ...record(1), value: "x".repeat(3000) }]);
    expect(budget.used).toBeGreaterThan(3000);
  });

  it("splits a spool of the single-directory layout into one spool per topic, in order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "spool-"));
    const legacy = await Spool.open(dir, new SpoolBudget(1024 * 1024));
    const mixed = [0, 1, 2, 3].map((i) => ({ ...record(i), topic: `user-behaviors-t${i % 2}` }));
    await legacy.append(mixed);
    await legacy.close();
    const store = fileSpoolStore(dir, new SpoolBudget(1024 * 1024));
    expect((await store.leftovers()).sort()).toEqual(["user-behaviors-t0", "user-behaviors-t1"]);
    const t1 = await store.open("user-behaviors-t1");
    expect((await t1.oldest())?.records.map((r) => r.eventId)).toEqual(["evt_1", "evt_3"]);
    expect((await readdir(dir)).filter((n) => n.endsWith(".ndjson"))).toEqual([]);
  });
});
