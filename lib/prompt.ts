// Asking the person at the terminal (--confirm): on /dev/tty, so that the
// question reaches them and the answer comes from them even when stdout is
// piped or redirected; else on stdin when it is a terminal. Never from a pipe:
// an answer piped in ahead of time has not seen the plan.
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ReadStream, WriteStream } from 'node:tty';

export type Ask = (question: string, signal: AbortSignal) => Promise<string>;

/** An Ask on this process's terminal, or undefined when it has none. */
export function terminalAsk(): Ask | undefined {
  if (canOpen('/dev/tty')) {
    return (question, signal) => {
      const input = new ReadStream(openSync('/dev/tty', 'r'));
      const output = new WriteStream(openSync('/dev/tty', 'w'));
      return askOn(input, output, question, signal).finally(() => {
        input.destroy();
        output.destroy();
      });
    };
  }
  if (process.stdin.isTTY) return (question, signal) => askOn(process.stdin, process.stderr, question, signal);
  return undefined;
}

function canOpen(path: string): boolean {
  try {
    closeSync(openSync(path, 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** One line read after the question; '' at end of input (Ctrl-D); rejects when `signal` aborts (Ctrl-C). */
function askOn(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, question: string, signal: AbortSignal): Promise<string> {
  // terminal: false leaves the terminal in its normal mode, so Ctrl-C stays a SIGINT (the run's Interrupt)
  const rl = createInterface({ input, output, terminal: false });
  let onAbort = () => {};
  return new Promise<string>((resolve, reject) => {
    onAbort = () => reject(new Error(`interrupted by ${String(signal.reason ?? 'a signal')} at the question`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    rl.once('close', () => resolve(''));
    rl.once('line', (line) => resolve(line));
    output.write(question);
  }).finally(() => {
    signal.removeEventListener('abort', onAbort);
    rl.close();
  });
}
