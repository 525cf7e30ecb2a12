import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, configureApi, studies } from '../../src/api';
import { FakeXhr } from './fakeXhr';
import { problem, type TestServer, useApiServer } from './server';

let server: TestServer;
const STUDY = {
  study_uid: '1.2.3', patient_name: 'DOE^JANE', patient_id: 'MCC-1', patient_birth_date: '19700101',
  accession_number: 'ACC1', referring_physician: 'WHO^DR', study_date: '2026-01-15', modalities: ['CT'],
  description: 'Chest', num_series: 1, num_instances: 12, uploaded_at: '2026-02-01T10:00:00+00:00',
  access: 'owner', owner: { name: 'Ada' },
};

useApiServer((started) => {
  server = started;
});

describe('the study list', () => {
  it('puts the filters, sort and page in the query, leaving out empty ones', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [STUDY], total: 42 } }));
    const page = await studies.listStudies({
      patient_name: 'do*', patient_id: '', modality: 'CT', date_from: '2026-01-01', date_to: '',
      sort: '-date', limit: 20, offset: 40,
    });
    expect(page).toEqual({ items: [STUDY], total: 42 });
    const url = new URL(server.requests[0]?.path ?? '', 'http://x');
    expect(url.pathname).toBe('/api/studies');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      patient_name: 'do*', modality: 'CT', date_from: '2026-01-01', sort: '-date', limit: '20', offset: '40',
    });
  });

  it('asks for one scope and reads each study\'s access and owner', async () => {
    const shared = { ...STUDY, study_uid: '1.2.4', access: 'read', owner: { name: 'Grace' } };
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [shared], total: 1 } }));
    const page = await studies.listStudies({ scope: 'shared', limit: 20 });
    expect(server.requests[0]?.path).toBe('/api/studies?scope=shared&limit=20');
    expect(page.items[0]).toMatchObject({ access: 'read', owner: { name: 'Grace' } });
  });

  it('encodes what a name search may contain', async () => {
    server.on('GET', '/api/studies', () => ({ status: 200, json: { items: [], total: 0 } }));
    await studies.listStudies({ patient_name: 'Müller & co*' });
    expect(server.requests[0]?.path).toBe('/api/studies?patient_name=M%C3%BCller+%26+co*');
  });

  it("turns a refused name pattern into an ApiError naming the server's field", async () => {
    server.on('GET', '/api/studies', () => problem(422, 'validation_failed', 'Check the fields.', {
      errors: [{ field: 'PatientName', message: 'only a trailing * is supported' }],
    }));
    const error = await studies.listStudies({ patient_name: '*oe' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).fieldMessage('PatientName')).toBe('only a trailing * is supported');
  });

  it('reports a pending account by its code', async () => {
    server.on('GET', '/api/studies', () => problem(403, 'account_pending', 'Your account is awaiting approval.'));
    await expect(studies.listStudies({})).rejects.toMatchObject({ status: 403, code: 'account_pending' });
  });
});

describe('one study', () => {
  it('is read by its UID', async () => {
    server.on('GET', '/api/studies/1.2.3', () => ({ status: 200, json: STUDY }));
    await expect(studies.getStudy('1.2.3')).resolves.toEqual(STUDY);
  });

  it('is deleted with the password, as JSON, with the CSRF header', async () => {
    server.on('DELETE', '/api/studies/1.2.3', () => ({ status: 204 }));
    await expect(studies.deleteStudy('1.2.3', 'pw')).resolves.toBeUndefined();
    const sent = server.requests[0];
    expect(sent?.headers['x-csrf-token']).toBe('tok');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({ password: 'pw' });
  });

  it('is not deleted with a wrong password', async () => {
    server.on('DELETE', '/api/studies/1.2.3', () => problem(401, 'invalid_credentials', 'The password is not correct.'));
    await expect(studies.deleteStudy('1.2.3', 'nope')).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
  });

  it('opens in the viewer at /viewer', () => {
    expect(studies.viewerUrl('1.2.840.113619.2.1')).toBe('/viewer?StudyInstanceUIDs=1.2.840.113619.2.1');
  });
});

describe('uploads', () => {
  beforeEach(() => {
    FakeXhr.reset();
    configureApi({ origin: '' });
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
  });

  const stored = {
    '00081190': { vr: 'UR', Value: ['https://h/dicom-web/studies/1.2.3'] },
    '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3.1'] },
      '00081190': { vr: 'UR', Value: ['https://h/dicom-web/studies/1.2.3/series/1.2.3.9/instances/1.2.3.1'] } }] },
  };

  it('store DICOM files by STOW-RS as one multipart/related body, with progress', async () => {
    FakeXhr.replies.push({ status: 200, body: stored, contentType: 'application/dicom+json' });
    const progress: number[] = [];
    const outcome = await studies.storeInstances([new Blob(['x'])], { onProgress: (f) => progress.push(f) });
    expect(outcome).toEqual({ stored: [{ sopInstanceUid: '1.2.3.1', studyUid: '1.2.3' }], failed: [] });
    const xhr = FakeXhr.instances[0];
    expect(xhr?.method).toBe('POST');
    expect(xhr?.url).toBe('/dicom-web/studies');
    expect(xhr?.headers['X-CSRF-Token']).toBe('tok');
    expect(xhr?.headers.Accept).toBe('application/dicom+json, application/problem+json');
    const contentType = xhr?.headers['Content-Type'] ?? '';
    const boundary = /boundary=(.+)$/.exec(contentType)?.[1] ?? '';
    expect(contentType).toBe(`multipart/related; type="application/dicom"; boundary=${boundary}`);
    expect(await (xhr?.sent as Blob).text()).toBe(
      `--${boundary}\r\nContent-Type: application/dicom\r\n\r\nx\r\n--${boundary}--\r\n`,
    );
    expect(progress).toEqual([0.5, 1]);
  });

  it('read a 409 (nothing stored) as the per-instance answer it is', async () => {
    FakeXhr.replies.push({
      status: 409, contentType: 'application/dicom+json',
      body: { '00081198': { vr: 'SQ', Value: [{ '00081197': { vr: 'US', Value: [0xc000] }, '00000902': { vr: 'LO', Value: ['not DICOM'] } }] } },
    });
    await expect(studies.storeInstances([new Blob(['x'])])).resolves.toEqual({
      stored: [], failed: [{ sopInstanceUid: null, reasonCode: 0xc000, comment: 'not DICOM' }],
    });
  });

  it('throw a problem with the request as a whole', async () => {
    FakeXhr.replies.push({ status: 413, contentType: 'application/problem+json', body: { status: 413, code: 'too_large', detail: 'Send fewer.' } });
    await expect(studies.storeInstances([new Blob(['x'])])).rejects.toMatchObject({ status: 413, detail: 'Send fewer.' });
  });

  it('stop when cancelled', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(studies.storeInstances([new Blob(['x'])], { signal: abort.signal })).rejects.toMatchObject({ code: 'aborted' });
    expect(FakeXhr.instances).toHaveLength(0);
  });

  it('send a zip archive raw to the import endpoint', async () => {
    const result = { stored: [{ file: 'a/1.dcm', study_uid: '1.2.3', sop_instance_uid: '1.2.3.1' }], failed: [] };
    FakeXhr.replies.push({ status: 200, body: result });
    const archive = new File(['PK\u0003\u0004'], 'scans.zip', { type: 'application/zip' });
    await expect(studies.importArchive(archive)).resolves.toEqual(result);
    const xhr = FakeXhr.instances[0];
    expect(xhr?.url).toBe('/api/studies/import');
    expect(xhr?.headers['Content-Type']).toBe('application/zip');
    expect(xhr?.sent).toBe(archive);
  });

  it('report a refused archive as its problem', async () => {
    FakeXhr.replies.push({ status: 422, contentType: 'application/problem+json', body: { status: 422, code: 'bad_archive', detail: 'The archive expands to more than 4 GB.' } });
    await expect(studies.importArchive(new Blob(['PK']))).rejects.toMatchObject({ code: 'bad_archive', detail: 'The archive expands to more than 4 GB.' });
  });
});
