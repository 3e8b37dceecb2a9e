// The auditor re-checking what the relay writes: a backlog first, then the relay writing at half its
// sustained REST batched rate while the auditor keeps up (bench/auditor.ts measures).
import { auditorBench } from "../auditor.ts";
import { BROKERS, event, jsonHeaders, post, say, tenant } from "./context.ts";
import type { BenchRelay } from "./relay.ts";

/** `restBatchedSustained`: the relay's sustained REST batched events/s in this run, if it was measured. */
export const auditorScenario = async ({ relay }: BenchRelay, restBatchedSustained: number | undefined) => {
  // A tenant of its own, so only its records count.
  const auditTenant = `${tenant}_audit`;
  const body = JSON.stringify({
    events: Array.from({ length: 100 }, () => ({ ...event, tenant_id: auditTenant })),
  });
  const steadyRate = Math.round((restBatchedSustained ?? 20_000) / 2);
  say(`auditor: a backlog, then the relay writing ${steadyRate} ev/s`);
  return auditorBench({
    brokers: BROKERS,
    tenant: auditTenant,
    write: (rps, seconds) =>
      post(`${relay.httpUrl}/api/v1/behaviors/track/batch`, body, jsonHeaders, rps, seconds),
    steadyRate,
    steadySeconds: 15,
  });
};
