import { useId } from 'react';

export interface RadioOption<V extends string> {
  value: V;
  label: string;
  hint?: string;
}

export interface RadioGroupProps<V extends string> {
  legend: string;
  name: string;
  options: readonly RadioOption<V>[];
  value: V | '';
  onChange: (value: V) => void;
  error?: string | undefined;
  /** Options side by side, as one segmented switch. */
  inline?: boolean;
}

/** A fieldset of radio buttons (a radiogroup named by its legend), each with a visible label and optional hint. */
export function RadioGroup<V extends string>({ legend, name, options, value, onChange, error, inline = false }: RadioGroupProps<V>) {
  const id = useId();
  const className = ['field', 'radio-group', inline ? 'radio-group--inline' : '', error ? 'field--invalid' : ''].filter(Boolean).join(' ');
  return (
    <fieldset role="radiogroup" aria-labelledby={`${id}-legend`} className={className}
      aria-describedby={error ? `${id}-error` : undefined}>
      <legend id={`${id}-legend`} className="field-label">{legend}</legend>
      {options.map((option) => {
        const optionId = `${id}-${option.value}`;
        return (
          <div className="radio" key={option.value}>
            <input
              type="radio"
              id={optionId}
              name={name}
              value={option.value}
              checked={value === option.value}
              onChange={() => onChange(option.value)}
              aria-describedby={option.hint ? `${optionId}-hint` : undefined}
            />
            <label htmlFor={optionId}>{option.label}</label>
            {option.hint && (
              <p className="field-hint radio-hint" id={`${optionId}-hint`}>
                {option.hint}
              </p>
            )}
          </div>
        );
      })}
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </fieldset>
  );
}
