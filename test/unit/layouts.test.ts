import { describe, expect, it } from 'vitest';
import { native } from '../../ts/native/addon.js';
import * as layouts from '../../ts/native/layouts.js';

/**
 * The two sides of every layout that crosses N-API: the addon exports native/binding/layouts.h as
 * `layouts`, and each group must name the same values at the same places as ts/native/layouts.ts.
 */
describe('layouts shared with the addon', () => {
  const groups: Array<[string, Record<string, number>, Record<string, number>]> = [
    ['socketRow', layouts.SocketRow, { WIDTH: layouts.SOCKET_ROW_WIDTH }],
    ['deliveryRow', layouts.DeliveryRow, { WIDTH: layouts.DELIVERY_ROW_WIDTH }],
    ['deliveryKind', layouts.DeliveryKind, {}],
    ['endpointState', layouts.EndpointState, { COUNT: layouts.ENDPOINT_STATE_COUNT }],
    ['endpointOption', layouts.EndpointOption, { COUNT: layouts.ENDPOINT_OPTION_COUNT }],
    ['endpointStat', layouts.EndpointStat, { COUNT: layouts.ENDPOINT_STAT_COUNT }],
    ['socketStat', layouts.SocketStat, { COUNT: layouts.SOCKET_STAT_COUNT }],
    ['sendStatus', layouts.SendStatus, {}],
  ];

  it.each(groups)('%s names the same values on both sides', (group, named, sizes) => {
    expect(native.layouts[group]).toEqual({ ...named, ...sizes });
  });

  it('covers every group the addon exports', () => {
    expect(Object.keys(native.layouts).sort()).toEqual([...groups.map(([group]) => group), 'constants'].sort());
  });

  it('agrees on the socket batch size and the don\'t-fragment bit', () => {
    expect(native.layouts.constants).toEqual({ SOCKET_ROWS: layouts.SOCKET_ROWS, DONT_FRAGMENT: layouts.DONT_FRAGMENT });
    expect(layouts.LENGTH_MASK).toBe(~layouts.DONT_FRAGMENT >>> 0);
  });

  it('lays each row and array out densely, every value at its own place', () => {
    for (const [, named, sizes] of groups) {
      const values = Object.values(named).sort((a, b) => a - b);
      expect(values).toEqual(values.map((_, index) => index));
      const size = sizes.WIDTH ?? sizes.COUNT;
      if (size !== undefined) expect(size).toBe(values.length);
    }
  });
});
