import { describe, expect, it } from 'vitest';
import { mediaStorageSopInstanceUid, readSopInstanceUid } from '../../src/lib/dicomFile';
import { part10Head } from './part10';

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

describe('the SOP Instance UID a file declares', () => {
  it('is read from the file meta header after the preamble', () => {
    expect(mediaStorageSopInstanceUid(view(part10Head('1.2.826.0.1.3680043.8.498.1')))).toBe('1.2.826.0.1.3680043.8.498.1');
  });

  it('is read from a meta header without preamble, and its padding dropped', () => {
    expect(mediaStorageSopInstanceUid(view(part10Head('1.2.3.45', { preamble: false })))).toBe('1.2.3.45');
  });

  it('is null for a file that is not DICOM, or cut short', () => {
    expect(mediaStorageSopInstanceUid(view(new TextEncoder().encode('just some notes')))).toBeNull();
    expect(mediaStorageSopInstanceUid(view(part10Head('1.2.3.4').slice(0, 170)))).toBeNull();
  });

  it('reads only the head of a File', async () => {
    const file = new File([part10Head('9.8.7'), new Uint8Array(100_000)], 'slice.dcm');
    await expect(readSopInstanceUid(file)).resolves.toBe('9.8.7');
    await expect(readSopInstanceUid(new File(['PK\u0003\u0004'], 'a.zip'))).resolves.toBeNull();
  });
});
