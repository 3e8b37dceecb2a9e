import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(import.meta.dirname, "..", "..", "src");

/**
 * Every module specifier each .ts file under a folder (subfolders too) imports or re-exports; relative
 * ones as paths from src/ (`core/index.ts`).
 */
const importsOf = (folder: string): [string, string[]][] => {
  const files = readdirSync(join(src, folder), { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith(".ts"),
  );
  return files.map((file) => {
    const source = readFileSync(join(src, folder, file), "utf8");
    expect(source, file).not.toMatch(/\bimport\s*\(/);
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\b(?:[^;]*?\sfrom)?\s*["']([^"']+)["'];/gm),
    ].map((m) => {
      const specifier = m[1] ?? "";
      return specifier.startsWith(".")
        ? relative(src, join(src, folder, dirname(file), specifier))
        : specifier;
    });
    return [join(folder, file), specifiers];
  });
};

/** Expects each file under a folder to import only what `allowed` lets through; the files' paths. */
const expectImportsOnly = (folder: string, allowed: (specifier: string) => boolean): string[] => {
  const modules = importsOf(folder);
  for (const [file, specifiers] of modules) {
    const foreign = specifiers.filter((s) => !allowed(s));
    expect(foreign, file).toEqual([]);
  }
  return modules.map(([file]) => file);
};

describe("runtime-free modules", () => {
  it("src/core imports nothing but zod, protobuf-es and its own and generated modules, so it loads in Node, Workers, Deno and browsers", () => {
    const packages = ["zod", "@bufbuild/protobuf", "@bufbuild/protobuf/wire"];
    const files = expectImportsOnly(
      "core",
      (s) => packages.includes(s) || s.startsWith("core/") || s.startsWith("gen/"),
    );
    expect(files.length).toBeGreaterThan(5);
  });

  it("src/edge imports only hono, zod, protobuf-es, Connect's fetch client, fflate, ua-parser-js, isbot, p-retry, src/core, src/http and its own modules: entry points hand in the runtime", () => {
    const allowed = [
      "hono",
      "zod",
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-web",
      "fflate",
      "ua-parser-js",
      "isbot",
      "p-retry",
      "core/index.ts",
    ];
    const files = expectImportsOnly(
      "edge",
      (s) =>
        allowed.includes(s) ||
        s.startsWith("hono/") ||
        s.startsWith("edge/") ||
        s.startsWith("http/") ||
        s.startsWith("gen/"),
    );
    expect(files.length).toBeGreaterThan(3);
    expect(files).toContain("edge/http/app.ts");
  });

  it("src/http, shared by the edge and the relay, imports only hono and src/core", () => {
    const files = expectImportsOnly(
      "http",
      (s) => s === "hono" || s.startsWith("hono/") || s === "core/index.ts" || s.startsWith("http/"),
    );
    expect(files.length).toBeGreaterThan(1);
  });
});
