/** The Key Vault token file (TRUSTLINE_AZURE_TOKEN_FILE): what az prints, in both forms; expiry; refusals; redaction. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { isTrustlineError } from "../../ca/errors.js";
import { readTokenFile, TokenRedactor, tokenFileCredential } from "../../ca/keys/azure-keyvault/credential.js";
import { tempDir } from "../helpers/pki.js";

const t = tempDir("trustline-token-file-");
after(() => t.cleanup());
const file = (name: string, text: string) => {
  const path = join(t.dir, name);
  writeFileSync(path, text);
  return path;
};
const jwt = (exp: number) => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.sig`;

test("a bare token (az … --query accessToken -o tsv) and az's JSON (accessToken, expires_on)", () => {
  assert.equal(readTokenFile(file("bare", "eyJ0eXAi.token.value\n")).token, "eyJ0eXAi.token.value");
  const inAnHour = Math.floor(Date.now() / 1000) + 3600;
  const json = readTokenFile(file("json", JSON.stringify({ accessToken: "abc.def.ghi", expires_on: inAnHour, tokenType: "Bearer" })));
  assert.deepEqual([json.token, json.expiresOnTimestamp], ["abc.def.ghi", inAnHour * 1000]);
  assert.equal(readTokenFile(file("jwt", jwt(inAnHour))).expiresOnTimestamp, inAnHour * 1000);
});

test("refused with AUTH_REQUIRED: missing, empty, JSON without a token, expired; the token never in the message", () => {
  const refused = (path: string, why: RegExp) => assert.throws(() => readTokenFile(path), (e: unknown) => isTrustlineError(e, "AUTH_REQUIRED") && why.test(e.message));
  refused(join(t.dir, "missing"), /cannot read the Azure token file/);
  refused(file("empty", "\n"), /holds no access token/);
  refused(file("nojson", '{"tokenType":"Bearer"}'), /holds no access token/);
  const expired = jwt(Math.floor(Date.now() / 1000) - 60);
  assert.throws(() => readTokenFile(file("expired", expired)), (e: unknown) => isTrustlineError(e, "AUTH_REQUIRED") && /expired at/.test(e.message) && !e.message.includes(expired));
});

test("a replaced file is read again; the redactor scrubs tokens it has seen and any Bearer header", async () => {
  const path = file("rotating", "first-token-value\n");
  const credential = tokenFileCredential(path);
  assert.equal((await credential.getToken("https://vault.azure.net/.default"))?.token, "first-token-value");
  writeFileSync(path, "second-token-value-longer\n");
  assert.equal((await credential.getToken("https://vault.azure.net/.default"))?.token, "second-token-value-longer");
  const redactor = new TokenRedactor();
  redactor.remember("second-token-value-longer");
  assert.equal(redactor.redact("sent second-token-value-longer and Authorization: Bearer abc.def"), "sent [redacted] and Authorization: Bearer [redacted]");
});
