import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../../src/relay/edge-calls.ts";
import { createHttpApp } from "../../../src/relay/http/app.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import { LiveSlots, type LiveStreams } from "../../../src/relay/live.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { ChangeLog } from "../../../src/relay/store/changes.ts";
import { ConfigRepository } from "../../../src/relay/store/configs.ts";
import { KeyRepository } from "../../../src/relay/store/keys.ts";
import { QualityRepository } from "../../../src/relay/store/quality.ts";

/** The relay's whole HTTP API; the store is never reached by these tests. */
const relayApp = (live: LiveStreams = { open: () => "relay_full" }) => {
  const metrics = createMetrics();
  const log = pino({ level: "silent" });
  const keyStore = new EnvKeyStore([]);
  const ingest = new IngestService({
    configs: new InMemoryConfigSource(),
    keys: keyStore,
    sink: { kafkaAvailable: true, accepting: true, write: async () => {}, close: async () => {} },
    metrics,
    log,
  });
  const store = {
    db: () => {
      throw new Error("no database in this test");
    },
    call: <T>(operation: () => Promise<T>) => operation(),
  };
  const changes = new ChangeLog(store);
  const configs = new ConfigRepository(store, changes);
  return createHttpApp({
    ingest,
    metrics,
    log,
    bodyBudgetBytes: 1024 * 1024,
    record: () => {},
    admin: {
      configs,
      keys: new KeyRepository(store, changes),
      changes,
      keyStore,
      directory: new InMemoryConfigSource(),
      quality: new QualityRepository(store),
      adminToken: "admin",
      edgeCalls: new EdgeCallVerifier([]),
      live,
      now: () => 0,
      changedTenant: async () => {},
    },
  });
};

/** Routes that are about the document itself, or internal to the edge (docs/edge.md). */
const UNDOCUMENTED = /^\/api\/v1\/(openapi\.json|docs|edge\/)/;

describe("the relay's OpenAPI document", () => {
  it("documents every public route the relay serves, and none of the edge's feed", async () => {
    const app = relayApp();
    const doc = (await (await app.request("/api/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = app.routes
      .filter((r) => r.method !== "ALL" && !UNDOCUMENTED.test(r.path))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(served.length).toBeGreaterThan(15);
    expect(new Set(documented)).toEqual(new Set(served));
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/api/v1/edge/"))).toBe(false);
  });

  it("names the schema of every JSON answer, the templates included", async () => {
    const doc = (await (await relayApp().request("/api/v1/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
      >;
    };
    const templates = doc.paths["/api/v1/tracking-configs/templates"]?.get?.responses["200"];
    expect(JSON.stringify(templates)).toContain('"required_fields"');
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, answer] of Object.entries(op.responses)) {
          const schema = answer.content?.["application/json"]?.schema;
          if (schema !== undefined)
            expect(Object.keys(schema).length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it("serves Swagger UI with its assets from the relay itself", async () => {
    const app = relayApp();
    const page = await (await app.request("/api/v1/docs")).text();
    const assets = [...page.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      expect(asset.startsWith("/api/v1/docs/assets/")).toBe(true);
      const answer = await app.request(asset);
      expect(answer.status).toBe(200);
      expect((await answer.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    expect((await app.request("/api/v1/docs/assets/swagger-ui-dist/package.json")).status).toBe(404);
  });

  it("keeps a share of the live views for every tenant: 429 for a tenant at its share, others still served", async () => {
    const registry = new Registry();
    const slots = new LiveSlots({ max: 3, perTenant: 2 }, registry);
    const views: Response[] = [];
    // A view that stays open until its watcher leaves, holding its slot as a Kafka consumer would.
    const live: LiveStreams = {
      open: (tenantId, _options, signal) => {
        const refused = slots.take(tenantId);
        if (refused !== undefined) return refused;
        return (async function* () {
          try {
            await new Promise((resolve) => signal.addEventListener("abort", resolve));
            yield* [];
          } finally {
            slots.give(tenantId);
          }
        })();
      },
    };
    const app = relayApp(live);
    const open = async (tenant: string) => {
      const response = await app.request(`/api/v1/tenants/${tenant}/events/live`, {
        headers: { authorization: "Bearer admin" },
      });
      if (response.status === 200) views.push(response);
      return response;
    };
    /** The watchers leave: their streams are cancelled, which ends the views. */
    const leave = () => Promise.all(views.splice(0).map((view) => view.body?.cancel()));
    expect((await open("t1")).status).toBe(200);
    expect((await open("t1")).status).toBe(200);
    const third = await open("t1"); // t1's share is 2
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("5");
    expect(await third.json()).toMatchObject({ code: "rate_limited", detail: expect.stringContaining("t1") });
    expect((await open("t2")).status).toBe(200); // another tenant still gets one
    const full = await open("t3"); // the relay's 3 are taken
    expect(full.status).toBe(429);
    expect(await full.json()).toMatchObject({ code: "overloaded" });
    const gauge = await registry.getSingleMetricAsString("relay_live_streams_open");
    expect(gauge).toContain('relay_live_streams_open{tenant="t1"} 2');
    expect(gauge).toContain('relay_live_streams_open{tenant="t2"} 1');
    await leave();
    await vi.waitFor(async () =>
      expect(await registry.getSingleMetricAsString("relay_live_streams_open")).not.toContain("{"),
    );
    expect((await open("t3")).status).toBe(200);
    await leave();
  });

  it("tells a live view's watcher why it ends when Kafka cannot be read", async () => {
    const failing: LiveStreams = {
      open: () =>
        (async function* () {
          yield* [];
          throw new Error("Connection refused by 127.0.0.1:9092");
        })(),
    };
    const response = await relayApp(failing).request("/api/v1/tenants/t1/events/live", {
      headers: { authorization: "Bearer admin" },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("event: ready");
    expect(text).toMatch(
      /event: failed\ndata: \{"message":"reading Kafka failed: Connection refused by 127\.0\.0\.1:9092"\}/,
    );
  });
});
