import { describe, expect, it, vi } from 'vitest';
import type { Upload } from '../../../../src/api/models';
import { modelUploads, UploadFailed, uploadResumable } from '../../../../src/pages/models/upload/resumableUpload';
import { problem, type Recorded, type Reply, type TestServer, useApiServer } from '../../../api/server';

let server: TestServer;
useApiServer((started) => {
  server = started;
});

const BASE = '/api/models/m1/uploads';
const CHUNK = 4;
const FILE = new Blob(['abcdefghij']); // 10 bytes: chunks of 4, 4 and 2
const noPause = async () => undefined;

/** The server's upload as the scripted handlers change it: `received` advances with each accepted chunk. */
function serverUpload(received = 0): Upload {
  return {
    id: 'u1', name: 'model.pt', size: FILE.size, received, complete: received === FILE.size, sha256: null,
    chunk_size: CHUNK, expires_at: '2026-01-02T00:00:00Z',
  };
}

/** Accept chunks in order as the real server does; `fail(calls)` may answer something else instead. */
function acceptChunks(state: { received: number }, fail: (calls: number, request: Recorded) => Reply | null = () => null) {
  server.on('POST', BASE, () => ({ status: 201, json: serverUpload(0) }));
  server.on('GET', `${BASE}/u1`, () => ({ status: 200, json: serverUpload(state.received) }));
  server.on('PUT', `${BASE}/u1`, (request, calls) => {
    const failure = fail(calls, request);
    if (failure) return failure;
    const [, start, end] = /^bytes (\d+)-(\d+)\/10$/.exec(String(request.headers['content-range'])) ?? [];
    if (Number(start) !== state.received) return problem(409, 'upload_offset', 'Send from the current offset.', { received: state.received });
    state.received = Number(end) + 1;
    return { status: 200, json: serverUpload(state.received) };
  });
}

const ranges = () => server.requests.filter((r) => r.method === 'PUT').map((r) => r.headers['content-range']);

describe('resumable upload', () => {
  it('sends the file in chunks of the server size, in order, with Content-Range and the CSRF header', async () => {
    const state = { received: 0 };
    acceptChunks(state);
    const progress: number[] = [];

    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { onProgress: (p) => progress.push(p.sent) });

    expect(upload.complete).toBe(true);
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 4-7/10', 'bytes 8-9/10']);
    const puts = server.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.body).join('')).toBe('abcdefghij');
    expect(puts.every((r) => r.headers['x-csrf-token'] === 'tok')).toBe(true);
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ name: 'model.pt', size: 10 });
    expect(progress).toEqual([0, 4, 8, 10]);
  });

  it('after a failed chunk asks the server where it stands and goes on from there', async () => {
    const state = { received: 0 };
    acceptChunks(state, (calls) => (calls === 1 ? problem(503, 'unavailable', 'Try again shortly.') : null));
    const pauses: number[] = [];

    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), {
      pause: async (attempt) => { pauses.push(attempt); },
    });

    expect(upload.complete).toBe(true);
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 4-7/10', 'bytes 4-7/10', 'bytes 8-9/10']);
    expect(server.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([`${BASE}/u1`]);
    expect(pauses).toEqual([1]);
  });

  it('resumes from what the server received when a chunk arrived but its answer was lost', async () => {
    const state = { received: 0 };
    const realFetch = globalThis.fetch;
    let lost = false;
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await realFetch(input, init);
      if (init?.method === 'PUT' && !lost) {
        lost = true; // the first chunk was stored, then the connection dropped
        throw new TypeError('Failed to fetch');
      }
      return response;
    });
    acceptChunks(state);

    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { pause: noPause });

    expect(upload.complete).toBe(true);
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 4-7/10', 'bytes 8-9/10']);
  });

  it('follows the server after 409 upload_offset', async () => {
    const state = { received: 0 };
    acceptChunks(state, (calls) => {
      if (calls !== 0) return null;
      state.received = 8; // an earlier attempt got further than this client knows
      return problem(409, 'upload_offset', 'Send from the current offset.', { received: 8 });
    });

    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { pause: noPause });

    expect(upload.complete).toBe(true);
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 8-9/10']);
  });

  it('gives up after the allowed retries with where it stands, and a later resume finishes it', async () => {
    const state = { received: 0 };
    let down = true;
    acceptChunks(state, (calls) => (calls >= 1 && down ? problem(502, 'bad_gateway', 'The server is unavailable.') : null));

    const failure = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { pause: noPause, retries: 2 })
      .catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(UploadFailed);
    const failed = failure as UploadFailed;
    expect(failed.retryable).toBe(true);
    expect(failed.error).toMatchObject({ status: 502, detail: 'The server is unavailable.' });
    expect(failed.upload?.received).toBe(4);
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 4-7/10', 'bytes 4-7/10', 'bytes 4-7/10']);

    down = false;
    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { pause: noPause, resume: failed.upload });
    expect(upload.complete).toBe(true);
    expect(ranges().slice(4)).toEqual(['bytes 4-7/10', 'bytes 8-9/10']);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('stops at once when the server refuses the file itself', async () => {
    const state = { received: 0 };
    acceptChunks(state, (calls) => (calls === 2 ? problem(422, 'checksum_mismatch', 'The file changed while it was sent.') : null));

    const failure = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), { pause: noPause }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(UploadFailed);
    expect(failure).toMatchObject({ retryable: false, error: { code: 'checksum_mismatch' } });
    expect(ranges()).toHaveLength(3);
  });

  it('starts a new upload when the one to resume has expired', async () => {
    const state = { received: 0 };
    acceptChunks(state);
    server.on('GET', `${BASE}/old`, () => problem(404, 'not_found', 'No such upload.'));

    const upload = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), {
      pause: noPause, resume: { ...serverUpload(4), id: 'old' },
    });

    expect(upload.id).toBe('u1');
    expect(ranges()).toEqual(['bytes 0-3/10', 'bytes 4-7/10', 'bytes 8-9/10']);
  });

  it('stops when cancelled', async () => {
    const state = { received: 0 };
    const controller = new AbortController();
    acceptChunks(state);
    const failure = await uploadResumable(FILE, 'model.pt', modelUploads('m1'), {
      pause: noPause, signal: controller.signal, onProgress: ({ sent }) => { if (sent === 4) controller.abort(); },
    }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ error: { code: 'aborted' } });
    expect(ranges()).toEqual(['bytes 0-3/10']);
  });
});
