import { Link } from 'react-router-dom';
import { Section } from '../../components/Section';
import { ROLE_LABELS } from '../../lib/labels';
import { hasPatientData } from '../../lib/roles';
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
        {hasPatientData(user.role) && (
          <Section title="Studies">
            <p className="muted">Upload DICOM files, folders or zip archives, find studies by patient, date or modality, and read them in the DICOM viewer.</p>
            <p>
              <Link to="/studies">Go to your studies</Link>
            </p>
          </Section>
        )}
        {hasPatientData(user.role) && (
          <Section title="Sharing">
            <p className="muted">Share studies with colleagues of your role, one by one or as a group, and see the models shared with you.</p>
            <p>
              <Link to="/groups">Go to your groups</Link>
              {' · '}
              <Link to="/models?scope=shared">Models shared with me</Link>
            </p>
          </Section>
        )}
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
