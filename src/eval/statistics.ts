/**
 * The two tests `keel eval compare` reports: Fisher's exact test for pass counts (two 2×2 margins, exact at any
 * size) and the Mann–Whitney U test for cost and latency (rank based: no assumption that they are normal, which
 * latencies never are). Both two-sided.
 */

const logFactorials: number[] = [0];

function logFactorial(n: number): number {
  for (let index = logFactorials.length; index <= n; index += 1) logFactorials.push((logFactorials[index - 1] ?? 0) + Math.log(index));
  return logFactorials[n] ?? 0;
}

/** Probability of the 2×2 table [[a, b], [c, d]] given its margins (hypergeometric). */
function tableLogProbability(a: number, b: number, c: number, d: number): number {
  const n = a + b + c + d;
  return logFactorial(a + b) + logFactorial(c + d) + logFactorial(a + c) + logFactorial(b + d) - logFactorial(n) - logFactorial(a) - logFactorial(b) - logFactorial(c) - logFactorial(d);
}

/**
 * Two-sided p-value of Fisher's exact test: passes and failures of run A against run B. The sum of the probabilities
 * of every table with the same margins that is no more likely than the one observed.
 */
export function fisherExact(passedA: number, failedA: number, passedB: number, failedB: number): number {
  const rowA = passedA + failedA;
  const passes = passedA + passedB;
  const total = rowA + passedB + failedB;
  if (rowA === 0 || rowA === total || passes === 0 || passes === total) return 1;
  const observed = tableLogProbability(passedA, failedA, passedB, failedB);
  let p = 0;
  for (let a = Math.max(0, passes - (total - rowA)); a <= Math.min(rowA, passes); a += 1) {
    const probability = tableLogProbability(a, rowA - a, passes - a, total - rowA - (passes - a));
    // A relative tolerance: tables as likely as the observed one count, whatever the rounding.
    if (probability <= observed + 1e-7) p += Math.exp(probability);
  }
  return Math.min(1, p);
}

export interface MannWhitneyResult {
  /** U of the first sample. */
  readonly u: number;
  readonly p: number;
  /** `exact` (no ties, both samples up to 20) or `normal` (with tie and continuity corrections). */
  readonly method: 'exact' | 'normal';
}

/** Two-sided Mann–Whitney U test; p is 1 when either sample is empty. */
export function mannWhitney(first: readonly number[], second: readonly number[]): MannWhitneyResult {
  const n1 = first.length;
  const n2 = second.length;
  if (n1 === 0 || n2 === 0) return { u: 0, p: 1, method: 'exact' };
  const all = [...first.map((value) => ({ value, group: 0 })), ...second.map((value) => ({ value, group: 1 }))].sort((x, y) => x.value - y.value);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let start = 0; start < all.length; ) {
    let end = start;
    while (end + 1 < all.length && all[end + 1]?.value === all[start]?.value) end += 1;
    const rank = (start + end) / 2 + 1;
    for (let index = start; index <= end; index += 1) ranks[index] = rank;
    const size = end - start + 1;
    tieTerm += size ** 3 - size;
    start = end + 1;
  }
  let rankSum = 0;
  all.forEach((entry, index) => {
    if (entry.group === 0) rankSum += ranks[index] ?? 0;
  });
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  if (tieTerm === 0 && n1 <= 20 && n2 <= 20) return { u, p: exactTwoSided(u, n1, n2), method: 'exact' };
  const mean = (n1 * n2) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, p: 1, method: 'normal' };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))), method: 'normal' };
}

/** Exact null distribution of U by counting (n1 + n2 ≤ 40, so at most 401 values of U). */
function exactTwoSided(u: number, n1: number, n2: number): number {
  // counts[i][j][k]: arrangements of i first-sample and j second-sample values with U = k, built one cell at a time.
  let previous: number[][] = [];
  for (let i = 0; i <= n1; i += 1) {
    const row: number[][] = [];
    for (let j = 0; j <= n2; j += 1) {
      const counts = new Array<number>(i * j + 1).fill(0);
      if (i === 0 || j === 0) counts[0] = 1;
      else {
        // The largest value is from the first sample (adds j to U) or from the second (adds nothing).
        const fromFirst = previous[j] ?? [];
        const fromSecond = row[j - 1] ?? [];
        fromFirst.forEach((count, k) => (counts[k + j] = (counts[k + j] ?? 0) + count));
        fromSecond.forEach((count, k) => (counts[k] = (counts[k] ?? 0) + count));
      }
      row.push(counts);
    }
    previous = row;
    if (i < n1) continue;
    const distribution = row[n2] ?? [];
    const total = distribution.reduce((sum, count) => sum + count, 0);
    const distance = Math.abs(u - (n1 * n2) / 2);
    let tail = 0;
    distribution.forEach((count, k) => {
      if (Math.abs(k - (n1 * n2) / 2) >= distance - 1e-9) tail += count;
    });
    return Math.min(1, tail / total);
  }
  return 1;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? null) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
