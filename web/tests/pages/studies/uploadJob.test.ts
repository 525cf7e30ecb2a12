import { describe, expect, it } from 'vitest';
import { ApiError, type ImportResult, type StowOutcome } from '../../../src/api';
import type { UploadItem } from '../../../src/pages/studies/collectFiles';
import { runUpload, type UploadApi, type UploadProgress, type UploadReport } from '../../../src/pages/studies/uploadJob';

const item = (name: string, bytes = 10): UploadItem => ({ file: new File([new Uint8Array(bytes)], name.split('/').pop() ?? name), name });
const uidOf = new Map<Blob, string | null>();
const dicom = (name: string, sop: string | null, bytes = 10): UploadItem => {
  const it = item(name, bytes);
  uidOf.set(it.file, sop);
  return it;
};

/** A fake server: STOW stores every file whose declared UID does not start with "bad". */
function fakeApi(overrides: Partial<UploadApi> = {}): UploadApi & { batches: number[] } {
  const batches: number[] = [];
  return {
    batches,
    async storeInstances(files, options): Promise<StowOutcome> {
      batches.push(files.length);
      options?.onProgress?.(0.5);
      const outcome: StowOutcome = { stored: [], failed: [] };
      for (const file of files) {
        const sop = uidOf.get(file) ?? null;
        if (sop && !sop.startsWith('bad')) outcome.stored.push({ sopInstanceUid: sop, studyUid: sop.split('.')[0] ?? null });
        else outcome.failed.push({ sopInstanceUid: sop, reasonCode: sop ? 0xa900 : 0xc000, comment: sop ? 'mismatch' : 'not DICOM' });
      }
      return outcome;
    },
    async importArchive(): Promise<ImportResult> {
      return {
        stored: [{ file: 'x/1.dcm', study_uid: '7', sop_instance_uid: '7.1' }],
        failed: [{ file: 'x/readme.txt', reason_code: 49152, message: 'not a DICOM Part 10 file' }],
      };
    },
    readSopInstanceUid: async (file) => uidOf.get(file) ?? null,
    ...overrides,
  };
}

describe('runUpload', () => {
  it('sends DICOM files in batches and counts what was stored per study', async () => {
    const items = Array.from({ length: 5 }, (_, i) => dicom(`scan/${i}.dcm`, `${i < 3 ? 1 : 2}.${i}`));
    const api = fakeApi();
    const reports: UploadReport[] = [];
    const report = await runUpload(items, { onReport: (r) => reports.push(r) }, api, { maxFiles: 2, maxBytes: 1000 });
    expect(api.batches).toEqual([2, 2, 1]);
    expect(report.stored).toBe(5);
    expect([...report.studies]).toEqual([['1', 3], ['2', 2]]);
    expect(report.failures).toEqual([]);
    expect(reports.map((r) => r.stored)).toEqual([2, 4, 5]);
  });

  it('names each refused file with plain words and the server comment', async () => {
    const items = [dicom('a/ok.dcm', '1.1'), dicom('a/notes.txt', null), dicom('a/other.dcm', 'bad.1'), dicom('a/ok2.dcm', '1.2')];
    const report = await runUpload(items, {}, fakeApi());
    expect(report.stored).toBe(2);
    expect(report.failures).toEqual([
      { file: 'a/notes.txt', reason: 'Not a DICOM file that can be read', comment: 'not DICOM' },
      { file: 'a/other.dcm', reason: 'Its contents do not match its declared type or study', comment: 'mismatch' },
    ]);
  });

  it('sends zips whole to the import and reports their files by archive path', async () => {
    const report = await runUpload([item('exports/scans.zip')], {}, fakeApi());
    expect([...report.studies]).toEqual([['7', 1]]);
    expect(report.failures).toEqual([
      { file: 'exports/scans.zip › x/readme.txt', reason: 'Not a DICOM file that can be read', comment: 'not a DICOM Part 10 file' },
    ]);
  });

  it('records a refused request against its files and carries on', async () => {
    const api = fakeApi({
      importArchive: async () => {
        throw new ApiError({ status: 422, code: 'bad_archive', detail: 'An entry name leaves the archive (../x).' });
      },
    });
    const report = await runUpload([item('evil.zip'), dicom('1.dcm', '1.1')], {}, api);
    expect(report.stored).toBe(1);
    expect(report.failures).toEqual([
      { file: 'evil.zip', reason: 'Archive refused: nothing in it was stored', comment: 'An entry name leaves the archive (../x).' },
    ]);
  });

  it('stops when signed out, cancelled or offline', async () => {
    const api = fakeApi({
      storeInstances: async () => {
        throw new ApiError({ status: 403, code: 'account_pending', detail: 'Awaiting approval.' });
      },
    });
    await expect(runUpload([dicom('1.dcm', '1.1')], {}, api)).rejects.toMatchObject({ code: 'account_pending' });
  });

  it('reports progress by bytes over the whole upload', async () => {
    const seen: UploadProgress[] = [];
    await runUpload([dicom('a.dcm', '1.1', 30), dicom('b.dcm', '1.2', 10)], { onProgress: (p) => seen.push(p) }, fakeApi(),
      { maxFiles: 1, maxBytes: 1000 });
    expect(seen.map((p) => p.fraction)).toEqual([0, 0.375, 0.75, 0.875, 1]);
    expect(seen.at(-1)).toEqual({ fraction: 1, filesDone: 2, filesTotal: 2 });
  });
});
