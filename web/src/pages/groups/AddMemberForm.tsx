import { useState, type FormEvent } from 'react';
import { sharing, type GroupDetail, type MemberRole } from '../../api';
import { Button, FormError, SelectField, TextField, splitErrors, type SelectOption } from '../../components/form';
import { useAction } from '../../lib/useAction';

const ROLE_OPTIONS: readonly SelectOption<MemberRole>[] = [
  { value: 'member', label: 'Member' },
  { value: 'manager', label: 'Manager (adds and removes members)' },
];
const FIELD_CODES = { email: ['unknown_user', 'already_member'], role: [] };

export interface AddMemberFormProps {
  group: GroupDetail;
  /** Only the owner may add managers; a manager adds members. */
  canAddManagers: boolean;
  onAdded: (email: string) => void;
}

/** Add an active user to the group by their email address. */
export function AddMemberForm({ group, canAddManagers, onAdded }: AddMemberFormProps) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<MemberRole>('member');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, FIELD_CODES);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const added = email.trim();
    const result = await run(() => sharing.addMember(group.id, canAddManagers ? { email: added, role } : { email: added }));
    if (!result.ok) return;
    setEmail('');
    setRole('member');
    onAdded(added);
  }

  return (
    <form className="form form--inline" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy} aria-label="Add a member">
      <FormError error={errors.form} />
      <TextField label="Email" type="email" autoComplete="off" spellCheck={false} value={email} onValueChange={setEmail}
        hint="The address they use to sign in to MedCloudCare." error={errors.field('email')} />
      {canAddManagers && <SelectField label="Add as" value={role} options={ROLE_OPTIONS} onChange={setRole} />}
      {errors.field('role') && <p className="field-error">{errors.field('role')}</p>}
      <div className="button-row">
        <Button type="submit" busy={busy}>Add member</Button>
      </div>
    </form>
  );
}
