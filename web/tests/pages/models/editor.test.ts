// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { File as NodeFile } from 'node:buffer';
import { createElement } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { ModelEditorPage } from '../../../src/pages/models/ModelEditorPage';
import { NewModelPage } from '../../../src/pages/models/NewModelPage';
import { problem, type TestServer, useApiServer } from '../../api/server';
import { polyfillRangeRects } from '../../components/editor/jsdomLayout';
import { renderAt, routerPath } from '../render';

let server: TestServer;
polyfillRangeRects();
// CodeMirror's first render in jsdom is slow on a busy machine.
configure({ asyncUtilTimeout: 5000 });
vi.setConfig({ testTimeout: 20_000 });
useApiServer((started) => {
  server = started;
}, { cleanup });

const ADA = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' };
const APP = 'from model_builder import Application\n\n\nclass Mask(Application):\n    def run(self, volume):\n        return volume\n';
const TEMPLATES = [
  { id: 'segmentation_monai', title: 'Segmentation (MONAI)', task: 'segmentation', files: { 'app.py': '# unet', 'manifest.json': '{}' } },
  { id: 'processing_classical', title: 'Classical processing', task: 'processing', files: {
    'app.py': APP, 'manifest.json': JSON.stringify({ name: 'CT body mask', task: 'processing', labels: [], entry_point: 'app:Mask' }),
  } },
];
const MODEL = {
  id: 'm1', name: 'Abdomen mask', description: 'Masks the body.', architecture: 'Threshold', task: 'processing', modality: 'CT',
  owner: ADA, access: 'owner', actions: ['use', 'edit', 'share', 'publish'], active_version: null, published_version: null,
  labels: [], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
};
const ROUTES = {
  '/models/new': createElement(NewModelPage),
  '/models/:modelId/edit': createElement(ModelEditorPage),
  '/models/:modelId': createElement('p', null, 'model page'),
};

function serveNewModel() {
  server.on('GET', '/api/models/templates', () => ({ status: 200, json: { items: TEMPLATES } }));
  server.on('POST', '/api/models', () => ({ status: 201, json: MODEL }));
  server.on('GET', '/api/models/m1', () => ({ status: 200, json: { ...MODEL, versions: [] } }));
}

/** A chosen file as Node's fetch can send it (jsdom's Blob is not one it reads; a browser's File is). */
const chosenFile = (text: string, name: string): File => new NodeFile([text], name) as unknown as File;

const sent = (method: string, path: string) => server.requests.filter((r) => r.method === method && r.path === path)
  .map((r) => JSON.parse(r.body) as Record<string, unknown>);

describe('adding a model', () => {
  it("creates it from the form and opens the editor on the chosen template, the form's values in its manifest", async () => {
    serveNewModel();
    renderAt('/models/new', ROUTES);
    fireEvent.click(await screen.findByRole('radio', { name: 'Classical processing' }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: ' Abdomen mask ' } });
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: 'Masks the body.' } });
    fireEvent.change(screen.getByLabelText('Architecture'), { target: { value: 'Threshold' } });
    expect((screen.getByLabelText('Task') as HTMLSelectElement).value).toBe('processing');
    fireEvent.click(screen.getByRole('button', { name: 'Add the model' }));

    await screen.findByRole('heading', { name: 'New version of Abdomen mask' });
    expect(routerPath()).toBe('/models/m1/edit?template=processing_classical');
    expect(sent('POST', '/api/models')).toEqual([
      { name: 'Abdomen mask', description: 'Masks the body.', architecture: 'Threshold', task: 'processing', modality: 'CT' },
    ]);
    expect(screen.getByRole('textbox', { name: 'Code of app.py' }).textContent).toContain('class Mask(Application):');
    fireEvent.click(within(screen.getByRole('navigation', { name: 'Files' })).getByRole('button', { name: 'manifest.json' }));
    const manifest = await screen.findByRole('textbox', { name: 'Code of manifest.json' });
    expect(manifest.textContent).toContain('"name": "Abdomen mask"');
    expect(manifest.textContent).toContain('"entry_point": "app:Mask"');
  });

  it("shows the server's refusal of a field beside that field", async () => {
    serveNewModel();
    server.on('POST', '/api/models', () => problem(422, 'validation', 'Check the highlighted fields.',
      { errors: [{ field: 'modality', message: 'Use a DICOM modality such as CT.' }] }));
    renderAt('/models/new', ROUTES);
    await screen.findByRole('radio', { name: 'Classical processing' });
    fireEvent.click(screen.getByRole('button', { name: 'Add the model' }));
    expect(await screen.findByText('Use a DICOM modality such as CT.')).toBeTruthy();
    expect(screen.getByLabelText('Modality').getAttribute('aria-invalid')).toBe('true');
  });
});

describe('publishing from the editor', () => {
  it('lists every problem of a refused bundle, marks it in its file, and opens the file at it on click', async () => {
    serveNewModel();
    server.on('POST', '/api/models/m1/versions', () => problem(422, 'invalid_bundle', 'The bundle has 2 problems.', { problems: [
      { stage: 'static', file: 'app.py', line: 5, column: 5, message: "invalid syntax: 'def' here" },
      { stage: 'manifest', file: 'manifest.json', line: null, column: null, message: '$.labels: at least one label is needed' },
    ] }));
    renderAt('/models/m1/edit?template=processing_classical', ROUTES);
    await screen.findByRole('textbox', { name: 'Code of app.py' });
    fireEvent.change(screen.getByLabelText('Version notes'), { target: { value: 'First try' } });
    fireEvent.click(screen.getByRole('button', { name: 'Publish' }));

    const refused = await screen.findByRole('alert');
    expect(within(refused).getByText('The bundle was refused: 2 problems')).toBeTruthy();
    const items = within(within(refused).getByRole('list', { name: 'Problems' })).getAllByRole('listitem');
    expect(items.map((item) => item.textContent)).toEqual([
      "static: app.py:5:5invalid syntax: 'def' here",
      'manifest: manifest.json$.labels: at least one label is needed',
    ]);
    const [body] = sent('POST', '/api/models/m1/versions');
    expect(body?.weights).toEqual({});
    expect(body?.notes).toBe('First try');
    expect(Object.keys(body?.files as object).sort()).toEqual(['app.py', 'manifest.json']);

    // The open file (app.py) is marked at line 5, and the file list counts each file's problems.
    await waitFor(() => expect(document.querySelectorAll('.cm-lintRange-error')).toHaveLength(1));
    expect(document.querySelector('.cm-lintRange-error')?.textContent).toBe('def');
    expect(screen.getByRole('button', { name: 'manifest.json, 1 problem' })).toBeTruthy();

    fireEvent.click(within(refused).getByRole('button', { name: 'manifest: manifest.json' }));
    const manifest = await screen.findByRole('textbox', { name: 'Code of manifest.json' });
    await waitFor(() => expect(document.activeElement).toBe(manifest));
    expect(document.querySelectorAll('.cm-lintRange-error')).toHaveLength(1);
  });

  it('starts a new version from the newest kept version, reusing its weights unless removed', async () => {
    server.on('GET', '/api/models/m1', () => ({ status: 200, json: { ...MODEL, active_version: 2, versions: [
      { version: 3, status: 'failed', stage: null, problems: [] }, { version: 2, status: 'ready', stage: null, problems: [] },
    ] } }));
    server.on('GET', '/api/models/m1/versions/2/source', () => ({ status: 200, json: {
      files: { 'app.py': APP, 'manifest.json': '{}' }, weights: [{ path: 'models/a.pt', size: 10 }, { path: 'models/b.pt', size: 20 }],
    } }));
    server.on('POST', '/api/models/m1/versions', () => ({ status: 202, json: { version: 4, status: 'validating', stage: 'smoke' } }));
    renderAt('/models/m1/edit', ROUTES);
    expect(await screen.findByText(/Starting from version 2/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Remove models/b.pt' }));
    fireEvent.click(screen.getByRole('button', { name: 'Publish' }));
    await screen.findByText('model page');
    expect(routerPath()).toBe('/models/m1');
    expect(sent('POST', '/api/models/m1/versions')[0]?.weights).toEqual({ 'models/a.pt': { from_version: 2 } });
  });

  it('uploads a weight file in chunks with its progress, retries after a refusal, and publishes its upload id', async () => {
    serveNewModel();
    const upload = (received: number) => ({ id: 'up1', name: 'weights.bin', size: 10, received, complete: received === 10,
      sha256: null, chunk_size: 4, expires_at: '2026-01-02T00:00:00Z' });
    let received = 0;
    server.on('POST', '/api/models/m1/uploads', () => ({ status: 201, json: upload(0) }));
    server.on('GET', '/api/models/m1/uploads/up1', () => ({ status: 200, json: upload(received) }));
    server.on('PUT', '/api/models/m1/uploads/up1', (request, calls) => {
      if (calls === 1) return problem(413, 'too_large', 'The file is over the size cap.');
      received += request.body.length;
      return { status: 200, json: upload(received) };
    });
    server.on('POST', '/api/models/m1/versions', () => ({ status: 202, json: { version: 1, status: 'validating', stage: 'smoke' } }));
    renderAt('/models/m1/edit', ROUTES);
    await screen.findByRole('textbox', { name: 'Code of app.py' });

    fireEvent.change(screen.getByLabelText('Path in the bundle'), { target: { value: 'models/model.pt' } });
    fireEvent.change(screen.getByLabelText('Choose a weight file'), { target: { files: [chosenFile('abcdefghij', 'weights.bin')] } });
    const failed = await screen.findByText(/The upload of models\/model.pt failed at 4 B of 10 B \(40 %\): The file is over the size cap./);
    fireEvent.click(within(failed.closest('.alert') as HTMLElement).getByRole('button', { name: 'Retry' }));
    const bar = screen.getByRole('progressbar', { name: 'Upload of models/model.pt' });
    await waitFor(() => expect(bar.getAttribute('aria-valuetext')).toBe('10 B of 10 B (100 %)'));
    expect(server.requests.filter((r) => r.method === 'PUT').map((r) => [r.headers['content-range'], r.body])).toEqual([
      ['bytes 0-3/10', 'abcd'], ['bytes 4-7/10', 'efgh'], ['bytes 4-7/10', 'efgh'], ['bytes 8-9/10', 'ij'],
    ]);

    fireEvent.click(screen.getByRole('button', { name: 'Publish' }));
    await screen.findByText('model page');
    expect(sent('POST', '/api/models/m1/versions')[0]?.weights).toEqual({ 'models/model.pt': 'up1' });
  });
});
