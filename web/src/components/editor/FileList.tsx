import { useState, type FormEvent } from 'react';
import type { SourceFiles } from '../../api/models';
import { ConfirmButton } from '../ConfirmButton';
import { Button, TextField } from '../form';
import { nameProblem, renamed, sortedPaths, withFile, withoutFile } from './files';

export interface FileListProps {
  files: SourceFiles;
  active: string;
  /** Problems per file, shown beside its name. */
  problemCounts: ReadonlyMap<string, number>;
  onOpen: (path: string) => void;
  /** The files after adding, renaming or deleting one, and the file to open then. */
  onChange: (files: SourceFiles, open: string) => void;
}

type Mode = { kind: 'list' } | { kind: 'add' } | { kind: 'rename'; from: string };

/** The editor's files: open one; add a file, rename or delete the open one. */
export function FileList({ files, active, problemCounts, onOpen, onChange }: FileListProps) {
  const [mode, setMode] = useState<Mode>({ kind: 'list' });
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const paths = sortedPaths(files);

  function begin(next: Mode) {
    setMode(next);
    setName(next.kind === 'rename' ? next.from : '');
    setError(null);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const path = name.trim();
    const problem = nameProblem(files, path, mode.kind === 'rename' ? mode.from : undefined);
    if (problem) {
      setError(problem);
      return;
    }
    if (mode.kind === 'add') onChange(withFile(files, path, ''), path);
    if (mode.kind === 'rename') onChange(renamed(files, mode.from, path), path);
    begin({ kind: 'list' });
  }

  function remove(path: string) {
    const rest = withoutFile(files, path);
    onChange(rest, sortedPaths(rest)[0] ?? '');
  }

  return (
    <nav className="stack-sm" aria-label="Files">
      <ul className="file-list">
        {paths.map((path) => {
          const count = problemCounts.get(path) ?? 0;
          return (
            <li key={path}>
              <Button variant="secondary" aria-current={path === active ? 'true' : undefined} onClick={() => onOpen(path)}
                aria-label={count > 0 ? `${path}, ${count} ${count === 1 ? 'problem' : 'problems'}` : path}>
                <span>{path}</span>
                {count > 0 && <span className="file-problems" aria-hidden="true">{count}</span>}
              </Button>
            </li>
          );
        })}
      </ul>
      {mode.kind === 'list' ? (
        <div className="button-row">
          <Button variant="secondary" className="btn--small" onClick={() => begin({ kind: 'add' })}>Add a file</Button>
          {active && (
            <Button variant="secondary" className="btn--small" onClick={() => begin({ kind: 'rename', from: active })}>
              Rename {active}
            </Button>
          )}
          {active && active !== 'manifest.json' && (
            <ConfirmButton label={`Delete ${active}`} className="btn--small" question={`Delete ${active}?`}
              onConfirm={() => remove(active)} />
          )}
        </div>
      ) : (
        <form className="form" onSubmit={submit} noValidate
          aria-label={mode.kind === 'add' ? 'Add a file' : `Rename ${mode.from}`}>
          <TextField label={mode.kind === 'add' ? 'New file name' : 'New name'} value={name} autoFocus spellCheck={false}
            hint="A path in the bundle, e.g. utils.py or configs/labels.json." onValueChange={setName} error={error ?? undefined} />
          <div className="button-row">
            <Button type="submit" className="btn--small">{mode.kind === 'add' ? 'Add file' : 'Rename file'}</Button>
            <Button variant="secondary" className="btn--small" onClick={() => begin({ kind: 'list' })}>Cancel</Button>
          </div>
        </form>
      )}
    </nav>
  );
}
