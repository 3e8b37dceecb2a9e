// `npm run demo:validate`: validates the example event of every scenario member, locally, against a
// config made from its template, and shows what a rejected event looks like. Nothing is sent.
import {
  configFromTemplate,
  EXAMPLE_EVENTS,
  type ScenarioMember,
  templateFor,
  topicFor,
  typeOfMember,
  validateEvent,
} from "../src/core/index.ts";

const now = Date.now();
console.log(
  `Validating the example event of each scenario, locally; nothing is sent (Node ${process.versions.node})\n`,
);
for (const [member, example] of Object.entries(EXAMPLE_EVENTS) as [ScenarioMember, unknown][]) {
  const template = templateFor(typeOfMember(member));
  const target = example as { tenant_id: string; scenario_id: string };
  const config = template && configFromTemplate(template, { ...target, name: template.name }, now);
  const result = validateEvent(example, config);
  const verdict = result.ok ? `valid: would be written to ${topicFor(target.tenant_id)}` : "invalid";
  console.log(`${member.padEnd(18)} ${verdict}  event_id=${result.event?.event_id ?? "-"}`);
  for (const w of result.warnings) console.log(`  warning: ${w.message}`);
}

const broken = { ...EXAMPLE_EVENTS.video_data, tenant_id: "../other", context: { device_type: "tv" } };
console.log("\nA broken event:");
for (const e of validateEvent(broken).errors) console.log(`  error: ${e.message}`);
