import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../../src/api/models';
import { languageOf, nameProblem, renamed, sortedPaths, withoutFile } from '../../../src/components/editor/files';
import { prefillFiles, prefillManifest } from '../../../src/components/editor/manifest';

const INFO: ModelInfo = {
  name: 'Abdomen body mask', description: 'Masks the body on abdominal CT.', architecture: 'Threshold', task: 'processing', modality: 'CT',
};
const TEMPLATE_MANIFEST = JSON.stringify({
  name: 'CT body mask', description: 'Template.', architecture: 'Threshold + connected components', task: 'processing',
  modality: 'CT', labels: [{ name: 'Body', code: null, colour: [1, 2, 3] }], entry_point: 'app:BodyMaskApplication', requirements: [],
});

describe('manifest prefill from the add-model form', () => {
  it("writes the form's values and keeps the rest of the template's manifest, in its order", () => {
    const manifest = JSON.parse(prefillManifest(TEMPLATE_MANIFEST, { ...INFO, task: 'segmentation', modality: 'MR' }));
    expect(manifest).toEqual({
      name: 'Abdomen body mask', description: 'Masks the body on abdominal CT.', architecture: 'Threshold', task: 'segmentation',
      modality: 'MR', labels: [{ name: 'Body', code: null, colour: [1, 2, 3] }], entry_point: 'app:BodyMaskApplication', requirements: [],
    });
    expect(Object.keys(manifest)).toEqual(Object.keys(JSON.parse(TEMPLATE_MANIFEST)));
  });

  it('starts a manifest of its own when the template has none or an unreadable one', () => {
    for (const text of [undefined, '{not json', '[1, 2]']) {
      expect(JSON.parse(prefillManifest(text, INFO))).toEqual({ ...INFO });
    }
  });

  it("prefills only the template's manifest.json, leaving its code as it is", () => {
    const files = prefillFiles({ 'app.py': 'print()', 'manifest.json': TEMPLATE_MANIFEST }, INFO);
    expect(files['app.py']).toBe('print()');
    expect(JSON.parse(files['manifest.json'] ?? '').name).toBe('Abdomen body mask');
  });
});

describe("the editor's files", () => {
  const files = { 'app.py': 'a', 'manifest.json': '{}', 'utils/io.py': 'b' };

  it('refuses an empty name and a name already taken, but not a file keeping its own name', () => {
    expect(nameProblem(files, '')).toMatch(/Enter a file name/);
    expect(nameProblem(files, 'app.py')).toBe('There is already a file named app.py.');
    expect(nameProblem(files, 'app.py', 'app.py')).toBeNull();
    expect(nameProblem(files, 'new.py')).toBeNull();
  });

  it('renames and removes files keeping their texts, and lists the manifest first', () => {
    expect(renamed(files, 'app.py', 'main.py')).toEqual({ 'main.py': 'a', 'manifest.json': '{}', 'utils/io.py': 'b' });
    expect(withoutFile(files, 'utils/io.py')).toEqual({ 'app.py': 'a', 'manifest.json': '{}' });
    expect(sortedPaths({ 'z.py': '', 'manifest.json': '', 'a.py': '' })).toEqual(['manifest.json', 'a.py', 'z.py']);
  });

  it('opens Python and JSON files in their language mode', () => {
    expect([languageOf('app.py'), languageOf('configs/x.JSON'), languageOf('README.md')]).toEqual(['python', 'json', 'text']);
  });
});
