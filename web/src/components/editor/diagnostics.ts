/** The server's validation problems as CodeMirror diagnostics: each at its file, line and column. */
import type { Diagnostic } from '@codemirror/lint';
import { Text } from '@codemirror/state';
import type { Problem } from '../../api/models';

/** Where a problem points in a document: 1-based line and column, clamped to the text as it now is. */
export interface Place {
  line: number;
  column: number | null;
}

/** Offsets [from, to) of a place: the column to the end of its word, or the whole line without a column. */
export function placeRange(doc: Text, place: Place): { from: number; to: number } {
  const line = doc.line(Math.min(Math.max(1, place.line), doc.lines));
  if (place.column === null) return { from: line.from, to: line.to };
  const from = line.from + Math.min(Math.max(0, place.column - 1), line.length);
  const word = /^\w+/.exec(doc.sliceString(from, line.to));
  return { from, to: word ? from + word[0].length : Math.min(from + 1, line.to) };
}

/** "static: app.py:12:5" — how a problem names its place in lists and messages. */
export function problemPlace(problem: Problem): string {
  if (!problem.file) return problem.stage;
  const at = [problem.file, problem.line, problem.line !== null ? problem.column : null].filter((part) => part !== null);
  return `${problem.stage}: ${at.join(':')}`;
}

/**
 * The diagnostics of one file: the problems that name it, as errors. A problem without a line marks the
 * file's first line, so the gutter still shows it; problems of other files are left to the problem list.
 */
export function diagnosticsFor(problems: readonly Problem[], path: string, text: string): Diagnostic[] {
  const doc = Text.of(text.split('\n'));
  return problems
    .filter((problem) => problem.file === path)
    .map((problem) => ({
      ...placeRange(doc, { line: problem.line ?? 1, column: problem.line === null ? null : problem.column }),
      severity: 'error' as const,
      source: problem.stage,
      message: problem.message,
    }));
}

/** How many problems each file has, for the file list. */
export function problemCounts(problems: readonly Problem[]): ReadonlyMap<string, number> {
  const counts = new Map<string, number>();
  for (const problem of problems) {
    if (problem.file) counts.set(problem.file, (counts.get(problem.file) ?? 0) + 1);
  }
  return counts;
}
