/** What the crash supervisor and its worker agree on: session ids, the task, and the expected outcome. */
export function crashSessionId(index: number): string {
  return `ses_crash_${String(index).padStart(5, '0')}`;
}

export const crashTask = 'Charge ada, bob, cy, dee, eve and fay.';
export const crashExpectedOutput = 'Charged ada, bob, cy, dee, eve and fay.';
export const crashCustomers = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay'] as const;
