import { useState, type FormEvent } from 'react';
import { Button, SelectField, TextField, type FormErrors, type SelectOption } from '../../components/form';
import { EMPTY_FILTERS, type StudyFilterValues } from './query';

const OTHER = 'other';
const MODALITIES: readonly SelectOption<string>[] = [
  { value: '', label: 'Any modality' },
  { value: 'CT', label: 'CT · Computed tomography' },
  { value: 'MR', label: 'MR · Magnetic resonance' },
  { value: 'US', label: 'US · Ultrasound' },
  { value: 'CR', label: 'CR · Computed radiography' },
  { value: 'DX', label: 'DX · Digital radiography' },
  { value: 'MG', label: 'MG · Mammography' },
  { value: 'PT', label: 'PT · Positron emission tomography' },
  { value: 'NM', label: 'NM · Nuclear medicine' },
  { value: 'XA', label: 'XA · X-ray angiography' },
  { value: 'SEG', label: 'SEG · Segmentation' },
  { value: 'SR', label: 'SR · Structured report' },
  { value: OTHER, label: 'Other…' },
];
const LISTED = new Set(MODALITIES.map((option) => option.value).filter((value) => value !== OTHER));

export interface StudyFiltersProps {
  initial: StudyFilterValues;
  errors: FormErrors;
  busy: boolean;
  onApply: (values: StudyFilterValues) => void;
}

/** The search form; it starts from the URL's filters and changes them only when submitted. */
export function StudyFilters({ initial, errors, busy, onApply }: StudyFiltersProps) {
  const [values, setValues] = useState(initial);
  const [otherModality, setOtherModality] = useState(!LISTED.has(initial.modality.toUpperCase()));
  const set = <K extends keyof StudyFilterValues>(key: K) => (value: StudyFilterValues[K]) =>
    setValues((current) => ({ ...current, [key]: value }));

  function chooseModality(value: string) {
    setOtherModality(value === OTHER);
    set('modality')(value === OTHER ? '' : value);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onApply({ ...values, modality: values.modality.trim().toUpperCase() });
  }

  function clear() {
    setValues(EMPTY_FILTERS);
    setOtherModality(false);
    onApply(EMPTY_FILTERS);
  }

  return (
    <form className="filters filters--studies" role="search" aria-label="Filter studies" onSubmit={submit} noValidate>
      <TextField label="Patient name" type="search" autoComplete="off" spellCheck={false}
        hint="Any name part, or its start with *, e.g. do*"
        value={values.patient_name} onValueChange={set('patient_name')}
        error={errors.field('PatientName') ?? errors.field('patient_name')} />
      <TextField label="Patient ID" autoComplete="off" spellCheck={false} value={values.patient_id}
        onValueChange={set('patient_id')} error={errors.field('patient_id')} />
      <SelectField label="Modality" value={otherModality ? OTHER : values.modality.toUpperCase()} options={MODALITIES}
        onChange={chooseModality} />
      {otherModality && (
        <TextField label="Other modality" placeholder="e.g. OT" autoComplete="off" maxLength={16} value={values.modality}
          onValueChange={set('modality')} error={errors.field('modality')} />
      )}
      <TextField label="From" type="date" value={values.date_from} onValueChange={set('date_from')}
        error={errors.field('date_from')} />
      <TextField label="To" type="date" value={values.date_to} onValueChange={set('date_to')}
        error={errors.field('date_to')} />
      <div className="button-row">
        <Button type="submit" busy={busy}>Search</Button>
        <Button variant="link" onClick={clear}>Clear</Button>
      </div>
    </form>
  );
}
