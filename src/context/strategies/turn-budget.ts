/**
 * Turn-budget enforcement: at the boundary turn the model is told to stop calling tools and answer.
 * Returns null before the boundary.
 */
export function turnBudgetInstruction(turn: number, maxTurns: number | undefined): string | null {
  if (maxTurns === undefined || turn < maxTurns) return null;
  return `[Keel] Turn budget reached: this is turn ${turn} of at most ${maxTurns}. Do not call any more tools. Give your final answer now, using what you already have; say plainly what is still unknown.`;
}
