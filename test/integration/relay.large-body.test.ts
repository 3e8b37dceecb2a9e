import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");

/**
 * Posts `bytes` of body the way Python's http.client and requests do: the whole body is written before
 * anything is read. Resolves with what the server answered, or the socket error the client saw.
 */
const postWholeBodyThenRead = (url: string, bytes: number, chunked: boolean) =>
  new Promise<{ answer: string; error?: string }>((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    const body = Buffer.alloc(bytes, 0x20);
    let answer = "";
    let error: string | undefined;
    socket.on("error", (e) => {
      error = e.message;
    });
    socket.on("close", () => resolve({ answer, error }));
    socket.once("connect", () => {
      const length = chunked ? "transfer-encoding: chunked" : `content-length: ${bytes}`;
      socket.write(
        `POST /api/v1/behaviors/track/batch HTTP/1.1\r\nhost: relay\r\ncontent-type: application/json\r\n${length}\r\n\r\n`,
      );
      const payload = chunked
        ? Buffer.concat([Buffer.from(`${bytes.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")])
        : body;
      socket.write(payload, (writeError) => {
        if (writeError) return;
        socket.on("data", (chunk: Buffer) => {
          answer += chunk.toString();
          if (answer.includes("\r\n\r\n{") && answer.trimEnd().endsWith("}")) socket.end();
        });
      });
    });
  });

describe("a client that writes its whole over-limit body before reading", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, []);
  }, 60_000);

  afterAll(async () => {
    await relay?.close();
  });

  it.each([
    ["with content-length", false],
    ["chunked", true],
  ])("reads the 413 problem+json (5 MB, %s)", async (_, chunked) => {
    const { answer, error } = await postWholeBodyThenRead(relay.httpUrl, 5 * 1024 * 1024, chunked);
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain("application/problem+json");
    expect(answer).toContain('"code":"payload_too_large"');
  });
});
