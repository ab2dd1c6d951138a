/**
 * Device certificates name the device in a subjectAltName URI (RFC 5280 §4.2.1.6) made from the
 * registration ID with the home's template: new homes `urn:<org-id>:device:{registration-id}`,
 * `init --device-san` another or none, homes made before it none. The policy engine checks the URI
 * as it checks the CN; the CN stays the registration ID.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, type Home, issueDeviceCertificate, issueSignerCertificate, parseCertificate, TrustlineError } from "../../ca/index.js";
import {
  defaultDeviceUriTemplate,
  deviceUriProblems,
  deviceUriTemplateProblems,
  evaluate,
  type IssuerFacts,
  organizationUrnId,
  PROFILES,
} from "../../policy/index.js";
import { ecKey, FIXED_NOW, makeHome, tempDir } from "../helpers/pki.js";

const p256 = { type: "ec", curve: "P-256" } as const;
const deviceCa: IssuerFacts = { name: "device", profile: "device-ca", notBefore: new Date(0), notAfter: new Date("2040-01-01"), organization: "Acme Devices", baseUrl: "http://x.test" };

/** The URIs of a certificate's subjectAltName, as @peculiar/x509 reads them (undefined: no extension). */
async function sanUris(der: Uint8Array): Promise<string[] | undefined> {
  const cert = await parseCertificate(der);
  const ext = cert.getExtension("2.5.29.17") as unknown as { critical: boolean; names: { items: { type: string; value: string }[] } } | null;
  if (!ext) return undefined;
  assert.equal(ext.critical, false);
  return ext.names.items.map((n) => `${n.type}:${n.value}`);
}

describe("names", () => {
  test("organisation → URN namespace", () => {
    for (const [org, id] of [
      ["Acme Devices", "acme-devices"],
      ["Société Générale d'Électronique", "societe-generale-d-electronique"],
      ["  ACME  (Lyon) ", "acme-lyon"],
      ["X", "org-x"],
      ["日本", "org-x"],
      ["A very long organisation name that goes on and on", "a-very-long-organisation-name-th"],
    ] as const) {
      assert.equal(organizationUrnId(org), id, org);
      assert.deepEqual(deviceUriTemplateProblems(defaultDeviceUriTemplate(org)), [], org);
    }
    assert.equal(defaultDeviceUriTemplate("Acme Devices"), "urn:acme-devices:device:{registration-id}");
  });

  test("templates and URIs", () => {
    assert.deepEqual(deviceUriTemplateProblems("https://devices.acme.example/{registration-id}"), []);
    assert.match(deviceUriTemplateProblems("urn:acme:device")[0]!, /exactly once \(it holds it 0 times\)/);
    assert.match(deviceUriTemplateProblems("urn:acme:{registration-id}:{registration-id}")[0]!, /2 times/);
    assert.match(deviceUriTemplateProblems("urn:a:{registration-id}")[0]!, /namespace of 2 to 32/);
    assert.match(deviceUriTemplateProblems("no scheme {registration-id}")[0]!, /is not a URI/);
    assert.match(deviceUriProblems(`urn:acme:${"x".repeat(250)}`)[0]!, /at most 255/);
    assert.match(deviceUriProblems("urn:acme:dévice")[0]!, /is not a URI/);
  });
});

describe("the policy engine", () => {
  const template = "urn:acme-devices:device:{registration-id}";
  const cases: { name: string; cn: string; issuer: Partial<IssuerFacts>; profile?: keyof typeof PROFILES; want: string[] | RegExp }[] = [
    { name: "a device with the default template", cn: "dev-0001", issuer: { deviceUriTemplate: template }, want: ["urn:acme-devices:device:dev-0001"] },
    { name: "a registration ID with every allowed character", cn: "Dev_1.a:B-9", issuer: { deviceUriTemplate: template }, want: ["urn:acme-devices:device:Dev_1.a:B-9"] },
    { name: "a configured URL form", cn: "dev-7", issuer: { deviceUriTemplate: "https://devices.acme.example/d/{registration-id}" }, want: ["https://devices.acme.example/d/dev-7"] },
    { name: "no template (a home made before it): no SAN", cn: "dev-0001", issuer: {}, want: [] },
    { name: "a signer never gets one", cn: "ci", issuer: { deviceUriTemplate: template, profile: "firmware-ca", name: "firmware" }, profile: "firmware-signer", want: [] },
    { name: "a URI too long for the SAN is refused like a bad CN", cn: "dev-0001", issuer: { deviceUriTemplate: `urn:acme:${"x".repeat(240)}{registration-id}` }, want: /^NAME_INVALID: the subjectAltName URI is 257 characters; at most 255$/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = evaluate({ commonName: c.cn, publicKey: p256 }, PROFILES[c.profile ?? "device"], { ...deviceCa, ...c.issuer }, FIXED_NOW);
      if (c.want instanceof RegExp) {
        assert.equal(d.ok, false);
        assert.match(!d.ok ? d.violations.map((v) => `${v.code}: ${v.message}`).join("\n") : "", c.want);
      } else {
        assert.ok(d.ok, d.ok ? "" : JSON.stringify(d.violations));
        assert.deepEqual(d.template.subjectAltNameUris ?? [], c.want);
        assert.equal(d.template.subject.commonName, c.cn, "the CN stays the registration ID");
      }
    });
  }
  test("a bad CN is reported once, not again through its URI", () => {
    const d = evaluate({ commonName: "bad id!", publicKey: p256 }, PROFILES.device, { ...deviceCa, deviceUriTemplate: template }, FIXED_NOW);
    assert.equal(d.ok, false);
    assert.deepEqual(!d.ok && d.violations.map((v) => v.code), ["NAME_INVALID"]);
  });
});

describe("homes", () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  before(async () => {
    t = tempDir("trustline-san-");
    home = await makeHome(t.dir);
  });
  after(() => t.cleanup());

  test("a new home's device certificates carry urn:acme-devices:device:<id>; signers none", async () => {
    assert.equal(home.state.deviceUriTemplate, "urn:acme-devices:device:{registration-id}");
    const d = await issueDeviceCertificate(home, createCsr(ecKey().privateKey, "dev-0042"));
    assert.deepEqual(await sanUris(d.der), ["url:urn:acme-devices:device:dev-0042"]);
    const s = await issueSignerCertificate(home, createCsr(ecKey().privateKey, "x"), "ci");
    assert.equal(await sanUris(s.der), undefined);
  });

  test("--device-san another form, or none", async () => {
    const url = await makeHome(join(t.dir, "url"), { deviceUriTemplate: "https://devices.acme.example/{registration-id}" });
    assert.deepEqual(await sanUris((await issueDeviceCertificate(url, createCsr(ecKey().privateKey, "dev-9"))).der), ["url:https://devices.acme.example/dev-9"]);
    const none = await makeHome(join(t.dir, "none"), { deviceUriTemplate: null });
    assert.equal(none.state.deviceUriTemplate, undefined);
    assert.equal(await sanUris((await issueDeviceCertificate(none, createCsr(ecKey().privateKey, "dev-9"))).der), undefined);
  });

  test("init refuses a template without the placeholder (USAGE)", async () => {
    await assert.rejects(makeHome(join(t.dir, "bad"), { deviceUriTemplate: "urn:acme:device" }), (e: unknown) => e instanceof TrustlineError && e.code === "USAGE" && /^--device-san: /.test(e.message));
  });
});
