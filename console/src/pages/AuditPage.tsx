import { useApi } from '../api/api-context.tsx';
import type { AuditVerificationView } from '../api/types.ts';
import { ErrorNotice, Loading, PageTitle } from '../components/common.tsx';
import { formatDuration, formatTime, truncate } from '../components/format.ts';
import { useResource } from '../hooks/use-resource.ts';
import { Link, paths } from '../router.tsx';

/** The session's tool calls as the audit log keeps them (hash-chained, signed when a key is set), and the chain's check. */
export function AuditPage(props: { readonly sessionId: string }) {
  const { client } = useApi();
  const audit = useResource(`audit:${props.sessionId}`, () => client.audit(props.sessionId));
  return (
    <section aria-labelledby="audit-title">
      <PageTitle>
        <span id="audit-title">Audit log</span>
      </PageTitle>
      <p>
        <Link to={paths.session(props.sessionId)}>← Session {props.sessionId}</Link>
      </p>
      <ErrorNotice error={audit.error} title="Could not read the audit log" />
      {audit.loading ? <Loading what="the audit log" /> : null}
      {audit.data === undefined ? null : (
        <>
          <Verification verification={audit.data.verification} />
          <table className="data" aria-label="Audit records">
            <thead>
              <tr>
                <th scope="col" className="number">Seq</th>
                <th scope="col">When</th>
                <th scope="col">Tool</th>
                <th scope="col">Decision</th>
                <th scope="col">Approver</th>
                <th scope="col">Input</th>
                <th scope="col">Outcome</th>
                <th scope="col">Hash</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.entries.length === 0 ? (
                <tr>
                  <td colSpan={8} className="muted">
                    No tool call of this session is in the audit log.
                  </td>
                </tr>
              ) : null}
              {audit.data.entries.map((entry) => (
                <tr key={entry.seq}>
                  <td className="number">{entry.seq}</td>
                  <td>{formatTime(entry.at)}</td>
                  <td>
                    {entry.tool} <span className="muted">turn {entry.turn}</span>
                  </td>
                  <td>
                    <span className={`badge decision-${entry.decision}`}>{entry.decision}</span> <span className="muted">{entry.rule}</span>
                  </td>
                  <td>{entry.approver === null ? '—' : `${entry.approver}${entry.inputEdited ? ' (input edited)' : ''}`}</td>
                  <td>
                    <code>{truncate(JSON.stringify(entry.input) ?? 'null', 120)}</code>
                  </td>
                  <td>
                    {entry.error === null ? `${entry.outputChars ?? 0} characters` : `${entry.error.code}: ${entry.error.message}`}
                    <span className="muted"> in {formatDuration(entry.durationMs)}</span>
                  </td>
                  <td className="mono small" title={entry.hash}>
                    {entry.hash.slice(0, 12)}…{entry.signature === undefined ? '' : ' signed'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Verification(props: { readonly verification: AuditVerificationView }) {
  const { verification } = props;
  const checked = verification.checked ?? verification.records;
  if (verification.ok) {
    return (
      <p role="status" className="notice notice-ok">
        <strong>Chain verified</strong>
        {checked === undefined ? '' : `: ${checked} record${checked === 1 ? '' : 's'} checked, every hash links to the one before.`}
      </p>
    );
  }
  return (
    <div role="alert" className="notice notice-error">
      <strong>Chain verification failed</strong>
      {verification.firstBadSeq === undefined ? '' : ` at record ${verification.firstBadSeq}`}
      {verification.problem === undefined ? '' : `: ${verification.problem}`}
      {verification.findings === undefined || verification.findings.length === 0 ? null : (
        <ul>
          {verification.findings.map((finding, index) => (
            <li key={index}>{typeof finding === 'string' ? finding : JSON.stringify(finding)}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
