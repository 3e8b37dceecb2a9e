// Writes schemas/ and docs/events.md from src/core. Never edit those files by hand;
// test/unit/schemas.drift.test.ts fails when they are stale.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { eventReference } from "./event-reference.ts";
import { jsonSchemaFiles } from "./json-schemas.ts";

const root = join(import.meta.dirname, "..", "schemas");
rmSync(root, { recursive: true, force: true });
for (const [path, text] of Object.entries(jsonSchemaFiles())) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}
console.log(`wrote ${Object.keys(jsonSchemaFiles()).length} schemas to schemas/`);
writeFileSync(join(import.meta.dirname, "..", "docs", "events.md"), eventReference());
console.log("wrote docs/events.md");
