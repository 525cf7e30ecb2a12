import { describe, expect, it } from 'vitest';
import { stow } from '../../src/api';

const { attributeFailures, planBatches, stowBody, stowContentType, studyUidFromUrl, summariseStow } = stow;
const MB = 1024 * 1024;

describe('the STOW-RS request body', () => {
  it('has one application/dicom part per file, then the closing delimiter', async () => {
    const body = stowBody([new Blob(['DICM-one']), new Blob([new Uint8Array([0, 255, 13, 10])])], 'b0undary');
    const bytes = new Uint8Array(await body.arrayBuffer());
    const expected = new Uint8Array([
      ...new TextEncoder().encode('--b0undary\r\nContent-Type: application/dicom\r\n\r\nDICM-one\r\n'),
      ...new TextEncoder().encode('--b0undary\r\nContent-Type: application/dicom\r\n\r\n'),
      0, 255, 13, 10,
      ...new TextEncoder().encode('\r\n--b0undary--\r\n'),
    ]);
    expect(bytes).toEqual(expected);
  });

  it('is announced as multipart/related of application/dicom with its boundary', () => {
    expect(stowContentType('b0undary')).toBe('multipart/related; type="application/dicom"; boundary=b0undary');
    expect(stowBody([], 'x').type).toBe(stowContentType('x'));
  });

  it('gets a new boundary each time', () => {
    expect(stow.newBoundary()).not.toBe(stow.newBoundary());
    expect(stow.newBoundary()).toMatch(/^[A-Za-z0-9-]{1,70}$/);
  });
});

describe('planBatches', () => {
  const sizes = (batches: { size: number }[][]) => batches.map((batch) => batch.map((item) => item.size));

  it('sends at most 20 files or 50 MB per request, in order', () => {
    const small = Array.from({ length: 45 }, () => ({ size: 100 }));
    expect(planBatches(small).map((batch) => batch.length)).toEqual([20, 20, 5]);
    const large = Array.from({ length: 5 }, () => ({ size: 20 * MB }));
    expect(sizes(planBatches(large))).toEqual([[20 * MB, 20 * MB], [20 * MB, 20 * MB], [20 * MB]]);
  });

  it('sends a file larger than the limit on its own', () => {
    expect(sizes(planBatches([{ size: 1 }, { size: 80 * MB }, { size: 2 }]))).toEqual([[1], [80 * MB], [2]]);
  });

  it('keeps every item exactly once', () => {
    const items = Array.from({ length: 101 }, (_, i) => ({ size: (i % 7) * 10 * MB, i }));
    expect(planBatches(items).flat()).toEqual(items);
    expect(planBatches([])).toEqual([]);
  });

  it('takes other limits', () => {
    expect(sizes(planBatches([{ size: 3 }, { size: 3 }, { size: 3 }], { maxFiles: 10, maxBytes: 6 }))).toEqual([[3, 3], [3]]);
  });
});

const ref = (sop: string, url?: string) => ({
  '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
  '00081155': { vr: 'UI', Value: [sop] },
  ...(url ? { '00081190': { vr: 'UR', Value: [url] } } : {}),
});
const failedItem = (reason: number, comment: string, sop?: string) => ({
  ...(sop ? { '00081155': { vr: 'UI', Value: [sop] } } : {}),
  '00081197': { vr: 'US', Value: [reason] },
  '00000902': { vr: 'LO', Value: [comment] },
});

describe('summariseStow', () => {
  it('reads each stored instance and its study from its RetrieveURL', () => {
    const outcome = summariseStow({
      '00081199': { vr: 'SQ', Value: [
        ref('1.1', 'https://mcc.example/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.1'),
        ref('2.1', 'https://mcc.example/dicom-web/studies/9.8.7/series/9.8.7.6/instances/2.1'),
      ] },
    });
    expect(outcome).toEqual({
      stored: [{ sopInstanceUid: '1.1', studyUid: '1.2.3' }, { sopInstanceUid: '2.1', studyUid: '9.8.7' }],
      failed: [],
    });
  });

  it("falls back to the response's own RetrieveURL for the study", () => {
    const outcome = summariseStow({
      '00081190': { vr: 'UR', Value: ['https://mcc.example/dicom-web/studies/1.2.3'] },
      '00081199': { vr: 'SQ', Value: [ref('1.1')] },
    });
    expect(outcome.stored).toEqual([{ sopInstanceUid: '1.1', studyUid: '1.2.3' }]);
  });

  it('reads each refusal: its instance if known, the reason code and the comment', () => {
    const outcome = summariseStow({
      '00081198': { vr: 'SQ', Value: [
        failedItem(0xc000, "not a DICOM Part 10 file: no 'DICM' prefix"),
        failedItem(0xa900, 'StudyInstanceUID differs', '3.3'),
      ] },
    });
    expect(outcome.failed).toEqual([
      { sopInstanceUid: null, reasonCode: 49152, comment: "not a DICOM Part 10 file: no 'DICM' prefix" },
      { sopInstanceUid: '3.3', reasonCode: 0xa900, comment: 'StudyInstanceUID differs' },
    ]);
  });

  it('says nothing it was not told', () => {
    expect(summariseStow(undefined)).toEqual({ stored: [], failed: [] });
    expect(summariseStow({ '00081199': { vr: 'SQ' }, '00081198': { vr: 'SQ', Value: [{}] } })).toEqual({
      stored: [],
      failed: [{ sopInstanceUid: null, reasonCode: null, comment: null }],
    });
  });

  it('finds the study in WADO-RS URLs only', () => {
    expect(studyUidFromUrl('https://h/dicom-web/studies/1.2.840.1')).toBe('1.2.840.1');
    expect(studyUidFromUrl('/dicom-web/studies/1.2/series/3.4')).toBe('1.2');
    expect(studyUidFromUrl('https://h/other/1.2')).toBeNull();
    expect(studyUidFromUrl(null)).toBeNull();
  });
});

describe('attributeFailures', () => {
  const refused = (sop: string | null) => ({ sopInstanceUid: sop, reasonCode: 0xc000, comment: null });
  const kept = (sop: string) => ({ sopInstanceUid: sop, studyUid: '1.2' });

  it('needs no UIDs when every file was refused', () => {
    const outcome = { stored: [], failed: [refused(null), refused('7.7')] };
    expect(attributeFailures(2, outcome, null).map((a) => a.index)).toEqual([0, 1]);
  });

  it('matches a refusal to the file that declares its SOP Instance UID', () => {
    const outcome = { stored: [kept('1'), kept('3')], failed: [refused('2')] };
    expect(attributeFailures(3, outcome, ['1', '2', '3']).map((a) => a.index)).toEqual([1]);
  });

  it('gives refusals without a UID, in order, to the files no answer claimed', () => {
    const outcome = { stored: [kept('1'), kept('4')], failed: [refused(null), refused('3'), refused(null)] };
    const uids = ['1', null, '3', '4', null];
    expect(attributeFailures(5, outcome, uids).map((a) => a.index)).toEqual([1, 2, 4]);
  });

  it('leaves a refusal it cannot place unnamed', () => {
    const outcome = { stored: [kept('1')], failed: [refused(null), refused(null)] };
    expect(attributeFailures(2, outcome, ['1', null]).map((a) => a.index)).toEqual([1, null]);
    expect(attributeFailures(2, { stored: [kept('1')], failed: [] }, null)).toEqual([]);
  });
});
