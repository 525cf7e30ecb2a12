/** What a finished job found, in words and numbers beside the image: the job's summary (docs/api/inference.md). */

interface SummaryLabel {
  index: number;
  name: string;
  colour: [number, number, number] | null;
}

interface Segment {
  label: string;
  index: number;
  voxels: number;
  volume_ml: number;
}

interface Finding {
  label: string;
  index: number;
  score: number | null;
}

interface BoxFinding extends Finding {
  start: [number, number, number];
  end: [number, number, number];
  centre_mm: [number, number, number];
}

interface PointFinding extends Finding {
  position: [number, number, number];
  position_mm: [number, number, number];
}

/** The summary the executor stores with a result (functions/common/dicom/results/summary.py). */
export interface Summary {
  labels?: SummaryLabel[];
  segments?: Segment[];
  scores?: Record<string, number>;
  boxes?: BoxFinding[];
  points?: PointFinding[];
}

const mm = (values: number[]): string => values.map((v) => v.toFixed(1)).join(', ');
const score = (value: number | null): string => (value === null ? '' : ` · score ${value.toFixed(2)}`);
/** A slice number as the viewer counts them (from 1); `z` is the model's voxel index along the series. */
const slice = (z: number): number => Math.round(z) + 1;

function Swatch({ colour }: { colour: [number, number, number] | null | undefined }) {
  if (!colour) return null;
  return <span className="ai-result__swatch" aria-hidden="true" style={{ background: `rgb(${colour.join(',')})` }} />;
}

/** The findings of one result: segment volumes, scores (highest first), boxes and points with where they are. */
export function ResultSummary({ summary }: { summary: Summary }) {
  const colours = new Map((summary.labels ?? []).map((label) => [label.name, label.colour]));
  const scores = Object.entries(summary.scores ?? {}).sort(([, a], [, b]) => b - a);
  const rows: Array<{ key: string; label: string; text: string }> = [
    ...(summary.segments ?? []).map((s) => ({
      key: `segment-${s.index}`, label: s.label,
      text: s.voxels ? `${s.volume_ml.toFixed(1)} mL (${s.voxels.toLocaleString('en')} voxels)` : 'not found',
    })),
    ...scores.map(([name, value]) => ({ key: `score-${name}`, label: name, text: `probability ${value.toFixed(2)}` })),
    ...(summary.boxes ?? []).map((b, n) => ({
      key: `box-${n}`, label: b.label,
      text: `box on slices ${slice(b.start[0])}–${slice(b.end[0])}, centre ${mm(b.centre_mm)} mm${score(b.score)}`,
    })),
    ...(summary.points ?? []).map((p, n) => ({
      key: `point-${n}`, label: p.label,
      text: `point on slice ${slice(p.position[0])}, at ${mm(p.position_mm)} mm${score(p.score)}`,
    })),
  ];
  if (rows.length === 0) return null;
  return (
    <ul className="ai-result" aria-label="Findings">
      {rows.map((row) => (
        <li key={row.key}><Swatch colour={colours.get(row.label)} /><strong>{row.label}</strong>: {row.text}</li>
      ))}
    </ul>
  );
}
