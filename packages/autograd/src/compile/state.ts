/**
 * Whether compile() is tracing right now: a leaf module with no imports, so trace.ts's
 * `isTracing()` (which layers consult before a host read) can see compile's traces too.
 */
export const compileState = { tracing: false };
