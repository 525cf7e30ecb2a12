import { useState, type FormEvent } from 'react';
import type { AuditOutcome } from '../../api';
import { Button, SelectField, TextField, type SelectOption } from '../../components/form';

export interface AuditFilterValues {
  action: string;
  actor: string;
  outcome: AuditOutcome | '';
  since: string;
  until: string;
}

export const EMPTY_AUDIT_FILTERS: AuditFilterValues = { action: '', actor: '', outcome: '', since: '', until: '' };

const OUTCOMES: readonly SelectOption<AuditOutcome | ''>[] = [
  { value: '', label: 'Any outcome' },
  { value: 'success', label: 'Success' },
  { value: 'failure', label: 'Failure' },
];

export function AuditFilters({ initial, onApply }: { initial: AuditFilterValues; onApply: (values: AuditFilterValues) => void }) {
  const [values, setValues] = useState(initial);
  const set = <K extends keyof AuditFilterValues>(key: K) => (value: AuditFilterValues[K]) =>
    setValues((current) => ({ ...current, [key]: value }));

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onApply({ ...values, action: values.action.trim(), actor: values.actor.trim() });
  }

  function reset() {
    setValues(EMPTY_AUDIT_FILTERS);
    onApply(EMPTY_AUDIT_FILTERS);
  }

  return (
    <form className="filters" role="search" aria-label="Filter the audit log" onSubmit={submit}>
      <TextField label="Action" placeholder="e.g. login" value={values.action} onValueChange={set('action')} />
      <TextField label="Actor email" type="email" value={values.actor} onValueChange={set('actor')} />
      <SelectField label="Outcome" value={values.outcome} options={OUTCOMES} onChange={set('outcome')} />
      <TextField label="Since" type="date" value={values.since} onValueChange={set('since')} />
      <TextField label="Until" type="date" value={values.until} onValueChange={set('until')} />
      <div className="button-row">
        <Button type="submit" variant="secondary">Apply filters</Button>
        <Button variant="link" onClick={reset}>Clear</Button>
      </div>
    </form>
  );
}
