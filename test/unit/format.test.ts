import { describe, expect, it } from 'vitest';
import { formatSize } from '../../src/index.js';

describe('formatSize', () => {
  it('matches g_format_size (plain space for bytes, no-break space before units)', () => {
    expect(formatSize(0)).toBe('0 bytes');
    expect(formatSize(1)).toBe('1 byte');
    expect(formatSize(1000)).toBe('1.0\u00a0kB');
    expect(formatSize(1500000)).toBe('1.5\u00a0MB');
    expect(formatSize(10n ** 12n)).toBe('1.0\u00a0TB');
  });
});
