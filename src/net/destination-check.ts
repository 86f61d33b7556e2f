/**
 * The config schema's checks of `allow` and `publish` values: the parser's message, so that a bad
 * value in a config file is reported at its file:line:col like any other field.
 */
import { parseAllow, parsePublish } from './destination';

function messageOf(parse: (text: string) => unknown, text: string): string | undefined {
  try {
    parse(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export const checkAllow = (text: string): string | undefined => messageOf(parseAllow, text);
export const checkPublish = (text: string): string | undefined => messageOf(parsePublish, text);
