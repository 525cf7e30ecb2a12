import type { SignupRole } from '../api';
import { RadioGroup, type RadioOption } from './form';

const ROLE_OPTIONS: readonly RadioOption<SignupRole>[] = [
  { value: 'researcher', label: 'Researcher', hint: 'Upload and study imaging data, and build AI models.' },
  {
    value: 'health_professional',
    label: 'Health professional',
    hint: 'You will upload a medical certificate; an administrator approves your account before you can use it.',
  },
];

/** The two roles anyone may sign up for. */
export function RoleRadios(props: { value: SignupRole | ''; onChange: (role: SignupRole) => void; error?: string | undefined }) {
  return <RadioGroup legend="Role" name="role" options={ROLE_OPTIONS} {...props} />;
}
