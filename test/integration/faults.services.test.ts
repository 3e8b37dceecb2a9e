// Fault injection on the relay, the edge and the MongoDB-wire server, on a broker of its own
// (docs/fault-report.md), and the loss audit of a hostile mix through every path. Every phase lasts
// until what proves it happened (calls acknowledged, spooled, queued), never a fixed time. `npm run
// faults` runs this and the other faults.*.test.ts files and writes the report.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventToProto, quarantineTopicFor, type TrackingConfig, topicFor } from "../../src/core/index.ts";
import { BehaviorService } from "../../src/gen/recommender/v1/behavior_pb.js";
import { KafkaTracker } from "../../src/sdk/kafka-tracker.ts";
import { adminClient, edgeTenant, newEdgeSecret, startDenoEdge, startWorkerdEdge } from "../support/edge.ts";
import {
  type AuditRow,
  audit,
  auditTable,
  faultTable,
  holdsWithin,
  hostileMix,
  type Row,
  relayMetric,
  steadyLoad,
  waitUntil,
  writeFaultReport,
} from "../support/faults.ts";
import { readWholeTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { privateFerretDb } from "../support/private-ferretdb.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { relayProcess as relayChild, startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const ADMIN = `admin_${uniqueName("fault")}`;
const EDGE_SECRET = newEdgeSecret();
const [edgePort, workerdPort, denoPort] = [await freePort(), await freePort(), await freePort()];
const rows: Row[] = [];
const auditRows: AuditRow[] = [];
/** The relay is SIGKILLed once its spool holds this many events. */
const RELAY_SPOOLED = 80;
/** The relay behind the edge stays down until the edge has queued this many calls (answered 202). */
const EDGE_QUEUED = 20;
/** MongoDB stays down until this many calls have been acknowledged without it. */
const MONGO_DOWN_CALLS = 20;

/** The relay as its own process, with this suite's service key, on free ports. */
const relayProcess = async (env: Record<string, string>) =>
  relayChild({
    RELAY_API_KEYS: `${KEY}=*`,
    RELAY_HTTP_PORT: String(await freePort()),
    RELAY_GRPC_PORT: String(await freePort()),
    ...env,
  });

describe("relay, edge and MongoDB faults: every acknowledged event reaches Kafka", () => {
  const kafka = privateKafka(19092);
  let broker: Awaited<typeof kafka>;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    broker = await kafka;
    await broker.start();
  }, 180_000);

  afterAll(async () => {
    await broker?.remove();
    writeFaultReport("Relay, edge and MongoDB faults", faultTable(rows));
    writeFaultReport("Loss audit", auditTable(auditRows));
  });

  it("relay killed with SIGKILL while its spool holds events, and restarted", async () => {
    const tenant = uniqueName("relaykill");
    const relay = await relayProcess({
      KAFKA_BROKERS: broker.brokers.join(","),
      KAFKA_ACK_TIMEOUT_MS: "2000",
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "fault-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("relaykill"),
    });
    let load: ReturnType<typeof steadyLoad> | undefined;
    let down = false;
    try {
      await relay.ready();
      load = steadyLoad(`${relay.url}/api/v1/behaviors/track/batch`, tenant, auth);
      await load.untilAcknowledged(10);
      down = true;
      await broker.stop();
      // Acknowledged from the spool until it holds what the kill must not lose.
      await waitUntil(
        `${RELAY_SPOOLED} events in the relay's spool`,
        async () => (await relayMetric(relay.url, "relay_spool_events")) >= RELAY_SPOOLED,
      );
      await relay.kill();
      await broker.start();
      down = false;
      await relay.restart();
      const restored = Date.now();
      // The restarted relay delivers the spool it found, and takes calls again.
      await waitUntil(
        "the restarted relay to deliver the spool it found",
        async () => (await relayMetric(relay.url, "relay_spool_events")) === 0,
        90_000,
      );
      await load.untilAcknowledged(5);
      await load.stop();
      expect(
        await audit(
          `relay SIGKILL with ${RELAY_SPOOLED}+ events in its spool, restarted`,
          broker.brokers,
          tenant,
          load,
          restored,
          rows,
        ),
      ).toMatchObject({ lost: 0 });
    } finally {
      // A failure during the outage leaves the broker to the next test.
      if (down) await broker.start();
      await load?.stop();
      await relay.close();
    }
  }, 300_000);

  it("relay down behind the edge: the edge queues, and the queue drains", async () => {
    const tenant = uniqueName("edgeq");
    const relay = await relayProcess({
      KAFKA_BROKERS: broker.brokers.join(","),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "fault-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("edgeq"),
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
    });
    let edge: Miniflare | undefined;
    let load: ReturnType<typeof steadyLoad> | undefined;
    try {
      await relay.ready();
      const keys = await edgeTenant(adminClient(relay.url, ADMIN), tenant, []);
      edge = await startWorkerdEdge({
        relayUrl: relay.url,
        edgeSecret: EDGE_SECRET,
        port: edgePort,
      });
      load = steadyLoad(`http://127.0.0.1:${edgePort}/api/v1/behaviors/track/batch`, tenant, {
        authorization: `Bearer ${keys.publishable}`,
      });
      await load.untilStatus("200", 10);
      await relay.close();
      // Down until the edge has answered 202 (acknowledged as queued) to calls it could not hand over.
      await load.untilStatus("202", EDGE_QUEUED);
      await relay.restart();
      const restored = Date.now();
      // The edge hands calls over to the relay again.
      await load.untilStatus("200", 5);
      await load.stop();
      expect(load.statuses.get("202")).toBeGreaterThan(0); // acknowledged as queued while the relay was down
      expect(
        await audit(
          `relay down behind the edge until ${EDGE_QUEUED} calls were queued`,
          broker.brokers,
          tenant,
          load,
          restored,
          rows,
        ),
      ).toMatchObject({ lost: 0 });
    } finally {
      await load?.stop();
      await edge?.dispose();
      await relay.close();
    }
  }, 400_000);

  it("loss audit: a hostile mix through every path, with the relay down for a while", async () => {
    const tenants = [uniqueName("audit_a"), uniqueName("audit_strict"), uniqueName("audit_c")];
    const strictTenant = tenants[1] as string;
    const relay = await relayProcess({
      KAFKA_BROKERS: broker.brokers.join(","),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "audit-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("audit"),
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
      // The audit sends fast; rate limits are tested elsewhere.
      RATE_LIMIT_KEY_EVENTS_PER_SECOND: "100000",
      RATE_LIMIT_TENANT_EVENTS_PER_SECOND: "100000",
    });
    const queueSchedule = {
      QUEUE_RETRY_BASE_SECONDS: "1",
      QUEUE_RETRY_MAX_SECONDS: "2",
      QUEUE_GIVE_UP_SECONDS: "120",
      FORWARD_TIMEOUT_MS: "1000",
    };
    let workerd: Miniflare | undefined;
    let deno: Awaited<ReturnType<typeof startDenoEdge>> | undefined;
    let tracker: KafkaTracker | undefined;
    try {
      await relay.ready();
      const admin = adminClient(relay.url, ADMIN);
      const keys = new Map<string, string>();
      for (const tenant of tenants) keys.set(tenant, (await edgeTenant(admin, tenant, [])).publishable);
      const strict = await fetch(`${relay.url}/api/v1/tracking-configs/${strictTenant}/vlog_feed`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify({ strict: true, version: 1 }),
      });
      expect(strict.status).toBe(200);
      const configs = (await Promise.all(
        tenants.map(async (t) =>
          (
            await fetch(`${relay.url}/api/v1/tracking-configs/${t}/vlog_feed`, {
              headers: { authorization: `Bearer ${ADMIN}` },
            })
          ).json(),
        ),
      )) as TrackingConfig[];
      workerd = await startWorkerdEdge({
        relayUrl: relay.url,
        edgeSecret: EDGE_SECRET,
        port: workerdPort,
        vars: queueSchedule,
      });
      deno = await startDenoEdge({
        relayUrl: relay.url,
        edgeSecret: EDGE_SECRET,
        port: denoPort,
        vars: queueSchedule,
      });
      tracker = await KafkaTracker.open({
        brokers: broker.brokers,
        tenantId: tenants[0] as string,
        spoolDir: await mkdtemp(join(tmpdir(), "audit-tracker-")),
        configs,
        partitions: 3,
        flushAtEvents: 20,
        lingerMs: 20,
      });
      const grpc = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.grpcUrl }));

      type Outcome = {
        id: string;
        tenant: string;
        path: string;
        result: "acknowledged" | "not_acknowledged" | string;
      };
      const outcomes: Outcome[] = [];
      const note = (path: string, events: { event_id: string; tenant_id: string }[], results: string[]) => {
        for (const [i, e] of events.entries())
          outcomes.push({ id: e.event_id, tenant: e.tenant_id, path, result: results[i] as string });
      };
      const overHttp = async (
        path: string,
        url: string,
        auth: (tenant: string) => string,
        events: ReturnType<typeof hostileMix>,
      ) => {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${auth(events[0]?.tenant_id as string)}`,
            },
            body: JSON.stringify({ events }),
            signal: AbortSignal.timeout(10_000),
          });
          const body = (await response.json()) as { results?: { success: boolean; error_code?: string }[] };
          const results = body.results ?? [];
          note(
            path,
            events,
            events.map((_, i) =>
              results[i]?.success
                ? "acknowledged"
                : results[i]
                  ? `refused:${results[i]?.error_code}`
                  : "not_acknowledged",
            ),
          );
        } catch {
          note(
            path,
            events,
            events.map(() => "not_acknowledged"),
          );
        }
      };
      const paths: Record<string, (events: ReturnType<typeof hostileMix>) => Promise<void>> = {
        "edge (workerd)": (events) =>
          overHttp(
            "edge (workerd)",
            `http://127.0.0.1:${workerdPort}/api/v1/behaviors/track/batch`,
            (t) => keys.get(t) as string,
            events,
          ),
        "edge (Deno)": (events) =>
          overHttp(
            "edge (Deno)",
            `http://127.0.0.1:${denoPort}/api/v1/behaviors/track/batch`,
            (t) => keys.get(t) as string,
            events,
          ),
        "relay REST": (events) =>
          overHttp("relay REST", `${relay.url}/api/v1/behaviors/track/batch`, () => KEY, events),
        "relay gRPC": async (events) => {
          // gRPC's typed fields cannot carry a wrongly typed value: such an event cannot be sent there.
          const sendable = events.flatMap((e) => {
            try {
              return [{ event: e, message: eventToProto(e as never) }];
            } catch {
              return [];
            }
          });
          try {
            const answer = await grpc.trackEvents(
              { events: sendable.map((s) => s.message) },
              { headers: { authorization: `Bearer ${KEY}` }, timeoutMs: 10_000 },
            );
            note(
              "relay gRPC",
              sendable.map((s) => s.event),
              answer.results.map((r) => (r.success ? "acknowledged" : `refused:${r.errorCode}`)),
            );
          } catch {
            note(
              "relay gRPC",
              sendable.map((s) => s.event),
              sendable.map(() => "not_acknowledged"),
            );
          }
        },
        "Kafka-direct tracker": async (events) => {
          const results = await (tracker as KafkaTracker).trackMany(events as never);
          note(
            "Kafka-direct tracker",
            events,
            // The tracker answers validation refusals with their fields; it has no error codes.
            results.map((r) => (r.ok ? "acknowledged" : "refused:invalid_event")),
          );
        },
      };
      let round = 0;
      const sendRound = async () => {
        round++;
        await Promise.all(
          Object.entries(paths).flatMap(([path, send]) =>
            tenants.map((tenant) =>
              send(hostileMix(tenant, `${path.replace(/\W+/g, "")}_${round}_${tenant}`)),
            ),
          ),
        );
      };
      await sendRound();
      await sendRound();
      await relay.close();
      await sendRound();
      await sendRound();
      await relay.restart();
      await sendRound();

      // Everything in Kafka, by id: main topics (header) and -rejected topics (the kept event's id).
      const acknowledged = outcomes.filter((o) => o.result === "acknowledged");
      const inTopic = new Map<string, number>();
      const inRejected = new Set<string>();
      const keptRefusals = outcomes.filter(
        (o) =>
          o.path !== "Kafka-direct tracker" && /^refused:(invalid_event|payload_too_large)/.test(o.result),
      );
      // Read until everything owed is there (or 120 s have passed: the checks below then say what is missing).
      await holdsWithin(
        async () => {
          inTopic.clear();
          inRejected.clear();
          for (const tenant of tenants) {
            for (const r of await readWholeTopic(broker.brokers, topicFor(tenant))) {
              const id = r.headers.get("event_id") as string;
              inTopic.set(id, (inTopic.get(id) ?? 0) + 1);
            }
            for (const r of await readWholeTopic(broker.brokers, quarantineTopicFor(tenant))) {
              inRejected.add(
                (JSON.parse(r.value) as { event?: { event_id?: string } }).event?.event_id as string,
              );
            }
          }
          return (
            acknowledged.every((o) => inTopic.has(o.id) || inRejected.has(o.id)) &&
            keptRefusals.every((o) => inRejected.has(o.id))
          );
        },
        120_000,
        1000,
      );
      for (const path of Object.keys(paths)) {
        const mine = outcomes.filter((o) => o.path === path);
        const acked = mine.filter((o) => o.result === "acknowledged");
        const refused = mine.filter((o) => o.result.startsWith("refused:"));
        const row: AuditRow = {
          path,
          sent: mine.length,
          acknowledged: acked.length,
          in_topic: acked.filter((o) => inTopic.has(o.id)).length,
          quarantined: acked.filter((o) => !inTopic.has(o.id) && inRejected.has(o.id)).length,
          refused: refused.length,
          refused_kept: refused.filter((o) => inRejected.has(o.id)).length,
          not_acknowledged: mine.filter((o) => o.result === "not_acknowledged").length,
          lost: acked.filter((o) => !inTopic.has(o.id) && !inRejected.has(o.id)).length,
          duplicates: acked.reduce((n, o) => n + Math.max(0, (inTopic.get(o.id) ?? 0) - 1), 0),
        };
        auditRows.push(row);
        console.log(`loss audit ${path}: ${JSON.stringify(row)}`);
        expect(row.lost, path).toBe(0);
        // Every refusal named its reason, and the content refusals of the API paths are kept.
        expect(
          refused.every((o) => o.result !== "refused:undefined"),
          path,
        ).toBe(true);
        if (path !== "Kafka-direct tracker") {
          const content = refused.filter((o) => /^refused:(invalid_event|payload_too_large)/.test(o.result));
          expect(
            content.filter((o) => !inRejected.has(o.id)),
            path,
          ).toEqual([]);
        }
      }
      // The strict tenant's strict violation was refused everywhere; the lenient tenants' was accepted.
      const strictViolations = outcomes.filter((o) => o.id.endsWith(`_${strictTenant}_2`));
      expect(strictViolations.length).toBeGreaterThan(0);
      expect(
        strictViolations.filter(
          (o) => o.result !== "refused:invalid_event" && o.result !== "not_acknowledged",
        ),
      ).toEqual([]);
    } finally {
      await tracker?.close();
      await deno?.close();
      await workerd?.dispose();
      await relay.close();
    }
  }, 400_000);

  it("MongoDB-wire server down: ingestion goes on with cached configs, the admin API answers 503", async () => {
    const tenant = uniqueName("mongodown");
    const mongo = await privateFerretDb(27118);
    await mongo.start();
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { MONGODB_URI: mongo.uri, ADMIN_TOKEN: ADMIN },
    });
    let load: ReturnType<typeof steadyLoad> | undefined;
    try {
      await adminClient(relay.httpUrl, ADMIN)("/api/v1/tracking-configs/from-template", {
        tenant_id: tenant,
        scenario_id: "vlog_feed",
        template_id: "video",
        name: "Vlog",
      });
      load = steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, tenant, auth);
      const adminStatus = async () => {
        const answer = await fetch(`${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${tenant}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        await answer.arrayBuffer();
        return answer.status;
      };
      await load.untilAcknowledged(10);
      await mongo.stop();
      // Ingestion goes on without the store…
      await load.untilAcknowledged(MONGO_DOWN_CALLS);
      // …while the admin API, which needs it, answers a retryable 503.
      expect(await adminStatus()).toBe(503);
      await mongo.start();
      const restored = Date.now();
      // MongoDB is back once the relay's admin API answers from it again.
      await waitUntil("the admin API to answer 200 again", async () => (await adminStatus()) === 200);
      await load.untilAcknowledged(5);
      await load.stop();
      const row = await audit(
        `MongoDB-wire server down while ${MONGO_DOWN_CALLS} calls were acknowledged`,
        broker.brokers,
        tenant,
        load,
        restored,
        rows,
      );
      expect(row).toMatchObject({ lost: 0, not_acknowledged: 0 });
    } finally {
      await load?.stop();
      await relay.close();
      await mongo.remove();
    }
  }, 300_000);
});
