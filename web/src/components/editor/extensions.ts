/** What each file's editor state is made of: line numbers, the lint gutter, history and its language mode. */
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { python } from '@codemirror/lang-python';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { lintGutter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, type Extension } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import type { Problem } from '../../api/models';
import { diagnosticsFor } from './diagnostics';
import { languageOf } from './files';

function languageMode(path: string): Extension {
  switch (languageOf(path)) {
    case 'python':
      return python();
    case 'json':
      return json();
    default:
      return [];
  }
}

/** A fresh state for one file, named for assistive technology by its path, with its problems marked. */
export function fileState(path: string, text: string, problems: readonly Problem[], onDocChanged: Extension): EditorState {
  const state = EditorState.create({
    doc: text,
    extensions: [
      lineNumbers(),
      highlightActiveLineGutter(),
      lintGutter(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...lintKeymap, indentWithTab]),
      languageMode(path),
      EditorView.contentAttributes.of({ 'aria-label': `Code of ${path}` }),
      onDocChanged,
    ],
  });
  return withProblems(state, path, problems);
}

/** The state with exactly these problems of its file marked (none left from an earlier attempt). */
export function withProblems(state: EditorState, path: string, problems: readonly Problem[]): EditorState {
  return state.update(setDiagnostics(state, diagnosticsFor(problems, path, state.doc.toString()))).state;
}
