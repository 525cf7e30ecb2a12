import { useId } from 'react';

export interface SelectOption<V extends string> {
  value: V;
  label: string;
}

export interface SelectFieldProps<V extends string> {
  label: string;
  value: V;
  options: readonly SelectOption<V>[];
  onChange: (value: V) => void;
  disabled?: boolean;
  /** The label is read by screen readers but not shown (e.g. in a table row whose context names it). */
  labelHidden?: boolean;
  /** Ids of elements that describe the field, e.g. the row's subject. */
  describedBy?: string;
}

/** A labelled <select> whose values are a known union. */
export function SelectField<V extends string>({
  label, value, options, onChange, disabled, labelHidden = false, describedBy,
}: SelectFieldProps<V>) {
  const id = useId();
  return (
    <div className="field">
      <label className={labelHidden ? 'visually-hidden' : 'field-label'} htmlFor={id}>
        {label}
      </label>
      <select id={id} className="input" value={value} disabled={disabled} aria-describedby={describedBy}
        onChange={(event) => {
          const chosen = options.find((option) => option.value === event.target.value);
          if (chosen) onChange(chosen.value);
        }}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}
