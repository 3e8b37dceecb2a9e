import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../../src/relay/edge-calls.ts";
import { createHttpApp } from "../../../src/relay/http/app.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import type { LiveStreams } from "../../../src/relay/live.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { ChangeLog } from "../../../src/relay/store/changes.ts";
import { ConfigRepository } from "../../../src/relay/store/configs.ts";
import { KeyRepository } from "../../../src/relay/store/keys.ts";
import { QualityRepository } from "../../../src/relay/store/quality.ts";

/** The relay's whole HTTP API; the store is never reached by these tests. */
const relayApp = (live: LiveStreams = { open: () => undefined }) => {
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
