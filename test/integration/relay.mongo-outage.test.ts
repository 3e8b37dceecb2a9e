import { pino } from "pino";
import { afterAll, describe, expect, inject, it, vi } from "vitest";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";
import { loadSettings } from "../../src/relay/config.ts";
import { type RunningRelay, startRelay } from "../../src/relay/server.ts";
import { privateFerretDb } from "../support/private-ferretdb.ts";
import { uniqueName } from "../support/random.ts";

const ADMIN = `admin_${uniqueName("token")}`;
const KEY = `svc_${uniqueName("key")}`;

describe("relay and a MongoDB-wire server that is down", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("keeps ingesting while MongoDB is down at start, answers the admin API with 503, is not ready until its directory loads, and recovers when it is up", async () => {
    const mongo = await privateFerretDb(27117);
    cleanups.push(mongo.remove);
    const relay: RunningRelay = await startRelay(
      loadSettings({
        RELAY_HTTP_PORT: "0",
        RELAY_GRPC_PORT: "0",
        KAFKA_BROKERS: inject("kafkaBrokers").join(","),
        SPOOL_DIR: `/tmp/${uniqueName("spool")}`,
        MONGODB_URI: mongo.uri,
        ADMIN_TOKEN: ADMIN,
        RELAY_API_KEYS: `${KEY}=*`,
      }),
      { log: pino({ level: "silent" }) },
    );
    cleanups.push(relay.close);
    const tenant = uniqueName("outage");
    const list = () =>
      fetch(`${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${tenant}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
    const track = () =>
      fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant }),
      });

    const down = await list();
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: "store_unavailable", retryable: true });
    expect((await track()).status).toBe(200);
    // Keys stored in MongoDB cannot be checked yet: a load balancer should send tenants elsewhere.
    const loading = await fetch(`${relay.httpUrl}/readyz`);
    expect(loading.status).toBe(503);
    expect(await loading.json()).toMatchObject({ status: "loading", directory_loaded: false });
    const unknown = await fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk_not_in_memory_yet" },
      body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant }),
    });
    expect(unknown.status).toBe(503); // asked once within its deadline, not waited for
    expect(await unknown.json()).toMatchObject({ code: "store_unavailable", retryable: true });

    await mongo.start();
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await list()).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(status).toBe(200);
    await vi.waitFor(async () => expect((await fetch(`${relay.httpUrl}/readyz`)).status).toBe(200), {
      timeout: 20_000,
      interval: 200,
    });
  }, 120_000);
});
