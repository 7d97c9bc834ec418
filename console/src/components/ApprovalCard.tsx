import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import { describeError } from '../api/client.ts';
import type { ApprovalDecision } from '../api/client.ts';
import type { PendingApproval, SessionView } from '../api/types.ts';
import { Link, paths } from '../router.tsx';
import { JsonEditor } from './JsonEditor.tsx';

export interface ApprovalCardProps {
  readonly sessionId: string;
  readonly agent: string;
  readonly approval: PendingApproval;
  /** The tool's input schema, when the agent's tools are known. */
  readonly schema: Readonly<Record<string, unknown>> | null;
  readonly onDecided: (session: SessionView) => void;
}

type Mode = 'view' | 'edit' | 'reject';

/**
 * One call waiting for a person: approve it as the model proposed, edit its arguments (checked against the tool's
 * schema as you type) and approve those, or reject it with a reason the model will see.
 */
export function ApprovalCard(props: ApprovalCardProps) {
  const { client, me } = useApi();
  const { approval } = props;
  const [mode, setMode] = useState<Mode>('view');
  const [text, setText] = useState(() => JSON.stringify(approval.input, null, 2));
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mayApprove = me.roles.includes('approve') || me.roles.includes('admin');
  const headingId = `approval-${approval.callId}`;

  const send = async (decision: ApprovalDecision): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      props.onDecided(await client.decide(props.sessionId, approval.callId, decision));
    } catch (thrown) {
      setError(describeError(thrown));
      setBusy(false);
    }
  };

  return (
    <article className="card approval" aria-labelledby={headingId}>
      <h3 id={headingId}>
        {approval.tool} <span className="muted">call {approval.callId}</span>
      </h3>
      <p>
        Session <Link to={paths.session(props.sessionId)}>{props.sessionId}</Link> of agent <strong>{props.agent}</strong>
      </p>
      <p>
        <span className="badge">{approval.rule}</span> {approval.reason}
      </p>
      {mode === 'edit' ? null : (
        <>
          <h4>Arguments the model proposed</h4>
          <pre className="code">{JSON.stringify(approval.input, null, 2)}</pre>
        </>
      )}
      {!mayApprove ? <p className="muted">Your key has no approve role: you can look, not decide.</p> : null}
      {mayApprove && mode === 'view' ? (
        <div className="actions">
          <button type="button" className="primary" disabled={busy} onClick={() => void send({ decision: 'approve' })}>
            Approve
          </button>
          <button type="button" disabled={busy} onClick={() => setMode('edit')}>
            Edit arguments
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => setMode('reject')}>
            Reject
          </button>
        </div>
      ) : null}
      {mayApprove && mode === 'edit' ? (
        <JsonEditor label={`Arguments for ${approval.tool} (JSON)`} value={text} onChange={setText} schema={props.schema} serverError={error}>
          {(check) => (
            <div className="actions">
              <button type="button" className="primary" disabled={busy || !check.ok} onClick={() => check.ok && void send({ decision: 'approve', editedInput: check.value })}>
                Approve with these arguments
              </button>
              <button type="button" disabled={busy} onClick={() => setMode('view')}>
                Cancel edit
              </button>
            </div>
          )}
        </JsonEditor>
      ) : null}
      {mayApprove && mode === 'reject' ? (
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            void send({ decision: 'reject', ...(reason.trim() === '' ? {} : { reason: reason.trim() }) });
          }}
        >
          <label htmlFor={`${headingId}-reason`}>Reason for rejecting (the model sees it)</label>
          <input id={`${headingId}-reason`} value={reason} onChange={(event) => setReason(event.target.value)} />
          <div className="actions">
            <button type="submit" className="danger" disabled={busy}>
              Reject call
            </button>
            <button type="button" disabled={busy} onClick={() => setMode('view')}>
              Back
            </button>
          </div>
        </form>
      ) : null}
      {error !== null && mode !== 'edit' ? (
        <p role="alert" className="problems">
          {error}
        </p>
      ) : null}
    </article>
  );
}
