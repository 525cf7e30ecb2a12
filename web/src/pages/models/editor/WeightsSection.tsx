import { useState, type ChangeEvent } from 'react';
import { Button, TextField } from '../../../components/form';
import { Section } from '../../../components/Section';
import { formatBytes } from '../../../lib/format';
import { UploadProgress } from '../upload/UploadProgress';
import type { Uploads } from '../upload/useUploads';
import { weightPath, type ReusedWeight } from './weights';

export interface WeightsSectionProps {
  reused: readonly ReusedWeight[];
  onReusedChange: (reused: ReusedWeight[]) => void;
  uploads: Uploads;
  disabled: boolean;
}

/** The version's weight files: those kept from the earlier version, and new ones uploaded in resumable chunks. */
export function WeightsSection({ reused, onReusedChange, uploads, disabled }: WeightsSectionProps) {
  const [path, setPath] = useState('');
  const entries = Object.values(uploads.entries);

  function chosen(event: ChangeEvent<HTMLInputElement>) {
    const input = event.currentTarget;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    const target = weightPath(path, file.name);
    onReusedChange(reused.filter((weight) => weight.path !== target));
    setPath('');
    void uploads.start(target, file);
  }

  return (
    <Section title="Weights">
      <p className="muted">
        Weight files go into the bundle at the path your code loads them from. Large files are sent in parts;
        an interrupted upload goes on where it stopped.
      </p>
      {reused.length + entries.length > 0 ? (
        <ul className="weights" aria-label="Weight files">
          {reused.map((weight) => (
            <li key={weight.path} className="weight">
              <div className="weight-head">
                <span><code>{weight.path}</code> · {formatBytes(weight.size)} · kept from version {weight.fromVersion}</span>
                <Button variant="secondary" className="btn--small" disabled={disabled} aria-label={`Remove ${weight.path}`}
                  onClick={() => onReusedChange(reused.filter((other) => other.path !== weight.path))}>Remove</Button>
              </div>
            </li>
          ))}
          {entries.map((entry) => (
            <li key={entry.key} className="weight">
              <div className="weight-head">
                <span><code>{entry.key}</code> · {entry.file.name}</span>
                <Button variant="secondary" className="btn--small" disabled={disabled} aria-label={`Remove ${entry.key}`}
                  onClick={() => uploads.forget(entry.key)}>Remove</Button>
              </div>
              <UploadProgress label={entry.key} entry={entry} onRetry={() => void uploads.retry(entry.key)}
                onCancel={() => uploads.cancel(entry.key)} />
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">No weight files.</p>
      )}
      <div className="form">
        <TextField label="Path in the bundle" value={path} onValueChange={setPath} spellCheck={false} disabled={disabled}
          placeholder="models/model.pt"
          hint="Leave empty for models/ and the file's name. A file at a path already listed replaces it." />
        <div className="button-row">
          <label className={`btn btn--secondary file-button${disabled ? ' file-button--disabled' : ''}`}>
            <input type="file" className="visually-hidden" disabled={disabled} onChange={chosen} />
            Choose a weight file
          </label>
        </div>
      </div>
    </Section>
  );
}
