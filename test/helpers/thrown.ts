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
