import type { SharedKind, ShareLevels } from '../../api';
import type { SelectOption } from '../form';

export interface LevelOption<L extends string> extends SelectOption<L> {
  /** What the level allows, e.g. "search, view and download". */
  hint: string;
}

/** The levels a study or a model is shared at, lowest first (the first is the default). */
export type Levels<L extends string> = readonly [LevelOption<L>, ...LevelOption<L>[]];

export const SHARE_LEVELS: { readonly [K in SharedKind]: Levels<ShareLevels[K]> } = {
  studies: [
    { value: 'read', label: 'Read', hint: 'search, view and download' },
    { value: 'contribute', label: 'Contribute', hint: 'also store derived objects into the study, such as measurements' },
  ],
  models: [
    { value: 'use', label: 'Use', hint: 'run it' },
    { value: 'edit', label: 'Edit', hint: 'also change its information and code, creating new versions' },
  ],
};
