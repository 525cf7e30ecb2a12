import { describe, expect, it } from 'vitest';
import type { Upload } from '../../../src/api/models';
import { weightPath, weightRefs } from '../../../src/pages/models/editor/weights';
import type { UploadEntry } from '../../../src/pages/models/upload/useUploads';

const done: Upload = { id: 'up1', name: 'b.pt', size: 3, received: 3, complete: true, sha256: 'aa', chunk_size: 8, expires_at: '' };
const entry = (state: UploadEntry['state'], upload: Upload | null = done): UploadEntry =>
  ({ key: 'models/b.pt', file: new File(['abc'], 'b.pt'), state, sent: 3, total: 3, upload, error: null, retryable: true });

describe("a new version's weights", () => {
  it('reuses kept files by version and names finished uploads by id', () => {
    expect(weightRefs([{ path: 'models/a.pt', size: 1, fromVersion: 2 }], { 'models/b.pt': entry('done') })).toEqual({
      ok: true, weights: { 'models/a.pt': { from_version: 2 }, 'models/b.pt': 'up1' },
    });
  });

  it('cannot be sent while an upload runs or after one failed', () => {
    expect(weightRefs([], { 'models/b.pt': entry('uploading', null) })).toEqual({ ok: false, message: 'Wait until models/b.pt is uploaded.' });
    expect(weightRefs([], { 'models/b.pt': entry('failed') })).toMatchObject({ ok: false, message: expect.stringMatching(/retry it or remove it/) });
  });

  it('puts a file without a typed path under models/', () => {
    expect(weightPath('  ', 'model.pt')).toBe('models/model.pt');
    expect(weightPath(' nets/unet.ckpt ', 'model.pt')).toBe('nets/unet.ckpt');
  });
});
