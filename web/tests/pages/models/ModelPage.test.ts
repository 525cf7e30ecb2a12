// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, within } from '@testing-library/react';
import { createElement } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { ModelPage } from '../../../src/pages/models/ModelPage';
import { ModelsPage } from '../../../src/pages/models/ModelsPage';
import { type TestServer, useApiServer } from '../../api/server';
import { polyfillDialog, renderAt, routerPath } from '../render';

let server: TestServer;
polyfillDialog();
configure({ asyncUtilTimeout: 5000 });
vi.setConfig({ testTimeout: 20_000 });
useApiServer((started) => {
  server = started;
}, { cleanup });

const ADA = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' };
const MODEL = {
  id: 'm1', name: 'Abdomen mask', description: 'Masks the body.', architecture: 'Threshold', task: 'processing', modality: 'CT',
  owner: ADA, access: 'owner', actions: ['use', 'edit', 'share', 'publish'], active_version: 1, published_version: null,
  labels: [{ name: 'Body', code: { value: '38266002', scheme: 'SCT', meaning: 'Entire body' }, colour: [177, 122, 101] }],
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
};
const version = (n: number, change: Record<string, unknown> = {}) => ({
  version: n, status: 'ready', stage: null, digest: 'ab', size: 10, notes: `Notes ${n}`, author: ADA,
  created_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:01:00Z', active: false, published: false, problems: [], ...change,
});
const ROUTES = { '/models': createElement(ModelsPage), '/models/:modelId': createElement(ModelPage) };
const SERVICE = { version: 1, state: 'ready', instances: 1, last_failure: null };

const row = (name: string) => within(screen.getByRole('table', { name: 'Versions' })).getByRole('row', { name: new RegExp(`^${name}\\b`) });

describe('the model page', () => {
  it('follows a validating version until the server says it is ready', async () => {
    server.on('GET', '/api/models/m1', (_r, calls) => ({ status: 200, json: { ...MODEL, versions: [
      version(2, calls < 1 ? { status: 'validating', stage: 'smoke' } : {}), version(1, { active: true }),
    ] } }));
    server.on('GET', '/api/models/m1/service', () => ({ status: 200, json: SERVICE }));
    renderAt('/models/m1', ROUTES);

    const status = () => within(row('Version 2')).getByTestId('version-status').textContent;
    await screen.findByRole('table', { name: 'Versions' });
    expect(status()).toBe('Validating (smoke test)');
    await screen.findByRole('button', { name: 'Activate' }, { timeout: 8000 });
    expect(status()).toBe('Ready');
    expect(within(row('Version 1')).getByText('Active')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Service' }).parentElement?.textContent).toContain('Ready · version 1 · 1 instance');
    expect(screen.getByRole('list', { name: 'Labels' }).textContent).toContain('SCT 38266002 (Entire body)');
  });

  it('activates, rolls back and publishes through the server, and shows the problems of a failed version', async () => {
    server.on('GET', '/api/models/m1', () => ({ status: 200, json: { ...MODEL, active_version: 2, versions: [
      version(3, { status: 'failed', problems: [{ stage: 'smoke', file: 'app.py', line: 30, column: null, message: 'shape mismatch' }] }),
      version(2, { active: true }), version(1),
    ] } }));
    server.on('GET', '/api/models/m1/service', () => ({ status: 200, json: SERVICE }));
    server.on('PUT', '/api/models/m1/active', () => ({ status: 200, json: MODEL }));
    server.on('PUT', '/api/shares/models/m1/publication', () => ({ status: 200, json: { published_version: 2 } }));
    renderAt('/models/m1', ROUTES);

    await screen.findByRole('table', { name: 'Versions' });
    expect(within(row('Version 3')).queryByRole('button')).toBeNull();
    expect(within(row('Version 3')).getByText('1 problem')).toBeTruthy();
    expect(within(row('Version 3')).getByRole('list', { name: 'Problems' }).textContent).toBe('smoke: app.py:30shape mismatch');

    fireEvent.click(within(row('Version 1')).getByRole('button', { name: 'Roll back' }));
    expect(await screen.findByText('Rolled back to version 1.')).toBeTruthy();
    fireEvent.click(within(row('Version 2')).getByRole('button', { name: 'Publish to health professionals' }));
    expect(await screen.findByText(/Version 2 is published/)).toBeTruthy();
    const bodies = server.requests.filter((r) => r.method === 'PUT').map((r) => [r.path, JSON.parse(r.body)]);
    expect(bodies).toEqual([['/api/models/m1/active', { version: 1 }], ['/api/shares/models/m1/publication', { version: 2 }]]);
  });

  it('offers a use sharee no change, and its owner sharing and deleting', async () => {
    server.on('GET', '/api/models/m1', () => ({ status: 200, json: { ...MODEL, access: 'use', actions: ['use'], versions: [version(1, { active: true })] } }));
    server.on('GET', '/api/models/m1/service', () => ({ status: 200, json: SERVICE }));
    renderAt('/models/m1', ROUTES);
    await screen.findByRole('table', { name: 'Versions' });
    expect(screen.queryByRole('link', { name: 'New version' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Share' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete model' })).toBeNull();
    expect(within(row('Version 1')).queryByRole('button')).toBeNull();
  });

  it('deletes the model after confirmation and goes back to the list', async () => {
    server.on('GET', '/api/models/m1', () => ({ status: 200, json: { ...MODEL, versions: [] } }));
    server.on('GET', '/api/models/m1/service', () => ({ status: 200, json: SERVICE }));
    server.on('DELETE', '/api/models/m1', () => ({ status: 204 }));
    server.on('GET', '/api/models', () => ({ status: 200, json: { items: [] } }));
    server.on('GET', '/api/shares/models/m1', () => ({ status: 200, json: { owner: ADA, items: [], published_version: null } }));
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    renderAt('/models/m1', ROUTES);

    fireEvent.click(await screen.findByRole('button', { name: 'Share' }));
    const dialog = await screen.findByRole('dialog', { name: 'Share this model' });
    expect(within(dialog).getByRole('option', { name: 'Edit' })).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));

    fireEvent.click(screen.getByRole('button', { name: 'Delete model' }));
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('Abdomen mask was deleted.')).toBeTruthy();
    expect(routerPath()).toBe('/models');
    expect(await screen.findByText('No models here yet.')).toBeTruthy();
  });
});

describe('the model list', () => {
  it('lists the models of the chosen scope with their task, access and versions', async () => {
    server.on('GET', '/api/models', (request) => ({ status: 200, json: { items: request.path.endsWith('scope=shared') ? [] : [
      { ...MODEL, latest_version: { version: 2, status: 'validating', stage: 'smoke' } },
    ] } }));
    renderAt('/models', ROUTES);
    const table = await screen.findByRole('table', { name: 'Models' });
    const cells = within(within(table).getAllByRole('row')[1] as HTMLElement).getAllByRole('cell').map((c) => c.textContent);
    expect(cells).toEqual(['Abdomen mask', 'Processing', 'CT', 'Ada', 'Owner', '1', '—', '2: Validating (smoke test)']);
    expect(screen.getByRole('link', { name: 'Add a model' }).getAttribute('href')).toBe('/models/new');

    fireEvent.click(screen.getByRole('radio', { name: 'Shared with me' }));
    expect(await screen.findByText('No models here yet.')).toBeTruthy();
    expect(routerPath()).toBe('/models?scope=shared');
    expect(server.requests.map((r) => r.path)).toEqual(['/api/models?scope=all', '/api/models?scope=shared']);
  });
});
