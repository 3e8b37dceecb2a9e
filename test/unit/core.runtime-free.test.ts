import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const coreDir = join(import.meta.dirname, "..", "..", "src", "core");

describe("src/core", () => {
  it("imports nothing but zod, protobuf-es and its own and generated modules, so it loads in Node, Workers, Deno and browsers", () => {
    const files = readdirSync(coreDir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const source = readFileSync(join(coreDir, file), "utf8");
      const specifiers = [...source.matchAll(/^(?:import|export)\b[^;]*?\sfrom\s+["']([^"']+)["'];/gm)].map(
        (m) => m[1],
      );
      // zod, protobuf-es (runtime-free) and the generated protobuf code are the only outside imports.
      const foreign = specifiers.filter(
        (s) => s !== "zod" && s !== "@bufbuild/protobuf" && !s?.startsWith("./") && !s?.startsWith("../gen/"),
      );
      expect(foreign, file).toEqual([]);
      expect(source, file).not.toMatch(/\bimport\s*\(/);
    }
  });
});

describe("src/edge", () => {
  it("imports only hono, src/core and its own modules: no runtime APIs (entry points hand them in)", () => {
    const edgeDir = join(import.meta.dirname, "..", "..", "src", "edge");
    const files = readdirSync(edgeDir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const source = readFileSync(join(edgeDir, file), "utf8");
      const specifiers = [...source.matchAll(/^(?:import|export)\b[^;]*?\sfrom\s+["']([^"']+)["'];/gm)].map(
        (m) => m[1],
      );
      const foreign = specifiers.filter(
        (s) => s !== "hono" && !s?.startsWith("./") && s !== "../core/index.ts",
      );
      expect(foreign, file).toEqual([]);
    }
  });
});
