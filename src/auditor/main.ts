// The auditor on its own (`npm run auditor`): the relay's settings (Kafka, MongoDB) and its own
// (src/auditor/settings.ts), its metrics on AUDITOR_METRICS_PORT, graceful stop on SIGTERM/SIGINT. A relay
// runs the same with AUDITOR_ENABLED=true.
import { createServer } from "node:http";
import { pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { loadAuditorSettings } from "./settings.ts";
import { startStandaloneAuditor } from "./standalone.ts";

const settings = loadAuditorSettings(process.env);
const log = pino({ level: settings.LOG_LEVEL, base: { service: "auditor" } });
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const auditor = await startStandaloneAuditor(settings, { registry, log });
const metrics = createServer((req, res) => {
  if (req.url !== "/metrics") return res.writeHead(404).end();
  void registry
    .metrics()
    .then((text) => res.writeHead(200, { "content-type": registry.contentType }).end(text));
});
const port = settings.AUDITOR_METRICS_PORT;
metrics.listen(port, settings.RELAY_HOST, () => log.info({ port }, "auditor metrics listening"));

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`auditor: ${signal}, stopping\n`);
  metrics.close();
  await auditor.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
