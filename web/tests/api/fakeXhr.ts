/** The XMLHttpRequest surface the API client uses; each instance answers with the next scripted reply. */

export interface Scripted {
  status: number;
  body: unknown;
  contentType?: string;
}

export class FakeXhr {
  static instances: FakeXhr[] = [];
  static replies: Scripted[] = [];
  method = '';
  url = '';
  withCredentials = false;
  headers: Record<string, string> = {};
  sent: unknown = null;
  status = 0;
  responseText = '';
  aborted = false;
  private responseType = '';
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  static reset(): void {
    FakeXhr.instances = [];
    FakeXhr.replies = [];
  }

  constructor() {
    FakeXhr.instances.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader(name: string): string | null {
    return name.toLowerCase() === 'content-type' ? this.responseType : null;
  }
  abort() {
    this.aborted = true;
    queueMicrotask(() => this.onabort?.());
  }
  send(body: unknown) {
    this.sent = body;
    const reply = FakeXhr.replies.shift();
    queueMicrotask(() => {
      if (this.aborted) return;
      if (!reply) {
        this.onerror?.();
        return;
      }
      this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 } as ProgressEvent);
      this.upload.onprogress?.({ lengthComputable: true, loaded: 100, total: 100 } as ProgressEvent);
      this.status = reply.status;
      this.responseType = reply.contentType ?? 'application/json';
      this.responseText = reply.body === undefined ? '' : JSON.stringify(reply.body);
      this.onload?.();
    });
  }
}
