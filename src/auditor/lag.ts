import type { Admin, Consumer } from "@platformatic/kafka";
import { tenantOfTopic } from "../core/index.ts";
import type { AuditorMetrics } from "./metrics.ts";

/**
 * Lag by tenant: per partition, the log end offset less the group's committed offset (the log start
 * where it has none). Measured from the broker, not from the streams: an auditor that fails on a
 * record, restarts and fails again commits nothing, and its lag grows with every record written.
 */
export const lagMeter = (
  clients: { consumer: Consumer<string, string, string, string>; admin: Admin },
  groupId: string,
  metrics: AuditorMetrics,
) => {
  const { consumer, admin } = clients;
  let lag = 0;
  let lagByTenant: ReadonlyMap<string, number> = new Map();
  return {
    get lag() {
      return lag;
    },
    get lagByTenant() {
      return lagByTenant;
    },
    measure: async (topics: string[]) => {
      const [ends, starts, groups] = await Promise.all([
        consumer.listOffsets({ topics }),
        consumer.listOffsets({ topics, timestamp: -2n }),
        admin.listConsumerGroupOffsets({ groups: [groupId] }),
      ]);
      const committed = new Map<string, bigint>();
      for (const topic of groups[0]?.topics ?? []) {
        for (const p of topic.partitions)
          committed.set(`${topic.name}/${p.partitionIndex}`, p.committedOffset);
      }
      const byTenant = new Map<string, number>();
      for (const topic of topics) {
        const first = starts.get(topic) ?? [];
        let behind = 0;
        (ends.get(topic) ?? []).forEach((end, partition) => {
          const start = first[partition] ?? 0n;
          const at = committed.get(`${topic}/${partition}`) ?? -1n;
          const from = at < start ? start : at;
          if (end > from) behind += Number(end - from);
        });
        if (behind > 0) byTenant.set(tenantOfTopic(topic) as string, behind);
      }
      for (const tenant of lagByTenant.keys()) {
        if (!byTenant.has(tenant)) metrics.tenantLag.remove({ tenant });
      }
      for (const [tenant, behind] of byTenant) metrics.tenantLag.set({ tenant }, behind);
      lagByTenant = byTenant;
      lag = [...byTenant.values()].reduce((sum, n) => sum + n, 0);
      metrics.lag.set(lag);
    },
  };
};
