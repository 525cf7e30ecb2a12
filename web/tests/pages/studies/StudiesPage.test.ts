// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { StudiesPage } from '../../../src/pages/studies/StudiesPage';
import { type TestServer, useApiServer } from '../../api/server';
import { polyfillDialog, renderAt, routerPath } from '../render';

let server: TestServer;
const BASE = {
  patient_birth_date: '19700101', accession_number: 'ACC1', referring_physician: null, study_date: '2026-01-15',
  modalities: ['CT'], description: 'Chest', num_series: 1, num_instances: 12, uploaded_at: '2026-02-01T10:00:00Z',
  burned_in: null,
};
const MINE = { ...BASE, study_uid: '1.2.1', patient_name: 'DOE^JANE', patient_id: 'MCC-1', access: 'owner', owner: { name: 'Ada' } };
const SHARED = { ...BASE, study_uid: '1.2.2', patient_name: 'ROE^RICHARD', patient_id: 'MCC-2', access: 'read', owner: { name: 'Grace Hopper' } };
const ROUTES = { '/studies': createElement(StudiesPage) };

/** The query of each study list request, in order. */
const listQueries = () => server.requests
  .filter((r) => r.method === 'GET' && r.path.startsWith('/api/studies'))
  .map((r) => Object.fromEntries(new URL(r.path, 'http://x').searchParams));

useApiServer((started) => {
  server = started;
  polyfillDialog();
}, { cleanup });

describe('the scope switch', () => {
  it('asks for all studies by default, then for those shared with me, keeping the choice in the URL', async () => {
    server.on('GET', '/api/studies', (request) => {
      const shared = request.path.includes('scope=shared');
      return { status: 200, json: { items: shared ? [SHARED] : [MINE, SHARED], total: shared ? 1 : 2 } };
    });
    renderAt('/studies?modality=CT&offset=20', ROUTES);
    const scope = await screen.findByRole('radiogroup', { name: 'Show' });
    expect(within(scope).getAllByRole('radio').map((radio) => radio.getAttribute('value'))).toEqual(['all', 'mine', 'shared']);
    expect(within(scope).getByRole('radio', { name: 'All' })).toHaveProperty('checked', true);
    await waitFor(() => expect(listQueries()).toHaveLength(1));
    expect(listQueries()[0]).toMatchObject({ scope: 'all', modality: 'CT', offset: '20' });

    fireEvent.click(within(scope).getByRole('radio', { name: 'Shared with me' }));

    expect(routerPath()).toBe('/studies?scope=shared&modality=CT');
    await waitFor(() => expect(listQueries()).toHaveLength(2));
    expect(listQueries()[1]).toEqual({ scope: 'shared', modality: 'CT', sort: 'date', limit: '20', offset: '0' });
    await waitFor(() => expect(screen.getByRole('radio', { name: 'Shared with me' })).toHaveProperty('checked', true));
  });

  it('starts from the scope in the URL', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [], total: 0 } }));
    renderAt('/studies?scope=mine', ROUTES);
    expect(await screen.findByRole('radio', { name: 'My studies' })).toHaveProperty('checked', true);
    await waitFor(() => expect(listQueries()[0]).toMatchObject({ scope: 'mine' }));
    expect(await screen.findByText(/No studies of yours yet/)).toBeTruthy();
  });

  it('says when nothing is shared with me', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [], total: 0 } }));
    renderAt('/studies?scope=shared', ROUTES);
    expect(await screen.findByText('No studies are shared with you yet.')).toBeTruthy();
  });
});

describe('study rows', () => {
  it("show a shared study's owner and my level, and only my own studies can be shared or deleted", async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [MINE, SHARED], total: 2 } }));
    renderAt('/studies', ROUTES);
    const table = await screen.findByRole('table', { name: 'Studies' });
    const mine = within(table).getByRole('row', { name: /DOE, JANE/ });
    const shared = within(table).getByRole('row', { name: /ROE, RICHARD/ });

    expect(within(shared).getByText('Grace Hopper')).toBeTruthy();
    expect(within(shared).getByText('read', { exact: true }).className).toContain('badge');
    expect(within(shared).queryByRole('button', { name: 'Share' })).toBeNull();
    expect(within(shared).queryByRole('button', { name: /Delete/ })).toBeNull();
    expect(within(shared).getByRole('link', { name: /Open/ })).toBeTruthy();
    expect(within(shared).getByRole('link', { name: /^AI/ }).getAttribute('href'))
      .toBe(`/studies/${SHARED.study_uid}/view`);

    expect(within(mine).getByText('You')).toBeTruthy();
    expect(within(mine).getByRole('button', { name: 'Share' })).toBeTruthy();
    expect(within(mine).getByRole('button', { name: /Delete/ })).toBeTruthy();
  });

  it('"Share" opens the share dialog of that study', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [MINE], total: 1 } }));
    server.on('GET', '/api/shares/studies/1.2.1', () => ({ status: 200, json: {
      owner: { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' }, items: [],
    } }));
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    renderAt('/studies', ROUTES);
    const share = await screen.findByRole('button', { name: 'Share' });
    share.focus();
    fireEvent.click(share);

    const dialog = screen.getByRole('dialog', { name: 'Share this study' });
    expect(within(dialog).getByText(/DOE, JANE/)).toBeTruthy();
    expect(await within(dialog).findByText('Not shared with anyone yet.')).toBeTruthy();
    expect(server.requests.some((r) => r.path === '/api/shares/studies/1.2.1')).toBe(true);

    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(share);
  });
});

describe('the worklist', () => {
  it('keeps each long text whole in its tooltip, the name as people read it', async () => {
    const long = {
      ...MINE, patient_name: 'WOLFESCHLEGELSTEINHAUSEN^MARIA-ALEXANDRA', patient_id: 'MCC-0000000000-0000000000-LONG',
      description: 'CT CHEST ABDOMEN PELVIS WITH IV CONTRAST, ARTERIAL AND VENOUS', modalities: ['CT', 'SR'],
    };
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [long, SHARED], total: 2 } }));
    renderAt('/studies', ROUTES);
    const table = await screen.findByRole('table', { name: 'Studies' });
    const row = within(table).getByRole('row', { name: /WOLFESCHLEGELSTEINHAUSEN/ });
    const titled = (text: string) => within(row).getByTitle(text, { exact: true });

    expect(titled('WOLFESCHLEGELSTEINHAUSEN, MARIA-ALEXANDRA').textContent).toBe('WOLFESCHLEGELSTEINHAUSEN, MARIA-ALEXANDRA');
    expect(titled(long.patient_id).textContent).toBe(long.patient_id);
    expect(titled(long.description).textContent).toBe(long.description);
    expect(titled('CT, SR').textContent).toBe('CT, SR');
    const shared = within(table).getByRole('row', { name: /ROE, RICHARD/ });
    expect(within(shared).getByTitle('Grace Hopper').textContent).toContain('Grace Hopper');
  });

  it('flags a study whose images may hold identifying text, saying why', async () => {
    const us = { ...MINE, study_uid: '1.2.3', patient_name: 'ROE^ULTRA', modalities: ['US'], burned_in: 'suspected' };
    const marked = { ...MINE, study_uid: '1.2.4', patient_name: 'ROE^MARKED', burned_in: 'yes', description: null };
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [MINE, us, marked], total: 3 } }));
    renderAt('/studies', ROUTES);
    const table = await screen.findByRole('table', { name: 'Studies' });
    const flag = (name: RegExp) => within(within(table).getByRole('row', { name })).queryByText('Text in images');
    expect(flag(/DOE, JANE/)).toBeNull();
    expect(flag(/ROE, ULTRA/)?.getAttribute('title')).toMatch(/often burns text/);
    expect(flag(/ROE, MARKED/)?.getAttribute('title')).toMatch(/burned-in annotation/);
  });

  it('says "about" when the server estimated the total', async () => {
    server.on('GET', '/api/studies', () => ({
      status: 200, json: { items: [MINE], total: 104000, total_exact: false, next_cursor: 'c1' },
    }));
    renderAt('/studies', ROUTES);
    expect(await screen.findByText('about 104,000 studies')).toBeTruthy();
  });

  it('shows the scope, the count and the sort together once the list has loaded', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [MINE], total: 1 } }));
    renderAt('/studies', ROUTES);
    const count = await screen.findByText('1 study');
    const bar = count.parentElement as HTMLElement;
    expect(within(bar).getByRole('radiogroup', { name: 'Show' })).toBeTruthy();
    expect(within(bar).getByRole('combobox', { name: 'Sort' })).toBeTruthy();
  });
});

describe('the upload bar', () => {
  it('opens what an upload found below the bar, and closes it again', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [MINE], total: 1 } }));
    renderAt('/studies', ROUTES);
    const upload = await screen.findByRole('region', { name: 'Upload studies' });
    const input = within(upload).getByLabelText('Choose files') as HTMLInputElement;
    expect(upload.querySelector('.upload-status')).toBeNull();

    // A hidden file only: nothing is sent, and the bar says so.
    Object.defineProperty(input, 'files', { configurable: true, value: [new File(['x'], '.DS_Store')] });
    fireEvent.change(input);

    expect(await within(upload).findByText('No files to upload were found there.')).toBeTruthy();
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);
    fireEvent.click(within(upload).getByRole('button', { name: 'Close upload summary' }));
    expect(within(upload).queryByText('No files to upload were found there.')).toBeNull();
    expect(upload.querySelector('.upload-status')).toBeNull();
    expect(within(upload).getByLabelText('Choose files')).toBe(input);
  });
});
