import { describe, expect, it } from 'vitest';
import { ApiError, sharing } from '../../src/api';
import { problem, type Recorded, type TestServer, useApiServer } from './server';

let server: TestServer;
const ADA = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher' };
const BOB = { id: 'u 2', email: 'bob@example.org', name: 'Bob', role: 'researcher' };
const GROUP = {
  id: 'g1', name: 'Cardiology team', my_role: 'owner', owner: ADA, member_count: 2, created_at: '2026-03-01T10:00:00Z',
  members: [
    { user: ADA, role: 'owner', added_at: '2026-03-01T10:00:00Z' },
    { user: BOB, role: 'member', added_at: '2026-03-02T10:00:00Z' },
  ],
};
const SHARE = {
  id: 's1', level: 'read', grantee: { type: 'user', user: BOB }, created_at: '2026-03-03T10:00:00Z', created_by: ADA,
};

useApiServer((started) => {
  server = started;
});

/** The one request the call sent, as method, path, CSRF header and decoded JSON body. */
function sent(): { method: string; path: string; csrf: unknown; body: unknown } {
  expect(server.requests).toHaveLength(1);
  const request = server.requests[0] as Recorded;
  return {
    method: request.method,
    path: request.path,
    csrf: request.headers['x-csrf-token'],
    body: request.body ? (JSON.parse(request.body) as unknown) : undefined,
  };
}

describe('groups', () => {
  it('are listed without a CSRF header', async () => {
    server.on('GET', '/api/groups', () => ({ status: 200, json: { items: [GROUP] } }));
    await expect(sharing.listGroups()).resolves.toEqual({ items: [GROUP] });
    expect(sent()).toEqual({ method: 'GET', path: '/api/groups', csrf: undefined, body: undefined });
  });

  it('are created by name', async () => {
    server.on('POST', '/api/groups', () => ({ status: 201, json: GROUP }));
    await expect(sharing.createGroup('Cardiology team')).resolves.toEqual(GROUP);
    expect(sent()).toEqual({ method: 'POST', path: '/api/groups', csrf: 'tok', body: { name: 'Cardiology team' } });
  });

  it('are read, renamed and deleted by id', async () => {
    server.on('GET', '/api/groups/g1', () => ({ status: 200, json: GROUP }));
    await expect(sharing.getGroup('g1')).resolves.toEqual(GROUP);
    server.reset();
    server.on('PATCH', '/api/groups/g1', () => ({ status: 200, json: { ...GROUP, name: 'Cardiology' } }));
    await sharing.renameGroup('g1', 'Cardiology');
    expect(sent()).toEqual({ method: 'PATCH', path: '/api/groups/g1', csrf: 'tok', body: { name: 'Cardiology' } });
    server.reset();
    server.on('DELETE', '/api/groups/g1', () => ({ status: 204 }));
    await expect(sharing.deleteGroup('g1')).resolves.toBeUndefined();
    expect(sent()).toEqual({ method: 'DELETE', path: '/api/groups/g1', csrf: 'tok', body: undefined });
  });

  it('take members by email, with a role when given', async () => {
    server.on('POST', '/api/groups/g1/members', () => ({ status: 201, json: GROUP }));
    await sharing.addMember('g1', { email: 'bob@example.org', role: 'manager' });
    expect(sent()).toEqual({
      method: 'POST', path: '/api/groups/g1/members', csrf: 'tok', body: { email: 'bob@example.org', role: 'manager' },
    });
  });

  it('change a member role, remove a member and transfer ownership by user id (escaped in the path)', async () => {
    server.on('PATCH', '/api/groups/g1/members/u%202', () => ({ status: 200, json: GROUP }));
    await sharing.setMemberRole('g1', 'u 2', 'manager');
    expect(sent()).toEqual({ method: 'PATCH', path: '/api/groups/g1/members/u%202', csrf: 'tok', body: { role: 'manager' } });
    server.reset();
    server.on('DELETE', '/api/groups/g1/members/u%202', () => ({ status: 204 }));
    await expect(sharing.removeMember('g1', 'u 2')).resolves.toBeUndefined();
    expect(sent()).toMatchObject({ method: 'DELETE', csrf: 'tok', body: undefined });
    server.reset();
    server.on('POST', '/api/groups/g1/owner', () => ({ status: 200, json: GROUP }));
    await sharing.transferOwnership('g1', 'u 2');
    expect(sent()).toEqual({ method: 'POST', path: '/api/groups/g1/owner', csrf: 'tok', body: { user_id: 'u 2' } });
  });

  it('report an unknown email as unknown_user with its detail', async () => {
    server.on('POST', '/api/groups/g1/members', () => problem(422, 'unknown_user', 'No active account uses that email address.'));
    const error = await sharing.addMember('g1', { email: 'nobody@example.org' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: 'unknown_user', detail: 'No active account uses that email address.' });
  });

  it('report the owner leaving as owner_cannot_leave', async () => {
    server.on('DELETE', '/api/groups/g1/members/u1', () => problem(409, 'owner_cannot_leave', 'Transfer ownership first.'));
    await expect(sharing.removeMember('g1', 'u1')).rejects.toMatchObject({ status: 409, code: 'owner_cannot_leave' });
  });
});

describe('study shares', () => {
  const UID = '1.2.840.1';

  it('are listed with the owner', async () => {
    const shares = { owner: ADA, items: [SHARE] };
    server.on('GET', `/api/shares/studies/${UID}`, () => ({ status: 200, json: shares }));
    await expect(sharing.listShares('studies', UID)).resolves.toEqual(shares);
    expect(sent()).toMatchObject({ method: 'GET', csrf: undefined });
  });

  it('are added for a person by email or for a group by id, with the level', async () => {
    server.on('POST', `/api/shares/studies/${UID}`, () => ({ status: 201, json: SHARE }));
    await expect(sharing.addShare('studies', UID, { email: 'bob@example.org' }, 'read')).resolves.toEqual(SHARE);
    expect(sent()).toEqual({
      method: 'POST', path: `/api/shares/studies/${UID}`, csrf: 'tok', body: { email: 'bob@example.org', level: 'read' },
    });
    server.reset();
    server.on('POST', `/api/shares/studies/${UID}`, () => ({ status: 201, json: SHARE }));
    await sharing.addShare('studies', UID, { group_id: 'g1' }, 'contribute');
    expect(sent().body).toEqual({ group_id: 'g1', level: 'contribute' });
  });

  it('change level and are revoked by share id', async () => {
    server.on('PATCH', `/api/shares/studies/${UID}/s1`, () => ({ status: 200, json: { ...SHARE, level: 'contribute' } }));
    await expect(sharing.changeShareLevel('studies', UID, 's1', 'contribute')).resolves.toMatchObject({ level: 'contribute' });
    expect(sent()).toEqual({ method: 'PATCH', path: `/api/shares/studies/${UID}/s1`, csrf: 'tok', body: { level: 'contribute' } });
    server.reset();
    server.on('DELETE', `/api/shares/studies/${UID}/s1`, () => ({ status: 204 }));
    await expect(sharing.revokeShare('studies', UID, 's1')).resolves.toBeUndefined();
    expect(sent()).toEqual({ method: 'DELETE', path: `/api/shares/studies/${UID}/s1`, csrf: 'tok', body: undefined });
  });

  it('refuse a grantee of the other role as wrong_role', async () => {
    server.on('POST', `/api/shares/studies/${UID}`, () =>
      problem(422, 'wrong_role', "A researcher's study can be shared only with researchers."));
    await expect(sharing.addShare('studies', UID, { email: 'doc@example.org' }, 'read'))
      .rejects.toMatchObject({ code: 'wrong_role', detail: "A researcher's study can be shared only with researchers." });
  });
});

describe('model shares and publication', () => {
  it('go to /api/shares/models/{id} with use and edit levels', async () => {
    server.on('GET', '/api/shares/models/m1', () => ({ status: 200, json: { owner: ADA, items: [], published_version: 3 } }));
    await expect(sharing.listShares('models', 'm1')).resolves.toMatchObject({ published_version: 3 });
    server.reset();
    server.on('POST', '/api/shares/models/m1', () => ({ status: 201, json: { ...SHARE, level: 'edit' } }));
    await sharing.addShare('models', 'm1', { group_id: 'g1' }, 'edit');
    expect(sent()).toEqual({ method: 'POST', path: '/api/shares/models/m1', csrf: 'tok', body: { group_id: 'g1', level: 'edit' } });
    server.reset();
    server.on('PATCH', '/api/shares/models/m1/s1', () => ({ status: 200, json: SHARE }));
    await sharing.changeShareLevel('models', 'm1', 's1', 'use');
    expect(sent()).toMatchObject({ method: 'PATCH', csrf: 'tok', body: { level: 'use' } });
    server.reset();
    server.on('DELETE', '/api/shares/models/m1/s1', () => ({ status: 204 }));
    await sharing.revokeShare('models', 'm1', 's1');
    expect(sent()).toMatchObject({ method: 'DELETE', csrf: 'tok' });
  });

  it('publish a version with PUT and withdraw it with DELETE', async () => {
    server.on('PUT', '/api/shares/models/m1/publication', () => ({ status: 200, json: { published_version: 2 } }));
    await expect(sharing.publishModel('m1', 2)).resolves.toEqual({ published_version: 2 });
    expect(sent()).toEqual({ method: 'PUT', path: '/api/shares/models/m1/publication', csrf: 'tok', body: { version: 2 } });
    server.reset();
    server.on('DELETE', '/api/shares/models/m1/publication', () => ({ status: 204 }));
    await expect(sharing.unpublishModel('m1')).resolves.toBeUndefined();
    expect(sent()).toMatchObject({ method: 'DELETE', path: '/api/shares/models/m1/publication', csrf: 'tok' });
  });

  it('list the models shared with me with scope=shared', async () => {
    const model = { id: 'm1', name: 'Lung nodules', owner: ADA, access: 'use', published_version: null };
    server.on('GET', '/api/shares/models', () => ({ status: 200, json: { items: [model] } }));
    await expect(sharing.sharedModels()).resolves.toEqual({ items: [model] });
    expect(sent()).toEqual({ method: 'GET', path: '/api/shares/models?scope=shared', csrf: undefined, body: undefined });
  });
});

describe('access queries', () => {
  it('say what I may do with a study or a model', async () => {
    server.on('GET', '/api/access/studies/1.2.3', () => ({ status: 200, json: { access: 'read', actions: ['read'] } }));
    await expect(sharing.studyAccess('1.2.3')).resolves.toEqual({ access: 'read', actions: ['read'] });
    server.on('GET', '/api/access/models/m1', () => ({ status: 200, json: { access: 'published', actions: ['use'] } }));
    await expect(sharing.modelAccess('m1')).resolves.toEqual({ access: 'published', actions: ['use'] });
  });

  it('answer 404 not_found when I have no access', async () => {
    server.on('GET', '/api/access/studies/9.9', () => problem(404, 'not_found', 'No such study.'));
    await expect(sharing.studyAccess('9.9')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });
});
