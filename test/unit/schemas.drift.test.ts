import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { eventReference } from "../../scripts/event-reference.ts";
import { jsonSchemaFiles } from "../../scripts/json-schemas.ts";

const root = join(import.meta.dirname, "..", "..", "schemas");
const committed = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? committed(join(dir, entry.name)) : [relative(root, join(dir, entry.name))],
  );

describe("schemas/", () => {
  it("matches what src/core generates (run `npm run gen:schemas` after changing a schema)", () => {
    const expected = jsonSchemaFiles();
    expect(committed(root).sort()).toEqual(Object.keys(expected).sort());
    for (const [path, text] of Object.entries(expected)) {
      expect(readFileSync(join(root, path), "utf8"), path).toBe(text);
    }
  });

  it("docs/events.md matches what src/core generates (npm run gen:schemas)", () => {
    expect(readFileSync(join(root, "..", "docs", "events.md"), "utf8")).toBe(eventReference());
  });
});
