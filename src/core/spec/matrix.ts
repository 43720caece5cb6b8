// Matrix sweeps: cartesian product of the matrix values (first key varies slowest), and its size.

export function countMatrix(matrix: Record<string, unknown[]>): number {
  return Object.values(matrix).reduce((n, vals) => n * vals.length, 1);
}

export function expandMatrix(matrix: Record<string, unknown[]>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, vals] of Object.entries(matrix)) {
    const next: Record<string, unknown>[] = [];
    for (const combo of combos) for (const val of vals) next.push({ ...combo, [key]: val });
    combos = next;
  }
  return combos;
}
