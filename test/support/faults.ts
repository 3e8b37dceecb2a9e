// The fault-injection suite's load, audit and report (docs/fault-report.md), shared by its three files:
// test/integration/faults.broker.test.ts, faults.services.test.ts and faults.cluster.test.ts.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { readTopic, readWholeTopic } from "./kafka.ts";

const USERS = ["u_a", "u_b", "u_c", "u_d"];

/**
 * Polls `check` every `intervalMs` until it holds; false if it still does not after `timeoutMs`. A
 * check that throws (a server not answering yet) does not hold.
 */
export const holdsWithin = async (
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> => {
  const holds = async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await holds()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

/**
 * Waits for what proves a phase of a fault happened (calls answered, a spool used, a node back), never
 * for a fixed time; throws, naming what did not happen, after `timeoutMs`.
 */
export const waitUntil = async (
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
) => {
  if (!(await holdsWithin(check, timeoutMs)))
    throw new Error(
      `timed out after ${timeoutMs / 1000} s waiting for ${typeof what === "string" ? what : what()}`,
    );
};

/** A value of a Prometheus exposition (`name` without labels), NaN when absent. */
export const metricIn = (exposition: string, name: string) =>
  Number(new RegExp(`^${name} ([\\d.e+-]+)$`, "m").exec(exposition)?.[1] ?? Number.NaN);

/** A value of the relay's /metrics. */
export const relayMetric = async (relayUrl: string, name: string) =>
  metricIn(await (await fetch(`${relayUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text(), name);

export interface Row {
  scenario: string;
  acknowledged: number;
  delivered: number;
  duplicates: number;
  lost: number;
  not_acknowledged: number;
  recovery_seconds: number;
}
/** One path's figures in the loss audit. */
export interface AuditRow {
  path: string;
  sent: number;
  acknowledged: number;
  in_topic: number;
  quarantined: number;
  refused: number;
  refused_kept: number;
  not_acknowledged: number;
  lost: number;
  duplicates: number;
}

/** One path's figures in a fault on the three-broker cluster. */
export interface ClusterRow extends Row {
  path: string;
  /** Answers a client must not retry (should be none). */
  non_retryable: number;
  /** Events the relay or tracker had to spool. */
  spooled: number;
}

/**
 * The hostile but legal mix of the loss audit, for one tenant, each event with its own id: valid,
 * a wrongly typed scenario value, a strict violation (an error for a strict tenant, a warning for the
 * others), an invalid envelope, near-limit events (~30 KB of CJK and emoji), and a cross-tenant
 * spread of users.
 */
export const hostileMix = (tenant: string, prefix: string) => {
  const base = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
  const cjk = "上海市浦东新区😀🎬".repeat(1500);
  return [
    { ...base, user_id: "u_1" },
    { ...base, user_id: "u_2", scenario_data: { video_data: { duration: "abc", watch_duration: 1.5 } } },
    { ...base, user_id: "u_3", scenario_data: { video_data: { completion_rate: 7 } } },
    { ...base, user_id: "u_4", action_type: "swipe" },
    { ...base, user_id: "用户_5", extra_data: { note: cjk.slice(0, 9000) } },
    { ...base, user_id: "u_6", extra_data: { note: cjk.slice(0, 9500), list: [cjk.slice(0, 100)] } },
    { ...base, user_id: "u_7", context: { device_type: "tablet", location: "北京" }, position: 2 ** 31 - 1 },
  ].map((event, i) => ({ ...event, event_id: `${prefix}_${i}` }));
};

/** 40 events/s through any client: a batch of one event per user every 100 ms. */
export const steadyCalls = (
  tenant: string,
  send: (events: ReturnType<typeof loadEvents>) => Promise<{ status: string; acknowledged: string[] }>,
) => {
  const acknowledged: string[] = [];
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  let notAcknowledged = 0;
  /** Calls answered (any answer, a timeout too), and those whose every event was acknowledged. */
  let answered = 0;
  let acknowledgedCalls = 0;
  let seq = 0;
  const inflight = new Set<Promise<void>>();
  const tick = async () => {
    const events = loadEvents(tenant, seq);
    seq += events.length;
    const started = performance.now();
    const outcome = await send(events).catch((error: Error) => ({
      status: `error ${error.message}`,
      acknowledged: [],
    }));
    acknowledged.push(...outcome.acknowledged);
    notAcknowledged += events.length - outcome.acknowledged.length;
    statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
    latencies.push(performance.now() - started);
    answered++;
    if (outcome.acknowledged.length === events.length) acknowledgedCalls++;
  };
  /** Waits until `count` has grown by `n` from now. */
  const more = (what: string, count: () => number, n: number, timeoutMs: number) => {
    const from = count();
    return waitUntil(
      () =>
        `${n} more ${what} of the load to ${tenant} (${count() - from} so far; statuses ${JSON.stringify([...statuses])})`,
      () => count() - from >= n,
      timeoutMs,
    );
  };
  const timer = setInterval(() => {
    const call = tick();
    inflight.add(call);
    void call.finally(() => inflight.delete(call));
  }, 100);
  return {
    acknowledged,
    statuses,
    latencies,
    notAcknowledged: () => notAcknowledged,
    answered: () => answered,
    /** Until `n` more calls have been answered, whatever the answer (a REST or gRPC call gives up after 5 s). */
    untilAnswered: (n: number, timeoutMs = 60_000) => more("answered calls", () => answered, n, timeoutMs),
    /** Until `n` more calls have had all their events acknowledged. */
    untilAcknowledged: (n: number, timeoutMs = 60_000) =>
      more("fully acknowledged calls", () => acknowledgedCalls, n, timeoutMs),
    /** Until `n` more calls have been answered with `status`. */
    untilStatus: (status: string, n: number, timeoutMs = 60_000) =>
      more(`calls answered ${status}`, () => statuses.get(status) ?? 0, n, timeoutMs),
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
    },
  };
};

/** A batch of one event per user, numbered from `seq`. */
export const loadEvents = (tenant: string, seq: number) =>
  USERS.map((user, i) => ({
    ...EXAMPLE_EVENTS.video_data,
    event_id: `evt_${tenant}_${seq + i}`,
    tenant_id: tenant,
    user_id: user,
    position: seq + i,
  }));

/** The steady load over REST (the relay's or the edge's batch call), each call bounded by 5 s. */
export const steadyLoad = (url: string, tenant: string, headers: Record<string, string>) =>
  steadyCalls(tenant, async (events) => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(5000),
      });
      if (response.status !== 200 && response.status !== 202) {
        await response.arrayBuffer();
        return { status: String(response.status), acknowledged: [] };
      }
      const body = (await response.json()) as { results: { success: boolean; event_id: string }[] };
      return {
        status: String(response.status),
        acknowledged: body.results.flatMap((r) => (r.success ? [r.event_id] : [])),
      };
    } catch {
      return { status: "network error", acknowledged: [] };
    }
  });

/** Waits until every acknowledged id is in the topic (the recovery), then counts duplicates and losses. */
export const audit = async (
  scenario: string,
  brokers: string[],
  tenant: string,
  load: Pick<ReturnType<typeof steadyLoad>, "acknowledged" | "statuses" | "notAcknowledged">,
  restoredAt: number,
  /** Where the row goes. */
  table: Row[],
) => {
  const wanted = new Set(load.acknowledged);
  const deadline = Date.now() + 180_000;
  let seen = new Set<string | undefined>();
  let recovered = Number.NaN;
  while (Date.now() < deadline) {
    // Counts each acknowledged id once, so duplicates do not end the read early.
    seen = new Set<string | undefined>();
    await readTopic(brokers, topicFor(tenant), wanted.size, 10_000, (r) => {
      const id = r.headers.get("event_id");
      if (!wanted.has(id as string) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (seen.size === wanted.size) {
      recovered = Date.now();
      break;
    }
  }
  const all = await readWholeTopic(brokers, topicFor(tenant));
  const ids = all.map((r) => r.headers.get("event_id") as string);
  const delivered = new Set(ids);
  const row: Row = {
    scenario,
    acknowledged: wanted.size,
    delivered: [...wanted].filter((id) => delivered.has(id)).length,
    duplicates: ids.length - delivered.size,
    lost: [...wanted].filter((id) => !delivered.has(id)).length,
    not_acknowledged: load.notAcknowledged(),
    recovery_seconds: +((recovered - restoredAt) / 1000).toFixed(1),
  };
  table.push(row);
  console.log(`fault ${scenario}: ${JSON.stringify(row)} statuses ${JSON.stringify([...load.statuses])}`);
  return row;
};

const markdownTable = (header: string[], rows: (string | number)[][]) =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

export const faultTable = (rows: Row[]) =>
  markdownTable(
    [
      "fault",
      "acknowledged",
      "delivered",
      "duplicates",
      "lost",
      "not acknowledged (client retries)",
      "recovery s",
    ],
    rows.map((r) => [
      r.scenario,
      r.acknowledged,
      r.delivered,
      r.duplicates,
      r.lost,
      r.not_acknowledged,
      r.recovery_seconds,
    ]),
  );

export const auditTable = (rows: AuditRow[]) =>
  markdownTable(
    [
      "path",
      "sent",
      "acknowledged",
      "in topic",
      "in -rejected (acknowledged)",
      "refused",
      "refused and kept in -rejected",
      "not acknowledged",
      "lost",
      "duplicates",
    ],
    rows.map((r) => [
      r.path,
      r.sent,
      r.acknowledged,
      r.in_topic,
      r.quarantined,
      r.refused,
      r.refused_kept,
      r.not_acknowledged,
      r.lost,
      r.duplicates,
    ]),
  );

export const clusterTable = (rows: ClusterRow[]) =>
  markdownTable(
    [
      "fault",
      "path",
      "acknowledged",
      "delivered",
      "duplicates",
      "lost",
      "spooled",
      "non-retryable answers",
      "not acknowledged",
      "recovery s",
    ],
    rows.map((r) => [
      r.scenario.replace(/^3 brokers: | \(.*\)$/g, ""),
      r.path,
      r.acknowledged,
      r.delivered,
      r.duplicates,
      r.lost,
      r.spooled,
      r.non_retryable,
      r.not_acknowledged,
      r.recovery_seconds,
    ]),
  );

/** The report's sections, in order, each with the words above its table. */
const SECTIONS = {
  "Broker faults": "One broker, the relay under load while the broker fails.",
  "Relay, edge and MongoDB faults":
    "One broker; the relay, the edge in front of it or the MongoDB-wire server fails.",
  "Loss audit": `A hostile but legal mix (valid events, a wrongly typed scenario value, a strict violation, an invalid envelope, ~30 KB events of CJK and emoji, the largest position) for three tenants — one of them strict — through every path, in three phases: everything up, the relay stopped, the relay back. Audited by \`event_id\`: an acknowledged event must be in its tenant's topic (or, if Kafka refused it for good, in \`-rejected\`); a refused event must have been refused to the client with its code and, when refused for its content, be kept in \`-rejected\`. *Not acknowledged* are calls that failed while the relay was down (the client retries them). The Kafka-direct tracker answers refusals to its caller and does not quarantine them.`,
  "Three brokers": `A cluster of three KRaft nodes (\`KAFKA_NODES=3\`), tenant topics with 3 partitions, replication factor 3 and \`min.insync.replicas\` 2. The same load through the relay's REST API, its gRPC port and the Kafka-direct tracker, each into its own tenant, while a broker fails. *Spooled* counts events the relay (REST and gRPC share one relay) or the tracker put in their spool; *non-retryable answers* must be 0.`,
} as const;

/**
 * Writes one section of the report named by FAULT_REPORT (set by `npm run faults`), keeping the
 * others as their last run left them; without FAULT_REPORT the tables only go to the log.
 */
export const writeFaultReport = (section: keyof typeof SECTIONS, table: string) => {
  console.log(`${section}\n${table}`);
  const path = process.env.FAULT_REPORT;
  if (path === undefined) return;
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const body = (name: string) =>
    name === section
      ? `${SECTIONS[section]} Last run ${new Date().toISOString()}.\n\n${table}`
      : (new RegExp(`<!-- ${name} -->\n([\\s\\S]*?)\n<!-- /${name} -->`).exec(old)?.[1] ?? "Not run yet.");
  const sections = Object.keys(SECTIONS).map(
    (name) => `## ${name}\n\n<!-- ${name} -->\n${body(name)}\n<!-- /${name} -->`,
  );
  writeFileSync(
    path,
    `# Fault-injection report\n\nWritten by \`npm run faults\` (test/integration/faults.*.test.ts) on the 2-core build machine; each section says when it last ran. Load: 40 events/s in batches of 4, each call bounded by 5 s. *Recovery* is from the moment the failed part is back until every acknowledged event is found in Kafka (it includes the audit's own reads, about 1–3 s). Events *not acknowledged* got a retryable answer or none, so a client sends them again; they are not owed. *Duplicates* are records found twice: a request not acknowledged within \`KAFKA_ACK_TIMEOUT_MS\` is backed up to the spool but not abandoned, and when it lands after all the backup is skipped, so only a send that failed after it may have reached the broker is written again (counted by \`relay_duplicate_risk_events_total\`); the \`event_id\` header identifies them for consumers that deduplicate.\n\n${sections.join("\n\n")}\n`,
  );
};
