// Fault injection on a cluster of three brokers (docs/fault-report.md): a leader killed (failover), a
// rolling restart, a node paused (a hung broker) and the controller killed, with the relay's REST and
// gRPC paths and the Kafka-direct tracker under load. Every phase lasts until what proves it happened
// (new leaders, spools used or drained, a node back in sync), never a fixed time. `npm run faults` runs
// this and the other faults.*.test.ts files and writes the report.
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
  metricIn,
  steadyCalls,
  steadyLoad,
  waitUntil,
  writeFaultReport,
} from "../support/faults.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const clusterRows: ClusterRow[] = [];
/** A paused node stays paused until the relay and the tracker have each spooled this many events. */
const PAUSE_SPOOLED = 40;

/** What a fault sees of the paths under load, to wait on. */
interface Paths {
  tenants: string[];
  /** A client of the cluster, for its metadata. */
  admin: Admin;
  /** Events the relay (REST and gRPC together) and the tracker have put in their spools so far. */
  spooled(): Promise<{ relay: number; tracker: number }>;
  /** Until the relay's and the tracker's spools are empty: they deliver to Kafka directly again. */
  untilDrained(why: string): Promise<void>;
  /** Until the node is out of every ISR and leads nothing: the controller fenced it, new leaders were elected. */
  untilFenced(node: number): Promise<void>;
}

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

  /** The partitions of the tenants' topics, as the cluster describes them now. */
  const partitionsOf = async (admin: Admin, tenants: string[]) => {
    const metadata = await admin.metadata({ topics: tenants.map(topicFor), forceUpdate: true });
    return tenants.flatMap((t) => metadata.topics.get(topicFor(t))?.partitions ?? []);
  };

  /**
   * Relay REST, relay gRPC and the Kafka-direct tracker under load, each into its own tenant; `fault`
   * runs while they send; then every acknowledged event is audited, per path.
   */
  const underLoad = async (scenario: string, fault: (paths: Paths) => Promise<void>) => {
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
    const admin = new Admin({ clientId: "fault-suite", bootstrapBrokers: cluster.brokers });
    const spools = async () => {
      const [relayText, trackerText] = await Promise.all([
        fetch(`${relay.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()),
        tracker.registry.metrics(),
      ]);
      return {
        spooled: {
          relay: metricIn(relayText, "relay_spooled_events_total"),
          tracker: metricIn(trackerText, "kafka_tracker_spooled_events_total"),
        },
        waiting: {
          relay: metricIn(relayText, "relay_spool_events"),
          tracker: metricIn(trackerText, "kafka_tracker_spool_events"),
        },
      };
    };
    const paths: Paths = {
      tenants,
      admin,
      spooled: async () => (await spools()).spooled,
      untilDrained: (why) =>
        waitUntil(
          `the relay's and the tracker's spools to drain ${why}`,
          async () => {
            const { waiting } = await spools();
            return waiting.relay === 0 && waiting.tracker === 0;
          },
          90_000,
        ),
      untilFenced: (node) =>
        waitUntil(
          `node ${node} to be fenced: out of every ISR, new leaders elected`,
          async () =>
            (await partitionsOf(admin, tenants)).every(
              (p) => p.leader >= 0 && p.leader !== node && !p.isr.includes(node),
            ),
          90_000,
        ),
    };
    let loads: Record<string, ReturnType<typeof steadyCalls>> = {};
    try {
      // Topics exist before the fault, as in production.
      await admin.createTopics({
        topics: tenants.map(topicFor),
        partitions: 3,
        replicas: 3,
        configs: [{ name: "min.insync.replicas", value: "2" }],
      });
      loads = {
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
      // The fault starts once every path delivers.
      await Promise.all(Object.values(loads).map((l) => l.untilAcknowledged(10)));
      await fault(paths);
      const restored = Date.now();
      // Over once the cluster is whole again (every replica in sync), both spools have drained into
      // it, and every path has had calls acknowledged since.
      await waitUntil(
        "every partition with three replicas in sync",
        async () => (await partitionsOf(admin, tenants)).every((p) => p.leader >= 0 && p.isr.length === 3),
        90_000,
      );
      await paths.untilDrained("after the fault");
      await Promise.all(Object.values(loads).map((l) => l.untilAcknowledged(5)));
      await Promise.all(Object.values(loads).map((l) => l.stop()));
      const spooled = await paths.spooled();
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
          spooled: path === "Kafka-direct tracker" ? spooled.tracker : spooled.relay,
        });
        expect(row.lost, path).toBe(0);
        expect(nonRetryable, path).toEqual([]);
      }
    } finally {
      await Promise.all(Object.values(loads).map((l) => l.stop()));
      await admin.close();
      await tracker.close();
      await relay.close();
    }
  };

  /** The leader of the first partition of a tenant's topic. */
  const leaderOf = async (admin: Admin, tenant: string) =>
    (await partitionsOf(admin, [tenant]))[0]?.leader as number;

  it("the partition leader's broker SIGKILLed: new leaders take over, then it is restarted", async () => {
    await underLoad("leader SIGKILL until failed over, restarted", async (paths) => {
      const leader = await leaderOf(paths.admin, paths.tenants[0] as string);
      await cluster.node("kill-node", leader);
      // The node stays dead until the failover is done: the controller has fenced it (after the broker
      // session timeout) and elected new leaders, and the paths deliver to them without it.
      await paths.untilFenced(leader);
      await paths.untilDrained(`while node ${leader} is down`);
      await cluster.node("start-node", leader);
    });
  }, 300_000);

  it("a rolling restart of all three brokers", async () => {
    await underLoad("rolling restart", async (paths) => {
      for (const node of [1, 2, 3]) {
        await cluster.node("stop-node", node);
        await cluster.node("start-node", node);
        // As an operator would: the next node stops only once this one is back in every ISR.
        await waitUntil(
          `node ${node} back in every ISR`,
          async () => (await partitionsOf(paths.admin, paths.tenants)).every((p) => p.isr.includes(node)),
          90_000,
        );
      }
    });
  }, 400_000);

  it("one broker (a partition leader) paused with SIGSTOP: requests time out and are spooled", async () => {
    await underLoad(
      `leader SIGSTOP until relay and tracker spooled ${PAUSE_SPOOLED}+ events each`,
      async (paths) => {
        const leader = await leaderOf(paths.admin, paths.tenants[0] as string);
        const before = await paths.spooled();
        await cluster.node("pause-node", leader);
        try {
          // A hung broker: the pause lasts until the relay and the tracker have each given up waiting
          // for it (their ack timeout) and spooled calls.
          await waitUntil(`the relay and the tracker to spool ${PAUSE_SPOOLED} events each`, async () => {
            const now = await paths.spooled();
            return now.relay - before.relay >= PAUSE_SPOOLED && now.tracker - before.tracker >= PAUSE_SPOOLED;
          });
        } finally {
          await cluster.node("resume-node", leader);
        }
      },
    );
  }, 300_000);

  it("the active controller SIGKILLed: a new one is elected, then it is restarted", async () => {
    await underLoad("active controller SIGKILL until failed over, restarted", async (paths) => {
      const controller = await cluster.activeController();
      await cluster.node("kill-node", controller);
      // The node stays dead until the other two have elected a controller, which has fenced it and
      // moved its partitions, and the paths deliver without it.
      await waitUntil(
        "a new active controller",
        async () => (await cluster.activeController()) !== controller,
        90_000,
      );
      await paths.untilFenced(controller);
      await paths.untilDrained(`while node ${controller} is down`);
      await cluster.node("start-node", controller);
    });
  }, 300_000);
});
