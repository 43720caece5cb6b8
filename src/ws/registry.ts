// The hubs of this process, so that deleting a token (DELETE /api/v1/tokens/:id) closes the
// WebSockets opened with it at once. Hubs also re-check their tokens on every heartbeat, so a
// token removed some other way is cut off within a few seconds all the same.
export interface TokenCloser { closeToken(tokenId: string): void }

const hubs = new Set<TokenCloser>();

export function registerHub(h: TokenCloser): () => void {
  hubs.add(h);
  return () => hubs.delete(h);
}

/** The token was deleted: close every open WebSocket that authenticated with it. */
export function tokenDeleted(tokenId: string): void {
  for (const h of hubs) h.closeToken(tokenId);
}
