import { useId, type TextareaHTMLAttributes } from 'react';

type AreaProps = Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'value' | 'onChange' | 'id'>;

export interface TextAreaFieldProps extends AreaProps {
  label: string;
  value: string;
  onValueChange: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
}

/** A labelled multi-line field with its hint and error bound by aria attributes, as TextField is. */
export function TextAreaField({ label, value, onValueChange, error, hint, rows = 3, ...rest }: TextAreaFieldProps) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field--invalid' : ''}`}>
      <label className="field-label" htmlFor={id}>{label}</label>
      {hint && <p className="field-hint" id={`${id}-hint`}>{hint}</p>}
      <textarea {...rest} id={id} rows={rows} className="input" value={value}
        onChange={(event) => onValueChange(event.target.value)}
        aria-invalid={error ? true : undefined} aria-describedby={describedBy} />
      {error && <p className="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}
