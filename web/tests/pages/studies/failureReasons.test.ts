import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../../src/pages/studies/failureReasons';

describe('describeFailure', () => {
  it.each([
    [0xc000, 'Not a DICOM file that can be read'],
    [0xa900, 'Its contents do not match its declared type or study'],
    [0x0124, 'Not authorised: it belongs to a study you cannot add to'],
    [0xa700, 'Too large'],
    [0xc122, 'Its image compression (transfer syntax) is not supported'],
    [0x0122, 'This kind of DICOM object is not supported'],
    [0x0110, 'The server could not process it'],
  ])('puts reason %i in plain words', (code, words) => {
    expect(describeFailure(code)).toBe(words);
  });

  it("reads the standard's ranges for codes without their own words", () => {
    expect(describeFailure(0xa7ff)).toBe('Too large');
    expect(describeFailure(0xa9f0)).toBe(describeFailure(0xa900));
    expect(describeFailure(0xc211)).toBe(describeFailure(0xc000));
  });

  it('accepts the code as a number in text, in hex, or by name', () => {
    expect(describeFailure('49152')).toBe(describeFailure(0xc000));
    expect(describeFailure('0xC122')).toBe(describeFailure(0xc122));
    expect(describeFailure('TRANSFER_SYNTAX_NOT_SUPPORTED')).toBe(describeFailure(0xc122));
  });

  it('says what it does not know', () => {
    expect(describeFailure(0x1234)).toBe('Not stored (code 0x1234)');
    expect(describeFailure('zip_entry_encrypted')).toBe('Not stored (zip_entry_encrypted)');
    expect(describeFailure(null)).toBe('Not stored');
  });
});
