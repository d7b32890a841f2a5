// SIGINT/SIGTERM during a run. The first signal stops the run cleanly: no new
// resource (or host) starts, the command running on each host gets a grace
// to finish and is then killed there, temp files are removed, and the recap
// and --json report are still written; the exit code is 130 (SIGINT) or 143
// (SIGTERM). A second signal kills the running commands at once.

export type StopSignal = 'SIGINT' | 'SIGTERM';

const EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export class Interrupt {
  private readonly first = new AbortController();
  private readonly second = new AbortController();
  /** aborted (reason: the signal's name) by the first signal */
  readonly signal = this.first.signal;
  /** aborted by the second */
  readonly hurry = this.second.signal;
  received?: StopSignal;

  constructor(
    private readonly say: (text: string) => void = () => {},
    readonly graceMs = 10_000,
  ) {}

  trigger(sig: StopSignal): void {
    if (!this.received) {
      this.received = sig;
      this.say(`\n${sig}: stopping; no new resource starts, running commands get ${Math.round(this.graceMs / 1000)} s to finish (${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again: stop them now)\n`);
      this.first.abort(sig);
    } else if (!this.hurry.aborted) {
      this.say(`\n${sig}: killing the running commands now\n`);
      this.second.abort(sig);
    }
  }

  /** 130 or 143 once a signal arrived */
  get exitCode(): number | undefined {
    return this.received ? EXIT[this.received] : undefined;
  }

  /** Route this process's SIGINT/SIGTERM here (instead of dying at once); returns the undo. */
  listen(proc: NodeJS.Process = process): () => void {
    const onInt = () => this.trigger('SIGINT');
    const onTerm = () => this.trigger('SIGTERM');
    proc.on('SIGINT', onInt);
    proc.on('SIGTERM', onTerm);
    return () => {
      proc.off('SIGINT', onInt);
      proc.off('SIGTERM', onTerm);
    };
  }
}
