import { useApi } from './api/api-context.tsx';
import { KeyGate } from './KeyGate.tsx';
import { PageTitle } from './components/common.tsx';
import { ApprovalsPage } from './pages/ApprovalsPage.tsx';
import { AuditPage } from './pages/AuditPage.tsx';
import { ChartsPage } from './pages/ChartsPage.tsx';
import { DiffPage } from './pages/DiffPage.tsx';
import { ExplainPage } from './pages/ExplainPage.tsx';
import { ReplayPage } from './pages/ReplayPage.tsx';
import { SessionPage } from './pages/SessionPage.tsx';
import { SessionsPage } from './pages/SessionsPage.tsx';
import { Link, paths, useRoute } from './router.tsx';
import type { Route } from './router.tsx';

export function App() {
  return <KeyGate>{(signOut) => <Shell signOut={signOut} />}</KeyGate>;
}

const sections = [
  { label: 'Sessions', to: paths.sessions(), pages: ['sessions', 'session', 'explain', 'replay', 'audit'] },
  { label: 'Approvals', to: paths.approvals(), pages: ['approvals'] },
  { label: 'Diff', to: paths.diff(), pages: ['diff'] },
  { label: 'Charts', to: paths.charts(), pages: ['charts'] },
] as const;

function Shell(props: { readonly signOut: () => void }) {
  const { me } = useApi();
  const route = useRoute();
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Keel</span>
        <nav aria-label="Console">
          <ul>
            {sections.map((section) => (
              <li key={section.label}>
                <Link to={section.to} aria-current={(section.pages as readonly string[]).includes(route.page) ? 'page' : undefined}>
                  {section.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">
          {me.name} <span className="muted">({me.tenant}; {me.roles.join(', ')})</span>
        </span>
        <button type="button" onClick={props.signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}

function Page(props: { readonly route: Route }) {
  const { route } = props;
  switch (route.page) {
    case 'sessions':
      return <SessionsPage />;
    case 'session':
      return <SessionPage key={route.sessionId} sessionId={route.sessionId} />;
    case 'explain':
      return <ExplainPage sessionId={route.sessionId} turn={route.turn} />;
    case 'replay':
      return <ReplayPage key={`${route.sessionId}:${route.turn}`} sessionId={route.sessionId} turn={route.turn} />;
    case 'audit':
      return <AuditPage sessionId={route.sessionId} />;
    case 'approvals':
      return <ApprovalsPage />;
    case 'diff':
      return <DiffPage a={route.a} b={route.b} />;
    case 'charts':
      return <ChartsPage />;
    case 'not-found':
      return (
        <section>
          <PageTitle>Not found</PageTitle>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to={paths.sessions()}>Go to the sessions.</Link>
          </p>
        </section>
      );
  }
}
