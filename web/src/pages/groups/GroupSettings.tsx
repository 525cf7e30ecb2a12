import { useState, type FormEvent } from 'react';
import { sharing, type GroupDetail } from '../../api';
import { ConfirmButton } from '../../components/ConfirmButton';
import { Button, FormError, SelectField, TextField, splitErrors, type SelectOption } from '../../components/form';
import { Section } from '../../components/Section';
import { useAction } from '../../lib/useAction';

/** Rename the group (owner and managers); the server checks the name. */
function RenameForm({ group, onRenamed }: { group: GroupDetail; onRenamed: () => void }) {
  const [name, setName] = useState(group.name);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { name: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if ((await run(() => sharing.renameGroup(group.id, name.trim()))).ok) onRenamed();
  }

  return (
    <form className="form form--inline" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy} aria-label="Rename the group">
      <FormError error={errors.form} />
      <TextField label="Group name" autoComplete="off" maxLength={100} value={name} onValueChange={setName}
        error={errors.field('name')} />
      <div className="button-row">
        <Button type="submit" variant="secondary" busy={busy}>Rename</Button>
      </div>
    </form>
  );
}

/** The owner hands the group to a member; the owner then becomes a manager. */
function TransferOwnership({ group, busy, onTransfer }: {
  group: GroupDetail;
  busy: boolean;
  onTransfer: (userId: string, name: string) => Promise<unknown>;
}) {
  const [userId, setUserId] = useState('');
  const candidates = group.members.filter((member) => member.role !== 'owner');
  const chosen = candidates.find((member) => member.user.id === userId);
  const options: SelectOption<string>[] = [
    { value: '', label: candidates.length > 0 ? 'Choose a member' : 'Add a member first' },
    ...candidates.map((member) => ({ value: member.user.id, label: `${member.user.name} (${member.user.email})` })),
  ];
  return (
    <div className="stack-sm">
      <h3 className="subheading">Ownership</h3>
      <p className="muted">The new owner manages the group; you stay in it as a manager.</p>
      <div className="form form--inline">
        <SelectField label="New owner" value={userId} options={options} disabled={candidates.length === 0}
          onChange={setUserId} />
        <div className="button-row">
          <ConfirmButton label="Transfer ownership" variant="secondary" disabled={!chosen || busy}
            question={chosen ? `Make ${chosen.user.name} the owner of this group?` : ''}
            onConfirm={() => chosen && onTransfer(chosen.user.id, chosen.user.name)} />
        </div>
      </div>
    </div>
  );
}

export interface GroupSettingsProps {
  group: GroupDetail;
  busy: boolean;
  onRenamed: () => void;
  onTransfer: (userId: string, name: string) => Promise<unknown>;
  onDelete: () => Promise<unknown>;
  onLeave: () => Promise<unknown>;
}

/** What can be done to the group as a whole, by role: rename, transfer, delete; leave for everyone but the owner. */
export function GroupSettings({ group, busy, onRenamed, onTransfer, onDelete, onLeave }: GroupSettingsProps) {
  const isOwner = group.my_role === 'owner';
  return (
    <Section title="Group settings">
      {group.my_role !== 'member' && <RenameForm key={group.name} group={group} onRenamed={onRenamed} />}
      {isOwner && <TransferOwnership group={group} busy={busy} onTransfer={onTransfer} />}
      {isOwner ? (
        <div className="stack-sm">
          <h3 className="subheading">Delete the group</h3>
          <p className="muted">
            Everything shared with the group stops being shared with its members. To leave the group instead, transfer its
            ownership first.
          </p>
          <div className="button-row">
            <ConfirmButton label="Delete group" disabled={busy} question="Delete this group and its shares?" onConfirm={onDelete} />
          </div>
        </div>
      ) : (
        <div className="stack-sm">
          <h3 className="subheading">Leave the group</h3>
          <p className="muted">You lose access to what is shared with the group.</p>
          <div className="button-row">
            <ConfirmButton label="Leave group" disabled={busy} question="Leave this group?" onConfirm={onLeave} />
          </div>
        </div>
      )}
    </Section>
  );
}
