import fc from "fast-check";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { startRelayAndEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");
const EDGE_PORT = await freePort();
const TENANTS = Array.from({ length: 4 }, (_, i) => uniqueName(`iso${i}`));

interface TenantKeys {
  secret: string;
  publishable: string;
}

describe("tenants are kept apart (property-based, against the real relay and the edge in workerd)", () => {
  let stack: Awaited<ReturnType<typeof startRelayAndEdge>>;
  let relay: typeof stack.relay;
  let edge: Miniflare;
  const keys = new Map<string, TenantKeys>();

  beforeAll(async () => {
    stack = await startRelayAndEdge({ brokers, tenant: TENANTS[0] as string, edgePort: EDGE_PORT });
    ({ relay, edge } = stack);
    for (const tenant of TENANTS) {
      if (tenant !== TENANTS[0]) {
        await stack.admin("/api/v1/tracking-configs/from-template", {
          tenant_id: tenant,
          scenario_id: "vlog_feed",
          template_id: "video",
          name: "Vlog",
        });
      }
      keys.set(tenant, {
        secret: (await stack.admin("/api/v1/api-keys", { kind: "secret", tenant_id: tenant })).key,
        publishable: (
          await stack.admin("/api/v1/api-keys", {
            kind: "publishable",
            tenant_id: tenant,
            allowed_origins: [],
          })
        ).key,
      });
    }
  }, 180_000);

  afterAll(() => stack?.close());

  const call = async (method: string, url: string, key: string, body?: unknown) => {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await response.arrayBuffer();
    return response.status;
  };

  it("a tenant's keys never write into, read the configs of, or change another tenant", async () => {
    const pair = fc
      .tuple(fc.constantFrom(...TENANTS), fc.constantFrom(...TENANTS))
      .filter(([owner, target]) => owner !== target);
    await fc.assert(
      fc.asyncProperty(
        pair,
        fc.constantFrom("secret", "publishable") as fc.Arbitrary<keyof TenantKeys>,
        async ([owner, target], kind) => {
          const key = keys.get(owner)?.[kind] as string;
          const event = { ...EXAMPLE_EVENTS.video_data, event_id: undefined, tenant_id: target };
          const config = `${relay.httpUrl}/api/v1/tracking-configs/${target}/vlog_feed`;
          const statuses = [
            await call("POST", `${relay.httpUrl}/api/v1/behaviors/track`, key, event),
            await call("GET", config, key),
            await call("GET", `${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${target}`, key),
            await call("PUT", config, key, { version: 1, description: "taken over" }),
            await call("DELETE", config, key),
            (
              await edge.dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/track`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
                body: JSON.stringify(event),
              })
            ).status,
          ];
          // Refused as not theirs (403), or as the wrong kind of key (401); never done.
          return statuses.every((s) => s === 403 || s === 401);
        },
      ),
      { numRuns: 25 },
    );
    // And nothing of it reached any tenant's topic or changed any config.
    for (const tenant of TENANTS) {
      // No topic at all is the strongest answer: nothing was ever written for the tenant.
      const records = await readTopic(brokers, topicFor(tenant), 1, 3000).catch((error: Error) =>
        /Unknown topic/.test(String(error)) ? [] : Promise.reject(error),
      );
      expect(records).toHaveLength(0);
      const config = await fetch(`${relay.httpUrl}/api/v1/tracking-configs/${tenant}/vlog_feed`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      expect(await config.json()).toMatchObject({ version: 1, is_active: true });
    }
  }, 300_000);

  it("random keys are refused everywhere with 401", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 80 }).filter((k) => /^[\x21-\x7e]+$/.test(k)),
        fc.constantFrom(...TENANTS),
        async (key, tenant) => {
          const event = { ...EXAMPLE_EVENTS.video_data, event_id: undefined, tenant_id: tenant };
          const statuses = [
            await call("POST", `${relay.httpUrl}/api/v1/behaviors/track`, key, event),
            await call("GET", `${relay.httpUrl}/api/v1/tracking-configs/${tenant}/vlog_feed`, key),
            (
              await edge.dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/track`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
                body: JSON.stringify(event),
              })
            ).status,
          ];
          return statuses.every((s) => s === 401);
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
