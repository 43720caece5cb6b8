// A state machine is a status tuple plus a transition table; this is the one guard they share.
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

export function makeMachine<S extends string>(entity: string, statuses: readonly S[], table: Transitions<S>, terminal: readonly S[]) {
  return {
    entity,
    statuses,
    table,
    terminal: new Set<S>(terminal),
    canTransition(from: S, to: S): boolean {
      return (table[from] ?? []).includes(to);
    },
    isTerminal(s: S): boolean {
      return terminal.includes(s);
    },
  };
}
