/** The on-disk serial index: exact lookups, growth, idempotent re-indexing, torn slots. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { openSync, closeSync, readSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { SerialTable } from "../../ca/store/serial-table.js";
import { tempDir } from "../helpers/pki.js";

const t = tempDir();
after(() => t.cleanup());

const HEADER = 64;
const SLOT = 40;
const serialOf = (i: number) => `7f${i.toString(16).padStart(38, "0")}`;

for (const [how, limit] of [
  ["in memory", SerialTable.growInMemoryBytes],
  ["by probing on disk (tables too large for memory)", 0],
] as const) {
  test(`every entry is found exactly, absent serials are absent, across several doublings (growing ${how})`, () => {
    const saved = SerialTable.growInMemoryBytes;
    SerialTable.growInMemoryBytes = limit;
    after(() => (SerialTable.growInMemoryBytes = saved));
    const path = join(t.dir, `grow-${limit}.tbl`);
    const table = SerialTable.create(path, 16);
    const n = 5000;
    for (let start = 0; start < n; start += 700) {
      table.put(Array.from({ length: Math.min(700, n - start) }, (_, k) => ({ serial: serialOf(start + k), segment: 1 + ((start + k) % 3), offset: (start + k) * 1000, length: 900 + k })));
    }
    assert.equal(table.count, n);
    table.close();
    const again = SerialTable.open(path, "r")!;
    assert.equal(again.count, n);
    for (let i = 0; i < n; i += 37) assert.deepEqual(again.get(serialOf(i)), { segment: 1 + (i % 3), offset: i * 1000, length: 900 + (i % 700) });
    assert.equal(again.get(serialOf(n)), undefined);
    assert.equal(again.get("01"), undefined);
    again.close();
    const capacity = (statSync(path).size - HEADER) / SLOT;
    assert.ok(capacity >= (4 * n) / 3 && capacity <= 4 * n, `grown to keep the load at most three-quarters (capacity ${capacity})`);
    SerialTable.growInMemoryBytes = saved;
  });
}

test("offsets beyond 4 GiB and short serials round-trip", () => {
  const table = SerialTable.create(join(t.dir, "wide.tbl"));
  table.put([
    { serial: "01", segment: 9, offset: 2 ** 40 + 5, length: 1 },
    { serial: "abc", segment: 2, offset: 7, length: 3 },
  ]);
  assert.deepEqual(table.get("01"), { segment: 9, offset: 2 ** 40 + 5, length: 1 });
  assert.deepEqual(table.get("0abc"), { segment: 2, offset: 7, length: 3 }, "the same serial with its leading zero nibble");
  table.close();
});

test("re-indexing the same serial overwrites its slot instead of adding a second", () => {
  const table = SerialTable.create(join(t.dir, "again.tbl"));
  const serial = randomBytes(20).toString("hex");
  table.put([{ serial, segment: 1, offset: 10, length: 5 }]);
  table.put([{ serial, segment: 1, offset: 10, length: 5 }]);
  assert.equal(table.count, 1);
  table.put([{ serial, segment: 2, offset: 0, length: 6 }]);
  assert.deepEqual(table.get(serial), { segment: 2, offset: 0, length: 6 });
  table.close();
});

test("a torn slot (a crash mid-write) is stepped over: keys after it on the probe path stay reachable", () => {
  const path = join(t.dir, "torn.tbl");
  // Capacity 16, six serials: one of their slots is damaged below.
  const table = SerialTable.create(path, 16);
  const serials = Array.from({ length: 6 }, (_, i) => serialOf(i));
  table.put(serials.map((serial, i) => ({ serial, segment: 1, offset: i, length: 1 })));
  table.close();
  // Damage the first used slot found: flip bytes inside it so its check fails.
  const fd = openSync(path, "r+");
  const buf = Buffer.alloc(16 * SLOT);
  readSync(fd, buf, 0, buf.length, HEADER);
  let damaged = -1;
  for (let i = 0; i < 16; i++) if (buf[i * SLOT] === 1) {
    damaged = i;
    break;
  }
  writeSync(fd, Buffer.from([0xee, 0xee]), 0, 2, HEADER + damaged * SLOT + 22);
  closeSync(fd);
  const reopened = SerialTable.open(path, "r+")!;
  const lost = serials.filter((s) => reopened.get(s) === undefined);
  assert.equal(lost.length, 1, "only the damaged slot's serial reads as absent");
  reopened.put([{ serial: lost[0]!, segment: 1, offset: 99, length: 1 }]); // re-indexing puts it back
  for (const s of serials) assert.ok(reopened.get(s), `${s} reachable`);
  reopened.close();
});

test("a file that is not a serial table of this layout is not opened (the caller rebuilds)", () => {
  const path = join(t.dir, "junk.tbl");
  writeFileSync(path, "not a table");
  assert.equal(SerialTable.open(path, "r"), undefined);
  assert.equal(SerialTable.open(join(t.dir, "absent.tbl"), "r"), undefined);
});
