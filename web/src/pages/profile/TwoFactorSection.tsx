import { Section } from '../../components/Section';
import { useUser } from '../../session/context';
import { TotpDisableForm } from './TotpDisableForm';
import { TotpEnrolment } from './TotpEnrolment';

export function TwoFactorSection() {
  const user = useUser();
  return (
    <Section title="Two-factor authentication">
      {user.totp_enabled ? <TotpDisableForm /> : <TotpEnrolment />}
    </Section>
  );
}
