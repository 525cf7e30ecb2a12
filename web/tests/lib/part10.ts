/** The head of a DICOM Part 10 file (preamble, DICM, file meta group), enough for the meta reader. */

function element(group: number, elementNumber: number, vr: string, value: Uint8Array): Uint8Array {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const header = new DataView(new ArrayBuffer(long ? 12 : 8));
  header.setUint16(0, group, true);
  header.setUint16(2, elementNumber, true);
  header.setUint8(4, vr.charCodeAt(0));
  header.setUint8(5, vr.charCodeAt(1));
  if (long) header.setUint32(8, value.length, true);
  else header.setUint16(6, value.length, true);
  return concat([new Uint8Array(header.buffer), value]);
}

function uid(value: string): Uint8Array {
  const padded = value.length % 2 ? `${value}\0` : value;
  return new TextEncoder().encode(padded);
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function part10Head(sopInstanceUid: string, options: { preamble?: boolean } = {}): Uint8Array<ArrayBuffer> {
  const rest = concat([
    element(2, 0x0001, 'OB', new Uint8Array([0, 1])),
    element(2, 0x0002, 'UI', uid('1.2.840.10008.5.1.4.1.1.2')),
    element(2, 0x0003, 'UI', uid(sopInstanceUid)),
    element(2, 0x0010, 'UI', uid('1.2.840.10008.1.2.1')),
  ]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, rest.length, true);
  const meta = concat([element(2, 0x0000, 'UL', groupLength), rest, element(8, 0x0016, 'UI', uid('1.2.3'))]);
  if (options.preamble === false) return meta;
  return concat([new Uint8Array(128), new TextEncoder().encode('DICM'), meta]);
}
