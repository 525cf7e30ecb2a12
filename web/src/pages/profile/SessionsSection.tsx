import { auth, type Session } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { formatDateTime } from '../../lib/format';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { useSession } from '../../session/context';

/** Where the account is signed in; revoking the current session signs this browser out (<RequireAuth> then shows sign-in). */
export function SessionsSection({ version }: { version: number }) {
  const { forget } = useSession();
  const { data, error: loadError, loading, reload } = useLoad(auth.sessions, [version]);
  const action = useAction();

  async function revoke(session: Session) {
    if (!(await action.run(() => auth.revokeSession(session.id))).ok) return;
    if (session.current) forget();
    else reload();
  }

  async function signOutEverywhere() {
    if ((await action.run(auth.logOutEverywhere)).ok) forget();
  }

  const items = data?.items ?? [];
  return (
    <Section title="Sessions" className="span-2">
      <FormError error={action.error} />
      {loadError && <Alert tone="error">{loadError.detail}</Alert>}
      {loading && !data ? (
        <Loading />
      ) : (
        <ul className="session-list">
          {items.map((session) => (
            <li className="session" key={session.id}>
              <div className="session-info">
                <p className="session-device">
                  {session.device || 'Unknown device'}
                  {session.current && <span className="badge badge--accent">This device</span>}
                </p>
                <p className="muted">
                  {session.ip} · last used {formatDateTime(session.last_used_at)} · signed in {formatDateTime(session.created_at)}
                </p>
              </div>
              <Button variant="secondary" disabled={action.busy} onClick={() => void revoke(session)}
                aria-label={`Revoke ${session.current ? 'this device' : `session on ${session.device || 'unknown device'}`}`}>
                Revoke
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <Button variant="danger" busy={action.busy} onClick={() => void signOutEverywhere()}>
          Sign out everywhere
        </Button>
      </div>
    </Section>
  );
}
