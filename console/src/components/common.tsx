import type { ReactNode } from 'react';
import { describeError } from '../api/client.ts';

const statusLabels: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  'waiting-approval': 'Waiting for approval',
  interrupted: 'Interrupted',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function StatusBadge(props: { readonly status: string }) {
  return <span className={`badge status-${props.status}`}>{statusLabels[props.status] ?? props.status}</span>;
}

export function ErrorNotice(props: { readonly error: unknown; readonly title?: string }) {
  if (props.error === null || props.error === undefined) return null;
  return (
    <div role="alert" className="notice notice-error">
      <strong>{props.title ?? 'Something went wrong'}:</strong> {describeError(props.error)}
    </div>
  );
}

export function Loading(props: { readonly what: string }) {
  return (
    <p role="status" className="muted">
      Loading {props.what}…
    </p>
  );
}

/** A labelled figure in a page's summary strip. */
export function Figure(props: { readonly label: string; readonly children: ReactNode }) {
  return (
    <div className="figure">
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}

export function PageTitle(props: { readonly children: ReactNode; readonly actions?: ReactNode }) {
  return (
    <header className="page-title">
      <h1>{props.children}</h1>
      {props.actions === undefined ? null : <div className="actions">{props.actions}</div>}
    </header>
  );
}
