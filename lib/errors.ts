// Errors the user can fix (bad flags, inventory, playbook). The CLI prints them
// as `error: <message>` without a stack trace and exits 1: nothing was run.

export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
