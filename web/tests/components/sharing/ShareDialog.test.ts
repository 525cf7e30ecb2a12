// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { createElement } from 'react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SharedKind } from '../../../src/api';
import { ShareDialog } from '../../../src/components/sharing/ShareDialog';
import { problem, type TestServer, useApiServer } from '../../api/server';
import { polyfillDialog, renderAt } from '../../pages/render';

let server: TestServer;
const UID = '1.2.840.10008.1';
const SHARES = `/api/shares/studies/${UID}`;
const ADA = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' };
const BOB = { id: 'u2', email: 'bob@example.org', name: 'Bob', role: 'researcher' };
const TEAM = { id: 'g1', name: 'Cardiology team', member_count: 3 };
const BOB_READS = {
  id: 's1', level: 'read', grantee: { type: 'user', user: BOB }, created_at: '2026-03-03T10:00:00Z', created_by: ADA,
};
const TEAM_CONTRIBUTES = {
  id: 's2', level: 'contribute', grantee: { type: 'group', group: TEAM }, created_at: '2026-03-04T10:00:00Z', created_by: ADA,
};
const MY_GROUPS = {
  items: [{ ...TEAM, my_role: 'owner', owner: ADA, created_at: '2026-03-01T10:00:00Z' }],
};

function open(onClose = vi.fn(), kind: SharedKind = 'studies', resourceId = UID) {
  const dialog = createElement(ShareDialog, { kind, resourceId, title: 'Share this study', onClose });
  renderAt('/', { '/': dialog });
  return { onClose, dialog: screen.getByRole('dialog', { name: 'Share this study' }) };
}

const sentTo = (method: string, path: string) => server.requests.filter((r) => r.method === method && r.path === path);
const item = (dialog: HTMLElement, name: string) =>
  within(within(dialog).getByRole('list', { name: 'Who has access' })).getByText(name).closest('li') as HTMLElement;

useApiServer((started) => {
  server = started;
  polyfillDialog();
}, { cleanup });

beforeEach(() => {
  server.on('GET', '/api/groups', () => ({ status: 200, json: MY_GROUPS }));
});

describe('the share dialog', () => {
  it('is a modal dialog named by its title, with the focus in Email', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [] } }));
    const { dialog } = open();
    expect(dialog.tagName).toBe('DIALOG');
    expect(dialog.hasAttribute('open')).toBe(true);
    expect(document.activeElement).toBe(within(dialog).getByLabelText('Email'));
    expect(await within(dialog).findByText('Not shared with anyone yet.')).toBeTruthy();
  });

  it('closes on Escape', () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [] } }));
    const { dialog, onClose } = open();
    fireEvent(dialog, new Event('cancel', { cancelable: true }));
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('lists the owner, then each person and group with their level', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [BOB_READS, TEAM_CONTRIBUTES] } }));
    const { dialog } = open();
    const list = await within(dialog).findByRole('list', { name: 'Who has access' });
    const rows = within(list).getAllByRole('listitem');
    expect(rows.map((row) => row.querySelector('.strong')?.textContent)).toEqual(['Ada', 'Bob', 'Cardiology team']);
    expect(rows[0]?.textContent).toContain('Owner');
    expect(within(item(dialog, 'Bob')).getByRole('combobox', { name: 'Access' })).toHaveProperty('value', 'read');
    expect(item(dialog, 'Bob').textContent).toContain('bob@example.org');
    expect(within(item(dialog, 'Cardiology team')).getByRole('combobox', { name: 'Access' })).toHaveProperty('value', 'contribute');
    expect(item(dialog, 'Cardiology team').textContent).toContain('Group · 3 members');
  });

  it('adds a person by email at the chosen level, then reads the list again', async () => {
    let added = false;
    server.on('GET', SHARES, () =>
      ({ status: 200, json: { owner: ADA, items: added ? [{ ...BOB_READS, level: 'contribute' }] : [] } }));
    server.on('POST', SHARES, () => {
      added = true;
      return { status: 201, json: { ...BOB_READS, level: 'contribute' } };
    });
    const { dialog } = open();

    const email = within(dialog).getByLabelText('Email');
    fireEvent.change(email, { target: { value: ' bob@example.org ' } });
    fireEvent.change(within(dialog).getByLabelText('Level'), { target: { value: 'contribute' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add' }));

    expect(await within(dialog).findByText('Shared with Bob (contribute).')).toBeTruthy();
    await waitFor(() => expect(item(dialog, 'Bob')).toBeTruthy());
    const [post] = sentTo('POST', SHARES);
    expect(JSON.parse(post?.body ?? '')).toEqual({ email: 'bob@example.org', level: 'contribute' });
    expect(post?.headers['x-csrf-token']).toBe('tok');
    expect(sentTo('GET', SHARES)).toHaveLength(2);
    expect(email).toHaveProperty('value', '');
  });

  it('adds one of my groups by its id, and only the group', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [] } }));
    server.on('POST', SHARES, () => ({ status: 201, json: { ...TEAM_CONTRIBUTES, level: 'read' } }));
    const { dialog } = open();
    fireEvent.change(within(dialog).getByLabelText('Email'), { target: { value: 'bob@example.org' } });
    const picker = within(dialog).getByLabelText('Group');
    await within(picker).findByRole('option', { name: 'Cardiology team' });
    fireEvent.change(picker, { target: { value: 'g1' } });
    expect(within(dialog).getByLabelText('Email')).toHaveProperty('value', '');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(await within(dialog).findByText('Shared with Cardiology team (read).')).toBeTruthy();
    expect(JSON.parse(sentTo('POST', SHARES)[0]?.body ?? '')).toEqual({ group_id: 'g1', level: 'read' });
    await waitFor(() => expect(sentTo('GET', SHARES)).toHaveLength(2));
  });

  it("shows the server's detail when the grantee has the other role", async () => {
    const detail = "A researcher's study can be shared only with researchers and groups of researchers.";
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [] } }));
    server.on('POST', SHARES, () => problem(422, 'wrong_role', detail));
    const { dialog } = open();
    fireEvent.change(within(dialog).getByLabelText('Email'), { target: { value: 'doctor@example.org' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe(detail);
    expect(within(dialog).getByLabelText('Email')).toHaveProperty('value', 'doctor@example.org');
  });

  it('shows an unknown email beside the Email field', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [] } }));
    server.on('POST', SHARES, () => problem(422, 'unknown_user', 'No active account uses that email address.'));
    const { dialog } = open();
    fireEvent.change(within(dialog).getByLabelText('Email'), { target: { value: 'nobody@example.org' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(await within(dialog).findByText('No active account uses that email address.')).toBeTruthy();
    expect(within(dialog).getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
  });

  it('changes a level', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [BOB_READS] } }));
    server.on('PATCH', `${SHARES}/s1`, () => ({ status: 200, json: { ...BOB_READS, level: 'contribute' } }));
    const { dialog } = open();
    await within(dialog).findByText('Bob');
    fireEvent.change(within(item(dialog, 'Bob')).getByRole('combobox', { name: 'Access' }), { target: { value: 'contribute' } });
    expect(await within(dialog).findByText('Bob now has contribute access.')).toBeTruthy();
    expect(JSON.parse(sentTo('PATCH', `${SHARES}/s1`)[0]?.body ?? '')).toEqual({ level: 'contribute' });
    await waitFor(() => expect(sentTo('GET', SHARES)).toHaveLength(2));
  });

  it('revokes only after confirming', async () => {
    let revoked = false;
    server.on('GET', SHARES, () =>
      ({ status: 200, json: { owner: ADA, items: revoked ? [TEAM_CONTRIBUTES] : [BOB_READS, TEAM_CONTRIBUTES] } }));
    server.on('DELETE', `${SHARES}/s1`, () => {
      revoked = true;
      return { status: 204 };
    });
    const { dialog } = open();
    await within(dialog).findByText('Bob');

    fireEvent.click(within(item(dialog, 'Bob')).getByRole('button', { name: 'Revoke' }));
    expect(within(dialog).getByText('Revoke access for Bob?')).toBeTruthy();
    expect(sentTo('DELETE', `${SHARES}/s1`)).toHaveLength(0);
    const confirm = within(item(dialog, 'Bob')).getByRole('button', { name: 'Confirm' });
    expect(document.activeElement).toBe(confirm);
    fireEvent.click(confirm);

    expect(await within(dialog).findByText('Access for Bob was revoked.')).toBeTruthy();
    await waitFor(() => expect(within(dialog).queryByText('Bob')).toBeNull());
    expect(sentTo('DELETE', `${SHARES}/s1`)[0]?.headers['x-csrf-token']).toBe('tok');
    expect(item(dialog, 'Cardiology team')).toBeTruthy();
  });

  it('keeps the share when the revocation is cancelled', async () => {
    server.on('GET', SHARES, () => ({ status: 200, json: { owner: ADA, items: [BOB_READS] } }));
    const { dialog } = open();
    await within(dialog).findByText('Bob');
    fireEvent.click(within(item(dialog, 'Bob')).getByRole('button', { name: 'Revoke' }));
    fireEvent.click(within(item(dialog, 'Bob')).getByRole('button', { name: 'Cancel' }));
    expect(document.activeElement).toBe(within(item(dialog, 'Bob')).getByRole('button', { name: 'Revoke' }));
    expect(server.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
  });

  it('shares a model at the levels use and edit', async () => {
    server.on('GET', '/api/shares/models/m1', () => ({ status: 200, json: { owner: ADA, items: [], published_version: null } }));
    server.on('POST', '/api/shares/models/m1', () => ({ status: 201, json: { ...BOB_READS, level: 'edit' } }));
    const { dialog } = open(vi.fn(), 'models', 'm1');
    const level = within(dialog).getByLabelText('Level');
    expect(within(level).getAllByRole('option').map((o) => (o as HTMLOptionElement).value)).toEqual(['use', 'edit']);
    fireEvent.change(within(dialog).getByLabelText('Email'), { target: { value: 'bob@example.org' } });
    fireEvent.change(level, { target: { value: 'edit' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(await within(dialog).findByText('Shared with Bob (edit).')).toBeTruthy();
    expect(JSON.parse(sentTo('POST', '/api/shares/models/m1')[0]?.body ?? '')).toEqual({ email: 'bob@example.org', level: 'edit' });
    await waitFor(() => expect(sentTo('GET', '/api/shares/models/m1')).toHaveLength(2));
  });
});
