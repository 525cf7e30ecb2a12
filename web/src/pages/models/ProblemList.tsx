import type { Problem } from '../../api/models';
import { problemPlace } from '../../components/editor/diagnostics';
import { Button } from '../../components/form';
import { plural } from '../../lib/format';

export interface ProblemListProps {
  problems: readonly Problem[];
  /** Open a problem's file at its line; problems of files the editor does not hold are plain text. */
  onOpen?: (problem: Problem) => void;
  canOpen?: (problem: Problem) => boolean;
}

/** Every problem the server found, each with its stage and place; in the editor, a button to go there. */
export function ProblemList({ problems, onOpen, canOpen = () => false }: ProblemListProps) {
  return (
    <ul className="problem-list" aria-label="Problems">
      {problems.map((problem, index) => (
        <li key={index} className="problem">
          {onOpen && problem.file && canOpen(problem) ? (
            <Button variant="link" onClick={() => onOpen(problem)}>{problemPlace(problem)}</Button>
          ) : (
            <span className="strong">{problemPlace(problem)}</span>
          )}
          <span className="problem-message">{problem.message}</span>
        </li>
      ))}
    </ul>
  );
}

/** A refused bundle: announced, with every problem listed. */
export function RefusedBundle(props: ProblemListProps) {
  return (
    <div className="alert alert--error" role="alert">
      <p className="alert-title">The bundle was refused: {plural(props.problems.length, 'problem', 'problems')}</p>
      <p>Nothing was stored. Fix each problem below and publish again.</p>
      <ProblemList {...props} />
    </div>
  );
}
