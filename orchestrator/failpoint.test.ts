import { describe, expect, it } from 'vitest';
import { FAILPOINTS, parseFailpoints } from './failpoint.ts';

describe('parseFailpoints', () => {
  it('arms the named points, and refuses an unknown name with the list of points', () => {
    expect(parseFailpoints(undefined).size).toBe(0);
    expect([...parseFailpoints(` ${FAILPOINTS.rolloutBeforeComplete} ,`)]).toEqual([FAILPOINTS.rolloutBeforeComplete]);
    expect(() => parseFailpoints('rollout.before-compete')).toThrow(/unknown failpoint "rollout.before-compete"; the failpoints are rollout.before-complete/);
  });
});
