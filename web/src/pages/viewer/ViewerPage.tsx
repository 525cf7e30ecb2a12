import { useCallback, useEffect, useRef, useState } from 'react';
import { useParams, useSearchParams } from 'react-router-dom';
import { useTitle } from '../../lib/useTitle';
import { AiPanel } from './AiPanel';
import { activeImageSeries, showSeries } from './ohifBridge';
import './viewer.css';

/** How often the page reads which series OHIF shows (it has no event the portal can hear). */
const ACTIVE_SERIES_MS = 1000;

/** The page's actions for scripts on this origin (browser tests use the same path the panel uses). */
export interface ViewerHook {
  showResult: (seriesUid: string) => Promise<void>;
  activeSeries: () => string | null;
}

declare global {
  interface Window {
    __mccViewer?: ViewerHook;
  }
}

/** The OHIF URL of a study (its viewer route, as the app config rewrites /viewer?StudyInstanceUIDs=…). */
export function ohifUrl(studyUid: string, seriesUid: string | null): string {
  const query = new URLSearchParams({ StudyInstanceUIDs: studyUid });
  if (seriesUid) query.set('initialSeriesInstanceUID', seriesUid);
  return `/viewer/viewer?${query.toString()}`;
}

/** A study in OHIF (framed, same origin) beside the AI panel: run a model, see its result drawn over the image. */
export function ViewerPage() {
  const { studyUid = '' } = useParams();
  const [search] = useSearchParams();
  const openedSeries = search.get('series');
  useTitle('Viewer');
  const frame = useRef<HTMLIFrameElement>(null);
  const [activeSeries, setActiveSeries] = useState<string | null>(openedSeries);

  useEffect(() => {
    const timer = setInterval(() => {
      const shown = activeImageSeries(frame.current);
      if (shown) setActiveSeries(shown);
    }, ACTIVE_SERIES_MS);
    return () => clearInterval(timer);
  }, []);

  const showResult = useCallback((seriesUid: string) => showSeries(frame.current, studyUid, seriesUid), [studyUid]);

  useEffect(() => {
    window.__mccViewer = { showResult, activeSeries: () => activeImageSeries(frame.current) };
    return () => {
      delete window.__mccViewer;
    };
  }, [showResult]);

  return (
    <div className="viewer-page">
      <iframe ref={frame} className="viewer-page__ohif" title="Image viewer" src={ohifUrl(studyUid, openedSeries)} />
      <AiPanel studyUid={studyUid} seriesUid={activeSeries} showResult={showResult} />
    </div>
  );
}
