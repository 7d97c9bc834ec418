import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { ApiContext } from './api/api-context.tsx';
import type { Signed } from './api/api-context.tsx';
import { ApiClient, describeError } from './api/client.ts';

/** The key is kept for this tab only: closing it signs out, and no other site's script can read sessionStorage. */
const storageKey = 'keel.apiKey';

type GateState = { readonly kind: 'checking'; readonly key: string } | { readonly kind: 'signed-out'; readonly error: string | null } | { readonly kind: 'signed-in'; readonly signed: Signed };

function initialState(): GateState {
  const key = window.sessionStorage.getItem(storageKey);
  return key === null || key === '' ? { kind: 'signed-out', error: null } : { kind: 'checking', key };
}

/** Asks for an API key, checks it against `/v1/me`, and renders the console with a client that sends it. */
export function KeyGate(props: { readonly children: (signOut: () => void) => ReactNode }) {
  const [state, setState] = useState<GateState>(initialState);
  const [draft, setDraft] = useState('');
  const checkingKey = state.kind === 'checking' ? state.key : null;

  useEffect(() => {
    if (checkingKey === null) return;
    const client = new ApiClient(checkingKey);
    let current = true;
    client.me().then(
      (me) => {
        if (!current) return;
        window.sessionStorage.setItem(storageKey, checkingKey);
        setState({ kind: 'signed-in', signed: { client, me } });
      },
      (error: unknown) => {
        if (!current) return;
        window.sessionStorage.removeItem(storageKey);
        setState({ kind: 'signed-out', error: describeError(error) });
      },
    );
    return () => {
      current = false;
    };
  }, [checkingKey]);

  const signOut = (): void => {
    window.sessionStorage.removeItem(storageKey);
    setDraft('');
    setState({ kind: 'signed-out', error: null });
  };

  if (state.kind === 'signed-in') return <ApiContext value={state.signed}>{props.children(signOut)}</ApiContext>;
  return (
    <main className="sign-in">
      <h1>Keel console</h1>
      <form
        className="card stack"
        aria-label="Sign in"
        onSubmit={(event) => {
          event.preventDefault();
          if (draft.trim() !== '') setState({ kind: 'checking', key: draft.trim() });
        }}
      >
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" value={draft} onChange={(event) => setDraft(event.target.value)} aria-describedby="api-key-help" />
        <p id="api-key-help" className="muted">
          <code>keel serve</code> prints an admin key when it starts; an admin creates others with <code>POST /v1/keys</code>.
        </p>
        <div className="actions">
          <button type="submit" className="primary" disabled={state.kind === 'checking'}>
            {state.kind === 'checking' ? 'Checking…' : 'Sign in'}
          </button>
        </div>
        {state.kind === 'signed-out' && state.error !== null ? (
          <p role="alert" className="problems">
            {state.error}
          </p>
        ) : null}
      </form>
    </main>
  );
}
