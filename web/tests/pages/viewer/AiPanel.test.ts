// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { createElement } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { AiPanel } from '../../../src/pages/viewer/AiPanel';
import { problem, type TestServer, useApiServer } from '../../api/server';
import { renderAt, RESEARCHER } from '../render';

let server: TestServer;
configure({ asyncUtilTimeout: 5000 });
vi.setConfig({ testTimeout: 20_000 });
useApiServer((started) => {
  server = started;
}, { cleanup });

const STUDY = '1.2.3';
const SERIES = '1.2.3.4';
const ADA = { id: RESEARCHER.id, email: RESEARCHER.email, name: 'Ada', role: 'researcher' };
const BOB = { id: 'u2', email: 'bob@example.org', name: 'Bob', role: 'health_professional' };
const HEART = { name: 'Heart', code: { value: '80891009', scheme: 'SCT', meaning: 'Heart' }, colour: [206, 110, 84] };
const MODEL = { model_id: 'm1', name: 'CT heart', task: 'segmentation', modality: 'CT', labels: [HEART], version: 3,
  modality_match: true };
const job = (id: string, change: Record<string, unknown> = {}) => ({
  id, model: { id: 'm1', name: 'CT heart' }, version: 3, digest: 'sha256', study_uid: STUDY, series_uid: SERIES, user: ADA,
  status: 'queued', stage: 'queued', progress: 0, error: null, created_at: '2026-01-01T10:00:00Z', started_at: null,
  finished_at: null, result: null, may_delete: true, cancel_requested: false, ...change,
});
const DONE = { status: 'done', stage: 'done', progress: 1, finished_at: '2026-01-01T10:01:00Z',
  result: { kind: 'seg', summary: { segments: [{ label: 'Heart', index: 1, voxels: 800, volume_ml: 4 }] }, instances: [
    { series_uid: '9.9.8', sop_uid: '9.9.8.1', modality: 'SR' }, { series_uid: '9.9.9', sop_uid: '9.9.9.1', modality: 'SEG' }] } };

function renderPanel(showResult = vi.fn(async () => undefined), seriesUid: string | null = SERIES) {
  renderAt(`/studies/${STUDY}/view`, {
    '/studies/:studyUid/view': createElement(AiPanel, { studyUid: STUDY, seriesUid, showResult }),
  });
  return showResult;
}

const item = (list: string, name: RegExp) => within(screen.getByRole('list', { name: list })).getByRole('listitem', { name });

describe('the AI panel', () => {
  it('runs a model on the series on screen and shows its result in the viewer when the job is done', async () => {
    let started = false;
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('POST', '/api/inference/jobs', () => {
      started = true;
      return { status: 202, json: job('j1') };
    });
    server.on('GET', '/api/inference/jobs', () => {
      if (!started) return { status: 200, json: { items: [] } };
      const polls = server.requests.filter((r) => r.path.startsWith('/api/inference/jobs?')).length;
      return { status: 200, json: { items: [polls < 4 ? job('j1', { status: 'running', stage: 'model', progress: 0.4 })
        : job('j1', DONE)] } };
    });
    const showResult = renderPanel();

    await screen.findByText('No model has run on this study yet.');
    expect((await screen.findByTestId('model-task')).textContent).toBe('segmentation: Heart');
    fireEvent.click(await screen.findByRole('button', { name: 'Run CT heart' }));
    const progress = await screen.findByRole('progressbar', { name: 'CT heart v3 progress' });
    expect(progress.getAttribute('value')).toBe('0.4');
    expect(within(item('Jobs', /CT heart v3/)).getByTestId('job-status').textContent).toBe('Running: running the model');

    await waitFor(() => expect(showResult).toHaveBeenCalledWith('9.9.9'), { timeout: 10_000 });
    expect(showResult).toHaveBeenCalledTimes(1);
    expect(within(item('Jobs', /CT heart v3/)).getByTestId('job-status').textContent).toBe('Done');
    const models = server.requests.find((r) => r.path.startsWith('/api/inference/models'));
    expect(models?.path).toBe(`/api/inference/models?study=${STUDY}&series=${SERIES}`);
    const post = server.requests.find((r) => r.method === 'POST');
    expect(JSON.parse(post?.body ?? '{}')).toEqual({ model_id: 'm1', study_uid: STUDY, series_uid: SERIES });
    expect(post?.headers['x-csrf-token']).toBe('tok');
  });

  it('shows failures with their reason, cancels and deletes only the user\'s own jobs, and opens a result', async () => {
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('GET', '/api/inference/jobs', () => ({ status: 200, json: { items: [
      job('j3', { status: 'queued' }),
      job('j2', { status: 'failed', error: 'the model took longer than 600 s', finished_at: '2026-01-01T10:05:00Z' }),
      job('j1', { ...DONE, user: BOB, may_delete: false }),
    ] } }));
    server.on('POST', '/api/inference/jobs/j3/cancel', () => ({ status: 200, json: job('j3', { status: 'cancelled' }) }));
    server.on('DELETE', '/api/inference/jobs/j2', () => ({ status: 204 }));
    const showResult = renderPanel();

    const jobs = await screen.findByRole('list', { name: 'Jobs' });
    const [queued, failed, done] = within(jobs).getAllByRole('listitem') as [HTMLElement, HTMLElement, HTMLElement];
    expect(within(failed).getByTestId('job-status').textContent).toBe('Failed: the model took longer than 600 s');
    expect(within(queued).getByTestId('job-status').textContent).toBe('Queued');
    expect(done.textContent).toContain('for Bob');
    expect(within(done).getByRole('list', { name: 'Findings' }).textContent).toBe('Heart: 4.0 mL (800 voxels)');
    expect(within(done).queryByRole('button', { name: 'Delete' })).toBeNull(); // Bob's result on a study Ada does not own
    expect(within(queued).queryByRole('button', { name: 'Delete' })).toBeNull();

    fireEvent.click(within(done).getByRole('button', { name: 'Show result' }));
    expect(showResult).toHaveBeenCalledWith('9.9.9');
    fireEvent.click(within(queued).getByRole('button', { name: 'Cancel' }));
    fireEvent.click(within(failed).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining([
      'POST /api/inference/jobs/j3/cancel', 'DELETE /api/inference/jobs/j2'])));
  });

  it('shows the result of a job it started even if the first listing already says done', async () => {
    let started = false;
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('POST', '/api/inference/jobs', () => {
      started = true;
      return { status: 202, json: job('j1') };
    });
    server.on('GET', '/api/inference/jobs', () => ({ status: 200, json: { items: started ? [job('j1', DONE)] : [] } }));
    const showResult = renderPanel();
    fireEvent.click(await screen.findByRole('button', { name: 'Run CT heart' }));
    await waitFor(() => expect(showResult).toHaveBeenCalledWith('9.9.9'));
    expect(showResult).toHaveBeenCalledTimes(1);
  });

  it('offers no Show result for scores only, which the viewer cannot draw, and lists them', async () => {
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('GET', '/api/inference/jobs', () => ({ status: 200, json: { items: [job('j1', { ...DONE, result: {
      kind: 'sr', summary: { scores: { Heart: 0.25 } },
      instances: [{ series_uid: '9.9.7', sop_uid: '9.9.7.1', modality: 'SR', content: 'scores' }] } })] } }));
    renderPanel();
    const done = await screen.findByRole('listitem', { name: /CT heart v3/ });
    expect(within(done).getByRole('list', { name: 'Findings' }).textContent).toBe('Heart: probability 0.25');
    expect(within(done).queryByRole('button', { name: 'Show result' })).toBeNull();
  });

  it('says a running job is being cancelled, without a second Cancel', async () => {
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('GET', '/api/inference/jobs', () => ({ status: 200, json: { items: [
      job('j1', { status: 'running', stage: 'model', progress: 0.3, cancel_requested: true })] } }));
    renderPanel();
    const running = await screen.findByRole('listitem', { name: /CT heart v3/ });
    expect(within(running).getByTestId('job-status').textContent).toBe('Cancelling…');
    expect(within(running).queryByRole('button', { name: 'Cancel' })).toBeNull();
  });

  it('says why a model could not be started, and waits for the viewer before listing models', async () => {
    server.on('GET', '/api/inference/models', () => ({ status: 200, json: { items: [MODEL] } }));
    server.on('GET', '/api/inference/jobs', () => ({ status: 200, json: { items: [] } }));
    server.on('POST', '/api/inference/jobs', () => problem(403, 'cannot_store_results',
      'You may read this study but not add to it; ask its owner for a contribute share.'));
    renderPanel();
    fireEvent.click(await screen.findByRole('button', { name: 'Run CT heart' }));
    expect((await screen.findByRole('alert')).textContent).toContain('ask its owner for a contribute share');
    cleanup();

    renderPanel(vi.fn(async () => undefined), null);
    expect(await screen.findByText('Waiting for the viewer to show a series…')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /^Run / })).toBeNull();
  });
});
