import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(import.meta.dirname, "..", "..", "src");

/** Every module specifier each .ts file of a folder imports or re-exports. */
const importsOf = (folder: string): [string, string[]][] => {
  const files = readdirSync(join(src, folder)).filter((f) => f.endsWith(".ts"));
  return files.map((file) => {
    const source = readFileSync(join(src, folder, file), "utf8");
    expect(source, file).not.toMatch(/\bimport\s*\(/);
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\b(?:[^;]*?\sfrom)?\s*["']([^"']+)["'];/gm),
    ].map((m) => m[1] ?? "");
    return [file, specifiers];
  });
};

describe("runtime-free modules", () => {
  it("src/core imports nothing but zod, protobuf-es and its own and generated modules, so it loads in Node, Workers, Deno and browsers", () => {
    const modules = importsOf("core");
    expect(modules.length).toBeGreaterThan(5);
    for (const [file, specifiers] of modules) {
      const foreign = specifiers.filter(
        (s) =>
          s !== "zod" &&
          s !== "@bufbuild/protobuf" &&
          s !== "@bufbuild/protobuf/wire" &&
          !s.startsWith("./") &&
          !s.startsWith("../gen/"),
      );
      expect(foreign, file).toEqual([]);
    }
  });

  it("src/edge imports only hono, zod, protobuf-es, Connect's fetch client, fflate, ua-parser-js, isbot, src/core and its own modules: entry points hand in the runtime", () => {
    const modules = importsOf("edge");
    expect(modules.length).toBeGreaterThan(3);
    for (const [file, specifiers] of modules) {
      const allowed = [
        "hono",
        "zod",
        "@bufbuild/protobuf",
        "@connectrpc/connect",
        "@connectrpc/connect-web",
        "fflate",
        "ua-parser-js",
        "isbot",
        "../core/index.ts",
      ];
      const foreign = specifiers.filter(
        (s) =>
          !allowed.includes(s) && !s.startsWith("hono/") && !s.startsWith("./") && !s.startsWith("../gen/"),
      );
      expect(foreign, file).toEqual([]);
    }
  });
});
