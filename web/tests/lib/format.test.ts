import { describe, expect, it } from 'vitest';
import { formatDate, formatPersonName, plural } from '../../src/lib/format';

describe('formatPersonName', () => {
  it.each([
    ['DOE^JANE', 'DOE, JANE'],
    ['DOE^JANE^A^DR^JR', 'DOE, DR JANE A JR'],
    ['DOE', 'DOE'],
    ['^JANE', 'JANE'],
    ['Yamada^Tarou=山田^太郎', 'Yamada, Tarou'],
    [null, '—'],
  ])('shows %s as %s', (value, shown) => {
    expect(formatPersonName(value)).toBe(shown);
  });
});

describe('formatDate', () => {
  it('reads ISO and DICOM dates as the same calendar day', () => {
    expect(formatDate('2026-01-15')).toBe(formatDate('20260115'));
    expect(formatDate('2026-01-15')).toBe(new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' }).format(new Date(2026, 0, 15)));
  });

  it('leaves what is not a date as it is', () => {
    expect(formatDate('2026-02-31')).toBe('2026-02-31');
    expect(formatDate('unknown')).toBe('unknown');
    expect(formatDate(null)).toBe('—');
  });
});

describe('plural', () => {
  it('counts one and many', () => {
    expect(plural(1, 'study', 'studies')).toBe('1 study');
    expect(plural(42, 'study', 'studies')).toBe('42 studies');
    expect(plural(0, 'study', 'studies')).toBe('0 studies');
  });
});
