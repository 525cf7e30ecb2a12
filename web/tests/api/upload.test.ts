import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, auth, configureApi } from '../../src/api';
import { FakeXhr } from './fakeXhr';

const certificate = { id: 'c1', status: 'pending', reason: null, uploaded_at: '2025-01-01T00:00:00Z' };
const file = new File(['%PDF-1.4'], 'certificate.pdf', { type: 'application/pdf' });

beforeEach(() => {
  FakeXhr.reset();
  configureApi({ origin: '' });
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
  vi.stubGlobal('document', { cookie: '__Host-mcc_csrf=abc123' });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('certificate upload', () => {
  it('posts the file as multipart with the CSRF header and reports progress', async () => {
    FakeXhr.replies.push({ status: 201, body: { certificate } });
    const progress: number[] = [];

    const result = await auth.uploadCertificate(file, (fraction) => progress.push(fraction));

    expect(result).toEqual({ certificate });
    const xhr = FakeXhr.instances[0];
    expect(xhr?.method).toBe('POST');
    expect(xhr?.url).toBe('/api/auth/certificate');
    expect(xhr?.headers['X-CSRF-Token']).toBe('abc123');
    expect(xhr?.sent).toBeInstanceOf(FormData);
    expect((xhr?.sent as FormData).get('file')).toBeInstanceOf(File);
    expect(progress).toEqual([0.5, 1]);
  });

  it('turns a problem+json answer into an ApiError', async () => {
    FakeXhr.replies.push({
      status: 413,
      contentType: 'application/problem+json',
      body: { status: 413, code: 'too_large', detail: 'The file is larger than 5 MB.' },
    });
    const error = await auth.uploadCertificate(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: 'too_large', detail: 'The file is larger than 5 MB.' });
  });

  it('refreshes and uploads again after token_expired', async () => {
    FakeXhr.replies.push(
      { status: 401, contentType: 'application/problem+json', body: { status: 401, code: 'token_expired', detail: 'expired' } },
      { status: 201, body: { certificate } },
    );
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify({ status: 'ok' }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetchMock);

    await expect(auth.uploadCertificate(file)).resolves.toEqual({ certificate });

    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/auth/token/refresh');
    expect(FakeXhr.instances).toHaveLength(2);
    expect(FakeXhr.instances[1]?.headers['X-CSRF-Token']).toBe('abc123');
  });

  it('reports a failed connection as network_error', async () => {
    await expect(auth.uploadCertificate(file)).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });
});
