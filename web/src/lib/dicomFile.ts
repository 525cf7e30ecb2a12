/**
 * The SOP Instance UID a DICOM Part 10 file says it holds (Media Storage SOP Instance UID in its
 * file meta header), read from the first bytes only. The portal uses it just to name the file
 * behind a refusal in a STOW-RS answer; whether a file is acceptable is the server's decision.
 */

const META_GROUP = 0x0002;
const MEDIA_STORAGE_SOP_INSTANCE_UID = 0x0003;
const HEAD_BYTES = 16 * 1024;
// Explicit VR elements whose length is 4 bytes after 2 reserved ones (PS3.5 §7.1.2).
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function ascii(view: DataView, at: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += String.fromCharCode(view.getUint8(at + i));
  return out;
}

/** Media Storage SOP Instance UID from a file's first bytes, or null when they do not hold one. */
export function mediaStorageSopInstanceUid(view: DataView): string | null {
  const end = view.byteLength;
  let at: number;
  if (end >= 132 && ascii(view, 128, 4) === 'DICM') at = 132;
  else if (end >= 2 && view.getUint16(0, true) === META_GROUP) at = 0; // meta without the preamble
  else return null;
  while (at + 8 <= end && view.getUint16(at, true) === META_GROUP) {
    const element = view.getUint16(at + 2, true);
    const long = LONG_VRS.has(ascii(view, at + 4, 2));
    if (long && at + 12 > end) return null;
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    const valueAt = at + (long ? 12 : 8);
    if (element === MEDIA_STORAGE_SOP_INSTANCE_UID) {
      if (valueAt + length > end) return null;
      return ascii(view, valueAt, length).replace(/[\0 ]+$/, '') || null;
    }
    at = valueAt + length;
  }
  return null;
}

/** The SOP Instance UID a file declares, reading only its head; null for anything else. */
export async function readSopInstanceUid(file: Blob): Promise<string | null> {
  try {
    return mediaStorageSopInstanceUid(new DataView(await file.slice(0, HEAD_BYTES).arrayBuffer()));
  } catch {
    return null;
  }
}
