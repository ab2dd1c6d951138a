/**
 * Host names of tls-server certificates (policy/names.ts): IP literals parsed to their exact octets,
 * judged against node's own parser (net.isIP, the WHATWG URL parser's canonical form), and DNS
 * host names in preferred name syntax.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { test } from "node:test";
import { ipAddressOctets, parseHost, stationNameProblems } from "../../policy/index.js";

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("hex") : undefined);

test("IP literals: exact octets for the RFC 4291 forms", () => {
  assert.equal(hex(ipAddressOctets("10.0.7.1")), "0a000701");
  assert.equal(hex(ipAddressOctets("255.255.255.255")), "ffffffff");
  assert.equal(hex(ipAddressOctets("::")), "00".repeat(16));
  assert.equal(hex(ipAddressOctets("::1")), `${"00".repeat(15)}01`);
  assert.equal(hex(ipAddressOctets("fd00::7:1")), "fd000000000000000000000000070001");
  assert.equal(hex(ipAddressOctets("2001:DB8:0:0:1:0:0:1")), "20010db8000000000001000000000001");
  assert.equal(hex(ipAddressOctets("::ffff:192.0.2.1")), "00000000000000000000ffffc0000201");
  assert.equal(hex(ipAddressOctets("1:2:3:4:5:6:1.2.3.4")), "00010002000300040005000601020304");
  assert.equal(hex(ipAddressOctets("1:2:3:4:5:6:7::")), "00010002000300040005000600070000");
  for (const bad of ["1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.-1", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "[::1]", "fe80::1%eth0", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "g::1", ""]) {
    assert.equal(ipAddressOctets(bad), undefined, bad);
  }
});

test("IP literals agree with node's parser over 5,000 random strings", () => {
  const alphabet = "0123456789abcdefABCDEF:.";
  for (let i = 0; i < 5000; i++) {
    const s = Array.from({ length: randomInt(2, 40) }, () => alphabet[randomInt(alphabet.length)]).join("");
    const mine = ipAddressOctets(s);
    const node = s.includes(":") ? isIPv6(s) : isIPv4(s);
    assert.equal(mine !== undefined, node, s);
    if (mine && s.includes(":")) {
      // The URL parser's canonical text names the same 16 octets.
      const canonical = new URL(`http://[${s}]/`).hostname.slice(1, -1);
      assert.equal(hex(ipAddressOctets(canonical)), hex(mine), `${s} vs ${canonical}`);
    }
  }
  for (let i = 0; i < 2000; i++) {
    const groups = Array.from({ length: 8 }, () => randomInt(0x10000).toString(16));
    const cut = randomInt(9);
    const len = randomInt(0, 9 - cut);
    const s = len > 0 ? `${groups.slice(0, cut).join(":")}::${groups.slice(cut + len).join(":")}` : groups.join(":");
    if (!isIPv6(s)) continue;
    const canonical = new URL(`http://[${s}]/`).hostname.slice(1, -1);
    assert.equal(hex(ipAddressOctets(s)), hex(ipAddressOctets(canonical)), s);
    assert.equal(ipAddressOctets(s)!.length, 16);
  }
});

test("DNS host names: LDH labels, lower-cased; wildcards, underscores, trailing dots and numeric last labels refused", () => {
  assert.deepEqual(parseHost("EST.Line-7.acme.example"), { ok: true, host: { type: "dns", value: "est.line-7.acme.example" } });
  assert.deepEqual(parseHost("localhost"), { ok: true, host: { type: "dns", value: "localhost" } });
  assert.deepEqual(parseHost("10.0.0.1"), { ok: true, host: { type: "ip", value: "10.0.0.1" } });
  assert.deepEqual(parseHost("FD00::1"), { ok: true, host: { type: "ip", value: "fd00::1" } });
  assert.deepEqual(parseHost(`${"a".repeat(63)}.example`).ok, true);
  assert.deepEqual(parseHost(`${"a".repeat(64)}.example`).ok, false);
  assert.equal(parseHost(Array.from({ length: 64 }, () => "abc").join(".")).ok, false, "over 253 characters");
  for (const bad of ["*.acme.example", "a_b.example", "a..b", ".a", "a.", "-a.example", "a-.example", "1.2.3.4.5", "example.123", "ex ample", "exämple.de", ""]) {
    assert.equal(parseHost(bad).ok, false, bad);
  }
});

test("station names: lowercase letters, digits, - and ., 1 to 64, starting and ending with a letter or digit", () => {
  for (const ok of ["a", "line-7", "plant.lyon.line-7", "7", "a".repeat(64)]) assert.deepEqual(stationNameProblems(ok), [], ok);
  for (const bad of ["", "Line-7", "line_7", "-a", "a-", ".a", "a.", "a b", "a".repeat(65), "../x"]) assert.equal(stationNameProblems(bad).length, 1, bad);
});
