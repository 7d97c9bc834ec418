import { useApi } from '../api/api-context.tsx';
import { ApprovalCard } from '../components/ApprovalCard.tsx';
import { ErrorNotice, Loading, PageTitle } from '../components/common.tsx';
import { useAgents } from '../hooks/use-agents.ts';
import { useResource } from '../hooks/use-resource.ts';

/** Every call waiting for a person, across the sessions this key can see, oldest session first. */
export function ApprovalsPage() {
  const { client } = useApi();
  const { schemaOf } = useAgents();
  const waiting = useResource('approvals', () => client.sessions({ status: 'waiting-approval', limit: 200 }), { refreshMs: 2_000 });
  const sessions = [...(waiting.data?.sessions ?? [])].sort((a, b) => a.createdAt - b.createdAt);
  const count = sessions.reduce((sum, session) => sum + session.pendingApprovals.length, 0);
  return (
    <section aria-labelledby="approvals-title">
      <PageTitle>
        <span id="approvals-title">Approval queue</span>
      </PageTitle>
      <ErrorNotice error={waiting.error} title="Could not read the queue" />
      {waiting.loading ? <Loading what="the approval queue" /> : null}
      {waiting.data === undefined ? null : (
        <p aria-live="polite" className="muted">
          {count === 0 ? 'Nothing is waiting for a person.' : `${count} call${count === 1 ? '' : 's'} waiting in ${sessions.length} session${sessions.length === 1 ? '' : 's'}.`}
        </p>
      )}
      <div className="cards">
        {sessions.flatMap((session) =>
          session.pendingApprovals.map((approval) => (
            <ApprovalCard key={`${session.id}/${approval.callId}`} sessionId={session.id} agent={session.agent} approval={approval} schema={schemaOf(session.agent, approval.tool)} onDecided={waiting.reload} />
          )),
        )}
      </div>
    </section>
  );
}
