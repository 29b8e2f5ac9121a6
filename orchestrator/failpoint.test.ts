import { describe, expect, it } from 'vitest';
import { FAILPOINTS, parseFailpoints } from './failpoint.ts';

describe('parseFailpoints', () => {
  it('arms the named points, and refuses an unknown name with the list of points', () => {
    expect(parseFailpoints(undefined).size).toBe(0);
    expect([...parseFailpoints(` ${FAILPOINTS.rolloutBeforeComplete} ,`)]).toEqual([[FAILPOINTS.rolloutBeforeComplete, 1]]);
    expect(() => parseFailpoints('rollout.before-compete')).toThrow(/unknown failpoint "rollout.before-compete"; the failpoints are rollout.before-complete, journal.record/);
  });

  it('takes the hit to die at after @, and refuses a count that is not a whole number from 1', () => {
    expect([...parseFailpoints(`${FAILPOINTS.journalRecord}@14,${FAILPOINTS.rolloutBeforeComplete}`)]).toEqual([
      [FAILPOINTS.journalRecord, 14],
      [FAILPOINTS.rolloutBeforeComplete, 1],
    ]);
    for (const bad of ['journal.record@0', 'journal.record@x', 'journal.record@2@3']) {
      expect(() => parseFailpoints(bad)).toThrow(/the hit count after @ must be a whole number from 1/);
    }
  });
});
