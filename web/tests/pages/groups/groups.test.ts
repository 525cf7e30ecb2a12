// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { GroupPage } from '../../../src/pages/groups/GroupPage';
import { GroupsPage } from '../../../src/pages/groups/GroupsPage';
import { problem, type TestServer, useApiServer } from '../../api/server';
import { RESEARCHER, renderAt, routerPath } from '../render';

let server: TestServer;
const ADA = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' };
const BOB = { id: 'u2', email: 'bob@example.org', name: 'Bob', role: 'researcher' };
const CAROL = { id: 'u3', email: 'carol@example.org', name: 'Carol', role: 'researcher' };

function group(myRole: 'owner' | 'manager' | 'member', owner = ADA) {
  const others = [ADA, BOB, CAROL].filter((person) => person.id !== owner.id);
  return {
    id: 'g1', name: 'Cardiology team', my_role: myRole, owner, member_count: 3, created_at: '2026-03-01T10:00:00Z',
    members: [
      { user: owner, role: 'owner', added_at: '2026-03-01T10:00:00Z' },
      ...others.map((user, i) => ({ user, role: i === 0 ? 'manager' : 'member', added_at: '2026-03-02T10:00:00Z' })),
    ],
  };
}

const ROUTES = { '/groups': createElement(GroupsPage), '/groups/:groupId': createElement(GroupPage) };
const sentTo = (method: string, path: string) => server.requests.filter((r) => r.method === method && r.path === path);

useApiServer((started) => {
  server = started;
}, { cleanup });

describe('the groups page', () => {
  it('lists my groups with my role and member count', async () => {
    const { members: _, ...summary } = group('manager', BOB);
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [summary] } }));
    renderAt('/groups', ROUTES);
    const table = await screen.findByRole('table', { name: 'Your groups' });
    const row = within(table).getByRole('row', { name: /Cardiology team/ });
    expect(within(row).getByRole('link', { name: 'Cardiology team' }).getAttribute('href')).toBe('/groups/g1');
    expect(row.textContent).toContain('Manager');
    expect(row.textContent).toContain('3');
    expect(row.textContent).toContain('Bob');
  });

  it('creates a group by name and opens it', async () => {
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    server.on('POST', '/api/groups', () => ({ status: 201, json: group('owner') }));
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('owner') }));
    renderAt('/groups', ROUTES);
    await screen.findByText(/You are not in any group yet/);

    fireEvent.change(screen.getByLabelText('Group name'), { target: { value: '  Cardiology team ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create group' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Cardiology team' })).toBeTruthy();
    expect(routerPath()).toBe('/groups/g1');
    const [created] = sentTo('POST', '/api/groups');
    expect(JSON.parse(created?.body ?? '')).toEqual({ name: 'Cardiology team' });
    expect(created?.headers['x-csrf-token']).toBe('tok');
    expect(screen.getByText(/The group Cardiology team was created/)).toBeTruthy();
  });

  it("shows the server's detail beside the name when it refuses it", async () => {
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    server.on('POST', '/api/groups', () => problem(422, 'validation', 'name: must not be empty', {
      errors: [{ field: 'name', message: 'must not be empty' }],
    }));
    renderAt('/groups', ROUTES);
    fireEvent.click(await screen.findByRole('button', { name: 'Create group' }));
    expect(await screen.findByText('must not be empty')).toBeTruthy();
    expect(screen.getByLabelText('Group name').getAttribute('aria-invalid')).toBe('true');
    expect(routerPath()).toBe('/groups');
  });
});

describe('one group', () => {
  it.each([
    [422, 'unknown_user', 'No active account uses nobody@example.org.'],
    [409, 'already_member', 'Bob is already a member of this group.'],
  ])('shows why a member was not added (%i %s)', async (status, code, detail) => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('owner') }));
    server.on('POST', '/api/groups/g1/members', () => problem(status, code, detail));
    renderAt('/groups/g1', ROUTES);

    const email = await screen.findByLabelText('Email');
    fireEvent.change(email, { target: { value: 'nobody@example.org' } });
    fireEvent.change(screen.getByLabelText('Add as'), { target: { value: 'manager' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add member' }));

    expect(await screen.findByText(detail)).toBeTruthy();
    expect(email.getAttribute('aria-invalid')).toBe('true');
    const [sent] = sentTo('POST', '/api/groups/g1/members');
    expect(JSON.parse(sent?.body ?? '')).toEqual({ email: 'nobody@example.org', role: 'manager' });
  });

  it('adds a member and shows the group as the server now has it', async () => {
    let added = false;
    server.on('GET', '/api/groups/g1', () =>
      ({ status: 200, json: added ? group('owner') : { ...group('owner'), members: group('owner').members.slice(0, 1) } }));
    server.on('POST', '/api/groups/g1/members', () => {
      added = true;
      return { status: 201, json: group('owner') };
    });
    renderAt('/groups/g1', ROUTES);
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'bob@example.org' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add member' }));
    expect(await screen.findByText('bob@example.org was added to the group.')).toBeTruthy();
    const members = screen.getByRole('table', { name: 'Members' });
    await waitFor(() => expect(within(members).getByText('Bob')).toBeTruthy());
    expect(JSON.parse(sentTo('POST', '/api/groups/g1/members')[0]?.body ?? '')).toEqual({ email: 'bob@example.org', role: 'member' });
  });

  it('lets a manager add members only as members, and remove them', async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('manager', BOB) }));
    renderAt('/groups/g1', ROUTES);
    await screen.findByRole('button', { name: 'Add member' });
    expect(screen.queryByLabelText('Add as')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete group' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Transfer ownership' })).toBeNull();
    const carol = screen.getByRole('row', { name: /Carol/ });
    expect(within(carol).getByRole('button', { name: 'Remove' })).toBeTruthy();
    const owner = screen.getByRole('row', { name: /Bob/ });
    expect(within(owner).queryByRole('button', { name: 'Remove' })).toBeNull();
  });

  it('leaves the group after confirming, and returns to the list', async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('member', BOB) }));
    server.on('DELETE', '/api/groups/g1/members/u1', () => ({ status: 204 }));
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    renderAt('/groups/g1', ROUTES, RESEARCHER);

    expect(screen.queryByRole('button', { name: 'Add member' })).toBeNull();
    fireEvent.click(await screen.findByRole('button', { name: 'Leave group' }));
    expect(screen.getByText('Leave this group?')).toBeTruthy();
    expect(sentTo('DELETE', '/api/groups/g1/members/u1')).toHaveLength(0);
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));

    expect(await screen.findByText('You left the group Cardiology team.')).toBeTruthy();
    expect(routerPath()).toBe('/groups');
    const [left] = sentTo('DELETE', '/api/groups/g1/members/u1');
    expect(left?.headers['x-csrf-token']).toBe('tok');
  });

  it("shows the server's detail when leaving is refused, and stays", async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('member', BOB) }));
    server.on('DELETE', '/api/groups/g1/members/u1', () => problem(409, 'owner_cannot_leave', 'Transfer ownership first.'));
    renderAt('/groups/g1', ROUTES);
    fireEvent.click(await screen.findByRole('button', { name: 'Leave group' }));
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Transfer ownership first.');
    expect(routerPath()).toBe('/groups/g1');
  });

  it('lets the owner change a role, transfer ownership and delete the group', async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('owner') }));
    server.on('PATCH', '/api/groups/g1/members/u3', () => ({ status: 200, json: group('owner') }));
    server.on('POST', '/api/groups/g1/owner', () => ({ status: 200, json: group('manager', CAROL) }));
    server.on('DELETE', '/api/groups/g1', () => ({ status: 204 }));
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    renderAt('/groups/g1', ROUTES);

    expect(screen.queryByRole('button', { name: 'Leave group' })).toBeNull();
    fireEvent.change(await screen.findByLabelText('Role of Carol'), { target: { value: 'manager' } });
    expect(await screen.findByText('Carol is now a manager.')).toBeTruthy();
    expect(JSON.parse(sentTo('PATCH', '/api/groups/g1/members/u3')[0]?.body ?? '')).toEqual({ role: 'manager' });

    fireEvent.change(screen.getByLabelText('New owner'), { target: { value: 'u3' } });
    fireEvent.click(screen.getByRole('button', { name: 'Transfer ownership' }));
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('Carol now owns the group; you are a manager.')).toBeTruthy();
    expect(JSON.parse(sentTo('POST', '/api/groups/g1/owner')[0]?.body ?? '')).toEqual({ user_id: 'u3' });
    expect(sentTo('DELETE', '/api/groups/g1')).toHaveLength(0);
    await waitFor(() => expect(sentTo('GET', '/api/groups/g1')).toHaveLength(3));
  });

  it('deletes the group after confirming', async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: group('owner') }));
    server.on('DELETE', '/api/groups/g1', () => ({ status: 204 }));
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [] } }));
    renderAt('/groups/g1', ROUTES);
    fireEvent.click(await screen.findByRole('button', { name: 'Delete group' }));
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('The group Cardiology team was deleted.')).toBeTruthy();
    expect(routerPath()).toBe('/groups');
    expect(sentTo('DELETE', '/api/groups/g1')).toHaveLength(1);
  });

  it("shows the server's detail for a group I cannot see", async () => {
    server.on('GET', '/api/groups/nope', () => problem(404, 'not_found', 'No such group.'));
    renderAt('/groups/nope', ROUTES);
    expect((await screen.findByRole('alert')).textContent).toContain('No such group.');
  });
});
