// The event-stream parser against the HTML standard's interpretation rules.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { EventStreamParser } from "../src/offer-updates.js";

function parse(chunks, options) {
  const events = [];
  const parser = new EventStreamParser((e) => events.push(e), options);
  for (const c of chunks) parser.feed(c);
  return { events, parser };
}

const offerd = 'event: offer\nid: 3\ndata: {"id":"o1","version":3}\n\n: heartbeat\n\nevent: offer\ndata: {"id":"o2","version":7}\n\n';

describe("EventStreamParser", () => {
  it("parses offerd's events and comments", () => {
    const { events, parser } = parse([offerd]);
    assert.deepEqual(events, [
      { type: "offer", data: '{"id":"o1","version":3}', lastEventId: "3" },
      { type: "offer", data: '{"id":"o2","version":7}', lastEventId: "3" }, // the id persists
    ]);
    assert.equal(parser.comments, 1);
    assert.equal(parser.events, 2);
    assert.equal(parser.lastEventId, "3");
  });

  it("gives the same events however the stream is split", () => {
    const whole = parse([offerd]).events;
    for (let i = 0; i <= offerd.length; i++) {
      for (const j of [i, Math.min(offerd.length, i + 1), Math.min(offerd.length, i + 7)]) {
        const { events } = parse([offerd.slice(0, i), offerd.slice(i, j), offerd.slice(j)]);
        assert.deepEqual(events, whole, `split at ${i} and ${j}`);
      }
    }
    assert.deepEqual(parse([...offerd]).events, whole, "one character at a time");
  });

  it("accepts CRLF, CR and LF line ends, also a CRLF split across pieces", () => {
    const lf = "data: a\n\ndata: b\n\n";
    const want = parse([lf]).events;
    assert.equal(want.length, 2);
    assert.deepEqual(parse(["data: a\r\n\r\ndata: b\r\n\r\n"]).events, want);
    assert.deepEqual(parse(["data: a\r\rdata: b\r\r"]).events, want);
    assert.deepEqual(parse(["data: a\r", "\n\r", "\ndata: b\r", "\n", "\r\n"]).events, want);
    // a CR at the end of a piece, followed by an LF, is one line end, not two (no empty event)
    assert.deepEqual(parse(["data: a\r", "\ndata: b\r\n", "\r\n"]).events, [
      { type: "message", data: "a\nb", lastEventId: "" },
    ]);
  });

  it("joins data lines with LF and drops one leading space only", () => {
    const { events } = parse(["data:first\ndata:  second\ndata\ndata: \n\n"]);
    assert.equal(events[0].data, "first\n second\n\n");
  });

  it("ignores comments, unknown fields and events without data", () => {
    const { events, parser } = parse([":hello\nfoo: bar\nevent: offer\n\nid: 9\n\ndata: x\n\n"]);
    assert.deepEqual(events, [{ type: "message", data: "x", lastEventId: "9" }]);
    assert.equal(parser.comments, 1);
  });

  it("takes id only without NUL, an empty id resets it", () => {
    let r = parse(["id: 5\ndata: a\n\nid: 6\0\ndata: b\n\nid\ndata: c\n\n"]);
    assert.deepEqual(r.events.map((e) => e.lastEventId), ["5", "5", ""]);
    r = parse(["id: 5\n\n"]);
    assert.equal(r.parser.lastEventId, "5", "an event with no data still sets the last event id");
  });

  it("takes the multiplexed stream's id after the data, as the batch's position", () => {
    const { events, parser } = parse(['event: offer\ndata: {"id":"o1"}\n\nevent: offer\ndata: {"id":"o2"}\nid: 17:00000000000000ab\n\n']);
    assert.deepEqual(events.map((e) => e.lastEventId), ["", "17:00000000000000ab"]);
    assert.equal(parser.lastEventId, "17:00000000000000ab");
  });

  it("takes retry only when all digits", () => {
    assert.equal(parse(["retry: 2500\n\n"]).parser.retry, 2500);
    assert.equal(parse(["retry: 2500\nretry: 1e3\nretry: -1\nretry: 12ms\n\n"]).parser.retry, 2500);
    assert.equal(parse(["retry: x\n\n"]).parser.retry, null);
  });

  it("drops an unfinished event at the end and a leading BOM", () => {
    const { events, parser } = parse(["\uFEFFdata: a\n\ndata: b\n"]);
    assert.deepEqual(events.map((e) => e.data), ["a"]);
    parser.end();
    parser.feed("data: c\n\n");
    assert.deepEqual(events.map((e) => e.data), ["a", "c"]);
  });

  it("uses a field name without colon as a field with an empty value", () => {
    const { events } = parse(["data\n\n"]);
    assert.deepEqual(events, [{ type: "message", data: "", lastEventId: "" }]);
  });

  it("resumes from a given last event id", () => {
    const { events } = parse(["data: a\n\n"], { lastEventId: "41" });
    assert.equal(events[0].lastEventId, "41");
  });

  it("refuses a line larger than its limit", () => {
    const parser = new EventStreamParser(() => {}, { maxBytes: 16 });
    assert.throws(() => parser.feed("data: " + "x".repeat(32)), /too long/);
  });
});
