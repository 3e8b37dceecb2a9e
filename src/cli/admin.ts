import { PROBLEM_CONTENT_TYPE } from "../core/index.ts";

/** A failure the CLI reports as one line with what to do, and exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  /** The relay's error code, when the relay refused. */
  readonly code: string | undefined;

  constructor(message: string, exitCode: number, code?: string) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** Exit codes: 1 the server or the input said no, 2 the command line is wrong, 3 a server is unreachable. */
export const EXIT = { refused: 1, usage: 2, unreachable: 3 } as const;

export interface RelayAccess {
  relayUrl: string;
  /** The admin token or the tenant's secret key. */
  token: string | undefined;
}

/** One call to the relay's admin API; a refusal becomes a CliError naming the problem and the field. */
export const callRelay = async (
  access: RelayAccess,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
): Promise<unknown> => {
  if (access.token === undefined) {
    throw new CliError(
      "no credential: set BEHAVIOR_INGEST_TOKEN (the admin token or the tenant's secret key) or pass --token",
      EXIT.usage,
    );
  }
  let response: Response;
  try {
    response = await fetch(`${access.relayUrl.replace(/\/$/, "")}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${access.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new CliError(
      `cannot reach the relay at ${access.relayUrl} (${(error as Error).cause ?? (error as Error).message}): start it (npm run dev) or pass --relay`,
      EXIT.unreachable,
    );
  }
  const text = await response.text();
  if (response.ok) return text === "" ? undefined : JSON.parse(text);
  if (!response.headers.get("content-type")?.startsWith(PROBLEM_CONTENT_TYPE)) {
    throw new CliError(`the relay answered ${response.status}: ${text.slice(0, 200)}`, EXIT.refused);
  }
  const problem = JSON.parse(text) as {
    code: string;
    detail: string;
    errors?: { path: string; message: string }[];
  };
  const fields = (problem.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join("");
  const hint =
    problem.code === "unauthenticated"
      ? " (check BEHAVIOR_INGEST_TOKEN / --token)"
      : problem.code === "forbidden"
        ? " (a secret key manages only its own tenant; the admin token manages all)"
        : problem.code === "conflict"
          ? " (update it instead, or pass --exists-ok to keep it)"
          : "";
  throw new CliError(`${problem.code}: ${problem.detail}${hint}${fields}`, EXIT.refused, problem.code);
};
