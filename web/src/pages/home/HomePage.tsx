import { Link } from 'react-router-dom';
import { Section } from '../../components/Section';
import { ROLE_LABELS } from '../../lib/labels';
import { useTitle } from '../../lib/useTitle';
import { useUser } from '../../session/context';
import { AccountStatusBanner } from './AccountStatusBanner';

function greeting(now: Date): string {
  const hour = now.getHours();
  if (hour < 12) return 'Good morning';
  if (hour < 18) return 'Good afternoon';
  return 'Good evening';
}

export function HomePage() {
  useTitle('Home');
  const user = useUser();
  return (
    <div className="stack">
      <header className="page-header">
        <h1>
          {greeting(new Date())}, {user.name}
        </h1>
        <p className="muted">Signed in as {ROLE_LABELS[user.role]}.</p>
      </header>
      <AccountStatusBanner user={user} />
      <div className="grid-2">
        <Section title="Studies">
          <p className="muted">Your imaging studies will appear here soon: upload, search and view them in the DICOM viewer.</p>
        </Section>
        <Section title="Your account">
          <p className="muted">Manage your name, password, email address, two-factor authentication and sessions.</p>
          <p>
            <Link to="/profile">Go to your profile</Link>
          </p>
        </Section>
      </div>
    </div>
  );
}
