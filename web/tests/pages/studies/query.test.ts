import { describe, expect, it } from 'vitest';
import { EMPTY_FILTERS, hasFilters, listStateToParams, readListState, toStudyQuery } from '../../../src/pages/studies/query';

describe('the study list in the URL', () => {
  it('round-trips scope, filters, sort and page', () => {
    const state = {
      scope: 'shared' as const,
      filters: { ...EMPTY_FILTERS, patient_name: 'doe', modality: 'CT', date_from: '2026-01-01', date_to: '2026-01-31' },
      sort: 'uploaded' as const,
      offset: 40,
    };
    const params = listStateToParams(state);
    expect(params.toString()).toBe('scope=shared&patient_name=doe&modality=CT&date_from=2026-01-01&date_to=2026-01-31&sort=uploaded&offset=40');
    expect(readListState(params)).toEqual(state);
  });

  it('leaves defaults out of the URL', () => {
    expect(listStateToParams({ scope: 'all', filters: { ...EMPTY_FILTERS, patient_id: '  ' }, sort: 'date', offset: 0 }).toString()).toBe('');
  });

  it('ignores an unknown scope, an unknown sort and a bad offset', () => {
    expect(readListState(new URLSearchParams('scope=everyone&sort=name&offset=-3')))
      .toEqual({ scope: 'all', filters: EMPTY_FILTERS, sort: 'date', offset: 0 });
    expect(readListState(new URLSearchParams('offset=abc')).offset).toBe(0);
  });

  it('asks the server for one page of one scope', () => {
    const query = toStudyQuery({ scope: 'mine', filters: { ...EMPTY_FILTERS, patient_id: 'MCC-1' }, sort: '-date', offset: 20 });
    expect(query).toMatchObject({ scope: 'mine', patient_id: 'MCC-1', sort: '-date', limit: 20, offset: 20 });
  });

  it('knows when filters are set', () => {
    expect(hasFilters(EMPTY_FILTERS)).toBe(false);
    expect(hasFilters({ ...EMPTY_FILTERS, date_to: '2026-01-01' })).toBe(true);
  });
});
