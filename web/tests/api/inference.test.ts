import { describe, expect, it } from 'vitest';
import { type JobResult, type ResultInstance, resultSeries } from '../../src/api/inference';

const instance = (series: string, modality: string, content?: string): ResultInstance =>
  ({ series_uid: series, sop_uid: `${series}.1`, modality, ...(content ? { content } : {}) });
const result = (...instances: ResultInstance[]): JobResult => ({ kind: 'sr', instances, summary: {} });

describe('resultSeries', () => {
  it('shows the SEG before any report', () => {
    expect(resultSeries(result(instance('1', 'SR', 'findings'), instance('2', 'SEG', 'segmentation')))).toBe('2');
  });

  it('shows the findings report, never the scores report, whatever their order', () => {
    expect(resultSeries(result(instance('1', 'SR', 'scores'), instance('2', 'SR', 'findings')))).toBe('2');
  });

  it('shows nothing for scores alone: they have nothing to draw and are in the summary', () => {
    expect(resultSeries(result(instance('1', 'SR', 'scores')))).toBeNull();
    expect(resultSeries(result())).toBeNull();
  });

  it('reads results stored before instances said what they hold', () => {
    expect(resultSeries(result(instance('1', 'SR'), instance('2', 'SEG')))).toBe('2');
    expect(resultSeries(result(instance('1', 'SR')))).toBe('1');
  });
});
