/** The study list's state lives in the URL query, so back/forward and shared links restore it. */
import type { StudyQuery, StudyScope, StudySort } from '../../api';

export const PAGE_SIZE = 20;

export interface StudyFilterValues {
  patient_name: string;
  patient_id: string;
  modality: string;
  /** YYYY-MM-DD */
  date_from: string;
  /** YYYY-MM-DD */
  date_to: string;
}

export interface StudyListState {
  scope: StudyScope;
  filters: StudyFilterValues;
  sort: StudySort;
  offset: number;
}

export const EMPTY_FILTERS: StudyFilterValues = { patient_name: '', patient_id: '', modality: '', date_from: '', date_to: '' };
export const DEFAULT_SORT: StudySort = 'date';
export const DEFAULT_SCOPE: StudyScope = 'all';
const SCOPES: readonly StudyScope[] = ['all', 'mine', 'shared'];
const SORTS: readonly StudySort[] = ['date', '-date', 'uploaded', '-uploaded'];
const FILTER_KEYS = Object.keys(EMPTY_FILTERS) as (keyof StudyFilterValues)[];

export function readListState(params: URLSearchParams): StudyListState {
  const filters = { ...EMPTY_FILTERS };
  for (const key of FILTER_KEYS) filters[key] = params.get(key) ?? '';
  const scope = SCOPES.find((value) => value === params.get('scope')) ?? DEFAULT_SCOPE;
  const sort = SORTS.find((value) => value === params.get('sort')) ?? DEFAULT_SORT;
  const offset = Number(params.get('offset') ?? 0);
  return { scope, filters, sort, offset: Number.isInteger(offset) && offset > 0 ? offset : 0 };
}

/** The URL query for a state: the default scope, empty filters, the default sort and the first page are left out. */
export function listStateToParams(state: StudyListState): URLSearchParams {
  const params = new URLSearchParams();
  if (state.scope !== DEFAULT_SCOPE) params.set('scope', state.scope);
  for (const key of FILTER_KEYS) {
    const value = state.filters[key].trim();
    if (value) params.set(key, value);
  }
  if (state.sort !== DEFAULT_SORT) params.set('sort', state.sort);
  if (state.offset > 0) params.set('offset', String(state.offset));
  return params;
}

export function toStudyQuery(state: StudyListState): StudyQuery {
  return { scope: state.scope, ...state.filters, sort: state.sort, limit: PAGE_SIZE, offset: state.offset };
}

export function hasFilters(filters: StudyFilterValues): boolean {
  return FILTER_KEYS.some((key) => filters[key].trim() !== '');
}
