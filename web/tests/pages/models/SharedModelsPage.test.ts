// @vitest-environment jsdom
import { cleanup, screen, within } from '@testing-library/react';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { SharedModelsPage } from '../../../src/pages/models/SharedModelsPage';
import { problem, type TestServer, useApiServer } from '../../api/server';
import { renderAt } from '../render';

let server: TestServer;
const BOB = { id: 'u2', email: 'bob@example.org', name: 'Bob', role: 'researcher' };
const ROUTES = { '/models/shared': createElement(SharedModelsPage) };

useApiServer((started) => {
  server = started;
}, { cleanup, csrf: false });

describe('models shared with me', () => {
  it('lists each model with its owner, my access and its published version', async () => {
    server.on('GET', '/api/shares/models', () => ({ status: 200, json: { items: [
      { id: 'm1', name: 'Lung nodules', owner: BOB, access: 'use', published_version: 3 },
      { id: 'm2', name: 'Liver segmentation', owner: BOB, access: 'edit', published_version: null },
    ] } }));
    renderAt('/models/shared', ROUTES);
    const table = await screen.findByRole('table', { name: 'Models shared with me' });
    const cells = (name: string) => within(within(table).getByRole('row', { name: new RegExp(name) }))
      .getAllByRole('cell').map((cell) => cell.textContent);
    expect(cells('Lung nodules')).toEqual(['Lung nodules', 'Bob', 'use', '3']);
    expect(cells('Liver segmentation')).toEqual(['Liver segmentation', 'Bob', 'edit', '—']);
    expect(server.requests.map((r) => r.path)).toEqual(['/api/shares/models?scope=shared']);
  });

  it("shows the server's refusal for an account without patient data", async () => {
    server.on('GET', '/api/shares/models', () =>
      problem(403, 'no_patient_data_access', 'Administrators manage accounts, not data.'));
    renderAt('/models/shared', ROUTES);
    expect(await screen.findByText('Administrators manage accounts, not data.')).toBeTruthy();
    expect(screen.getByText('Models are not available')).toBeTruthy();
  });
});
