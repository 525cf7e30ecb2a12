import { forEachDiagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../../src/api/models';
import { diagnosticsFor, problemCounts, problemPlace } from '../../../src/components/editor/diagnostics';
import { fileState, withProblems } from '../../../src/components/editor/extensions';

const APP = 'import numpy as np\n\ndef run(volume):\n    return volume.array >\n';
const problem = (change: Partial<Problem>): Problem =>
  ({ stage: 'static', file: 'app.py', line: 4, column: 5, message: 'invalid syntax', ...change });

function marked(state: EditorState): { from: number; to: number; message: string }[] {
  const found: { from: number; to: number; message: string }[] = [];
  forEachDiagnostic(state, (d, from, to) => found.push({ from, to, message: d.message }));
  return found;
}

describe('problems as editor diagnostics', () => {
  it('marks a problem at its line and column, to the end of the word there', () => {
    const [diagnostic, ...rest] = diagnosticsFor([problem({})], 'app.py', APP);
    expect(rest).toEqual([]);
    const lineStart = APP.indexOf('    return');
    expect(diagnostic).toMatchObject({ from: lineStart + 4, to: lineStart + 10, severity: 'error', source: 'static', message: 'invalid syntax' });
    expect(APP.slice(diagnostic?.from, diagnostic?.to)).toBe('return');
  });

  it('marks the whole line when the problem names no column, and line 1 when it names no line', () => {
    const [whole, first] = diagnosticsFor([problem({ line: 3, column: null }), problem({ line: null, column: null })], 'app.py', APP);
    expect(APP.slice(whole?.from, whole?.to)).toBe('def run(volume):');
    expect(APP.slice(first?.from, first?.to)).toBe('import numpy as np');
  });

  it("keeps a problem past the text's end on its last line instead of dropping it", () => {
    const [diagnostic] = diagnosticsFor([problem({ line: 40, column: 99 })], 'app.py', APP);
    expect(diagnostic).toMatchObject({ from: APP.length, to: APP.length });
  });

  it('takes only the problems of the file asked for', () => {
    const problems = [problem({}), problem({ file: 'manifest.json', line: 1, column: 1, stage: 'manifest' }), problem({ file: null })];
    expect(diagnosticsFor(problems, 'manifest.json', '{"name": 1}')).toHaveLength(1);
    expect(diagnosticsFor(problems, 'utils.py', 'x = 1')).toEqual([]);
    expect([...problemCounts(problems)]).toEqual([['app.py', 1], ['manifest.json', 1]]);
  });

  it('names the place of a problem by stage, file, line and column', () => {
    expect(problemPlace(problem({}))).toBe('static: app.py:4:5');
    expect(problemPlace(problem({ column: null }))).toBe('static: app.py:4');
    expect(problemPlace(problem({ line: null }))).toBe('static: app.py');
    expect(problemPlace(problem({ file: null, stage: 'smoke' }))).toBe('smoke');
  });

  it("puts a file's problems into its editor state, and new problems replace the old", () => {
    const state = fileState('app.py', APP, [problem({}), problem({ file: 'other.py' })], []);
    expect(marked(state).map((d) => d.message)).toEqual(['invalid syntax']);
    expect(marked(withProblems(state, 'app.py', [problem({ line: 1, column: 8, message: 'unused import' })])))
      .toEqual([{ from: 7, to: 12, message: 'unused import' }]);
    expect(marked(withProblems(state, 'app.py', []))).toEqual([]);
  });
});
