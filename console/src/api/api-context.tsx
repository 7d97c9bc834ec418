import { createContext, useContext } from 'react';
import type { ApiClient } from './client.ts';
import type { Me } from './types.ts';

export interface Signed {
  readonly client: ApiClient;
  readonly me: Me;
}

export const ApiContext = createContext<Signed | null>(null);

/** The signed-in client; pages render only inside the key gate, so it is always there. */
export function useApi(): Signed {
  const value = useContext(ApiContext);
  if (value === null) throw new Error('useApi is used outside the signed-in part of the console.');
  return value;
}
