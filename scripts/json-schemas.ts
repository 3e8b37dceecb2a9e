import * as z from "zod";
import {
  BehaviorEvent,
  BehaviorEventInput,
  SCENARIO_MEMBERS,
  TrackingConfig,
  TrackingConfigDefinition,
} from "../src/core/index.ts";

/** Every JSON Schema under schemas/, by relative path, generated from the zod schemas of src/core. */
export const jsonSchemaFiles = (): Record<string, string> => {
  const render = (schema: z.ZodType, id: string, io: "input" | "output") =>
    `${JSON.stringify({ $id: id, ...z.toJSONSchema(schema, { io, unrepresentable: "any" }) }, null, 2)}\n`;
  const files: Record<string, string> = {
    "behavior-event.schema.json": render(BehaviorEvent, "behavior-event.schema.json", "output"),
    "behavior-event-input.schema.json": render(
      BehaviorEventInput,
      "behavior-event-input.schema.json",
      "input",
    ),
    "tracking-config.schema.json": render(TrackingConfig, "tracking-config.schema.json", "output"),
    "tracking-config-definition.schema.json": render(
      TrackingConfigDefinition,
      "tracking-config-definition.schema.json",
      "input",
    ),
  };
  for (const [member, schema] of Object.entries(SCENARIO_MEMBERS)) {
    files[`scenario/${member}.schema.json`] = render(schema, `scenario/${member}.schema.json`, "input");
  }
  return files;
};
