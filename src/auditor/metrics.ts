import { Counter, Gauge, type Registry } from "prom-client";

/** The auditor's metrics: records re-checked by verdict, what it could not read, how far behind it is. */
export const auditorMetrics = (registry: Registry) => ({
  records: new Counter({
    name: "auditor_records_total",
    help: "Records the auditor read, by verdict: passed, failed (the check), unreadable (no event at all)",
    labelNames: ["verdict"] as const,
    registers: [registry],
  }),
  unreadable: new Counter({
    name: "auditor_unreadable_records_total",
    help: "Records of a tenant's topic that are no event (no_value, not_json, too_deep, not_an_object): quarantined as unreadable and skipped",
    labelNames: ["tenant", "reason"] as const,
    registers: [registry],
  }),
  quarantineFailures: new Counter({
    name: "auditor_quarantine_failures_total",
    help: "Unreadable records the auditor could not copy to their -rejected topic (skipped all the same: the record stays in its topic)",
    registers: [registry],
  }),
  lag: new Gauge({
    name: "auditor_lag_records",
    help: "Records in the tenants' topics past the auditors' committed offsets, up to the log end (as last measured)",
    registers: [registry],
  }),
  tenantLag: new Gauge({
    name: "auditor_tenant_lag_records",
    help: "Records in one tenant's topic past the auditors' committed offsets; tenants with none are not listed",
    labelNames: ["tenant"] as const,
    registers: [registry],
  }),
});
export type AuditorMetrics = ReturnType<typeof auditorMetrics>;
