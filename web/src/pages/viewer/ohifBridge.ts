/**
 * The portal's one way into the OHIF 3.13 viewer it frames (same origin, /viewer): read the series on screen and show a
 * series stored after the viewer opened (an AI result) over its image, without reloading the viewer.
 *
 * OHIF publishes its managers on its window (`services`, `commandsManager`, `extensionManager`); this file uses only
 * the calls OHIF's own study browser and SEG viewport make (docs/viewer-ai.md says which and why).
 */

const POLL_MS = 100;
export const SHOW_TIMEOUT_MS = 60_000;
/** Modalities of results drawn over another series, never "the series on screen" a model would run on. */
const OVERLAY_MODALITIES = new Set(['SEG', 'SR', 'RTSTRUCT', 'PR', 'KO']);

interface DisplaySet {
  displaySetInstanceUID: string;
  SeriesInstanceUID: string;
  Modality?: string;
  isLoaded?: boolean;
  referencedDisplaySetInstanceUID?: string;
}

interface OhifWindow {
  services?: {
    displaySetService: {
      getDisplaySetsForSeries: (seriesUid: string) => DisplaySet[];
      getDisplaySetByUID: (uid: string) => DisplaySet | undefined;
    };
    viewportGridService: {
      getActiveViewportId: () => string;
      getState: () => { isHangingProtocolLayout: boolean };
      getDisplaySetsUIDsForViewport: (viewportId: string) => string[];
    };
    hangingProtocolService: {
      getViewportsRequireUpdate: (viewportId: string, displaySetUid: string, isHangingProtocolLayout: boolean) => unknown[];
    };
    segmentationService: {
      getSegmentationRepresentations: (viewportId: string, filter?: { segmentationId?: string }) => unknown[];
    };
    uiViewportDialogService: { hide: () => void };
  };
  commandsManager?: {
    run: (name: string, options: unknown) => unknown;
    runCommand: (name: string, options: unknown) => unknown;
  };
  extensionManager?: {
    getActiveDataSource: () => Array<{
      getConfig?: () => { name?: string };
      deleteStudyMetadataPromise?: (key: string) => void;
      retrieve: { series: { metadata: (options: unknown) => Promise<unknown> } };
    }>;
  };
}

type Ohif = Required<OhifWindow>;

/** Why a series could not be shown; `step` names where it stopped, for the message and the logs. */
export class ViewerError extends Error {
  constructor(
    readonly step: 'not_ready' | 'not_found' | 'not_loaded' | 'not_drawn',
    readonly seriesUid: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ViewerError';
  }
}

/**
 * OHIF's managers in the framed viewer, or null until it has started (or when the frame shows something else).
 * OHIF publishes its services before its React providers are wired; until then they throw.
 */
export function ohifIn(frame: HTMLIFrameElement | null): Ohif | null {
  try {
    const win = (frame?.contentWindow as unknown as OhifWindow | null) ?? null;
    if (!win?.services?.viewportGridService || !win.commandsManager || !win.extensionManager) return null;
    win.services.viewportGridService.getActiveViewportId();
    return win as Ohif;
  } catch {
    return null;
  }
}

/** The image series in OHIF's active viewport (the one a model would run on), or null. */
export function activeImageSeries(frame: HTMLIFrameElement | null): string | null {
  const ohif = ohifIn(frame);
  if (!ohif) return null;
  const { viewportGridService, displaySetService } = ohif.services;
  try {
    const uids = viewportGridService.getDisplaySetsUIDsForViewport(viewportGridService.getActiveViewportId()) ?? [];
    for (const uid of uids) {
      const displaySet = displaySetService.getDisplaySetByUID(uid);
      if (displaySet && !OVERLAY_MODALITIES.has(displaySet.Modality ?? '')) return displaySet.SeriesInstanceUID;
    }
  } catch {
    // between two states of OHIF's grid (a layout change): asked again on the next tick
  }
  return null;
}

async function waitFor<T>(read: () => T | null | undefined | false, deadline: number, fail: () => ViewerError): Promise<T> {
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > deadline) throw fail();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Ask the gateway for one series of the open study; OHIF makes its display set when the metadata arrives. */
async function fetchSeries(ohif: Ohif, studyUid: string, seriesUid: string): Promise<void> {
  const [dataSource] = ohif.extensionManager.getActiveDataSource();
  if (!dataSource) throw new ViewerError('not_ready', seriesUid, 'The viewer has no data source; reload the page.');
  // OHIF caches a study's metadata request and never asks again; 3.13 keys that cache "<source name>:<study>"
  // but its own invalidation deletes "<study>", so both are dropped.
  const name = dataSource.getConfig?.().name;
  dataSource.deleteStudyMetadataPromise?.(studyUid);
  if (name) dataSource.deleteStudyMetadataPromise?.(`${name}:${studyUid}`);
  await dataSource.retrieve.series.metadata({ StudyInstanceUID: studyUid, filters: { seriesInstanceUID: [seriesUid] } });
}

/**
 * Show a series stored in the open study after the viewer loaded it: a SEG is drawn over the series it segments in the
 * active viewport (on its first segmented slice), anything else replaces the active viewport's series.
 */
export async function showSeries(frame: HTMLIFrameElement | null, studyUid: string, seriesUid: string,
  timeoutMs: number = SHOW_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ohif = await waitFor(() => ohifIn(frame), deadline,
    () => new ViewerError('not_ready', seriesUid, 'The viewer has not started; reload the page.'));
  const { displaySetService, viewportGridService, hangingProtocolService, segmentationService, uiViewportDialogService } =
    ohif.services;
  const find = () => displaySetService.getDisplaySetsForSeries(seriesUid)?.[0];
  if (!find()) await fetchSeries(ohif, studyUid, seriesUid);
  const displaySet = await waitFor(find, deadline,
    () => new ViewerError('not_found', seriesUid, 'The result is not in the study (yet); try again in a moment.'));

  // What a double click on the series in OHIF's study browser does.
  const viewportId = viewportGridService.getActiveViewportId();
  const { isHangingProtocolLayout } = viewportGridService.getState();
  const viewportsToUpdate = hangingProtocolService.getViewportsRequireUpdate(viewportId, displaySet.displaySetInstanceUID,
    isHangingProtocolLayout);
  ohif.commandsManager.run('setDisplaySetsForViewports', { viewportsToUpdate });
  if (displaySet.Modality !== 'SEG') return;

  // What "Yes" to OHIF's "Do you want to open this Segmentation?" does, without asking: the SEG was asked for.
  await waitFor(() => displaySet.isLoaded, deadline,
    () => new ViewerError('not_loaded', seriesUid, 'The viewer could not read the segmentation.'));
  await ohif.commandsManager.runCommand('hydrateSecondaryDisplaySet', { displaySet, viewportId });
  await waitFor(() => segmentationService.getSegmentationRepresentations(viewportId,
    { segmentationId: displaySet.displaySetInstanceUID }).length > 0, deadline,
  () => new ViewerError('not_drawn', seriesUid, 'The viewer could not draw the segmentation.'));
  uiViewportDialogService.hide();
}
