// @vitest-environment jsdom
import { cleanup, render, screen, within } from '@testing-library/react';
import { createElement } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { ResultSummary, type Summary } from '../../../src/pages/viewer/ResultSummary';

afterEach(cleanup);

const rows = (): string[] => within(screen.getByRole('list', { name: 'Findings' })).getAllByRole('listitem')
  .map((li) => li.textContent ?? '');

describe('a result\'s findings', () => {
  it('says each segment\'s volume, and which labels were not found', () => {
    const summary: Summary = {
      labels: [{ index: 1, name: 'Heart', colour: [206, 110, 84] }, { index: 2, name: 'Aorta', colour: null }],
      segments: [{ label: 'Heart', index: 1, voxels: 12345, volume_ml: 61.725 },
        { label: 'Aorta', index: 2, voxels: 0, volume_ml: 0 }],
    };
    const { container } = render(createElement(ResultSummary, { summary }));
    expect(rows()).toEqual(['Heart: 61.7 mL (12,345 voxels)', 'Aorta: not found']);
    const swatches = container.querySelectorAll<HTMLElement>('.ai-result__swatch');
    expect([...swatches].map((s) => s.style.background)).toEqual(['rgb(206, 110, 84)']); // Aorta has no colour
  });

  it('lists scores highest first, then boxes and points with their slices (from 1) and millimetres', () => {
    const summary: Summary = {
      scores: { Normal: 0.1, Nodule: 0.85, Effusion: 0.05 },
      boxes: [{ label: 'Nodule', index: 1, score: 0.9, start: [10, 4, 5], end: [14, 8, 9],
        centre_mm: [-12.25, 30, -101.5] }],
      points: [{ label: 'Carina', index: 2, score: null, position: [20, 64, 64], position_mm: [0, 12.5, -80] }],
    };
    render(createElement(ResultSummary, { summary }));
    expect(rows()).toEqual([
      'Nodule: probability 0.85',
      'Normal: probability 0.10',
      'Effusion: probability 0.05',
      'Nodule: box on slices 11–15, centre -12.3, 30.0, -101.5 mm · score 0.90',
      'Carina: point on slice 21, at 0.0, 12.5, -80.0 mm',
    ]);
  });

  it('shows nothing for a summary without findings', () => {
    const { container } = render(createElement(ResultSummary, { summary: { labels: [] } }));
    expect(container.innerHTML).toBe('');
  });
});
