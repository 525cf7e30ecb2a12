import { EditorView } from '@codemirror/view';
import type { EditorState } from '@codemirror/state';
import { useEffect, useRef } from 'react';
import type { Problem } from '../../api/models';
import { placeRange, type Place } from './diagnostics';
import { fileState, withProblems } from './extensions';
import './editor.css';

/** A place to show: the file is opened and the cursor put there; `key` makes the same place shown again. */
export interface Reveal extends Place {
  path: string;
  key: number;
}

export interface CodeEditorProps {
  /** Every file of the editor; states of files no longer here are forgotten. */
  files: Readonly<Record<string, string>>;
  /** The open file. */
  path: string;
  /** The server's problems (of every file); each file's own are marked in its gutter and text. */
  problems: readonly Problem[];
  reveal: Reveal | null;
  onChange: (path: string, text: string) => void;
}

/**
 * CodeMirror 6 over several files: one view, one state per file (each keeps its undo history and
 * selection while another file is open). The parent holds the texts; this reports every edit.
 */
export function CodeEditor({ files, path, problems, reveal, onChange }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const states = useRef(new Map<string, EditorState>());
  const openPath = useRef(path);
  const latest = useRef({ files, problems, onChange });
  latest.current = { files, problems, onChange };

  const listener = useRef(EditorView.updateListener.of((update) => {
    if (update.docChanged) latest.current.onChange(openPath.current, update.state.doc.toString());
  }));

  const stateFor = (name: string): EditorState =>
    states.current.get(name) ?? fileState(name, latest.current.files[name] ?? '', latest.current.problems, listener.current);

  useEffect(() => {
    if (!host.current) return;
    const created = new EditorView({ state: stateFor(openPath.current), parent: host.current });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
  }, []);

  // Another file opened: keep the state of the one left (if it still exists), show the other.
  useEffect(() => {
    const current = view.current;
    if (!current || openPath.current === path) return;
    if (Object.hasOwn(files, openPath.current)) states.current.set(openPath.current, current.state);
    for (const name of [...states.current.keys()]) if (!Object.hasOwn(files, name)) states.current.delete(name);
    openPath.current = path;
    current.setState(stateFor(path));
  }, [path, files]);

  // New problems from the server replace the old ones, in the open file and in those kept.
  useEffect(() => {
    for (const [name, state] of states.current) states.current.set(name, withProblems(state, name, problems));
    const current = view.current;
    if (current) current.setState(withProblems(current.state, openPath.current, problems));
  }, [problems]);

  // Shown once per reveal, after its file is open.
  const revealed = useRef<number | null>(null);
  useEffect(() => {
    const current = view.current;
    if (!current || !reveal || reveal.key === revealed.current || reveal.path !== openPath.current) return;
    revealed.current = reveal.key;
    const { from } = placeRange(current.state.doc, reveal);
    current.dispatch({ selection: { anchor: from }, effects: EditorView.scrollIntoView(from, { y: 'center' }) });
    current.focus();
  }, [reveal, path]);

  return <div className="code-editor" ref={host} data-path={path} />;
}
