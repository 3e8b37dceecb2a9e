// Fault injection on a cluster of three brokers (docs/fault-report.md): leaders, restarts, pauses and
// the controller, with the relay's REST and gRPC paths and the Kafka-direct tracker under load.
// `npm run faults` runs this and the other faults.*.test.ts files and writes the report.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventToProto, topicFor } from "../../src/core/index.ts";
import { BehaviorService } from "../../src/gen/recommender/v1/behavior_pb.js";
import { KafkaTracker } from "../../src/sdk/kafka-tracker.ts";
import {
  audit,
  type ClusterRow,
  clusterTable,
  sleep,
  steadyCalls,
  steadyLoad,
  writeFaultReport,
} from "../support/faults.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const clusterRows: ClusterRow[] = [];

describe("fault injection on three brokers: leaders, restarts, pauses, the controller", () => {
  const kafka = privateKafka(19492, { nodes: 3 });
  let cluster: Awaited<typeof kafka>;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    cluster = await kafka;
    await cluster.start();
  }, 240_000);

  afterAll(async () => {
    await cluster?.remove();
    writeFaultReport("Three brokers", clusterTable(clusterRows));
  });

  const metric = async (relayUrl: string, name: string) =>
    Number(
      new RegExp(`^${name} (\\d+)`, "m").exec(await (await fetch(`${relayUrl}/metrics`)).text())?.[1] ?? 0,
    );

  /**
   * Relay REST, relay gRPC and the Kafka-direct tracker under load, each into its own tenant; `fault`
   * runs while they send; then every acknowledged event is audited, per path.
   */
  const underLoad = async (scenario: string, fault: (tenants: string[]) => Promise<void>) => {
    const tenants = ["rest", "grpc", "tracker"].map((path) => uniqueName(`c3_${path}`));
    const [rest, grpcTenant, trackerTenant] = tenants as [string, string, string];
    const relay = await startTestRelay(cluster.brokers, [`${KEY}=*`]);
    const tracker = await KafkaTracker.open({
      brokers: cluster.brokers,
      tenantId: trackerTenant,
      spoolDir: await mkdtemp(join(tmpdir(), "c3-tracker-")),
      partitions: 3,
      lingerMs: 20,
      flushAtEvents: 20,
    });
    const grpc = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.grpcUrl }));
    try {
      // Topics exist before the fault, as in production.
      const admin = new Admin({ clientId: "fault-suite", bootstrapBrokers: cluster.brokers });
      await admin.createTopics({
        topics: tenants.map(topicFor),
        partitions: 3,
        replicas: 3,
        configs: [{ name: "min.insync.replicas", value: "2" }],
      });
      await admin.close();
      const loads = {
        "relay REST": steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, rest, auth),
        "relay gRPC": steadyCalls(grpcTenant, async (events) => {
          try {
            const answer = await grpc.trackEvents(
              { events: events.map((e) => eventToProto(e as never)) },
              { headers: auth, timeoutMs: 5000 },
            );
            return {
              status: "OK",
              acknowledged: answer.results.flatMap((r, i) =>
                r.success ? [events[i]?.event_id as string] : [],
              ),
            };
          } catch (error) {
            return {
              status:
                (error as { code?: number }).code === undefined
                  ? "network error"
                  : `code ${(error as { code: number }).code}`,
              acknowledged: [],
            };
          }
        }),
        "Kafka-direct tracker": steadyCalls(trackerTenant, async (events) => {
          const results = await tracker.trackMany(events as never);
          return { status: "ok", acknowledged: results.flatMap((r) => (r.ok ? [r.event_id] : [])) };
        }),
      };
      await sleep(3000);
      await fault(tenants);
      const restored = Date.now();
      await sleep(3000);
      await Promise.all(Object.values(loads).map((l) => l.stop()));
      const spooled = {
        "relay REST": await metric(relay.httpUrl, "relay_spooled_events_total"),
        "Kafka-direct tracker": Number(
          /^kafka_tracker_spooled_events_total (\d+)/m.exec(await tracker.registry.metrics())?.[1] ?? 0,
        ),
      };
      // The three paths' audits at once: each waits for its own tenant's events.
      const audited = await Promise.all(
        Object.entries(loads).map(([path, load], i) =>
          audit(
            `3 brokers: ${scenario} (${path})`,
            cluster.brokers,
            tenants[i] as string,
            load,
            restored,
            [],
          ),
        ),
      );
      for (const [i, [path, load]] of Object.entries(loads).entries()) {
        const row = audited[i] as (typeof audited)[number];
        // Retryable answers only: 200, 503 and no answer over REST; OK, UNAVAILABLE (14) and
        // DEADLINE_EXCEEDED (4) over gRPC; the tracker resolves or rejects with a full spool.
        const nonRetryable = [...load.statuses].filter(
          ([status]) =>
            !["200", "503", "network error", "OK", "code 14", "code 4", "network error", "ok"].includes(
              status,
            ),
        );
        clusterRows.push({
          ...row,
          path,
          non_retryable: nonRetryable.reduce((n, [, count]) => n + count, 0),
          spooled:
            path === "relay gRPC" ? spooled["relay REST"] : (spooled[path as keyof typeof spooled] ?? 0),
        });
        expect(row.lost, path).toBe(0);
        expect(nonRetryable, path).toEqual([]);
      }
    } finally {
      await tracker.close();
      await relay.close();
    }
  };

  const leaderOf = async (tenant: string) => {
    const admin = new Admin({ clientId: "fault-suite", bootstrapBrokers: cluster.brokers });
    const metadata = await admin.metadata({ topics: [topicFor(tenant)], forceUpdate: true });
    await admin.close();
    return metadata.topics.get(topicFor(tenant))?.partitions[0]?.leader as number;
  };

  it("the partition leader's broker SIGKILLed and restarted after 10 s", async () => {
    await underLoad("leader SIGKILL, restarted after 10 s", async ([rest]) => {
      const leader = await leaderOf(rest as string);
      await cluster.node("kill-node", leader);
      await sleep(10_000);
      await cluster.node("start-node", leader);
    });
  }, 300_000);

  it("a rolling restart of all three brokers", async () => {
    await underLoad("rolling restart", async () => {
      for (const node of [1, 2, 3]) {
        await cluster.node("stop-node", node);
        await cluster.node("start-node", node);
        await sleep(3000);
      }
    });
  }, 400_000);

  it("one broker (a partition leader) paused with SIGSTOP for 30 s", async () => {
    await underLoad("leader SIGSTOP 30 s", async ([rest]) => {
      const leader = await leaderOf(rest as string);
      await cluster.node("pause-node", leader);
      await sleep(30_000);
      await cluster.node("resume-node", leader);
    });
  }, 300_000);

  it("the active controller SIGKILLed and restarted after 10 s", async () => {
    await underLoad("active controller SIGKILL, restarted after 10 s", async () => {
      const controller = await cluster.activeController();
      await cluster.node("kill-node", controller);
      await sleep(10_000);
      await cluster.node("start-node", controller);
    });
  }, 300_000);
});
