/** The JailError `fn` throws (fails the test if it returns or throws something else). */
import { JailError } from '../../src/errors';

export function thrown(fn: () => unknown): JailError {
  try {
    fn();
  } catch (e) {
    if (e instanceof JailError) return e;
    throw e;
  }
  throw new Error('expected a JailError, but nothing was thrown');
}

/** The JailError `promise` rejects with (fails the test if it resolves or rejects with something else). */
export async function rejected(promise: Promise<unknown>): Promise<JailError> {
  const e = await promise.then(
    () => {
      throw new Error('expected a JailError, but the promise resolved');
    },
    (x: unknown) => x,
  );
  if (e instanceof JailError) return e;
  throw e;
}
