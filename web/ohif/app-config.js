// MedCloudCare's OHIF app config: scripts/install copies it over the default app-config.js of @ohif/app's dist.
/** @type {AppTypes.Config} */

// The viewer lives at /viewer on the platform origin and reads studies only from the platform's
// DICOMweb gateway at /dicom-web on the same origin. Same-origin requests carry the user's
// session cookie, so no token ever appears in a URL or a header set here. Nothing is loaded from
// any other origin (no CDN, analytics, remote translations or remote customizations).

// The portal links a study as /viewer?StudyInstanceUIDs=<uid>; OHIF's viewer mode route is
// <routerBasename>/viewer, so the link is rewritten before OHIF's router starts (no reload).
// A bare /viewer has nothing to show: the portal's study list is the place to pick a study.
(function routePlatformLinks() {
  const path = window.location.pathname.replace(/\/+$/, '');
  if (path !== '/viewer') {
    return;
  }
  if (new URLSearchParams(window.location.search).has('StudyInstanceUIDs')) {
    window.history.replaceState(null, '', '/viewer/viewer' + window.location.search);
  } else {
    window.location.replace('/');
  }
})();

// The CSRF token the platform's cookie carries: `__Host-mcc_csrf` on the HTTPS origin, plain `mcc_csrf`
// only where the server runs with MCC_COOKIE_SECURE=false (the `__Host-` prefix needs Secure). The
// portal's API client (web/src/api/http.ts) reads it the same way.
function mccCsrfToken() {
  for (const name of ['__Host-mcc_csrf', 'mcc_csrf']) {
    const match = document.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
    if (match && match[1]) {
      return decodeURIComponent(match[1]);
    }
  }
  return '';
}

// The gateway refuses a cookie-authenticated unsafe request (POST…) without an `X-CSRF-Token`
// header equal to the CSRF cookie. OHIF 3.13 stores measurement reports (DICOM SR) with a
// STOW-RS POST through dicomweb-client's XMLHttpRequest, and its DICOMweb data source has no
// setting that adds a header: it forwards only `Authorization` from the user authentication
// service and builds its clients from a fixed set of options (no `headers`, `requestHooks` or
// `requestOptions`). So the token is added here, at send time, to unsafe same-origin XHRs to the
// gateway only; safe requests (QIDO, WADO) and other origins are left untouched.
(function sendCsrfTokenToTheGateway() {
  const SAFE = /^(GET|HEAD|OPTIONS|TRACE)$/i;
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    let target = null;
    try {
      target = new URL(url, window.location.href);
    } catch (e) {
      // Not a URL XHR can open either; open() reports it.
    }
    this.mccNeedsCsrfToken =
      !SAFE.test(String(method)) &&
      target !== null &&
      target.origin === window.location.origin &&
      (target.pathname === '/dicom-web' || target.pathname.startsWith('/dicom-web/'));
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    const token = this.mccNeedsCsrfToken ? mccCsrfToken() : '';
    if (token) {
      this.setRequestHeader('X-CSRF-Token', token);
    }
    return send.apply(this, arguments);
  };
})();

// The access cookie lives 5 minutes and OHIF never renews it, so a user drawing measurements for
// longer would lose them to a 401 on saving. While the viewer is open the session is renewed
// every 4 minutes with the refresh cookie (HttpOnly, path /api/auth), exactly as the portal does;
// if renewal fails the session has ended (revoked, expired), and the next request says so.
(function keepTheSessionAlive() {
  const RENEW_EVERY_MS = 4 * 60 * 1000;
  const renew = () => {
    fetch('/api/auth/token/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': mccCsrfToken() },
    }).catch(() => {});
  };
  window.setInterval(renew, RENEW_EVERY_MS);
})();

window.config = {
  name: 'medcloudcare',
  routerBasename: '/viewer',
  extensions: [],
  modes: [],
  customizationService: {},
  // The portal has its own study list (with the platform's filters and sharing).
  showStudyList: false,
  maxNumberOfWebWorkers: 3,
  showWarningMessageForCrossOrigin: true,
  showCPUFallbackMessage: true,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  groupEnabledModesFirst: true,
  allowMultiSelectExport: false,
  maxNumRequests: {
    interaction: 100,
    thumbnail: 5,
    prefetch: 25,
  },
  // Stack traces are for developers, not for the people reading studies.
  showErrorDetails: 'dev',
  // The header's logo leads back to the portal (the viewer has no study list of its own).
  whiteLabeling: {
    createLogoComponentFn: React =>
      React.createElement(
        'a',
        { href: '/', className: 'text-primary text-lg font-semibold', title: 'Back to your studies' },
        'MedCloudCare'
      ),
  },
  defaultDataSourceName: 'dicomweb',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'dicomweb',
      configuration: {
        friendlyName: 'MedCloudCare',
        name: 'medcloudcare',
        // Relative to the page's origin: the gateway authorises each request by the session cookie.
        qidoRoot: '/dicom-web',
        wadoRoot: '/dicom-web',
        wadoUriRoot: '/dicom-web',
        // OHIF 3.13 stores (e.g. measurement reports) through wadoRoot; stowRoot says the same.
        stowRoot: '/dicom-web',
        qidoSupportsIncludeField: true,
        supportsReject: false,
        supportsFuzzyMatching: true,
        supportsWildcard: true,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        // The gateway is a full DICOMweb server, not a static file tree.
        staticWado: false,
        // Bulk data (e.g. large private attributes) is fetched on demand through the gateway.
        bulkDataURI: {
          enabled: true,
          relativeResolution: 'studies',
        },
        // Frames are asked for as `multipart/related; type=application/octet-stream; transfer-syntax=*`
        // (parameters unquoted, as OHIF's own default config does), in the stored transfer syntax.
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
  // A lapsed session: sign in again and come back to the same study.
  httpErrorHandler: error => {
    if (error && error.status === 401) {
      const here = window.location.pathname + window.location.search;
      window.location.assign('/signin?next=' + encodeURIComponent(here));
    }
  },
};
