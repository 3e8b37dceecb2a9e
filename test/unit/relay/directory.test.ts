// The relay's tenant directory against an in-memory store: what it answers from memory, how a change in
// the store reaches it (a revocation within one read of the feed), and what it does while the store is
// slow or down. The store is a plain object behind the DirectorySource port; time is the test's.
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  configFromTemplate,
  TEMPLATES,
  type TenantDocument,
  type TenantKey,
} from "../../../src/core/index.ts";
import { hashKey } from "../../../src/relay/auth.ts";
import { TenantDirectory } from "../../../src/relay/directory.ts";
import type { DirectorySource } from "../../../src/relay/directory-source.ts";
import type { Change } from "../../../src/relay/store/changes.ts";

const log = pino({ level: "silent" });

const keyOf = (text: string, tenant: string | null, kind: TenantKey["kind"] = "secret"): TenantKey => ({
  key_id: `key_${text}`,
  kind,
  tenant_id: tenant,
  name: "k",
  prefix: text.slice(0, 10),
  allowed_origins: [],
  created_at: 0,
  revoked_at: null,
  hash: hashKey(text),
});

/** A store in memory with a change log; `down` makes every read fail, `stall` makes them hang. */
class MemoryStore implements DirectorySource {
  readonly documents = new Map<string, TenantDocument>();
  readonly changes: Change[] = [];
  services: TenantKey[] = [];
  down = false;
  stall = false;
  reads = 0;

  put(document: TenantDocument): void {
    this.documents.set(document.tenant_id, document);
    this.changes.push({
      seq: this.changes.length + 1,
      tenant_id: document.tenant_id,
      kind: "config",
      scenario_id: null,
      version: null,
      at: 0,
    });
  }

  async #read<T>(value: () => T): Promise<T> {
    this.reads++;
    if (this.stall) return new Promise<T>(() => {});
    if (this.down) throw new Error("the store is down");
    return value();
  }
  latestChange = () => this.#read(() => this.changes.reduce((max, c) => Math.max(max, c.seq), 0));
  changesSince = (seq: number) =>
    this.#read(() => this.changes.filter((c) => c.seq > seq).sort((a, b) => a.seq - b.seq));
  all = () => this.#read(() => [...this.documents.values()]);
  tenant = (tenantId: string) =>
    this.#read(() => this.documents.get(tenantId) ?? { tenant_id: tenantId, configs: [], keys: [] });
  serviceKeys = () => this.#read(() => this.services);
  key = (hash: string) =>
    this.#read(() =>
      [...this.services, ...[...this.documents.values()].flatMap((d) => d.keys)].find((k) => k.hash === hash),
    );
}

const config = (tenant: string) =>
  configFromTemplate(
    TEMPLATES[0] as (typeof TEMPLATES)[number],
    { tenant_id: tenant, scenario_id: "vlog_feed", name: "feed" },
    0,
  );
const documentOf = (tenant: string, keys: TenantKey[] = []): TenantDocument => ({
  tenant_id: tenant,
  configs: [config(tenant)],
  keys,
});

/** A directory on the store with a clock the test moves; `sync` stands in for the timer. */
const setup = (store: MemoryStore) => {
  let now = 1_000_000;
  const registry = new Registry();
  const directory = new TenantDirectory(
    store,
    { pollMs: 1000, lookupDeadlineMs: 50, now: () => now },
    log,
    registry,
  );
  return {
    directory,
    metric: async (name: string) => (await registry.getSingleMetricAsString(name)).split("\n").at(-1),
    advance: (ms: number) => {
      now += ms;
    },
  };
};

describe("the tenant directory", () => {
  it("answers keys and configs from memory once loaded, without reading the store per call", async () => {
    const store = new MemoryStore();
    store.put(documentOf("acme", [keyOf("sk_acme", "acme"), keyOf("pk_acme", "acme", "publishable")]));
    store.services = [keyOf("svc_all", null, "service")];
    const { directory } = setup(store);
    await directory.sync();
    expect(directory.loaded).toBe(true);
    const reads = store.reads;
    expect(await directory.principalFor("sk_acme")).toMatchObject({ kind: "tenant", tenantId: "acme" });
    expect(await directory.principalFor("pk_acme")).toMatchObject({ kind: "tenant", publishable: true });
    expect(await directory.principalFor("svc_all")).toMatchObject({
      kind: "internal",
      keyId: hashKey("svc_all"),
    });
    expect(await directory.principalFor("sk_nobody")).toBeUndefined();
    expect((await directory.get("acme", "vlog_feed"))?.tenant_id).toBe("acme");
    expect(await directory.get("acme", "other")).toBeUndefined();
    expect(await directory.get("nobody", "vlog_feed")).toBeUndefined();
    expect(store.reads).toBe(reads);
  });

  it("takes a revocation, a new key and a new config from the change feed at its next read", async () => {
    const store = new MemoryStore();
    store.put(documentOf("acme", [keyOf("sk_acme", "acme")]));
    const { directory } = setup(store);
    await directory.sync();
    store.put({
      ...documentOf("acme", [{ ...keyOf("sk_acme", "acme"), revoked_at: 5 }, keyOf("sk_new", "acme")]),
    });
    store.put(documentOf("beta"));
    store.services = [keyOf("svc_new", null, "service")];
    store.changes.push({ seq: 4, tenant_id: null, kind: "keys", scenario_id: null, version: null, at: 0 });
    expect(await directory.principalFor("sk_acme")).toBeDefined(); // not yet read
    await directory.sync();
    expect(await directory.principalFor("sk_acme")).toBeUndefined();
    expect(await directory.principalFor("sk_new")).toMatchObject({ tenantId: "acme" });
    expect(await directory.principalFor("svc_new")).toMatchObject({ kind: "internal" });
    expect((await directory.get("beta", "vlog_feed"))?.tenant_id).toBe("beta");
  });

  it("keeps serving what it holds while the store is down, and shows its age", async () => {
    const store = new MemoryStore();
    store.put(documentOf("acme", [keyOf("sk_acme", "acme")]));
    const { directory, advance, metric } = setup(store);
    await directory.sync();
    store.down = true;
    advance(30_000);
    await directory.sync();
    expect(await directory.principalFor("sk_acme")).toMatchObject({ tenantId: "acme" });
    expect(directory.ageSeconds()).toBe(30);
    expect(await metric("relay_directory_age_seconds")).toBe("relay_directory_age_seconds 30");
    expect(await metric("relay_directory_store_errors_total")).toContain('operation="follow"} 1');
    store.down = false;
    await directory.sync();
    expect(directory.ageSeconds()).toBe(0);
  });

  it("before its first load, looks up what is not in memory once, within the deadline, and remembers misses", async () => {
    const store = new MemoryStore();
    store.put(documentOf("acme", [keyOf("sk_acme", "acme")]));
    const { directory } = setup(store);
    store.down = true;
    await directory.sync(); // the load fails: the store is down
    expect(directory.loaded).toBe(false);
    await expect(directory.principalFor("sk_acme")).rejects.toMatchObject({ code: "store_unavailable" });
    expect(await directory.get("acme", "vlog_feed")).toBeUndefined(); // checked without a config
    store.down = false;
    store.stall = true;
    const started = performance.now();
    await expect(directory.principalFor("sk_acme")).rejects.toMatchObject({ code: "store_unavailable" });
    expect(performance.now() - started).toBeLessThan(1000); // the 50 ms deadline, not the store's silence
    store.stall = false;
    const reads = store.reads;
    const answers = await Promise.all([directory.principalFor("sk_acme"), directory.principalFor("sk_acme")]);
    expect(answers.map((p) => p?.kind)).toEqual(["tenant", "tenant"]);
    expect(await directory.principalFor("sk_unknown")).toBeUndefined();
    expect(await directory.principalFor("sk_unknown")).toBeUndefined();
    expect(await directory.get("nobody", "vlog_feed")).toBeUndefined();
    expect(await directory.get("nobody", "other")).toBeUndefined();
    // sk_acme: the key and its tenant (once, for both calls); sk_unknown once; nobody once.
    expect(store.reads - reads).toBe(4);
  });

  it("applies a change made through this relay at once (refresh), without waiting for the feed", async () => {
    const store = new MemoryStore();
    const { directory } = setup(store);
    await directory.sync();
    store.documents.set("acme", documentOf("acme", [keyOf("sk_acme", "acme")]));
    await directory.refresh("acme");
    expect(await directory.principalFor("sk_acme")).toMatchObject({ tenantId: "acme" });
    store.services = [keyOf("svc_x", null, "service")];
    await directory.refresh(null);
    expect(await directory.principalFor("svc_x")).toMatchObject({ kind: "internal" });
  });

  it("drops a service key it looked up before its first load once the load finds it revoked", async () => {
    const store = new MemoryStore();
    const service = keyOf("svc_ops", null, "service");
    store.services = [service];
    const { directory } = setup(store);
    store.down = true;
    await directory.sync(); // the load fails: the key is looked up on its own
    store.down = false;
    expect(await directory.principalFor("svc_ops")).toMatchObject({ kind: "internal" });
    store.services = [{ ...service, revoked_at: 5 }];
    await directory.sync(); // the first load: the key is revoked
    expect(directory.loaded).toBe(true);
    expect(await directory.principalFor("svc_ops")).toBeUndefined();
  });
});
