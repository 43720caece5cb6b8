// The agent's HTTP calls: JSON posts and raw log chunks, with the token from env or a file.
export interface AgentApi {
  post(path: string, body: unknown): Promise<{ status: number; body: unknown }>;
  postBytes(path: string, data: Uint8Array, leaseToken: string): Promise<{ status: number; body: unknown }>;
}

export function agentApi(server: string, token: string): AgentApi {
  const base = server.replace(/\/+$/, '') + '/api/v1';
  const call = async (path: string, init: RequestInit) => {
    const res = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${token}`, 'user-agent': 'drover-agent', ...(init.headers as Record<string, string>) } });
    const text = await res.text();
    let body: unknown = text;
    try { body = text ? JSON.parse(text) : null; } catch { /* text */ }
    return { status: res.status, body };
  };
  return {
    post: (path, body) => call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    postBytes: (path, data, leaseToken) => call(path, { method: 'POST', body: data as unknown as BodyInit, headers: { 'content-type': 'application/octet-stream', 'x-lease-token': leaseToken } }),
  };
}
