/** Plain words for why the server did not store a file; its own comment is shown beside them. */

// STOW-RS Failure Reasons (PS3.18 Table I.2-2 and PS3.4 Annex B).
const EXACT: ReadonlyMap<number, string> = new Map([
  [0x0110, 'The server could not process it'],
  [0x0122, 'This kind of DICOM object is not supported'],
  [0x0124, 'Not authorised: it belongs to a study you cannot add to'],
  [0xa700, 'Too large'],
  [0xa900, 'Its contents do not match its declared type or study'],
  [0xc000, 'Not a DICOM file that can be read'],
  [0xc122, 'Its image compression (transfer syntax) is not supported'],
]);

// Codes inside the standard's ranges that have no exact entry above.
const RANGES: readonly [number, number, string][] = [
  [0xa700, 0xa7ff, 'Too large'],
  [0xa900, 0xa9ff, 'Its contents do not match its declared type or study'],
  [0xc000, 0xcfff, 'Not a DICOM file that can be read'],
];

// The same reasons by name (the server's FailureReason names, lower case), should a server send those.
const NAMED: Readonly<Record<string, number>> = {
  processing_failure: 0x0110,
  sop_class_not_supported: 0x0122,
  not_authorized: 0x0124,
  out_of_resources: 0xa700,
  data_set_does_not_match_sop_class: 0xa900,
  cannot_understand: 0xc000,
  transfer_syntax_not_supported: 0xc122,
};

function asNumber(code: number | string): number | null {
  if (typeof code === 'number') return Number.isInteger(code) ? code : null;
  const text = code.trim().toLowerCase();
  if (/^0x[0-9a-f]{1,4}$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[0-9]{1,5}$/.test(text)) return Number(text);
  return NAMED[text] ?? null;
}

function hex(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** "Too large" for 0xA700; "Not stored (code 0x1234)" for a code without a meaning here. */
export function describeFailure(code: number | string | null | undefined): string {
  if (code === null || code === undefined || code === '') return 'Not stored';
  const number = asNumber(code);
  if (number === null) return `Not stored (${String(code)})`;
  const exact = EXACT.get(number);
  if (exact) return exact;
  const range = RANGES.find(([low, high]) => number >= low && number <= high);
  return range ? range[2] : `Not stored (code ${hex(number)})`;
}
