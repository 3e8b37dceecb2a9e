// One relay serving hundreds of tenants at once, with real Kafka and the MongoDB-wire server and the
// quality counts on (flushed every 250 ms): batched calls whose events are spread over 300 tenants, some
// with configs and stored keys of their own. Every call is answered, the quality counts of every tenant
// are stored exactly, and the admin API answers at once afterwards: nothing waited on the store.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";
import { adminClient } from "../support/edge.ts";
import { relayMetric, waitUntil } from "../support/faults.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const ADMIN = `admin_${uniqueName("token")}`;
const SERVICE = `svc_${uniqueName("many")}`;
const prefix = uniqueName("many");
const TENANTS = Array.from({ length: 300 }, (_, i) => `${prefix}_${i}`);
/** Tenants with a config of their own (the rest have none, as new tenants do), and those with a stored key. */
const CONFIGURED = TENANTS.slice(0, 60);
const KEYED = TENANTS.slice(0, 10);

const p99 = (latencies: number[]) =>
  [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)] ?? Number.NaN;

describe("one relay, 300 tenants", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  const keys = new Map<string, string>();
  /** Events sent per tenant, to check the stored quality counts against. */
  const sent = new Map<string, number>();

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${SERVICE}=*`], {
      env: {
        ADMIN_TOKEN: ADMIN,
        QUALITY_FLUSH_MS: "250",
        // Setting up 60 tenants writes to the embedded store as fast as it takes; the deadline that
        // answers a slow store 503 is tested elsewhere (relay.store-outage), so it is not this test's.
        MONGODB_DEADLINE_MS: "10000",
        // 600 topics on the suite's shared broker: one partition each keeps it light for the other files.
        TOPIC_PARTITIONS: "1",
      },
    });
    const admin = adminClient(relay.httpUrl, ADMIN);
    // Eight at a time, as a provisioning script would.
    for (let i = 0; i < CONFIGURED.length; i += 8) {
      await Promise.all(
        CONFIGURED.slice(i, i + 8).map(async (tenant) => {
          await admin("/api/v1/tracking-configs/from-template", {
            tenant_id: tenant,
            scenario_id: "vlog_feed",
            template_id: "video",
            name: "Vlog",
          });
          if (KEYED.includes(tenant))
            keys.set(tenant, (await admin("/api/v1/api-keys", { kind: "secret", tenant_id: tenant })).key);
        }),
      );
    }
  }, 180_000);
  afterAll(() => relay?.close());

  /** A batch call of 100 events spread over `tenants`, with `key`; its status and time. */
  const call = async (key: string, tenants: readonly string[], round: number) => {
    const events = Array.from({ length: 100 }, (_, i) => {
      const tenant = tenants[(round * 100 + i) % tenants.length] as string;
      sent.set(tenant, (sent.get(tenant) ?? 0) + 1);
      return { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, user_id: `u_${i}`, event_id: undefined };
    });
    const started = performance.now();
    const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { results: { success: boolean }[] };
    return {
      status: response.status,
      ms: performance.now() - started,
      accepted: body.results?.filter((r) => r.success).length ?? 0,
    };
  };

  /** `rounds` calls, four under way at once. */
  const load = async (key: string, tenants: readonly string[], rounds: number) => {
    const answers: Awaited<ReturnType<typeof call>>[] = [];
    for (let round = 0; round < rounds; round += 4) {
      answers.push(...(await Promise.all([0, 1, 2, 3].map((i) => call(key, tenants, round + i)))));
    }
    return answers;
  };

  it("answers every call over 300 tenants as over one, and stores every tenant's quality counts exactly", async () => {
    const one = await load(SERVICE, [TENANTS[0] as string], 40);
    const many = await load(SERVICE, TENANTS, 120);
    // Each tenant with a stored key sends its own events too.
    const own = await Promise.all(KEYED.map((tenant, i) => call(keys.get(tenant) as string, [tenant], i)));
    console.log(
      `p99 one tenant ${p99(one.map((a) => a.ms)).toFixed(0)} ms, 300 tenants ${p99(many.map((a) => a.ms)).toFixed(0)} ms`,
    );
    for (const answer of [...one, ...many, ...own])
      expect(answer).toMatchObject({ status: 200, accepted: 100 });

    // The admin API answers at once after the load.
    const started = performance.now();
    const listed = await fetch(`${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${CONFIGURED[0]}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(listed.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await fetch(`${relay.httpUrl}/readyz`)).status).toBe(200);

    // Every tenant's counts reach the store, a bounded part per flush, each once.
    await waitUntil(
      "every quality count to be stored",
      async () => (await relayMetric(relay.httpUrl, "quality_pending_cells")) === 0,
      60_000,
    );
    for (const tenant of [TENANTS[0], CONFIGURED.at(-1), TENANTS.at(-1)] as string[]) {
      const report = (await (
        await fetch(`${relay.httpUrl}/api/v1/tenants/${tenant}/quality?window=1h`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        })
      ).json()) as { events: { received: number; accepted: number } };
      expect(report.events, tenant).toMatchObject({ received: sent.get(tenant), accepted: sent.get(tenant) });
    }
  }, 300_000);
});
