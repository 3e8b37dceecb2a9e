/** Admin calls against a test relay, for the edge tests' setup. */
export const adminClient = (relayUrl: string, token: string) => async (path: string, body: unknown) => {
  const response = await fetch(`${relayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { key: string };
};

/** A tenant ready for the edge: a video config for vlog_feed, a publishable key and a service key. */
export const edgeTenant = async (
  admin: ReturnType<typeof adminClient>,
  tenant: string,
  allowedOrigins: string[],
) => {
  await admin("/api/v1/tracking-configs/from-template", {
    tenant_id: tenant,
    scenario_id: "vlog_feed",
    template_id: "video",
    name: "Vlog",
  });
  const publishable = (
    await admin("/api/v1/api-keys", {
      kind: "publishable",
      tenant_id: tenant,
      allowed_origins: allowedOrigins,
    })
  ).key;
  const service = (await admin("/api/v1/api-keys", { kind: "service" })).key;
  return { publishable, service };
};
