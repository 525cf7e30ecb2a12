import { useState, type FormEvent, type Ref } from 'react';
import type { Group, Share, ShareTarget } from '../../api';
import { useAction } from '../../lib/useAction';
import { Button, FormError, SelectField, TextField, splitErrors, type SelectOption } from '../form';
import type { Levels } from './levels';

/** Where the server's refusals belong: which field a code is about, and the request's field names. */
const FIELD_CODES = { email: ['unknown_user', 'share_with_self'], group_id: ['unknown_group'], level: [] };
const NO_GROUP = '';

export interface AddShareFormProps<L extends string> {
  levels: Levels<L>;
  /** The groups I belong to: a study or model may be shared with these only. */
  groups: readonly Group[];
  add: (target: ShareTarget, level: L) => Promise<Share<L>>;
  onAdded: (share: Share<L>) => void;
  emailRef?: Ref<HTMLInputElement>;
}

/**
 * Share with a person by email or with one of my groups, at a level. Typing an email clears the
 * group and choosing a group clears the email, so the request names exactly one grantee.
 */
export function AddShareForm<L extends string>({ levels, groups, add, onAdded, emailRef }: AddShareFormProps<L>) {
  const [email, setEmail] = useState('');
  const [groupId, setGroupId] = useState(NO_GROUP);
  const [level, setLevel] = useState<L>(levels[0].value);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, FIELD_CODES);
  const groupOptions: SelectOption<string>[] = [
    { value: NO_GROUP, label: groups.length > 0 ? 'None: share with the email above' : 'You are in no group yet' },
    ...groups.map((group) => ({ value: group.id, label: group.name })),
  ];

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const target: ShareTarget = groupId !== NO_GROUP ? { group_id: groupId } : { email: email.trim() };
    const result = await run(() => add(target, level));
    if (!result.ok) return;
    setEmail('');
    setGroupId(NO_GROUP);
    onAdded(result.value);
  }

  return (
    <form className="form share-form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy} aria-label="Add people or a group">
      <p className="muted">Share with a person by their email address, or with one of your groups.</p>
      <FormError error={errors.form} />
      <TextField ref={emailRef} label="Email" type="email" autoComplete="off" spellCheck={false} value={email}
        onValueChange={(value) => { setEmail(value); if (value) setGroupId(NO_GROUP); }} error={errors.field('email')} />
      <SelectField label="Group" value={groupId} options={groupOptions} disabled={groups.length === 0}
        onChange={(value) => { setGroupId(value); if (value !== NO_GROUP) setEmail(''); }} />
      {errors.field('group_id') && <p className="field-error">{errors.field('group_id')}</p>}
      <SelectField label="Level" value={level} options={levels} onChange={setLevel} />
      <ul className="level-hints muted">
        {levels.map((option) => <li key={option.value}><span className="strong">{option.label}</span>: {option.hint}</li>)}
      </ul>
      {errors.field('level') && <p className="field-error">{errors.field('level')}</p>}
      <div className="button-row">
        <Button type="submit" busy={busy}>Add</Button>
      </div>
    </form>
  );
}
