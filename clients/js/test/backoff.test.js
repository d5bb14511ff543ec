// Backoff with full jitter and Retry-After.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { backoffDelay, parseRetryAfter } from "../src/offer-updates.js";

const lowest = () => 0;
const highest = () => 0.999999999;

describe("backoffDelay", () => {
  it("is the base before any failure", () => {
    assert.equal(backoffDelay(0), 0);
    assert.equal(backoffDelay(0, { base: 5000 }), 5000);
  });

  it("draws from [0, initial * 2^(n-1)] (full jitter), capped at max", () => {
    const opts = { initial: 1000, max: 60_000 };
    assert.equal(backoffDelay(1, { ...opts, random: lowest }), 0);
    assert.equal(backoffDelay(1, { ...opts, random: highest }), 1000);
    assert.equal(backoffDelay(2, { ...opts, random: highest }), 2000);
    assert.equal(backoffDelay(4, { ...opts, random: highest }), 8000);
    assert.equal(backoffDelay(7, { ...opts, random: highest }), 60_000);
    assert.equal(backoffDelay(1000, { ...opts, random: highest }), 60_000, "no overflow for many failures");
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, opts);
      assert.ok(d >= 0 && d <= 4000 && Number.isInteger(d), `${d}`);
    }
  });

  it("adds the base (a poller never polls faster than its interval)", () => {
    assert.equal(backoffDelay(1, { base: 5000, random: lowest }), 5000);
    assert.equal(backoffDelay(2, { base: 5000, random: highest }), 7000);
  });

  it("never retries sooner than Retry-After, capped at an hour", () => {
    assert.equal(backoffDelay(1, { retryAfter: 30_000, random: highest }), 30_000);
    assert.equal(backoffDelay(7, { retryAfter: 1000, random: highest }), 60_000);
    assert.equal(backoffDelay(1, { retryAfter: 10 * 3600_000 }), 3600_000);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    assert.equal(parseRetryAfter("5"), 5000);
    assert.equal(parseRetryAfter(" 0 "), 0);
    const at = Date.parse("2026-11-26T10:00:00Z");
    assert.equal(parseRetryAfter("Thu, 26 Nov 2026 10:00:30 GMT", at), 30_000);
    assert.equal(parseRetryAfter("Thu, 26 Nov 2026 09:00:00 GMT", at), 0, "a date in the past");
  });

  it("is 0 when absent or unreadable, and at most an hour", () => {
    assert.equal(parseRetryAfter(null), 0);
    assert.equal(parseRetryAfter(undefined), 0);
    assert.equal(parseRetryAfter("soon"), 0);
    assert.equal(parseRetryAfter("-5"), 0);
    assert.equal(parseRetryAfter("999999"), 3600_000);
  });
});
