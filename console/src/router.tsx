import { useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from 'react';

/** The console's pages. The server answers every non-API path with index.html, so these are real URLs. */
export type Route =
  | { readonly page: 'sessions' }
  | { readonly page: 'session'; readonly sessionId: string }
  | { readonly page: 'explain'; readonly sessionId: string; readonly turn: number }
  | { readonly page: 'replay'; readonly sessionId: string; readonly turn: number }
  | { readonly page: 'audit'; readonly sessionId: string }
  | { readonly page: 'approvals' }
  | { readonly page: 'diff'; readonly a: string; readonly b: string }
  | { readonly page: 'charts' }
  | { readonly page: 'not-found'; readonly path: string };

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split('/').filter((part) => part !== '').map((part) => decodeURIComponent(part));
  const [first, id, third, turnText, fifth] = parts;
  const turn = Number(turnText);
  if (parts.length === 0) return { page: 'sessions' };
  if (first === 'approvals' && parts.length === 1) return { page: 'approvals' };
  if (first === 'charts' && parts.length === 1) return { page: 'charts' };
  if (first === 'diff' && parts.length === 1) {
    const query = new URLSearchParams(search);
    return { page: 'diff', a: query.get('a') ?? '', b: query.get('b') ?? '' };
  }
  if (first === 'sessions' && id !== undefined) {
    if (parts.length === 2) return { page: 'session', sessionId: id };
    if (parts.length === 3 && third === 'audit') return { page: 'audit', sessionId: id };
    if (parts.length === 5 && third === 'turns' && Number.isInteger(turn) && turn >= 1) {
      if (fifth === 'explain') return { page: 'explain', sessionId: id, turn };
      if (fifth === 'replay') return { page: 'replay', sessionId: id, turn };
    }
  }
  return { page: 'not-found', path: pathname };
}

export const paths = {
  sessions: (): string => '/',
  session: (id: string): string => `/sessions/${encodeURIComponent(id)}`,
  explain: (id: string, turn: number): string => `/sessions/${encodeURIComponent(id)}/turns/${turn}/explain`,
  replay: (id: string, turn: number): string => `/sessions/${encodeURIComponent(id)}/turns/${turn}/replay`,
  audit: (id: string): string => `/sessions/${encodeURIComponent(id)}/audit`,
  approvals: (): string => '/approvals',
  diff: (a = '', b = ''): string => (a === '' && b === '' ? '/diff' : `/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`),
  charts: (): string => '/charts',
};

const listeners = new Set<() => void>();
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}
function location(): string {
  return `${window.location.pathname}${window.location.search}`;
}

export function navigate(to: string): void {
  if (to === location()) return;
  window.history.pushState(null, '', to);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const current = useSyncExternalStore(subscribe, location);
  const url = new URL(current, window.location.origin);
  return parseRoute(url.pathname, url.search);
}

/** An anchor that navigates inside the app; modified clicks (new tab, download) keep the browser's behaviour. */
export function Link(props: { readonly to: string; readonly children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const { to, children, ...rest } = props;
  const onClick = (event: MouseEvent<HTMLAnchorElement>): void => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
