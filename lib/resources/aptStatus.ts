// apt-get's machine-readable progress (`-o APT::Status-Fd=N`, described in
// apt's README.progress-reporting) turned into short progress notes:
//
//   dlstatus:2:33.1760:Retrieving file 2 of 2          -> downloading 2/2 (33%)
//   pmstatus:gitlab-runner:33.3333:Unpacking gitlab-runner (amd64)
//                                                      -> unpacking gitlab-runner 2/2
//   pmstatus:gitlab-runner:77.7778:Configuring gitlab-runner (amd64)
//                                                      -> setting up gitlab-runner 2/2
//
// The messages are apt's English ones: rigger runs remote commands with LC_ALL=C.
// The apt resource prints a line `rigger-apt:<step>` before each apt-get it
// runs (update, install, remove), so downloads of package lists and of
// packages read differently.

export type AptStatus =
  | { kind: 'download'; file: number; total?: number; percent: number }
  | { kind: 'package'; package: string; percent: number; action: PackageAction }
  | { kind: 'error'; package: string; message: string };

export type PackageAction = 'unpack' | 'setup' | 'remove' | 'other';

/** Which apt-get the following status lines come from. */
export type AptStep = 'update' | 'install' | 'remove';

export const STEP_PREFIX = 'rigger-apt:';

/** One status line; undefined for what is no status line (or says nothing worth showing). */
export function parseAptStatusLine(line: string): AptStatus | undefined {
  // the package name may carry an architecture ("libc6:amd64"): it ends at the first ":<number>:"
  const m = /^(dlstatus|pmstatus|pmerror):(.*?):(\d+(?:\.\d+)?):(.*)$/.exec(line.trimEnd());
  if (!m) return undefined;
  const [, kind, subject, pct, message] = m;
  const percent = Number(pct);
  switch (kind) {
    case 'dlstatus': {
      const of = /(\d+) of (\d+)/.exec(message);
      return { kind: 'download', file: Number(subject), ...(of ? { total: Number(of[2]) } : {}), percent };
    }
    case 'pmstatus':
      if (subject === 'dpkg-exec') return undefined; // "Running dpkg"
      return { kind: 'package', package: subject.replace(/:[a-z0-9-]+$/, ''), percent, action: actionOf(message) };
    default:
      return { kind: 'error', package: subject, message };
  }
}

function actionOf(message: string): PackageAction {
  if (/^(Preparing to unpack|Unpacking)\b/.test(message)) return 'unpack';
  if (/^(Preparing to configure|Configuring)\b/.test(message)) return 'setup';
  if (/^(Preparing for removal|Removing|Preparing to completely remove|Completely removing)\b/.test(message)) return 'remove';
  return 'other';
}

/**
 * Reads the stdout of the apt resource's script (step lines and status
 * lines, in chunks as they arrive) and hands on a note whenever what it
 * shows changes. Counts are of distinct packages in this step; the total of
 * unpacks is the number of files downloaded (when it is at least as many),
 * the total of setups the number of packages unpacked.
 */
export class AptProgress {
  private partial = '';
  private step: AptStep = 'install';
  private downloads = 0;
  private unpacked = new Set<string>();
  private setUp = new Set<string>();
  private removed = new Set<string>();
  private last = '';

  constructor(private readonly onNote: (note: string) => void) {}

  push(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
    // A line's newline may wait for the next output (RunOptions.onOutput holds
    // back what could start the end marker): a package line that is whole up to
    // its verb counts now (counting it again is harmless: sets of names).
    if (/^pmstatus:.*?:\d+(\.\d+)?:(Unpacking|Configuring|Removing) /.test(this.partial)) this.line(this.partial);
  }

  private line(line: string): void {
    if (line.startsWith(STEP_PREFIX)) {
      const step = line.slice(STEP_PREFIX.length).trim();
      if (step === 'update' || step === 'install' || step === 'remove') this.step = step;
      this.downloads = 0;
      this.unpacked.clear();
      this.setUp.clear();
      this.removed.clear();
      return;
    }
    const s = parseAptStatusLine(line);
    const note = s && this.noteOf(s);
    if (note && note !== this.last) {
      this.last = note;
      this.onNote(note);
    }
  }

  private noteOf(s: AptStatus): string | undefined {
    switch (s.kind) {
      case 'download': {
        this.downloads = Math.max(this.downloads, s.total ?? 0);
        const count = s.total ? `${s.file}/${s.total}` : `${s.file}`;
        return `${this.step === 'update' ? 'updating package lists' : 'downloading'} ${count} (${Math.floor(s.percent)}%)`;
      }
      case 'package': {
        const seen = s.action === 'unpack' ? this.unpacked : s.action === 'setup' ? this.setUp : s.action === 'remove' ? this.removed : undefined;
        if (!seen) return undefined;
        seen.add(s.package);
        const total = s.action === 'unpack' ? this.downloads : s.action === 'setup' ? this.unpacked.size : 0;
        const count = total >= seen.size ? `${seen.size}/${total}` : `${seen.size}`;
        const verb = s.action === 'unpack' ? 'unpacking' : s.action === 'setup' ? 'setting up' : 'removing';
        return `${verb} ${s.package} ${count}`;
      }
      case 'error':
        return `error: ${s.package}: ${s.message}`;
    }
  }
}
