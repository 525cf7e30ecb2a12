import { useEffect, useState } from 'react';
import { useLocation } from 'react-router-dom';
import { useTitle } from '../../lib/useTitle';
import { useUser } from '../../session/context';
import { CertificateSection } from './CertificateSection';
import { EmailSection } from './EmailSection';
import { NameSection } from './NameSection';
import { PasswordSection } from './PasswordSection';
import { SessionsSection } from './SessionsSection';
import { TwoFactorSection } from './TwoFactorSection';

export function ProfilePage() {
  useTitle('Your profile');
  const user = useUser();
  // Changing the password revokes the other sessions: reload the list afterwards.
  const [sessionsVersion, setSessionsVersion] = useState(0);
  const { hash } = useLocation();
  useEffect(() => {
    if (hash) document.getElementById(decodeURIComponent(hash.slice(1)))?.scrollIntoView();
  }, [hash]);
  return (
    <div className="stack">
      <header className="page-header">
        <h1>Your profile</h1>
        <p className="muted">{user.email}</p>
      </header>
      <div className="grid-2">
        <NameSection />
        {user.role === 'health_professional' && <CertificateSection />}
        <PasswordSection onChanged={() => setSessionsVersion((v) => v + 1)} />
        <EmailSection />
        <TwoFactorSection />
        <SessionsSection version={sessionsVersion} />
      </div>
    </div>
  );
}
