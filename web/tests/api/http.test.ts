import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, auth, configureApi, onSessionEnded } from '../../src/api';
import { request } from '../../src/api/http';
import { problem, startServer, type TestServer } from './server';

let server: TestServer;
const ME = { id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher', status: 'active' };

beforeAll(async () => {
  server = await startServer();
  configureApi({ origin: server.origin });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
  vi.stubGlobal('document', { cookie: 'theme=light; __Host-mcc_csrf=csrf%2Btoken-1; other=x' });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('CSRF header', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE'] as const)('is sent from the __Host-mcc_csrf cookie on %s', async (method) => {
    server.on(method, '/api/x', () => ({ status: 204 }));
    await request(method, '/api/x');
    expect(server.requests[0]?.headers['x-csrf-token']).toBe('csrf+token-1');
  });

  it('is not sent on GET', async () => {
    server.on('GET', '/api/auth/me', () => ({ status: 200, json: ME }));
    await auth.me();
    expect(server.requests[0]?.headers['x-csrf-token']).toBeUndefined();
  });

  it('prefers the __Host- cookie to a plain one left from an earlier session', async () => {
    vi.stubGlobal('document', { cookie: 'mcc_csrf=stale; __Host-mcc_csrf=current' });
    server.on('POST', '/api/x', () => ({ status: 204 }));
    await request('POST', '/api/x');
    expect(server.requests[0]?.headers['x-csrf-token']).toBe('current');
  });

  it('is read from the plain mcc_csrf cookie where cookies are not Secure (MCC_COOKIE_SECURE=false)', async () => {
    vi.stubGlobal('document', { cookie: 'theme=light; mcc_csrf=plain-token' });
    server.on('POST', '/api/x', () => ({ status: 204 }));
    await request('POST', '/api/x');
    expect(server.requests[0]?.headers['x-csrf-token']).toBe('plain-token');
  });

  it('is omitted when there is no CSRF cookie', async () => {
    vi.stubGlobal('document', { cookie: 'theme=light' });
    server.on('POST', '/api/auth/logout', () => ({ status: 200, json: {} }));
    await auth.logOut();
    expect(server.requests[0]?.headers['x-csrf-token']).toBeUndefined();
  });
});

describe('JSON requests', () => {
  it('sends a JSON body and decodes a JSON answer', async () => {
    server.on('POST', '/api/auth/login', () => ({ status: 200, json: { status: 'ok', user: ME } }));
    const result = await auth.logIn({ email: 'ada@example.org', password: 'correct horse battery' });
    expect(result).toEqual({ status: 'ok', user: ME });
    const sent = server.requests[0];
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({ email: 'ada@example.org', password: 'correct horse battery' });
  });

  it('puts only non-empty query values in the URL', async () => {
    server.on('GET', '/api/auth/admin/users', () => ({ status: 200, json: { items: [], total: 0 } }));
    await auth.adminUsers({ q: 'ada lovelace', role: '', status: 'pending', limit: 20, offset: 0 });
    expect(server.requests[0]?.path).toBe('/api/auth/admin/users?q=ada+lovelace&status=pending&limit=20&offset=0');
  });

  it('resolves a 204 answer to undefined', async () => {
    server.on('DELETE', '/api/auth/sessions/s1', () => ({ status: 204 }));
    await expect(auth.revokeSession('s1')).resolves.toBeUndefined();
  });
});

describe('refresh on token_expired', () => {
  it('refreshes once with the CSRF header, then retries the request', async () => {
    server.on('GET', '/api/auth/me', (_req, calls) =>
      calls === 0 ? problem(401, 'token_expired', 'Your session expired.') : { status: 200, json: ME },
    );
    server.on('POST', '/api/auth/token/refresh', () => ({ status: 200, json: { status: 'ok' } }));

    await expect(auth.me()).resolves.toEqual(ME);

    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/auth/me',
      'POST /api/auth/token/refresh',
      'GET /api/auth/me',
    ]);
    expect(server.requests[1]?.headers['x-csrf-token']).toBe('csrf+token-1');
  });

  it('retries an unsafe request with its body and CSRF header', async () => {
    server.on('PATCH', '/api/auth/me', (_req, calls) =>
      calls === 0 ? problem(401, 'token_expired', 'expired') : { status: 200, json: { ...ME, name: 'Ada L.' } },
    );
    server.on('POST', '/api/auth/token/refresh', () => ({ status: 200, json: { status: 'ok' } }));
    await auth.updateMe({ name: 'Ada L.' });
    const retried = server.requests[2];
    expect(retried?.body).toBe('{"name":"Ada L."}');
    expect(retried?.headers['x-csrf-token']).toBe('csrf+token-1');
  });

  it('retries only once when the retry is still expired', async () => {
    server.on('GET', '/api/auth/me', () => problem(401, 'token_expired', 'expired'));
    server.on('POST', '/api/auth/token/refresh', () => ({ status: 200, json: { status: 'ok' } }));
    await expect(auth.me()).rejects.toMatchObject({ status: 401, code: 'token_expired' });
    expect(server.requests).toHaveLength(3);
  });

  it('does not refresh on other 401 answers', async () => {
    server.on('GET', '/api/auth/me', () => problem(401, 'not_authenticated', 'Sign in first.'));
    await expect(auth.me()).rejects.toMatchObject({ status: 401, code: 'not_authenticated' });
    expect(server.requests).toHaveLength(1);
  });

  it('ends the session when the refresh answers 401, without retrying', async () => {
    const ended = vi.fn();
    const unsubscribe = onSessionEnded(ended);
    server.on('GET', '/api/auth/me', () => problem(401, 'token_expired', 'expired'));
    server.on('POST', '/api/auth/token/refresh', () => problem(401, 'token_reused', 'Your session was revoked.'));

    const error = await auth.me().catch((e: unknown) => e);

    unsubscribe();
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'token_reused' });
    expect(ended).toHaveBeenCalledTimes(1);
    expect(server.requests.map((r) => r.path)).toEqual(['/api/auth/me', '/api/auth/token/refresh']);
  });

  it('shares one refresh between concurrent expired requests', async () => {
    let refreshed = false;
    server.on('GET', '/api/auth/me', () => (refreshed ? { status: 200, json: ME } : problem(401, 'token_expired', 'expired')));
    server.on('GET', '/api/auth/sessions', () =>
      refreshed ? { status: 200, json: { items: [] } } : problem(401, 'token_expired', 'expired'),
    );
    server.on('POST', '/api/auth/token/refresh', () => {
      refreshed = true;
      return { status: 200, json: { status: 'ok' } };
    });
    await Promise.all([auth.me(), auth.sessions()]);
    expect(server.requests.filter((r) => r.path === '/api/auth/token/refresh')).toHaveLength(1);
  });
});

describe('problem+json errors', () => {
  it('become a typed ApiError with status, code, detail and field errors', async () => {
    server.on('POST', '/api/auth/signup', () =>
      problem(422, 'validation', 'password: must be at least 12 characters', {
        title: 'Invalid request',
        errors: [
          { field: 'password', message: 'must be at least 12 characters' },
          { field: 'email', message: 'is not an email address' },
        ],
      }),
    );
    const error = await auth
      .signUp({ email: 'x', name: 'X', password: 'short', role: 'researcher' })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(422);
    expect(apiError.code).toBe('validation');
    expect(apiError.detail).toBe('password: must be at least 12 characters');
    expect(apiError.title).toBe('Invalid request');
    expect(apiError.type).toBe('https://medcloudcare.dev/problems/validation');
    expect(apiError.fieldErrors).toEqual([
      { field: 'password', message: 'must be at least 12 characters' },
      { field: 'email', message: 'is not an email address' },
    ]);
    expect(apiError.fieldMessage('email')).toBe('is not an email address');
    expect(apiError.fieldMessage('name')).toBeUndefined();
    expect(apiError.message).toBe(apiError.detail);
  });

  it('carry Retry-After as seconds', async () => {
    server.on('POST', '/api/auth/login', () => ({
      ...problem(429, 'too_many_attempts', 'Too many attempts.'),
      headers: { 'Retry-After': '30' },
    }));
    await expect(auth.logIn({ email: 'a@b.c', password: 'p' })).rejects.toMatchObject({
      status: 429,
      code: 'too_many_attempts',
      retryAfterSeconds: 30,
    });
  });

  it('fall back to a readable error when the body is not problem+json', async () => {
    server.on('GET', '/api/auth/me', () => ({ status: 502, text: '<html>Bad gateway</html>', contentType: 'text/html' }));
    const error = (await auth.me().catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('http_502');
    expect(error.detail).toMatch(/HTTP 502/);
    expect(error.fieldErrors).toEqual([]);
  });

  it('report an unreachable server as network_error', async () => {
    configureApi({ origin: 'http://127.0.0.1:1' });
    try {
      await expect(auth.me()).rejects.toMatchObject({ status: 0, code: 'network_error' });
    } finally {
      configureApi({ origin: server.origin });
    }
  });
});
