import { useState, type FormEvent } from 'react';
import { studies, type StudySummary } from '../../api';
import { Dialog } from '../../components/Dialog';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { formatDate, formatPersonName, plural } from '../../lib/format';
import { useAction } from '../../lib/useAction';

export interface DeleteStudyDialogProps {
  study: StudySummary;
  onCancel: () => void;
  onDeleted: (study: StudySummary) => void;
}

/** A modal confirmation: deleting asks for the current password (the server checks it). */
export function DeleteStudyDialog({ study, onCancel, onDeleted }: DeleteStudyDialogProps) {
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { password: ['invalid_credentials'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => studies.deleteStudy(study.study_uid, password));
    if (result.ok) onDeleted(study);
  }

  // The password field is the first focusable element: the browser focuses it on open.
  return (
    <Dialog title="Delete this study?" onClose={onCancel} busy={busy}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <p>
          <span className="strong">{formatPersonName(study.patient_name)}</span>
          {' · '}{formatDate(study.study_date)}
          {study.modalities.length > 0 && ` · ${study.modalities.join(', ')}`}
          {' · '}{plural(study.num_instances, 'instance', 'instances')}
        </p>
        <p className="muted">Its images and their encryption key are destroyed. This cannot be undone.</p>
        <FormError error={errors.form} />
        <TextField label="Current password" type="password" autoComplete="current-password" required
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <div className="button-row">
          <Button type="submit" variant="danger" busy={busy}>Delete study</Button>
          <Button variant="secondary" disabled={busy} onClick={onCancel}>Cancel</Button>
        </div>
      </form>
    </Dialog>
  );
}
